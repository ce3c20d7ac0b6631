/* dnsmasq.c: DHCP and DNS for the app VMs. The config is written from the
 * policy, dnsmasq runs in the foreground as our child, and is restarted with
 * a new config when the policy changes and whenever it dies.
 *
 * dnsmasq parses DHCP from the VMs and DNS from the internet: it must not be
 * able to change the firewall. It is started through lib/supervise.c with no
 * descriptor of ours, as DNSMASQ_UID, and as root of a user namespace of its
 * own, with or without subnet6: IPv6 addresses and RAs are the daemon's
 * (addr6.c), since they need a raw ICMPv6 socket in this namespace. dnsmasq
 * 2.90 refuses to serve DHCP unless it holds CAP_NET_ADMIN (for ARP-cache
 * injection, which dhcp-broadcast makes unneeded); held there, it grants
 * nothing over this network namespace, nftables or conntrack. It is pid 1 of a
 * PID namespace of its own, so nothing it starts outlives it, and the
 * ruleset's output chain lets its uid send only DNS and DHCP answers and DNS
 * to the netvm. Its ports need no capability either: the firewall
 * VM's ip_unprivileged_port_start is lowered to 53. Host-name rules do not
 * need it to write any set: names.c reads the answers it sends. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/daemon.h"
#include "firewallvm/firewalld.h"
#include "firewallvm/parts.h"
#include "lib/stage.h"
#include "lib/supervise.h"

#define DNSMASQ_DEFAULT    "dnsmasq"
#define DNSMASQ_FAST_MS    2000   /* died this soon after start: a fast death */
#define DNSMASQ_MAX_FAST   5      /* fast deaths in a row before giving up */
#define DNSMASQ_STOP_MS    2000
#define DNSMASQ_LEASE_TIME "1h"
#define DNSMASQ_DIR_MAX    1024
#define DNSMASQ_UID        MOAT_FW_DNSMASQ_UID  /* nobody: owns nothing in the firewall VM;
					    * the output chain knows it by this uid */
#define DNSMASQ_GID        65534
#define DNSMASQ_PORTS_FROM 53        /* ip_unprivileged_port_start: 53 and 67 */

struct fw_dnsmasq {
	char *run_dir;
	char *path;
	char conf[DNSMASQ_DIR_MAX + 16];
	char nsfile[DNSMASQ_DIR_MAX + 16];  /* "PID pid:[N]" of the dnsmasq running */
	char name[DNSMASQ_DIR_MAX + 16]; /* its argv[0], "dnsmasq@RUN_DIR": whose it is */
	char *text;              /* the config dnsmasq runs with */
	struct sv_child child;
};

/* Restarted at once when it dies, but not after DNSMASQ_MAX_FAST fast
 * deaths in a row (a config it refuses would only spin; the next policy
 * tries again); a start that fails is not retried but by the next policy. */
static const struct sv_policy dm_policy = {
	.log = "moat-firewalld", .fast_ms = DNSMASQ_FAST_MS, .max_fast = DNSMASQ_MAX_FAST,
	.stop_ms = DNSMASQ_STOP_MS,
};

/* A growing string; the first failure sticks. */
struct dm_buf {
	char *s;
	size_t len, cap;
	bool failed;
};

__attribute__((format(printf, 2, 3)))
static void dm_printf(struct dm_buf *b, const char *fmt, ...)
{
	if (b->failed)
		return;
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = true;
			return;
		}
		if (b->s && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap ? b->cap : 1024;
		while (cap < b->len + (size_t)n + 1)
			cap *= 2;
		char *s = realloc(b->s, cap);
		if (!s) {
			b->failed = true;
			return;
		}
		b->s = s;
		b->cap = cap;
	}
}

char *fw_dnsmasq_config(const struct policy *p, const char *run_dir)
{
	struct dm_buf b = { 0 };
	char gw[MOAT_ADDR_STRLEN], net[MOAT_ADDR_STRLEN], mask[INET_ADDRSTRLEN];
	struct addr a;
	if (strlen(run_dir) > DNSMASQ_DIR_MAX) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	/* nothing here names the policy's file: a config that did not change
	 * must read the same, or each apply would restart dnsmasq */
	dm_printf(&b, "# written by moat-firewalld from the policy in force: every start rewrites it\n");
	/* the firewall VM is the app VMs' only resolver; it asks the netvm */
	dm_printf(&b, "no-resolv\nno-hosts\nno-poll\nserver=%s\n", MOAT_UPLINK_NETVM_ADDR);
	/* Each answer from upstream renews the address in its host set for
	 * RS_HOST_TIMEOUT_S. A VM may use an answer up to max-ttl after it got it,
	 * and the answer may have sat in dnsmasq's cache up to max-cache-ttl: both
	 * together stay well inside the set's timeout. */
	dm_printf(&b, "max-ttl=%d\nmax-cache-ttl=%d\n", RS_HOST_TIMEOUT_S / 6, RS_HOST_TIMEOUT_S / 6);
	/* it writes no file: the leases are static and we are its parent. It
	 * keeps the ids it is started with. */
	dm_printf(&b, "log-facility=-\nuser=\ngroup=\npid-file=\nleasefile-ro\n");
	/* one wildcard socket filtered by interface: every VM link carries the
	 * same gateway address, and links come and go while dnsmasq runs */
	dm_printf(&b, "except-interface=%s\n", MOAT_UPLINK_FW_IF);
	/* each VM's share of forwarded queries and TCP connections, which the
	 * ruleset holds it to (policy/ruleset.h): no VM can use up another's */
	dm_printf(&b, "dns-forward-max=%zu\nmax-tcp-connections=%zu\n",
		  p->nvms > 1 ? p->nvms * RS_DNS_OUTSTANDING : RS_DNS_OUTSTANDING,
		  p->nvms > 1 ? p->nvms * RS_DNS_TCP_MAX : RS_DNS_TCP_MAX);
	for (size_t i = 0; i < p->nvms; i++)
		dm_printf(&b, "interface=%s\n", p->vms[i].name);
	if (p->nvms > 0) {
		policy_gateway(p, &a);
		addr_format(&a, gw, sizeof(gw));
		a = p->net.subnet;
		a.prefix = 32;
		addr_format(&a, net, sizeof(net));
		uint32_t m = p->net.subnet.prefix ? htonl(~0u << (32 - p->net.subnet.prefix)) : 0;
		inet_ntop(AF_INET, &m, mask, sizeof(mask));
		/* replies to a VM without an address are broadcast: unicast would
		 * need an ARP entry written (CAP_NET_ADMIN); no ping before an
		 * offer (a raw socket; the leases are static). A client is its
		 * link (below): a client identifier names no one. */
		dm_printf(&b, "dhcp-authoritative\ndhcp-broadcast\nno-ping\ndhcp-ignore-clid\n");
		dm_printf(&b, "dhcp-range=%s,static,%s,%s\n", net, mask, DNSMASQ_LEASE_TIME);
		dm_printf(&b, "dhcp-option=option:router,%s\ndhcp-option=option:dns-server,%s\n",
			  gw, gw);
	}
	/* no DHCPv6 and no RA, subnet6 or not: dnsmasq would need a raw
	 * ICMPv6 socket in this namespace for them (addr6.c serves both). It
	 * answers DNS on the IPv6 gateway all the same (a wildcard socket).
	 * A VM is the link a request arrives on (dnsmasq tags every request
	 * with its interface's name, a VM's name): any MAC there; its chaddr
	 * is checked against the link by the firewall. The names dnsmasq
	 * gives tags of its own are not VM names (parse.c). */
	for (size_t i = 0; i < p->nvms; i++) {
		const struct vm *v = &p->vms[i];
		char ip[MOAT_ADDR_STRLEN];
		addr_format(&v->addr, ip, sizeof(ip));
		dm_printf(&b, "dhcp-host=*:*:*:*:*:*,tag:%s,%s,%s\n", v->name, ip, v->name);
	}
	if (b.failed) {
		free(b.s);
		errno = ENOMEM;
		return NULL;
	}
	return b.s;
}

/* PID's PID namespace, "pid:[N]", into BUF; false if it is gone. */
static bool dm_pidns(pid_t pid, char *buf, size_t len)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid);
	ssize_t n = readlink(path, buf, len - 1);
	if (n <= 0)
		return false;
	buf[n] = 0;
	return true;
}

/* The dnsmasq an earlier daemon started, if it still runs: a compromised
 * one may have cleared its parent-death signal and rewritten its argv,
 * but it cannot leave its PID namespace, whose pid 1 it is. SIGKILL to it
 * ends the whole namespace. */
static void dm_stop_recorded(struct fw_dnsmasq *d)
{
	FILE *f = fopen(d->nsfile, "re");
	if (!f)
		return;
	int pid = 0;
	char want[64] = "", now[64];
	bool ok = fscanf(f, "%d %63s", &pid, want) == 2 && pid > 1;
	fclose(f);
	if (!ok || !dm_pidns(pid, now, sizeof(now)) || strcmp(now, want) != 0)
		return;
	fprintf(stderr, "moat-firewalld: stopping pid %d, the dnsmasq of an earlier daemon (%s)\n", pid, want);
	kill(pid, SIGKILL);
	for (int ms = 0; ms < DNSMASQ_STOP_MS && dm_pidns(pid, now, sizeof(now)) && strcmp(now, want) == 0;
	     ms += 10)
		usleep(10000);
}

/* PATH replaced whole by TEXT: -errno */
static int dm_write(const char *path, const char *text)
{
	return -stage_write_file(path, &(struct stage_how){ .mode = 0666 }, text, strlen(text));
}

/* Which dnsmasq is ours, for a daemon that starts after this one died
 * (called after each start). */
static void dm_record(pid_t pid, void *arg)
{
	struct fw_dnsmasq *d = arg;
	char ns[64], line[96];
	if (!dm_pidns(pid, ns, sizeof(ns)))
		return;
	snprintf(line, sizeof(line), "%d %s\n", (int)pid, ns);
	int err = dm_write(d->nsfile, line);
	if (err)
		fprintf(stderr, "moat-firewalld: %s: %s\n", d->nsfile, strerror(-err));
}

/* The child dnsmasq is: the config comes on stdin (its directory need not
 * be open to the uid). Nobody, root only of a user namespace of its own:
 * whatever it holds there gives nothing over this network namespace. Pid 1
 * of a PID namespace of its own: nothing it starts outlives it (to hold 547
 * when the daemon starts again, say), and as pid 1 only SIGKILL reaches it
 * without a handler of its own. */
static int dm_command(struct fw_dnsmasq *d)
{
	const char *argv[] = { d->name, "--keep-in-foreground", "--conf-file=-", NULL };
	struct spawn_opts o = { .pdeathsig = SIGKILL, .set_ids = true, .uid = DNSMASQ_UID,
				.gid = DNSMASQ_GID, .userns = true, .pidns = true };
	d->child.started = dm_record;
	d->child.started_arg = d;
	return sv_set_cmd(&d->child, d->path, argv, d->conf, &o);
}

struct fw_dnsmasq *fw_dnsmasq_new(const char *run_dir, const char *dnsmasq_path)
{
	struct fw_dnsmasq *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	int n = strlen(run_dir) > DNSMASQ_DIR_MAX ? -1 :
		snprintf(d->conf, sizeof(d->conf), "%s/dnsmasq.conf", run_dir);
	snprintf(d->nsfile, sizeof(d->nsfile), "%s/dnsmasq.pidns", run_dir);
	snprintf(d->name, sizeof(d->name), "dnsmasq@%s", run_dir);
	d->run_dir = strdup(run_dir);
	d->path = strdup(dnsmasq_path ? dnsmasq_path : DNSMASQ_DEFAULT);
	sv_init(&d->child, "dnsmasq", &dm_policy);
	if (n < 0 || (size_t)n >= sizeof(d->conf) || !d->run_dir || !d->path || dm_command(d) < 0) {
		fw_dnsmasq_free(d);
		errno = n < 0 || (size_t)n >= sizeof(d->conf) ? ENAMETOOLONG : ENOMEM;
		return NULL;
	}
	/* a dnsmasq a dead daemon left would hold port 53 with an old config
	 * (one that changed its ids itself lost its parent-death signal) */
	daemon_stop_leftovers(d->name, "moat-firewalld");
	dm_stop_recorded(d);
	/* 53 (DNS) and 67 (DHCP) without CAP_NET_BIND_SERVICE;
	 * nothing but dnsmasq and this daemon runs in the firewall VM */
	FILE *f = fopen("/proc/sys/net/ipv4/ip_unprivileged_port_start", "r+");
	int from = -1;
	if (!f || fscanf(f, "%d", &from) != 1 || (from > DNSMASQ_PORTS_FROM &&
	    (rewind(f), fprintf(f, "%d\n", DNSMASQ_PORTS_FROM) < 0 || fflush(f) != 0)))
		fprintf(stderr, "moat-firewalld: ip_unprivileged_port_start: %s; dnsmasq may not bind 53\n",
			strerror(errno));
	if (f)
		fclose(f);
	return d;
}

void fw_dnsmasq_free(struct fw_dnsmasq *d)
{
	if (!d)
		return;
	sv_clear(&d->child);
	free(d->run_dir);
	free(d->path);
	free(d->text);
	free(d);
}

int fw_dnsmasq_configure(struct fw_dnsmasq *d, const struct policy *p)
{
	char *text = fw_dnsmasq_config(p, d->run_dir);
	if (!text)
		return -errno;
	if (d->child.pid > 0 && d->text && strcmp(text, d->text) == 0) {
		free(text);
		return 0;
	}
	if (mkdir(d->run_dir, 0755) < 0 && errno != EEXIST) {
		int err = -errno;
		free(text);
		return err;
	}
	int err = dm_write(d->conf, text);
	if (err) {
		free(text);
		return err;
	}
	free(d->text);
	d->text = text;
	/* dnsmasq rereads no dhcp-host on SIGHUP: a new process */
	sv_stop(&d->child);
	return sv_start(&d->child);
}

void fw_dnsmasq_reap(struct fw_dnsmasq *d)
{
	sv_reap(&d->child);
}

int fw_dnsmasq_pid(const struct fw_dnsmasq *d)
{
	return d->child.pid;
}

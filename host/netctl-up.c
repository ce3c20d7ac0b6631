/* netctl up / down / appliances: the appliances on the host
 * (netctl-appliance.c) and the links they need (netctl-links.c), started
 * and stopped through netctl-proc.c (pidfiles, logs), in order, and
 * watched by up --foreground (netctl-supervise.c); links are named after
 * their VM ("uplink" for the netvm's), so a second `up` finds what the
 * first one started. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/ctl.h"
#include "host/netctl.h"
#include "host/netctl-reply.h"
#include "host/priv.h"
#include "host/proc.h"
#include "host/qemu.h"
#include "host/up.h"
#include "host/vfio.h"

#define DEFAULT_IMAGES "/usr/lib/moat/images"
#define KVM_TRUST_MS   30000    /* the appliances load the policy in 2 s under KVM */
#define DEFAULT_VM_OWNER "root:" PRIV_GROUP_VM
#define DEFAULT_VM_MEMORY_MAX_MB (64u * 1024)   /* when /proc/meminfo does not say */

/* What an app VM may share with its link by default: the host's memory (a
 * guest cannot use more, and a frontend that offers more, sparse, makes the
 * link fault in memory that is charged to moat: rt13), at most 64 GiB. */
static unsigned default_vm_memory_max_mb(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	unsigned long long kib = 0;
	char line[128];
	while (f && fgets(line, sizeof(line), f) && sscanf(line, "MemTotal: %llu kB", &kib) != 1)
		;
	if (f)
		fclose(f);
	unsigned long long mb = (kib + 1023) / 1024;
	return mb && mb < DEFAULT_VM_MEMORY_MAX_MB ? (unsigned)mb : DEFAULT_VM_MEMORY_MAX_MB;
}

/* What every command that starts links uses unless told otherwise. */
void up_opts_defaults(struct up_opts *o)
{
	const char *owner = getenv("MOAT_VM_OWNER");
	*o = (struct up_opts){ .images = DEFAULT_IMAGES, .sysfs = VFIO_SYSFS, .timeout = 300,
			       .accel = getenv("MOAT_ACCEL"), .vm_owner = owner && *owner ? owner : DEFAULT_VM_OWNER,
			       .vm_memory_max_mb = default_vm_memory_max_mb() };
}

/* Only root starts and stops what runs as the moat users, and only in a
 * state directory no one else may change under it. */
bool up_need_root(const struct netctl *ctx, const char *cmd)
{
	if (geteuid() != 0) {
		fprintf(stderr, "netctl %s: only root may do this: it starts and stops the appliances and links as "
			"their own users (and binds VFIO devices); the read-only commands (status, stats, log, "
			"appliances, diff, vm-args, show, check, generations) need only the group '%s'\n", cmd,
			PRIV_GROUP_READ);
		return false;
	}
	char dir[4096];
	const char *slash = strrchr(ctx->control, '/');
	return priv_path_safe(ctx->state_dir, "state directory") &&
	       (!slash || slash == ctx->control ||
		(netctl_pathf(dir, sizeof(dir), "%.*s", (int)(slash - ctx->control), ctx->control) &&
		 priv_path_safe(dir, "control socket's directory")));
}

/* The generation the firewall has loaded, 0 for none or no answer. */
static uint32_t firewall_generation(const struct netctl *ctx)
{
	struct ctl_msg m;
	uint8_t *reply = NULL;
	size_t len;
	uint32_t gen = 0, st = 1;
	ctl_msg_init(&m, CTL_REQ_STATUS);
	if (ctl_call(ctx->control, &m, &reply, &len) == 0 && ctl_get_u32(reply, len, CTL_A_STATUS, &st) && !st)
		ctl_get_u32(reply, len, CTL_A_GENERATION, &gen);
	free(reply);
	ctl_msg_free(&m);
	return gen;
}

/* `netctl apply` with what is left of up's deadline for its one call to the
 * firewall (a firewall still booting, under TCG, answers many seconds late;
 * one that never answers cannot hold `up` past its deadline). */
static bool apply_within(struct netctl *ctx, long deadline_ms, bool quiet)
{
	char *argv[] = { "apply", NULL };
	long call_ms = ctx->call_ms;
	ctx->call_ms = deadline_ms > 0 ? deadline_ms : 1;
	optind = 0;
	fflush(stdout);
	int rc = apply_main(ctx, 1, argv);
	ctx->call_ms = call_ms;
	if (rc != NETCTL_OK && !quiet)
		fprintf(stderr, "netctl: the firewall did not load the policy (see %s/run/firewallvm.console)\n",
			ctx->state_dir);
	return rc == NETCTL_OK;
}

/* One request to moat-netd (TEXT in a SUBNETS request), bounded by `up`'s
 * deadline, so a netvm that never answers cannot hold it. Its answer is
 * printed as "the netvm: WHAT: ..."; no answer is a warning, not a failure:
 * the firewall enforces the policy either way. */
static void netvm_tell(const struct netctl *ctx, const char *text, const char *what, long deadline_ms)
{
	char path[4096];
	if (!proc_run_file(ctx, path, sizeof(path), "netvm", "ctl"))
		return;
	struct ctl_msg m;
	uint8_t *reply = NULL;
	size_t len;
	uint32_t st = 1;
	ctl_msg_init(&m, CTL_REQ_SUBNETS);
	int rc = -ETIMEDOUT;
	long end = mono_ms() + deadline_ms;
	while (ctl_put_str(&m, CTL_A_TEXT, text) && mono_ms() < end) {
		rc = ctl_call_within(path, &m, &reply, &len, end - mono_ms());
		if (rc != -ENOENT && rc != -ECONNREFUSED)
			break;
		/* not listening yet */
		ctl_msg_free(&m);
		ctl_msg_init(&m, CTL_REQ_SUBNETS);
		proc_sleep_ms(200);
	}
	if (!rc && ctl_get_u32(reply, len, CTL_A_STATUS, &st)) {
		const char *said = ctl_get_str(reply, len, CTL_A_MESSAGE);
		printf("the netvm: %s: ", what);
		ctl_fput_safe(stdout, said ? said : "", false);
		putchar('\n');
		if (st)
			fprintf(stderr, "netctl: warning: the netvm did not take %s\n", what);
	} else {
		fprintf(stderr, "netctl: warning: the netvm never answered on %s: app VMs may get no internet "
			"(see %s/run/netvm.console)\n", path, ctx->state_dir);
	}
	free(reply);
	ctl_msg_free(&m);
}

/* The netvm routes the app subnet via the firewall (moat-netd's SUBNETS),
 * and forwards nothing to the host's own addresses (HOSTADDRS, sent as a
 * SUBNETS request until the control channel has a request of its own): it
 * forwards nothing at all before it has them. */
static void netvm_subnets(const struct netctl *ctx, const struct policy *p, long deadline_ms)
{
	char net[MOAT_ADDR_STRLEN];
	static char hosts[16384];
	long end = mono_ms() + deadline_ms;
	if (p->net.has & NET_HAS_SUBNET) {
		addr_format(&p->net.subnet, net, sizeof(net));
		netvm_tell(ctx, net, net, end - mono_ms());
	}
	if (netctl_host_addrs(p->net.uplink, hosts, sizeof(hosts)))
		netvm_tell(ctx, hosts, "the host's addresses", end - mono_ms());
	else
		fprintf(stderr, "netctl: warning: the netvm forwards nothing until it has the host's addresses\n");
}

static bool control_reachable(const char *path)
{
	int fd = ctl_connect(path);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* Start what of the netvm and the firewallvm is not running, under ACCEL, and
 * wait up to WITHIN_MS until the firewall enforces the policy: applied now,
 * or already (WAS_UP). QUIET: a failure is the caller's to explain. */
static bool appliances_up(struct netctl *ctx, const struct up_opts *o, const struct policy *p,
			  const char *accel, bool was_up, long within_ms, bool quiet)
{
	long deadline = mono_ms() + within_ms;
	gid_t moat;
	if (!priv_group(PRIV_GROUP_READ, &moat) || !appliance_start(ctx, o, p, accel, "netvm") ||
	    !proc_run_files_own(ctx, "netvm", moat) || !appliance_start(ctx, o, p, accel, "firewallvm") ||
	    !proc_run_files_own(ctx, "firewallvm", moat))
		return false;
	while (!control_reachable(ctx->control)) {
		if (mono_ms() >= deadline || proc_running(ctx, "firewallvm") <= 0) {
			if (!quiet)
				fprintf(stderr, "netctl: the firewall's control channel %s never answered (see "
					"%s/run/firewallvm.log)\n", ctx->control, ctx->state_dir);
			return false;
		}
		proc_sleep_ms(200);
	}
	uint32_t gen = was_up ? firewall_generation(ctx) : 0;
	if (gen) {
		printf("the firewall already enforces generation %u\n", gen);
		return true;
	}
	return apply_within(ctx, deadline - mono_ms(), quiet);
}

/* sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET. */
bool up_notify(bool ready, const char *status)
{
	const char *sock = getenv("NOTIFY_SOCKET");
	if (!sock || !*sock)
		return true;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = strlen(sock);
	if ((sock[0] != '/' && sock[0] != '@') || n >= sizeof(sa.sun_path)) {
		fprintf(stderr, "netctl: NOTIFY_SOCKET %s is not a unix socket path\n", sock);
		return false;
	}
	memcpy(sa.sun_path, sock, n);
	if (sock[0] == '@')
		sa.sun_path[0] = 0;   /* abstract namespace */
	char msg[512];
	int len = snprintf(msg, sizeof(msg), "%sSTATUS=%s", ready ? "READY=1\n" : "", status);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool ok = fd >= 0 && len > 0 && (size_t)len < sizeof(msg) &&
		  sendto(fd, msg, (size_t)len, MSG_NOSIGNAL, (struct sockaddr *)&sa,
			 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)) == len;
	if (!ok)
		fprintf(stderr, "netctl: notifying %s: %s\n", sock, strerror(errno));
	if (fd >= 0)
		close(fd);
	return ok;
}

/* Every directory down to DIR lets others through (x): the appliances' and
 * the app VMs' users reach their link sockets in STATE/links. */
static bool searchable(const char *dir)
{
	char buf[4096];
	if (!netctl_pathf(buf, sizeof(buf), "%s", dir))
		return false;
	for (char *end = buf + strlen(buf); end && end > buf; end = strrchr(buf, '/')) {
		*end = 0;
		struct stat st;
		bool there = stat(buf, &st) == 0;
		if (!there || !(st.st_mode & S_IXOTH)) {
			fprintf(stderr, "netctl up: the VMs' users cannot reach %s: %s is %s (every directory above the "
				"state directory needs search permission for others)\n", dir, buf,
				there ? "not searchable by others" : "missing");
			return false;
		}
	}
	return true;
}

/* The uplink NIC's IOMMU group bound to vfio-pci, its /dev/vfio device the
 * netvm's user's alone. */
static bool vfio_netvm_group(const struct up_opts *o, const char *bdf)
{
	struct priv_id id;
	return vfio_bind_group(o->sysfs, bdf) && priv_user(PRIV_USER_NET, &id) &&
	       vfio_group_give(o->sysfs, VFIO_DEV, bdf, id.gid);
}

int up_main(struct netctl *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "images", required_argument, NULL, 'i' }, { "accel", required_argument, NULL, 'a' },
		{ "qemu", required_argument, NULL, 'q' },   { "link", required_argument, NULL, 'l' },
		{ "sysfs", required_argument, NULL, 's' },  { "timeout", required_argument, NULL, 't' },
		{ "notify", no_argument, NULL, 'n' },       { "vm-owner", required_argument, NULL, 'o' },
		{ "vm-memory-max", required_argument, NULL, 'M' }, { "appliance-dir", required_argument, NULL, 'A' },
		{ "foreground", no_argument, NULL, 'f' }, { 0 },
	};
	struct up_opts o;
	up_opts_defaults(&o);
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'i': o.images = optarg; break;
		case 'a': o.accel = optarg; break;
		case 'q': o.qemu = optarg; break;
		case 'l': o.link = optarg; break;
		case 's': o.sysfs = optarg; break;
		case 'n': o.notify = true; break;
		case 'f': o.foreground = true; break;
		case 'o': o.vm_owner = optarg; break;
		case 'A': o.appliance_dir = optarg; break;
		case 'M':
			if (!qemu_parse_memory(optarg, &o.vm_memory_max_mb)) {
				fprintf(stderr, "netctl up: --vm-memory-max wants a size like 4G, not '%s'\n", optarg);
				return NETCTL_USAGE;
			}
			break;
		case 't': {
			char *end;
			unsigned long t = strtoul(optarg, &end, 10);
			if (!*optarg || *end || t == 0 || t > 3600) {
				fprintf(stderr, "netctl up: --timeout wants 1..3600 seconds, not '%s'\n", optarg);
				return NETCTL_USAGE;
			}
			o.timeout = (unsigned)t;
			break;
		}
		default:
			fprintf(stderr, "usage: netctl up [--images DIR] [--accel kvm|tcg] [--qemu BIN] [--link BIN] "
				"[--timeout SECONDS] [--vm-owner USER[:GROUP]] [--vm-memory-max SIZE] [--notify] [--foreground]\n");
			return NETCTL_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: netctl up [--images DIR] [--accel kvm|tcg] [--notify] [--foreground]\n");
		return NETCTL_USAGE;
	}
	if (o.appliance_dir && !o.qemu) {
		/* a real QEMU writes no file: everything is passed to it */
		fprintf(stderr, "netctl up: --appliance-dir is for a stand-in --qemu only\n");
		return NETCTL_USAGE;
	}
	if (!up_need_root(ctx, "up"))
		return NETCTL_FAILED;
	if (o.accel && !*o.accel)
		o.accel = NULL;
	const char *accel = qemu_accel_pick(o.accel, o.accel ? false : qemu_kvm_works("/dev/kvm"));
	if (!accel) {
		fprintf(stderr, "netctl up: --accel wants kvm or tcg, not '%s'\n", o.accel);
		return NETCTL_USAGE;
	}
	if (o.foreground && !up_unwatched(ctx))
		return NETCTL_FAILED;
	int rc = up_once(ctx, &o, &accel);
	if (rc == NETCTL_OK && o.notify && !up_notify(true, "policy loaded"))
		rc = NETCTL_FAILED;
	if (rc != NETCTL_OK || !o.foreground)
		return rc;
	return up_supervise(ctx, &o, accel);
}

/* What up does once: start what is not running, under *ACCEL (TCG after
 * all, if KVM failed: *ACCEL says so), until the firewall enforces the
 * policy. Under the lock of the pieces. */
int up_once(struct netctl *ctx, const struct up_opts *opts, const char **accel_used)
{
	struct up_opts o = *opts;
	const char *accel = *accel_used;
	long deadline = mono_ms() + (long)o.timeout * 1000;
	struct policy *p = netctl_load_policy(ctx, ctx->conf);
	if (!p)
		return NETCTL_FAILED;
	int rc = NETCTL_FAILED;
	bool locked = false;
	char dir[4096], kernel[4096], initrd[4096];
	/* refuse before starting anything */
	if (!appliance_images(o.images, "netvm", kernel, initrd, sizeof(kernel)) ||
	    !appliance_images(o.images, "firewallvm", kernel, initrd, sizeof(kernel)))
		goto out;
	gid_t moat;
	if (!priv_accounts_ensure() || !priv_group(PRIV_GROUP_READ, &moat))
		goto out;
	/* run/: pidfiles, logs, consoles, control and stats sockets: the moat
	 * group reads them; links/: the VMs' users reach their own socket */
	if (!netctl_pathf(dir, sizeof(dir), "%s/run", ctx->state_dir) || !priv_mkdirs(dir, 0750) || !priv_own(dir, 0, moat, 0750) ||
	    !netctl_pathf(dir, sizeof(dir), "%s/links", ctx->state_dir) || !priv_mkdirs(dir, 0711) || !priv_own(dir, 0, 0, 0711) ||
	    !searchable(dir) || !app_links_save(ctx, &o, moat) || !netctl_pathf(dir, sizeof(dir), "%s", ctx->control))
		goto out;
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		if (!priv_mkdirs(dir, 0755))
			goto out;
	}
	/* again, now that every directory on the way exists: one that was
	 * missing at the first check and that someone else made meanwhile
	 * (in /tmp, say) is refused before anything is started there */
	if (!up_need_root(ctx, "up") || !(locked = proc_lock(ctx)))
		goto out;
	/* what an older netctl started and this one cannot tell for sure:
	 * nothing is started beside it */
	bool unknown = proc_running(ctx, "netvm") < 0;
	unknown = proc_running(ctx, "firewallvm") < 0 || unknown;
	unknown = link_unknown(ctx, UPLINK) || unknown;
	for (size_t i = 0; i < p->nvms; i++)
		unknown = link_unknown(ctx, p->vms[i].name) || unknown;
	if (unknown)
		goto out;
	bool was_up = proc_running(ctx, "firewallvm") > 0;
	if (p->net.uplink == UPLINK_PCI && !proc_running(ctx, "netvm") && !vfio_netvm_group(&o, p->net.uplink_arg))
		goto out;
	if (!link_start(ctx, &o, UPLINK, NULL))
		goto out;
	for (size_t i = 0; i < p->nvms; i++)
		if (!link_start(ctx, &o, p->vms[i].name, &p->vms[i]))
			goto out;
	/* /dev/kvm can create VMs whose guests then die or hang (seen on hosts
	 * that are VMs themselves): a KVM picked by itself is kept only if the
	 * appliances come up under it within KVM_TRUST_MS; if not, TCG */
	bool try_kvm = !was_up && !o.accel && strcmp(accel, "kvm") == 0;
	long left = deadline - mono_ms();
	if (!appliances_up(ctx, &o, p, accel, was_up, try_kvm && left > KVM_TRUST_MS ? KVM_TRUST_MS : left,
			   try_kvm)) {
		if (!try_kvm)
			goto out;
		printf("the appliances did not come up under KVM (QEMU exited, or no policy loaded within %d s; "
		       "see %s/run/firewallvm.log): starting them again under TCG (--accel kvm insists on KVM)\n",
		       KVM_TRUST_MS / 1000, ctx->state_dir);
		fflush(stdout);
		if (!proc_stop(ctx, "firewallvm", "appliance") || !proc_stop(ctx, "netvm", "appliance") ||
		    !appliances_up(ctx, &o, p, "tcg", false, deadline - mono_ms(), false))
			goto out;
		*accel_used = "tcg";
	}
	netvm_subnets(ctx, p, deadline - mono_ms());
	printf("moat is up: the firewall enforces the policy; app VMs may start\n");
	rc = NETCTL_OK;
out:
	if (locked)
		proc_unlock();
	policy_free(p);
	fflush(stdout);
	return rc;
}

/* The links of app VMs: every NAME.link pidfile but the uplink's. */
static void stop_vm_links(const struct netctl *ctx, bool *ok)
{
	char dir[4096];
	if (!netctl_pathf(dir, sizeof(dir), "%s/run", ctx->state_dir))
		return;
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (n <= 9 || strcmp(e->d_name + n - 9, ".link.pid") != 0 ||
		    strcmp(e->d_name, UPLINK ".link.pid") == 0)
			continue;
		char name[256];
		snprintf(name, sizeof(name), "%.*s", (int)(n - 4), e->d_name);
		*ok = proc_stop(ctx, name, "link") && *ok;
	}
	closedir(d);
}

int down_main(struct netctl *ctx, int argc, char **argv)
{
	if (argc != 1) {
		fprintf(stderr, "usage: netctl down\n");
		return NETCTL_USAGE;
	}
	if (!up_need_root(ctx, "down") || !proc_lock(ctx))
		return NETCTL_FAILED;
	bool ok = up_down_all(ctx);
	proc_unlock();
	return ok ? NETCTL_OK : NETCTL_FAILED;
}

/* Everything up started, stopped in reverse: the app VMs' links first. */
bool up_down_all(const struct netctl *ctx)
{
	bool ok = true;
	stop_vm_links(ctx, &ok);
	ok = proc_stop(ctx, "firewallvm", "appliance") && appliance_socks_remove(ctx, "firewallvm") && ok;
	ok = proc_stop(ctx, "netvm", "appliance") && appliance_socks_remove(ctx, "netvm") && ok;
	ok = link_stop(ctx, UPLINK) && ok;
	ok = netctl_host_guard_remove() && ok;
	return ok;
}

int appliances_main(struct netctl *ctx, int argc, char **argv)
{
	bool json = argc == 2 && strcmp(argv[1], "--json") == 0;
	if (argc > 2 || (argc == 2 && !json)) {
		fprintf(stderr, "usage: netctl appliances [--json]\n");
		return NETCTL_USAGE;
	}
	struct policy *p = netctl_load_policy(ctx, ctx->conf);
	if (!p)
		return NETCTL_FAILED;
	size_t n = p->nvms + 3;
	if (json)
		printf("[");
	for (size_t i = 0; i < n; i++) {
		char name[64];
		const char *kind = i < 2 ? "appliance" : "link";
		if (i < 2)
			snprintf(name, sizeof(name), "%s", i ? "firewallvm" : "netvm");
		else
			snprintf(name, sizeof(name), "%s.link", i == 2 ? UPLINK : p->vms[i - 3].name);
		pid_t pid = proc_running(ctx, name);
		if (json)
			printf("%s\n  {\"name\": \"%s\", \"kind\": \"%s\", \"running\": %s, \"pid\": %d}", i ? "," : "",
			       name, kind, pid > 0 ? "true" : pid ? "null" : "false", pid > 0 ? (int)pid : 0);
		else if (pid < 0)
			printf("%-10s %-24s unknown (an older netctl's pidfile: see above)\n", kind, name);
		else if (pid)
			printf("%-10s %-24s running (pid %d)\n", kind, name, (int)pid);
		else
			printf("%-10s %-24s stopped\n", kind, name);
	}
	if (json)
		printf("\n]\n");
	policy_free(p);
	return NETCTL_OK;
}

/* moat-netd: the network VM's daemon.
 *
 *   moat-netd --control PATH [--host-control PATH [--host-status PATH]] [--nic IFNAME|--nic-mac MAC]
 *             [--static ADDR/PREFIX --gateway ADDR] [--dns ADDR,...]
 *             [--run-dir DIR] [--dnsmasq PATH|none] [--udhcpc PATH]
 *   moat-netd --dhcp-event EVENT --control PATH    (udhcpc's script)
 *   moat-netd --control PATH --status | --subnets CIDR,... | --hostaddrs 'ADDR ...'
 *                                                            (a client)
 *
 * Before anything else table inet moat-net drops everything. The firewall
 * link is found by its MAC, the NIC by name or MAC; once the NIC has an
 * address (static, or udhcpc's lease) the forwarding ruleset replaces the
 * closed one in one transaction and dnsmasq answers the firewall's DNS. The
 * table has the persist flag: it stays when the daemon exits or dies.
 *
 * Nothing is forwarded to the host (netd.h, hostaddrs.c): the open table
 * forwards nothing until netctl has sent the host's addresses (HOSTADDRS),
 * which are kept in the run dir for the next daemon the init starts.
 *
 * --control is the unix socket a local --status talks to (root's);
 * udhcpc's script, run as udhcpc's own uid, gets RUN_DIR/dhcp/lease.sock,
 * which takes leases and nothing else; --host-control is the virtio-serial
 * port netctl reaches from the host,
 * as root; --host-status the read-only one (status only) the host's group
 * moat reaches. All are served by lib/ctlserver.c, without blocking, many
 * clients at once.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/daemon.h"
#include "lib/stage.h"
#include "policy/batch.h"
#include "lib/ctl.h"
#include "lib/ctlserver.h"
#include "netvm/netd.h"

#define DEFAULT_RUN_DIR  "/run/moat-net"
#define DEFAULT_DNSMASQ  "/usr/sbin/dnsmasq"
#define DEFAULT_UDHCPC   "/bin/busybox"
#define RETRY_MS         1000

static void usage(FILE *out)
{
	fprintf(out,
		"usage: moat-netd --control PATH [--host-control PATH [--host-status PATH]]\n"
		"                 [--nic IFNAME|--nic-mac MAC]\n"
		"                 [--static ADDR/PREFIX --gateway ADDR] [--dns ADDR,...]\n"
		"                 [--run-dir DIR] [--dnsmasq PATH|none] [--udhcpc PATH]\n"
		"       moat-netd --control PATH --status | --subnets CIDR,... | --hostaddrs 'ADDR[/N] ...'\n"
		"       moat-netd --control PATH --dhcp-event EVENT   (udhcpc's -s script)\n"
		"  --host-control    the host's port (virtio-serial), or a unix socket\n"
		"  --host-status     the host's read-only port: status only\n"
		"  --nic, --nic-mac  the uplink NIC (default: eth0)\n"
		"  --static          an address instead of DHCP (with --gateway)\n"
		"  --dns             resolvers to forward to instead of the lease's\n"
		"  --run-dir DIR     udhcpc's script, dnsmasq's config (default %s)\n"
		"  --dnsmasq PATH    dnsmasq (default %s); none: no DNS for the firewall\n"
		"  --udhcpc PATH     udhcpc or busybox (default %s)\n"
		"  --hostaddrs LIST  tell the daemon the host's addresses, never forwarded to\n",
		DEFAULT_RUN_DIR, DEFAULT_DNSMASQ, DEFAULT_UDHCPC);
}

/* ---- the table ---- */

int netd_load(struct netd *d, bool open_table)
{
	struct nl_batch b;
	batch_init(&b, d->seq);
	if (open_table && !netd_batch_open(&b, d->nic, d->table_flags, d->hosts_known ? &d->hosts : NULL)) {
		batch_free(&b);
		return -ENAMETOOLONG;
	}
	if (!open_table)
		netd_batch_closed(&b, d->table_flags);
	char err[1024];
	int rc = nft_commit(&d->nft, &b, err, sizeof(err));
	d->seq = b.seq;
	batch_free(&b);
	if (rc) {
		fprintf(stderr, "moat-netd: loading the %s table: %s\n", open_table ? "forwarding" : "closed",
			err[0] ? err : strerror(-rc));
		return rc;
	}
	d->open = open_table;
	fprintf(stderr, "moat-netd: table inet %s %s\n", NETD_TABLE,
		!open_table       ? "drops everything"
		: d->hosts_known ? "forwards from the firewall link, never to the host"
				  : "forwards nothing until netctl sends the host's addresses");
	return 0;
}

/* ---- state changes ---- */

void netd_resolvers(const struct netd *d, struct netd_lease *l)
{
	if (d->nfixed_dns) {
		memcpy(l->dns, d->fixed_dns, sizeof(l->dns));
		l->ndns = d->nfixed_dns;
	}
}

bool netd_dns_enabled(const struct netd *d)
{
	return strcmp(d->dnsmasq, "none") != 0 && access(d->dnsmasq, X_OK) == 0;
}

static void dns_restart(struct netd *d)
{
	if (!netd_dns_enabled(d))
		return;
	child_clear(&d->dnsmasq_child);
	if (dns_argv(&d->dnsmasq_child, d->dnsmasq, d->run_dir, &d->lease))
		child_start(&d->dnsmasq_child);
	else
		fprintf(stderr, "moat-netd: cannot write dnsmasq's config in %s\n", d->run_dir);
}

static int set_forwarding(void)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_forward", "w");
	if (!f)
		return -errno;
	int rc = fputs("1\n", f) < 0 ? -EIO : 0;
	if (fclose(f) && !rc)
		rc = -errno;
	return rc;
}

/* A new lease (or the static address): NIC addressed, then the table opened. */
int netd_lease_apply(struct netd *d, const struct netd_lease *l)
{
	int rc = links_nic_address(d->links, d->nic, l);
	if (rc)
		return rc;
	if (!d->open && (rc = netd_load(d, true)))
		return rc;
	if ((rc = set_forwarding()))
		fprintf(stderr, "moat-netd: ip_forward: %s\n", strerror(-rc));
	bool dns_changed = !d->has_lease || d->lease.ndns != l->ndns ||
			   memcmp(d->lease.dns, l->dns, sizeof(l->dns)) != 0 || !d->dnsmasq_child.argv;
	d->lease = *l;
	d->has_lease = true;
	char text[256];
	lease_format(l, text, sizeof(text));
	fprintf(stderr, "moat-netd: %s: %s\n", d->nic, text);
	if (dns_changed)
		dns_restart(d);
	return 0;
}

void netd_lease_lost(struct netd *d)
{
	if (d->nic_ready)
		links_nic_address(d->links, d->nic, NULL);
	if (d->open)
		netd_load(d, false);
	child_clear(&d->dnsmasq_child);
	d->has_lease = false;
}

/* Whatever is not there yet is tried again every RETRY_MS. */
static void reconcile(struct netd *d)
{
	int rc;
	d->retry_at = 0;
	if (!d->fw_ready) {
		rc = links_firewall(d->links, d->nets, d->nnets);
		if (!rc) {
			d->fw_ready = true;
			fprintf(stderr, "moat-netd: firewall link %s is %s/%d\n", MOAT_UPLINK_NETVM_IF, MOAT_UPLINK_NETVM_ADDR,
				MOAT_UPLINK_PREFIX);
		}
	}
	if (!d->nic_ready) {
		rc = links_nic(d->links, d->nic, d->nic_mac);
		if (!rc) {
			d->nic_ready = true;
			fprintf(stderr, "moat-netd: NIC %s is up\n", d->nic);
			if (d->use_dhcp) {
				char script[4096];
				rc = dhcp_write_script(d->dhcp_dir, d->self, d->lease_sock, script, sizeof(script));
				if (rc || !dhcp_argv(&d->udhcpc_child, d->udhcpc, d->nic, script))
					fprintf(stderr, "moat-netd: udhcpc's script in %s: %s\n", d->run_dir,
						strerror(rc ? -rc : ENOMEM));
				else
					child_start(&d->udhcpc_child);
			}
		}
	}
	if (d->nic_ready && !d->use_dhcp && !d->open) {
		struct netd_lease l = d->lease;
		d->has_lease = false;
		if (netd_lease_apply(d, &l))
			d->nic_ready = false;
	}
	if (!d->fw_ready || !d->nic_ready || (!d->use_dhcp && !d->open))
		d->retry_at = mono_ms() + RETRY_MS;
}

/* ---- the loop ---- */

static void signals_read(struct netd *d)
{
	struct signalfd_siginfo si;
	while (read(d->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo != SIGCHLD) {
			fprintf(stderr, "moat-netd: %s, exiting; the table stays in force\n",
				strsignal((int)si.ssi_signo));
			d->stop = true;
		}
	}
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		if (!child_reaped(&d->udhcpc_child, pid, status))
			child_reaped(&d->dnsmasq_child, pid, status);
}

static int64_t earliest(int64_t a, int64_t b)
{
	return !a ? b : !b ? a : a < b ? a : b;
}

static int min_timeout(int a, int b)
{
	return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

static int run(struct netd *d)
{
	while (!d->stop) {
		int64_t next = earliest(d->retry_at,
					earliest(d->udhcpc_child.restart_at, d->dnsmasq_child.restart_at));
		int timeout = -1;
		if (next) {
			int64_t left = next - mono_ms();
			timeout = left < 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left;
		}
		struct ctl_server *srv[] = { d->local, d->host, d->host_ro, d->leases };
		const size_t nsrv = sizeof(srv) / sizeof(srv[0]);
		struct pollfd fds[1 + nsrv * (1 + CTL_SERVER_MAX_CLIENTS)];
		fds[0] = (struct pollfd){ .fd = d->sigfd, .events = POLLIN };
		size_t n = 1;
		for (size_t i = 0; i < nsrv; i++)
			if (srv[i]) {
				n += ctl_server_pollfds(srv[i], fds + n);
				timeout = min_timeout(timeout, ctl_server_timeout(srv[i]));
			}
		/* the one place the daemon sleeps */
		if (poll(fds, n, timeout) < 0 && errno != EINTR) {
			fprintf(stderr, "moat-netd: poll: %s\n", strerror(errno));
			return 1;
		}
		if (fds[0].revents)
			signals_read(d);
		if (d->stop)
			break;
		/* each server serves only its own descriptors of FDS */
		for (size_t i = 0; i < nsrv; i++)
			if (srv[i])
				ctl_server_event(srv[i], fds + 1, n - 1);
		int64_t now = mono_ms();
		if (d->retry_at && now >= d->retry_at)
			reconcile(d);
		if (d->udhcpc_child.restart_at && now >= d->udhcpc_child.restart_at)
			child_start(&d->udhcpc_child);
		if (d->dnsmasq_child.restart_at && now >= d->dnsmasq_child.restart_at)
			child_start(&d->dnsmasq_child);
	}
	return 0;
}

int main(int argc, char **argv)
{
	enum { O_HOST_CONTROL = 254, O_HOST_STATUS, O_NIC = 256, O_NIC_MAC, O_STATIC, O_GATEWAY, O_DNS, O_RUN_DIR, O_DNSMASQ, O_UDHCPC,
	       O_DHCP_EVENT, O_STATUS, O_SUBNETS, O_HOSTADDRS };
	static const struct option opts[] = {
		{ "control", required_argument, NULL, 'c' },
		{ "host-control", required_argument, NULL, O_HOST_CONTROL },
		{ "host-status", required_argument, NULL, O_HOST_STATUS },
		{ "nic", required_argument, NULL, O_NIC },
		{ "nic-mac", required_argument, NULL, O_NIC_MAC },
		{ "static", required_argument, NULL, O_STATIC },
		{ "gateway", required_argument, NULL, O_GATEWAY },
		{ "dns", required_argument, NULL, O_DNS },
		{ "run-dir", required_argument, NULL, O_RUN_DIR },
		{ "dnsmasq", required_argument, NULL, O_DNSMASQ },
		{ "udhcpc", required_argument, NULL, O_UDHCPC },
		{ "dhcp-event", required_argument, NULL, O_DHCP_EVENT },
		{ "status", no_argument, NULL, O_STATUS },
		{ "subnets", required_argument, NULL, O_SUBNETS },
		{ "hostaddrs", required_argument, NULL, O_HOSTADDRS },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct netd d = { .sigfd = -1, .run_dir = DEFAULT_RUN_DIR,
			  .dnsmasq = DEFAULT_DNSMASQ, .udhcpc = DEFAULT_UDHCPC, .use_dhcp = true };
	const char *static_addr = NULL, *gateway = NULL, *dns = NULL, *event = NULL, *subnets = NULL,
		   *hostaddrs = NULL;
	bool status = false;
	int c, rc = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': d.control = optarg; break;
		case O_HOST_CONTROL: d.host_control = optarg; break;
		case O_HOST_STATUS: d.host_status = optarg; break;
		case O_NIC:
			if (strlen(optarg) >= IFNAMSIZ || !*optarg) {
				fprintf(stderr, "moat-netd: --nic %s: not an interface name\n", optarg);
				return 2;
			}
			strcpy(d.nic, optarg);
			break;
		case O_NIC_MAC: d.nic_mac = optarg; break;
		case O_STATIC: static_addr = optarg; break;
		case O_GATEWAY: gateway = optarg; break;
		case O_DNS: dns = optarg; break;
		case O_RUN_DIR: d.run_dir = optarg; break;
		case O_DNSMASQ: d.dnsmasq = optarg; break;
		case O_UDHCPC: d.udhcpc = optarg; break;
		case O_DHCP_EVENT: event = optarg; break;
		case O_STATUS: status = true; break;
		case O_SUBNETS: subnets = optarg; break;
		case O_HOSTADDRS: hostaddrs = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!d.control || optind != argc || (d.nic[0] && d.nic_mac) || (!static_addr != !gateway) ||
	    (d.host_status && !d.host_control)) {
		usage(stderr);
		return 2;
	}
	if (event)
		return netd_dhcp_event(d.control, event);
	if (status)
		return netd_call(d.control, CTL_REQ_STATUS, NULL, true);
	if (subnets)
		return netd_call(d.control, CTL_REQ_SUBNETS, subnets, false);
	if (hostaddrs) {
		char text[NETD_HOSTADDRS_MAX];
		if (snprintf(text, sizeof(text), "HOSTADDRS%s%s", *hostaddrs ? " " : "", hostaddrs) >=
		    (int)sizeof(text)) {
			fprintf(stderr, "moat-netd: --hostaddrs: too long\n");
			return 2;
		}
		return netd_call(d.control, CTL_REQ_SUBNETS, text, false);
	}

	if (!d.nic[0] && !d.nic_mac)
		strcpy(d.nic, "eth0");
	if (static_addr) {
		d.use_dhcp = false;
		if (!lease_parse_net(static_addr, true, &d.lease.addr) || d.lease.addr.prefix == 0 ||
		    inet_pton(AF_INET, gateway, &d.lease.gateway) != 1) {
			fprintf(stderr, "moat-netd: --static %s --gateway %s: want ADDR/PREFIX and ADDR\n",
				static_addr, gateway);
			return 2;
		}
	}
	if (dns) {
		struct netd_lease tmp = { 0 };
		if (!lease_parse_dns(dns, &tmp) || !tmp.ndns) {
			fprintf(stderr, "moat-netd: --dns %s: want ADDR,...\n", dns);
			return 2;
		}
		memcpy(d.fixed_dns, tmp.dns, sizeof(tmp.dns));
		d.nfixed_dns = tmp.ndns;
		netd_resolvers(&d, &d.lease);
	}
	struct netd_net def;
	lease_parse_net(MOAT_APP_NETS_DEFAULT, false, &def);
	d.nets[0] = def;
	d.nnets = 1;
	setvbuf(stderr, NULL, _IOLBF, 0);

	ssize_t sl = readlink("/proc/self/exe", d.self, sizeof(d.self));
	if (sl <= 0 || (size_t)sl >= sizeof(d.self)) {
		fprintf(stderr, "moat-netd: cannot find my own path for udhcpc's script\n");
		return 1;
	}
	d.self[sl] = 0;

	/* the table first: never a moment with the netvm open */
	int err = nft_sock_open(&d.nft, false);
	if (err) {
		fprintf(stderr, "moat-netd: nf_tables netlink: %s\n", strerror(-err));
		return 1;
	}
	d.seq = (uint32_t)time(NULL) | 1;
	d.table_flags = nft_appliance_table_flags(&d.nft);
	if (!d.table_flags)
		fprintf(stderr, "moat-netd: this kernel cannot keep an owned table after its owner (no "
			"NFT_TABLE_F_PERSIST, Linux < 6.9): table inet " NETD_TABLE " is not owned, so that it "
			"stays in force if moat-netd dies\n");
	if (netd_load(&d, false))
		goto cleanup;

	d.sigfd = daemon_signals_open();
	if (d.sigfd < 0) {
		fprintf(stderr, "moat-netd: signals: %s\n", strerror(errno));
		goto cleanup;
	}
	/* searchable, not readable: udhcpc's uid passes through to RUN_DIR/dhcp */
	if (mkdir(d.run_dir, 0711) < 0 && errno != EEXIST) {
		fprintf(stderr, "moat-netd: %s: %s\n", d.run_dir, strerror(errno));
		goto cleanup;
	}
	netd_hostaddrs_recall(&d);
	/* the dnsmasq and udhcpc of a daemon that died: one holds port 53 with
	 * an old config, the other keeps calling back with leases */
	char left[PATH_MAX + 32];
	snprintf(left, sizeof(left), "dnsmasq@%s", d.run_dir);
	daemon_stop_leftovers(left, "moat-netd");
	snprintf(left, sizeof(left), "%s/dhcp/udhcpc.script", d.run_dir);
	daemon_stop_leftovers(left, "moat-netd");
	d.links = links_open();
	if (!d.links) {
		fprintf(stderr, "moat-netd: rtnetlink: %s\n", strerror(errno));
		goto cleanup;
	}
	if (!netd_control_open(&d))
		goto cleanup;
	if (strcmp(d.dnsmasq, "none") != 0 && !netd_dns_enabled(&d))
		fprintf(stderr, "moat-netd: %s is not there: no DNS for the firewall\n", d.dnsmasq);
	fprintf(stderr, "moat-netd: listening on %s%s%s%s%s\n", d.control, d.host ? " and " : "",
		d.host ? d.host_control : "", d.host_ro ? ", read-only on " : "", d.host_ro ? d.host_status : "");
	reconcile(&d);
	rc = run(&d);

cleanup:
	child_clear(&d.udhcpc_child);
	child_clear(&d.dnsmasq_child);
	netd_control_close(&d);
	links_close(d.links);
	if (d.sigfd >= 0)
		close(d.sigfd);
	/* the table outlives this socket (persist) */
	nft_sock_close(&d.nft);
	return rc;
}

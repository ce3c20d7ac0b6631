/* control.c: what moat-netd is asked over its control channel.
 *
 * netctl (root, on the host's read-write port) sends SUBNETS and HOSTADDRS;
 * the read-only port and the local socket also answer STATUS; udhcpc's script
 * reaches RUN_DIR/dhcp/lease.sock, which takes DHCP leases and nothing else.
 * lib/ctlserver.c owns the sockets and the framing: each handler here gets one
 * checked request and writes one reply.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/ctl.h"
#include "lib/ctlserver.h"
#include "netvm/netd.h"
#include "lib/stage.h"

static void reply(struct ctl_client *cl, int status, const char *msg, const char *text)
{
	struct ctl_msg m;
	ctl_msg_init(&m, CTL_REPLY);
	bool ok = ctl_put_u32(&m, CTL_A_STATUS, (uint32_t)status) && ctl_put_str(&m, CTL_A_MESSAGE, msg) &&
		  (!text || ctl_put_str(&m, CTL_A_TEXT, text));
	ctl_client_reply(cl, &m, ok);
	ctl_msg_free(&m);
}

static void status_text(struct netd *d, char *buf, size_t len)
{
	char lease[256] = "none", nets[NETD_MAX_NETS * 20] = "";
	if (d->has_lease)
		lease_format(&d->lease, lease, sizeof(lease));
	for (size_t i = 0; i < d->nnets; i++) {
		char a[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &d->nets[i].addr, a, sizeof(a));
		size_t n = strlen(nets);
		snprintf(nets + n, sizeof(nets) - n, "%s%s/%d", i ? "," : "", a, d->nets[i].prefix);
	}
	struct netd_counters c;
	int rc = netd_counters_read(&c);
	const char *dns = strcmp(d->dnsmasq, "none") == 0 ? "off"
			  : !netd_dns_enabled(d)                ? "not installed"
			  : d->dnsmasq_child.pid > 0       ? "running"
							   : "stopped";
	size_t host_nets = 0;
	for (size_t i = 0; i < d->hosts.n; i++)
		host_nets += !hostaddrs_full(&d->hosts.v[i]);
	char hosts[96] = "not known yet: nothing is forwarded";
	if (d->hosts_known)
		snprintf(hosts, sizeof(hosts), "%zu addresses, %zu networks: never forwarded to",
			 d->hosts.n - host_nets, host_nets);
	int n = snprintf(buf, len,
			 "state %s\nnic %s%s\naddress %s\nsource %s\nfirewall %s %s/%d\nsubnets %s\n"
			 "host %s\ndnsmasq %s\n",
			 d->open ? "forwarding" : "closed", d->nic[0] ? d->nic : "-",
			 d->nic_ready ? "" : " (not found yet)", lease, d->use_dhcp ? "dhcp" : "static",
			 MOAT_UPLINK_NETVM_IF, MOAT_UPLINK_NETVM_ADDR, MOAT_UPLINK_PREFIX, nets, hosts, dns);
	if (n < 0 || (size_t)n >= len)
		return;
	if (rc)
		snprintf(buf + n, len - (size_t)n, "counters unreadable: %s\n", strerror(-rc));
	else
		snprintf(buf + n, len - (size_t)n,
			 "nat connections %llu\nforwarded packets %llu\nreplies packets %llu\n"
			 "dropped input %llu forward %llu output %llu\ndropped to the host %llu\n",
			 (unsigned long long)c.nat, (unsigned long long)c.forwarded,
			 (unsigned long long)c.replies, (unsigned long long)c.dropped_in,
			 (unsigned long long)c.dropped_fwd, (unsigned long long)c.dropped_out,
			 (unsigned long long)c.to_host);
}

static bool hostaddrs_path(const struct netd *d, char *path, char *tmp)
{
	return snprintf(path, PATH_MAX, "%s/hostaddrs", d->run_dir) < PATH_MAX &&
	       snprintf(tmp, PATH_MAX, "%s/hostaddrs.tmp", d->run_dir) < PATH_MAX;
}

/* The list a daemon before this one was sent (the init starts it again). */
void netd_hostaddrs_recall(struct netd *d)
{
	char path[PATH_MAX], tmp[PATH_MAX], text[NETD_HOSTADDRS_MAX + 1], why[128];
	FILE *f = hostaddrs_path(d, path, tmp) ? fopen(path, "re") : NULL;
	if (!f)
		return;
	size_t len = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[len] = 0;
	if (len && text[len - 1] == '\n')
		text[--len] = 0;
	if (!hostaddrs_parse(text, &d->hosts, why, sizeof(why))) {
		fprintf(stderr, "moat-netd: %s: %s: ignored (nothing forwarded until netctl sends them)\n",
			path, why);
		return;
	}
	d->hosts_known = true;
	fprintf(stderr, "moat-netd: the host's addresses from %s: %zu\n", path, d->hosts.n);
}

static void do_hostaddrs(struct netd *d, struct ctl_client *cl, const char *text)
{
	struct netd_hosts h;
	char why[160], path[PATH_MAX], tmp[PATH_MAX];
	if (!hostaddrs_parse(text, &h, why, sizeof(why))) {
		fprintf(stderr, "moat-netd: the host's addresses refused: %s\n", why);
		reply(cl, EINVAL, why, NULL);
		return;
	}
	struct netd_hosts old = d->hosts;
	bool was_known = d->hosts_known;
	d->hosts = h;
	d->hosts_known = true;
	if (d->open && netd_load(d, true)) {
		/* the kernel keeps the table it had: so does this daemon */
		d->hosts = old;
		d->hosts_known = was_known;
		reply(cl, EIO, "the host's addresses did not load (see the log)", NULL);
		return;
	}
	/* for the next daemon; this one already enforces them */
	int err = hostaddrs_path(d, path, tmp) ? stage_write_now(path, tmp, 0600, text, strlen(text))
						: ENAMETOOLONG;
	if (err)
		fprintf(stderr, "moat-netd: keeping the host's addresses in %s/hostaddrs: %s\n", d->run_dir,
			strerror(err));
	fprintf(stderr, "moat-netd: never forwarding to the host's %zu addresses\n", h.n);
	reply(cl, 0, d->open ? "never forwarded to" : "recorded; nothing is forwarded yet", NULL);
}

static void do_subnets(struct netd *d, struct ctl_client *fd, const char *text)
{
	struct netd_net nets[NETD_MAX_NETS];
	size_t n;
	if (text && strncmp(text, "HOSTADDRS", 9) == 0) {
		do_hostaddrs(d, fd, text);
		return;
	}
	if (!text || !lease_parse_nets(text, nets, &n)) {
		reply(fd, EINVAL, "subnets: want CIDR,... (network addresses, at most 16)", NULL);
		return;
	}
	if (d->fw_ready) {
		for (size_t i = 0; i < d->nnets; i++) {
			bool kept = false;
			for (size_t j = 0; j < n; j++)
				kept |= memcmp(&d->nets[i], &nets[j], sizeof(nets[j])) == 0;
			if (!kept)
				links_unroute(d->links, &d->nets[i]);
		}
	}
	memcpy(d->nets, nets, sizeof(nets));
	d->nnets = n;
	if (d->fw_ready && links_firewall(d->links, d->nets, d->nnets)) {
		reply(fd, EIO, "subnets recorded; the routes did not all load (see the log)", NULL);
		return;
	}
	fprintf(stderr, "moat-netd: subnets behind the firewall: %s\n", text);
	reply(fd, 0, d->fw_ready ? "routed via " MOAT_UPLINK_FW_ADDR : "recorded; the firewall link is not there yet",
	      NULL);
}

static void do_dhcp(struct netd *d, struct ctl_client *fd, const char *text)
{
	enum netd_event ev;
	struct netd_lease l;
	char why[128];
	if (!text || !lease_parse(text, strlen(text), &ev, &l, why, sizeof(why))) {
		fprintf(stderr, "moat-netd: DHCP event refused: %s\n", text ? why : "no text");
		reply(fd, EINVAL, text ? why : "no text", NULL);
		return;
	}
	if (!d->use_dhcp || !d->nic_ready) {
		reply(fd, EPERM, "not using DHCP", NULL);
		return;
	}
	int rc = 0;
	switch (ev) {
	case NE_BOUND:
	case NE_RENEW:
		netd_resolvers(d, &l);
		if (!d->has_lease || !lease_equal(&l, &d->lease) || !d->open)
			rc = netd_lease_apply(d, &l);
		break;
	case NE_DECONFIG:
	case NE_NAK:
		if (d->has_lease)
			fprintf(stderr, "moat-netd: %s: lease gone\n", d->nic);
		netd_lease_lost(d);
		break;
	default:
		break;
	}
	reply(fd, rc < 0 ? -rc : rc, rc ? strerror(rc < 0 ? -rc : rc) : "ok", NULL);
}

static void handle_request(void *arg, struct ctl_client *cl, uint16_t type, const uint8_t *f,
			   size_t len)
{
	struct netd *d = arg;
	switch (type) {
	case CTL_REQ_STATUS: {
		char text[2048];
		status_text(d, text, sizeof(text));
		reply(cl, 0, d->open ? "forwarding" : "closed", text);
		break;
	}
	case CTL_REQ_SUBNETS: do_subnets(d, cl, ctl_get_str(f, len, CTL_A_TEXT)); break;
	case CTL_REQ_DHCP: do_dhcp(d, cl, ctl_get_str(f, len, CTL_A_TEXT)); break;
	default:
		reply(cl, EOPNOTSUPP, "moat-netd does not take this request", NULL);
		ctl_client_close(cl);
	}
}

/* udhcpc's script: leases, nothing else (it runs as udhcpc's uid) */
static void handle_lease(void *arg, struct ctl_client *cl, uint16_t type, const uint8_t *f, size_t len)
{
	struct netd *d = arg;
	if (type == CTL_REQ_DHCP) {
		do_dhcp(d, cl, ctl_get_str(f, len, CTL_A_TEXT));
		return;
	}
	reply(cl, EPERM, "this socket takes udhcpc's leases only", NULL);
	ctl_client_close(cl);
}

/* RUN_DIR/dhcp (root's, searchable) holds udhcpc's script and lease.sock,
 * which only udhcpc's uid may connect to. */
static bool lease_open(struct netd *d)
{
	if ((size_t)snprintf(d->dhcp_dir, sizeof(d->dhcp_dir), "%s/dhcp", d->run_dir) >= sizeof(d->dhcp_dir) ||
	    (size_t)snprintf(d->lease_sock, sizeof(d->lease_sock), "%s/lease.sock", d->dhcp_dir) >=
		    sizeof(d->lease_sock)) {
		fprintf(stderr, "moat-netd: %s: path too long\n", d->run_dir);
		return false;
	}
	struct stat st;
	if (stat(d->run_dir, &st) == 0 && st.st_uid == geteuid() && (st.st_mode & 0011) != 0011)
		chmod(d->run_dir, (st.st_mode & 07777) | 0011);
	if ((mkdir(d->dhcp_dir, 0711) < 0 && errno != EEXIST) || lstat(d->dhcp_dir, &st) < 0 ||
	    !S_ISDIR(st.st_mode) || st.st_uid != geteuid() || chmod(d->dhcp_dir, 0711) < 0) {
		fprintf(stderr, "moat-netd: %s: not a directory of mine: %s\n", d->dhcp_dir, strerror(errno));
		return false;
	}
	d->leases = ctl_server_open(d->lease_sock, "moat-netd", handle_lease, d);
	if (!d->leases)
		return false;
	if (chmod(d->lease_sock, 0600) < 0) {
		fprintf(stderr, "moat-netd: %s: %s\n", d->lease_sock, strerror(errno));
		return false;
	}
	/* a daemon that is not root where udhcpc's uid exists (a test's user
	 * namespace) cannot start udhcpc as that uid either: the socket stays
	 * its own */
	if (chown(d->lease_sock, NETD_UDHCPC_UID, NETD_UDHCPC_UID) < 0)
		fprintf(stderr, "moat-netd: %s stays mine (%s): udhcpc cannot run as uid %d here\n",
			d->lease_sock, strerror(errno), NETD_UDHCPC_UID);
	return true;
}

bool netd_control_open(struct netd *d)
{
	d->local = ctl_server_open(d->control, "moat-netd", handle_request, d);
	if (!d->local || !lease_open(d))
		return false;
	if (d->host_control && !(d->host = ctl_server_open(d->host_control, "moat-netd", handle_request, d)))
		return false;
	if (d->host_status &&
	    !(d->host_ro = ctl_server_open_read_only(d->host_status, "moat-netd", handle_request, d)))
		return false;
	return true;
}

void netd_control_close(struct netd *d)
{
	ctl_server_close(d->local);
	ctl_server_close(d->host);
	ctl_server_close(d->host_ro);
	ctl_server_close(d->leases);
}

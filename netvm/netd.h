/* netd.h: the parts of moat-netd, the network VM's daemon, and how they meet.
 *
 * main.c     arguments, start-up (fail-closed table first), the poll loop,
 *            the table and the lease in force
 * control.c  the requests netctl and udhcpc send (lib/ctlserver.c serves the
 *            sockets and ports): STATUS, SUBNETS, HOSTADDRS, DHCP
 * client.c   the client modes: --status, --subnets, --hostaddrs, and
 *            --dhcp-event from udhcpc's script
 * ruleset.c  table inet moat-net as libnftnl messages: closed, or open for
 *            one NIC; its counters read back
 * links.c    libnl-3: the firewall link found by MAC, renamed and addressed,
 *            the NIC up with its address, routes
 * lease.c    udhcpc's event (key=value lines, from the network) parsed
 * hostaddrs.c the host's own addresses (netctl's HOSTADDRS), never forwarded to
 * dhcp.c     udhcpc and dnsmasq as supervised children
 */
#ifndef MOAT_NETD_H
#define MOAT_NETD_H

#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "policy/batch.h"
#include "lib/contract.h"
#include "lib/supervise.h"

#define NETD_TABLE        "moat-net"
#define NETD_MAX_DNS      4
#define NETD_MAX_NETS     16
#define NETD_UDHCPC_UID   65533             /* udhcpc's own: nothing else runs as it */
#define NETD_MARK         0x6d6e0001u       /* forwarded from the firewall: masqueraded */
#define NETD_MAX_HOSTS     256              /* host addresses netctl may send */
#define NETD_MAX_HOST_NETS 8                /* of which networks (QEMU's user net) */
#define NETD_HOSTADDRS_MAX (NETD_MAX_HOSTS * (INET6_ADDRSTRLEN + 4) + 16)   /* as text */

struct nl_batch;

/* An IPv4 prefix, host byte order free: addr is network order. */
struct netd_net {
	struct in_addr addr;
	int prefix;
};

/* What the NIC has: from udhcpc or the command line. */
struct netd_lease {
	struct netd_net addr;
	struct in_addr gateway;      /* s_addr 0: none */
	struct in_addr dns[NETD_MAX_DNS];
	size_t ndns;
};

/* An address of the host, or a network that leads to it (QEMU's user
 * network): addr in network order, its first PREFIX bits. */
struct netd_host {
	uint8_t family;              /* AF_INET or AF_INET6 */
	uint8_t prefix;
	uint8_t addr[16];
};

struct netd_hosts {
	struct netd_host v[NETD_MAX_HOSTS];
	size_t n;
};

/* ---- lease.c ---- */

enum netd_event { NE_BOUND, NE_RENEW, NE_DECONFIG, NE_LEASEFAIL, NE_NAK, NE_OTHER };

/* TEXT: "event=bound\nip=192.0.2.10\nmask=24\nrouter=192.0.2.1\ndns=1.1.1.1 9.9.9.9\n"
 * as moat-netd --dhcp-event sends it from udhcpc's environment. A bound/renew
 * event needs ip; mask (a prefix length) or subnet (dotted) gives the prefix,
 * 24 when neither. Unknown keys are ignored; a malformed value, a key given
 * twice or a line over 1024 bytes is refused. false + a reason in WHY. */
bool lease_parse(const char *text, size_t len, enum netd_event *ev, struct netd_lease *l,
		 char *why, size_t whylen);
/* "A.B.C.D/N" -> NET (host bits must be zero unless HOST). */
bool lease_parse_net(const char *s, bool host, struct netd_net *net);
/* "10.137.0.0/16,10.138.0.0/24": up to NETD_MAX_NETS. */
bool lease_parse_nets(const char *s, struct netd_net *nets, size_t *n);
/* "1.1.1.1,9.9.9.9" (commas or spaces). */
bool lease_parse_dns(const char *s, struct netd_lease *l);
bool lease_equal(const struct netd_lease *a, const struct netd_lease *b);
/* "192.0.2.10/24 gateway 192.0.2.1 resolvers 1.1.1.1,9.9.9.9" */
void lease_format(const struct netd_lease *l, char *buf, size_t len);

/* ---- hostaddrs.c ---- */

/* The host's addresses never forwarded to. netctl sends them at every
 * `netctl up` as the text of a SUBNETS request (until the control channel
 * has a request of its own for them):
 *   "HOSTADDRS 10.0.2.0/24 127.0.0.1 ::1"
 * the word, then items after one space each: an IPv4 or IPv6 address, or
 * ADDR/PREFIX (host bits zero); no duplicates, at most NETD_MAX_HOSTS items
 * of which NETD_MAX_HOST_NETS networks. false + a reason in WHY. */
bool hostaddrs_parse(const char *text, struct netd_hosts *h, char *why, size_t whylen);
/* The same text back; false if it does not fit in LEN. */
bool hostaddrs_format(const struct netd_hosts *h, char *buf, size_t len);
/* A single address (/32, /128), not a network. */
bool hostaddrs_full(const struct netd_host *h);

/* ---- ruleset.c ---- */

struct ruleset;
/* Table inet NETD_TABLE as a ruleset (policy/ruleset.h): with NIC NULL the
 * drop-everything table (only loopback passes); else the configured one
 * (netd_batch_open). NULL: NIC's name does not fit. Free with ruleset_free. */
struct ruleset *netd_ruleset(const char *nic, const struct netd_hosts *hosts);

/* The drop-everything table, created with TABLE_FLAGS (what
 * nft_appliance_table_flags says), replacing any old one: only loopback
 * passes. */
void netd_batch_closed(struct nl_batch *b, uint32_t table_flags);
/* The configured table, one transaction: masquerade and forwarding from the
 * firewall link out of NIC and the replies back; DNS and ping from the
 * firewall VM; the netvm's own DHCP and DNS on NIC. Nothing is ever
 * forwarded to HOSTS (sets host4 and host6, a rule per network, counted as
 * "to the host"); with HOSTS NULL (not known yet) nothing is forwarded at
 * all. false: NIC's name does not fit. */
bool netd_batch_open(struct nl_batch *b, const char *nic, uint32_t table_flags,
		     const struct netd_hosts *hosts);

struct netd_counters {
	uint64_t nat, forwarded, replies, dropped_in, dropped_fwd, dropped_out, to_host;
};
/* From the kernel's table: 0 or -errno. */
int netd_counters_read(struct netd_counters *c);

/* ---- links.c ---- */

struct netd_links;
struct netd_links *links_open(void);
void links_close(struct netd_links *k);
/* Find the firewall link by MAC, rename it MOAT_UPLINK_NETVM_IF, address it, bring it
 * up, route NETS via the firewall. 0, -ENODEV while it is not there, -errno. */
int links_firewall(struct netd_links *k, const struct netd_net *nets, size_t n);
int links_unroute(struct netd_links *k, const struct netd_net *net);
/* NIC by NAME, or by MAC when NAME is empty: its name into NAME, brought up.
 * 0, -ENODEV while it is not there. */
int links_nic(struct netd_links *k, char name[IFNAMSIZ], const char *mac);
/* Give NIC exactly the lease's address and the default route via its gateway
 * (none: addresses and default route removed). */
int links_nic_address(struct netd_links *k, const char *nic, const struct netd_lease *l);

/* ---- dhcp.c ---- */

/* udhcpc and dnsmasq are lib/supervise.c's children, restarted RESTART_MS
 * after they die; these name its calls as main.c uses them. */
/* Write DIR/udhcpc.script (0755) that runs SELF --dhcp-event "$1" --control CONTROL. */
int dhcp_write_script(const char *dir, const char *self, const char *control,
		      char *path, size_t pathlen);
/* udhcpc in the foreground on NIC, retrying forever. */
bool dhcp_argv(struct sv_child *c, const char *udhcpc, const char *nic, const char *script);
/* dnsmasq on MOAT_UPLINK_NETVM_ADDR forwarding to the lease's resolvers: config in RUN_DIR. */
bool dns_argv(struct sv_child *c, const char *dnsmasq, const char *run_dir,
	      const struct netd_lease *l);
static inline bool child_start(struct sv_child *c)
{
	return sv_start(c) == 0;
}
static inline void child_clear(struct sv_child *c)
{
	sv_clear(c);
}
/* After SIGCHLD: true if PID was C's (restarted after a pause). */
static inline bool child_reaped(struct sv_child *c, pid_t pid, int status)
{
	return sv_reaped(c, pid, status);
}

/* ---- main.c: the daemon ---- */

struct ctl_server;

struct netd {
	struct nft_sock nft;
	uint32_t seq;
	uint32_t table_flags;        /* nft_appliance_table_flags */
	struct netd_links *links;
	int sigfd;
	struct ctl_server *local, *host, *host_ro, *leases;
	char dhcp_dir[PATH_MAX], lease_sock[PATH_MAX];   /* udhcpc's script and socket */
	const char *control, *host_control, *host_status, *run_dir, *dnsmasq, *udhcpc;
	char self[PATH_MAX];
	char nic[IFNAMSIZ];
	const char *nic_mac;
	bool use_dhcp;
	struct netd_lease lease;     /* static, or the last one udhcpc gave */
	struct in_addr fixed_dns[NETD_MAX_DNS];
	size_t nfixed_dns;
	bool has_lease, fw_ready, nic_ready, open;
	struct netd_net nets[NETD_MAX_NETS];
	size_t nnets;
	struct netd_hosts hosts;     /* never forwarded to */
	bool hosts_known;            /* until then, nothing is forwarded */
	struct sv_child udhcpc_child, dnsmasq_child;
	int64_t retry_at;
	bool stop;
};

/* Load the closed table, or the open one (forwarding from the firewall link
 * out of d->nic). 0 or -errno, the error printed. */
int netd_load(struct netd *d, bool open_table);
/* A new lease (or the static address): NIC addressed, then the table opened. */
int netd_lease_apply(struct netd *d, const struct netd_lease *l);
/* The lease is gone: the NIC loses its address and the table closes. */
void netd_lease_lost(struct netd *d);
/* --dns resolvers, if given, instead of the lease's. */
void netd_resolvers(const struct netd *d, struct netd_lease *l);
bool netd_dns_enabled(const struct netd *d);

/* ---- control.c ---- */

/* Serve d->control, RUN_DIR/dhcp/lease.sock (udhcpc's uid, leases only) and,
 * if given, the host's read-write and read-only ports. */
bool netd_control_open(struct netd *d);
void netd_control_close(struct netd *d);
/* The host's addresses a daemon before this one was sent. */
void netd_hostaddrs_recall(struct netd *d);

/* ---- client.c ---- */

/* One request to CONTROL; with PRINT_TEXT its text to stdout. Exit code. */
int netd_call(const char *control, uint16_t type, const char *text, bool print_text);
/* udhcpc's event and environment as a DHCP request. Exit code. */
int netd_dhcp_event(const char *control, const char *event);

#endif

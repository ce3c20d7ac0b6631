/* firewalld.h: the parts of moat-firewalld and how they meet.
 *
 * main.c     arguments, start-up (fail-closed table first), the poll loop, SIGTERM
 * control.c  the requests of the control channel: APPLY, STATUS, STATS, LOG
 *            (lib/ctlserver.c serves the sockets and the framing)
 * apply.c    policy text -> checked policy -> ruleset -> one nftables transaction;
 *            keeps what is loaded; the state directory; `until` expiry timer
 * ifaces.c   libnl-3: VM interfaces found by MAC, renamed, addressed; the uplink
 * dnsmasq.c  writes dnsmasq's config from the policy, starts and supervises it
 *            (DHCPv4 and DNS, with no capability over this namespace)
 * addr6.c    RAs and DHCPv6 for the VM links with an address6 (dhcp6.c
 *            decides each answer)
 * nflog.c    NFLOG group RS_LOG_GROUP through libmnl: a bounded ring of lines
 * counters.c rule counters read back with libnftnl, summed per VM and rule
 * names.c    DNS answers held in NFQUEUE on their way to a VM: their
 *            addresses go into the host sets of inet moat first
 *            (dnsanswer.c reads them)
 * dhcp4q.c   the VMs' DHCPv4 held in NFQUEUE: dropped and counted unless its
 *            client identifier speaks for the VM's own MAC (dhcp4.c reads it)
 * nfqueue.c  the NFQUEUE socket of names.c and dhcp4q.c
 * ctmarks.c  the highest ct mark in conntrack, for a start without a marks file
 *
 * Each part owns its file descriptors and exposes them to the loop with a
 * *_fd() function; the loop calls *_event() when one is readable.
 */
#ifndef MOAT_FIREWALLD_H
#define MOAT_FIREWALLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "policy/policy.h"
#include "policy/ruleset.h"

#define FW_LOG_RING     1024

/* ---- apply.c ---- */

struct fw_ifaces;
struct fw_dnsmasq;
struct fw_names;
struct fw_dhcp4q;

struct fw_state {
	const char *state_dir;     /* current.conf + generation: re-applied at start */
	struct policy *policy;     /* in force, or NULL (fail-closed table) */
	char *text;                /* its source text */
	char *file;                /* the name its messages use */
	struct ruleset *rs;        /* what the kernel has, or NULL */
	uint32_t generation;
	/* marks: the first one never handed out, and how far the state
	 * directory says marks may already have gone (a restarted daemon
	 * starts there, so no mark is ever live twice) */
	uint32_t mark_floor, mark_reserved;
	/* each VM's birth as the state directory has it (see ruleset.h): a
	 * restarted daemon keeps them, so a VM that had its address all along
	 * keeps its connections and no other VM gets them */
	struct rs_vm *births;
	size_t nbirths;
	time_t next_expiry;        /* earliest `until` still ahead, or 0 */
	struct nft_sock *nft;
	uint32_t table_flags;      /* nft_appliance_table_flags */
	bool queue_xt;             /* nft_queue_kind: queue rules go as xt NFQUEUE */
	struct fw_ifaces *ifaces;  /* brought in line after each apply; NULL: left alone */
	struct fw_dnsmasq *dnsmasq;
	struct fw_names *names;    /* its side table follows each apply; NULL: none */
	struct fw_dhcp4q *dhcp4q;  /* its drops count in the stats; NULL: none */
	/* what was in force before the last apply, freed by fw_apply_release */
	struct ruleset *old_rs;
	struct policy *old_policy;
	char *old_text, *old_file;
	/* where the last apply spent its time, in ms, for the log */
	double ms_check, ms_compile, ms_kernel, ms_save, ms_sync;
};

/* Load the drop-everything table (flags owner,persist): nothing is forwarded,
 * nothing reaches the firewall but loopback. Replaces whatever table is there. */
int fw_load_closed(struct fw_state *st, char *err, size_t errlen);
/* Check TEXT and load it as generation GEN in one transaction. On any error,
 * nothing changes and ERR holds the messages (file:line:col, or the kernel's
 * refusal with the config line). A GEN not newer than the one in force is
 * refused (ESTALE). Returns 0 or an errno. */
int fw_apply(struct fw_state *st, const char *file, const char *text, uint32_t gen,
	     char *err, size_t errlen);
/* Free what an apply replaced (the loop calls it once replies are out). */
void fw_apply_release(struct fw_state *st);
/* Rules whose `until` passed since the last apply: re-apply the same text. */
int fw_expire(struct fw_state *st, time_t now);
/* At start: re-apply, as a whole load, the policy the state directory says was
 * in force (current.conf + generation). ENOENT when there is none. */
int fw_restore(struct fw_state *st, char *err, size_t errlen);

/* ---- control.c ---- */

#define FW_MAX_CLIENTS  32

struct pollfd;
struct fw_control;
struct fw_nflog;
/* PATH: a character device (virtio-serial port) is opened; anything else is
 * a unix socket listened on there. STATUS_PATH (NULL: none) is the same for
 * the read-only channel: status, stats and log only. LOG reads go to NFLOG
 * (may be NULL). */
struct fw_control *fw_control_open(const char *path, const char *status_path, struct fw_state *st,
				   struct fw_nflog *nflog);
void fw_control_close(struct fw_control *c);
/* The descriptors the loop polls for the channels: at most
 * 2 * (1 + FW_MAX_CLIENTS). */
size_t fw_control_pollfds(const struct fw_control *c, struct pollfd *fds);
/* After poll: FDS as filled by fw_control_pollfds, with revents. */
void fw_control_event(struct fw_control *c, const struct pollfd *fds, size_t n);
/* Milliseconds until the channel needs the loop again without I/O, or -1. */
int fw_control_timeout(const struct fw_control *c);
/* A new NFLOG line: to every `log -f` subscriber (fw_nflog_event's callback). */
void fw_control_log_line(const char *line, void *control);

/* ---- ctmarks.c ---- */

/* The highest mark of any connection in conntrack (0: none) into MAX; 0, or
 * -errno if conntrack cannot be read. */
int fw_ct_mark_max(uint32_t *max);

/* ---- ifaces.c ---- */

struct fw_ifaces;
struct fw_ifaces *fw_ifaces_open(void);
void fw_ifaces_close(struct fw_ifaces *fi);
int fw_ifaces_fd(const struct fw_ifaces *fi);
/* Bring every interface to what POLICY says (NULL: only the uplink): rename
 * each VM's interface (found by its firewall-side MAC) to the VM's name, give
 * it the gateway address, proxy ARP and a host route to the VM; the uplink
 * gets MOAT_UPLINK_FW_ADDR/30 and the default route. Idempotent. */
int fw_ifaces_sync(struct fw_ifaces *fi, const struct policy *p);
/* Before P is committed: every VM link whose name P changes (or whose VM P
 * removes) is taken down and renamed to a name no VM has; fw_ifaces_sync
 * names it and brings it up after the commit. -errno if a link could not be
 * taken down: then nothing may be committed. */
int fw_ifaces_park(struct fw_ifaces *fi, const struct policy *p);
/* A link appeared or changed: sync again (called from the loop). */
int fw_ifaces_event(struct fw_ifaces *fi, const struct policy *p);

/* ---- dnsmasq.c ---- */

struct fw_dnsmasq;
struct fw_dnsmasq *fw_dnsmasq_new(const char *run_dir, const char *dnsmasq_path);
void fw_dnsmasq_free(struct fw_dnsmasq *d);   /* stops it */
/* Write the config for POLICY (static IPv4 leases by MAC, DNS on the
 * gateway, forwarding to the uplink's resolver) and (re)start dnsmasq with
 * it, through lib/spawn.c, with no capability over this network namespace.
 * IPv6 addresses and RAs are addr6.c's, never dnsmasq's. */
int fw_dnsmasq_configure(struct fw_dnsmasq *d, const struct policy *p);
/* A child exited: restart dnsmasq if it was ours (called on SIGCHLD). */
void fw_dnsmasq_reap(struct fw_dnsmasq *d);

/* ---- addr6.c ---- */

struct fw_addr6;
/* The DHCPv6 server socket (UDP 547) and the raw ICMPv6 one (RAs out,
 * router solicitations in). NULL with errno. */
struct fw_addr6 *fw_addr6_open(void);
void fw_addr6_close(struct fw_addr6 *a);
/* The descriptors the loop polls: 2. */
size_t fw_addr6_pollfds(const struct fw_addr6 *a, struct pollfd *fds);
/* After poll: answer what came (FDS as filled by fw_addr6_pollfds), then
 * send the RAs that are due. */
void fw_addr6_event(struct fw_addr6 *a, const struct pollfd *fds, size_t n);
/* The VM links of POLICY (NULL: none) with an address6, found by name and
 * firewall-side MAC: call after every apply and link change. */
void fw_addr6_sync(struct fw_addr6 *a, const struct policy *p);
/* Milliseconds until an RA is due, or -1; fw_addr6_tick sends those due. */
int fw_addr6_timeout(const struct fw_addr6 *a);
void fw_addr6_tick(struct fw_addr6 *a);

/* ---- names.c ---- */

#define FW_NAMES_TABLE        "moat-dns"
/* The firewall's DNS answers wait in this NFQUEUE (the one chain of the side
 * table FW_NAMES_TABLE queues them) while the daemon reads their addresses
 * into the host sets: a VM never has an answer before the rule that allows
 * its address has the address. */
#define FW_DNS_QUEUE          53

struct fw_names;
/* Binds the queue; ST is read for the policy and ruleset in force. */
struct fw_names *fw_names_open(struct fw_state *st);
void fw_names_close(struct fw_names *n);
/* Around the daemon's commits: nothing to do (held answers just wait). */
void fw_names_pause(struct fw_names *n);
void fw_names_resume(struct fw_names *n);
/* After a successful apply: the host names of the policy in force; the side
 * table has the hold chain while there are any. */
int fw_names_sync(struct fw_names *n);
/* The DNS answers held in NFQUEUE FW_DNS_QUEUE: readable means some wait.
 * fw_names_queue_event adds the addresses of every one read, then lets
 * them go. */
int fw_names_queue_fd(const struct fw_names *n);
int fw_names_queue_event(struct fw_names *n);
/* Whether and how the firewall's DNS answers are held, in words. */
const char *fw_names_hold(const struct fw_names *n);
/* Addresses added so far. */
unsigned long fw_names_copied(const struct fw_names *n);

/* ---- nfqueue.c ---- */

struct mnl_socket;
struct nlmsghdr;
/* Queue NUM bound, whole packets (up to COPY bytes) copied to us; the
 * socket non-blocking and close-on-exec. SEQ numbers the requests. NULL
 * with errno. */
struct mnl_socket *fw_nfq_open(uint16_t num, uint32_t copy, uint32_t *seq);
/* A request of TYPE (NFQNL_MSG_*) to queue NUM, its header in BUF. */
struct nlmsghdr *fw_nfq_msg(char *buf, uint16_t type, uint16_t num);
/* A held packet: its id, network header on (PAYLOAD NULL: none) and the
 * interface it came in on (0: none). */
struct fw_nfq_packet {
	uint32_t id;
	const uint8_t *payload;
	size_t len;
	uint32_t indev;
};
/* Whether NLH is a held packet; P filled when it is. */
bool fw_nfq_packet(const struct nlmsghdr *nlh, struct fw_nfq_packet *p);
/* VERDICT (NF_ACCEPT, NF_DROP) on packet ID of queue NUM, or with BATCH on
 * every packet up to ID. 0 or -errno. */
int fw_nfq_verdict(struct mnl_socket *q, uint16_t num, uint32_t id, uint32_t verdict, bool batch);

/* ---- dhcp4q.c ---- */

#define FW_DHCP4_QUEUE        RS_DHCP4_QUEUE

/* A count the daemon keeps itself, added to the kernel's counters. */
struct fw_count {
	const char *vm;
	int kind;                  /* enum ctl_counter */
	uint64_t packets, bytes;
};

struct fw_dhcp4q;
/* Binds the queue; ST is read for the policy in force. NULL with errno. */
struct fw_dhcp4q *fw_dhcp4q_open(const struct fw_state *st);
void fw_dhcp4q_close(struct fw_dhcp4q *d);
int fw_dhcp4q_fd(const struct fw_dhcp4q *d);
/* Readable: judge each message that waits (accept or drop and count). */
void fw_dhcp4q_event(struct fw_dhcp4q *d);
/* The drops so far of each VM of the policy in force (CTL_C_SPOOF), valid
 * until the next call: N of them. */
const struct fw_count *fw_dhcp4q_counts(struct fw_dhcp4q *d, size_t *n);

/* ---- nflog.c ---- */

struct fw_nflog;
struct fw_nflog *fw_nflog_open(void);
void fw_nflog_close(struct fw_nflog *l);
int fw_nflog_fd(const struct fw_nflog *l);
/* Read what is pending; each packet becomes one line in the ring:
 * "2026-11-25T21:00:00Z dev deny tcp 10.137.0.10:40000 -> 192.0.2.1:25 rule 3"
 * (rule "default" for the default deny). NEW_LINES gets the lines added. */
int fw_nflog_event(struct fw_nflog *l, void (*new_line)(const char *line, void *arg), void *arg);
/* The ring, oldest first, lines of VM only when VM is not NULL. */
void fw_nflog_each(const struct fw_nflog *l, const char *vm,
		   void (*fn)(const char *line, void *arg), void *arg);

/* ---- counters.c ---- */

/* The counters of table inet moat and the NEXTRA of EXTRA (the daemon's
 * own), summed per VM and config rule, in order of VM, KIND (enum
 * ctl_counter) and RULE (0 but for CTL_C_RULE). VM NULL = every VM. 0, or
 * -errno (-ENOENT: VM has no counters). */
typedef void (*fw_counter_fn)(const char *vm, int kind, int rule, uint64_t packets, uint64_t bytes,
			      void *arg);
int fw_counters_each(const char *vm, const struct fw_count *extra, size_t nextra, fw_counter_fn fn,
		     void *arg);
/* The same as text, one line each:
 *   "VM rule N packets P bytes B"     per config rule (expanded rules summed)
 *   "VM dns packets P bytes B"        what `allow dns` let through to the resolver
 *   "VM default-deny packets P bytes B"
 *   "VM spoofed packets P bytes B"    anti-spoofing drops (and DHCP of another MAC)
 *   "VM ipv6-dropped packets P bytes B" IPv6 from a VM when there is no subnet6
 * VM NULL = every VM. Returns a malloc'd string, or NULL with errno. */
char *fw_counters_text(const char *vm);

#endif

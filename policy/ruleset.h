/* ruleset.h: the compiled form of a policy, one nftables table.
 *
 * compile.c turns a checked struct policy into a struct ruleset: chains of
 * rules made of a few kinds of matches and statements, sets and verdict maps.
 * The same ruleset is rendered as nft text (render.c) and as one libnftnl
 * batch (batch.c), either whole or as the difference from the ruleset that is
 * loaded, so that an apply costs what changed.
 *
 * The table (inet moat):
 *   prerouting -> iifname vmap @pre_vm -> pre_NAME   source MAC/address of each VM
 *   input      -> new: iifname vmap @lim_vm -> lim_NAME: the VM's share of conntrack
 *                 iifname vmap @in_vm  -> in_NAME    DHCP, DNS, ping to the firewall
 *                 (at most RS_IN_RATE packets a second each)
 *   output     -> what dnsmasq's uid may send: DNS answers and DHCP to the VM
 *                 links, DNS to the netvm; everything else of it dropped
 *   forward    -> established: ct mark vmap @live: the marks of the policy in
 *                 force: accept, or for a VM with `until` rules jump exp_NAME,
 *                 which accepts until the first of them expires and then
 *                 lets the connection be judged again by the rules (so a
 *                 connection of an expired rule is cut without the daemon)
 *                 related (ICMP errors): only about a connection of the VM
 *                   it comes from or goes to, never judged by the rules:
 *                   original: iifname @own_vm -> own_NAME (its mark: accept)
 *                   from the uplink about a connection between two VMs
 *                     (IPv4 or IPv6): dropped, counted as spoofing
 *                   reply from the uplink: oifname @own_vm -> own_NAME
 *                   reply from a VM: iifname @resp_vm -> resp_NAME (the
 *                   connection was opened to it) -> oifname @own_vm
 *                   anything else: dropped, counted as spoofing
 *                 established, mark not live, to or from a VM: iifname and
 *                   oifname @born_vm -> born_NAME: a mark below the VM's
 *                   birth is a connection of an earlier holder of its
 *                   addresses: dropped, never judged by its rules
 *                 new: iifname vmap @lim_vm -> lim_NAME (the same chain as
 *                   input's: one count per VM, RS_VM_CONN_MAX, both together)
 *                 original: iifname, reply: oifname, by the conntrack original
 *                 destination: app subnet -> @local_vm -> local_NAME (vm X rules)
 *                              elsewhere  -> @out_vm   -> out_NAME   (the world)
 *                 a rule that allows: goto acc_NAME: ct mark set MARK accept
 * Every VM has its own conntrack mark; a rule that accepts marks the
 * connection with it and @live holds the marks of the policy in force. A VM
 * whose forward rules or addresses change gets a new mark, so its connections
 * are judged again, by their original tuple, on their next packet. Marks come
 * from a counter that never goes back (the daemon keeps it across restarts):
 * a mark once retired is never live again, so a cut is final.
 *
 * A VM's birth is the mark counter when it got its addresses (or its name).
 * Every mark handed out since is at least that, so a connection marked below
 * it was opened by another VM that had the address before: a VM that takes
 * over an address never inherits the connections made through it. A VM
 * whose rules accept to another VM names it, so it gets a new mark whenever
 * that VM's addresses change.
 *
 * Only new connections and established ones whose mark is not live reach the
 * rules, so a packet's protocol is its connection's: `meta l4proto` there
 * is `ct original protocol`. A rule with `until` also matches `meta time`,
 * so it stops matching at its time even with the daemon gone.
 */
#ifndef MOAT_RULESET_H
#define MOAT_RULESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "lib/contract.h"
#include "policy/policy.h"

#define RS_TABLE        "moat"
/* an address resolved for a host name stays allowed this long after the
 * last answer that gave it */
#define RS_HOST_TIMEOUT_S 3600
#define RS_NAME_MAX     256          /* nftables set and chain names */
#define RS_MATCH_MAX    6
#define RS_SETREF_MAX   32           /* set names rules refer to */
#define RS_MAX_SLOTS    4095         /* VMs in one policy */
#define RS_LOG_GROUP    1            /* NFLOG group of every log statement */
/* NFQUEUE of the app VMs' DHCPv4 to the firewall: moat-firewalld reads each
 * message's client identifier (firewallvm/dhcp4q.c) */
#define RS_DHCP4_QUEUE  67
#define RS_LOG_RATE     10           /* logged packets per second per rule */
#define RS_LOG_BURST    20
/* What one VM may hold of the firewall's shared conntrack table: new
 * connections past this many live ones (to the firewall itself and through
 * it, together) are dropped and counted. docs/moat-conf.md says why 512. */
#define RS_VM_CONN_MAX  512
/* Packets a second one VM may send to the firewall itself (DHCP, DNS, ping,
 * neighbour discovery), and the burst: past them, dropped and counted. */
#define RS_IN_RATE      200
#define RS_IN_BURST     400
/* DNS queries over UDP one VM may send a second, and the burst. dnsmasq
 * keeps a forwarded query up to 10 s when upstream never answers, so a VM
 * holds at most RS_DNS_OUTSTANDING of its forward slots, and dnsmasq gets
 * that many per VM (firewallvm/dnsmasq.c): no VM can use up another's. */
#define RS_DNS_RATE     10
#define RS_DNS_BURST    50
#define RS_DNS_OUTSTANDING (RS_DNS_RATE * 10 + RS_DNS_BURST)
/* DNS connections over TCP one VM may hold to the firewall (dnsmasq gets
 * that many per VM). */
#define RS_DNS_TCP_MAX  4

enum rs_key {
	RK_NFPROTO, RK_L4PROTO, RK_IIFNAME, RK_OIFNAME, RK_IIFTYPE,
	RK_ETHER_SADDR, RK_IP_SADDR, RK_IP_DADDR, RK_IP6_SADDR, RK_IP6_DADDR,
	RK_TH_SPORT, RK_TH_DPORT, RK_ICMP_TYPE, RK_ICMP6_TYPE,
	RK_CT_STATE, RK_CT_DIRECTION, RK_CT_MARK,
	RK_CT_ODADDR, RK_CT_ODADDR6, RK_CT_OPROTO_DST,
	RK_META_TIME,    /* ns since the epoch, compared big-endian like nft */
	RK_DHCP_CHADDR,  /* the client MAC of a DHCPv4 message: @th,288,48 */
	RK_DHCP_GIADDR,  /* the relay agent address of a DHCPv4 message: @th,256,32 */
	RK_DHCP6_TYPE,   /* the message type of DHCPv6: @th,64,8 */
	RK_SKUID,        /* the uid of the sending socket, host order */
	RK_META_MARK,    /* the packet's mark, host order */
	RK_FIB_DADDR_TYPE, /* the route type of the destination: RTN_LOCAL..., host order */
	RK_IP_FRAGOFF,   /* flags and fragment offset of IPv4 (with RO_ANYBIT: a fragment) */
	RK_IP6_NEXTHDR,  /* the header after IPv6's fixed one */
	RK__COUNT
};

/* Where each key's value comes from (keys.c): one table for text and batch. */
enum rs_source { RS_META, RS_PAYLOAD, RS_CT, RS_FIB };
struct rs_keyinfo {
	const char *text;        /* nft syntax, "ct original ip daddr" */
	enum rs_source source;
	int nkey;                /* NFT_META_*, NFT_PAYLOAD_*_HEADER, NFT_CT_* or NFT_FIB_RESULT_* */
	int offset;              /* payload offset; fib: its NFTA_FIB_F_* flags */
	int len;                 /* bytes */
	bool original;           /* ct: original direction */
};
extern const struct rs_keyinfo rs_keys[RK__COUNT];

enum rs_op {
	RO_EQ, RO_NE,
	RO_RANGE,        /* val <= x <= val2, big-endian */
	RO_PREFIX,       /* x within val/plen */
	RO_ANYBIT,       /* x & val != 0 (ct state) */
	RO_LOOKUP,       /* x in @set */
	RO_NOT_LOOKUP,   /* x not in @set (a set, never a map: Linux 6.1 refuses it) */
	RO_VMAP,         /* verdict from @set */
	RO_LT,           /* x < val, big-endian */
};

struct rs_match {
	uint8_t key;     /* enum rs_key */
	uint8_t op;      /* enum rs_op */
	uint8_t plen;
	union {
		struct { uint8_t val[16], val2[16]; };
		char set[RS_SETREF_MAX];   /* RO_LOOKUP, RO_NOT_LOOKUP, RO_VMAP */
	};
};

enum rs_verdict {
	RV_NONE, RV_ACCEPT, RV_DROP, RV_RETURN,
	RV_REJECT_TCP,   /* reject with tcp reset */
	RV_REJECT_ICMPX, /* reject with icmpx admin-prohibited */
	RV_GOTO_ACCEPT,  /* goto acc_VM: mark the connection as this VM's, accept */
};

struct rs_rule {
	struct rs_match m[RS_MATCH_MAX];
	int nm;
	bool limit;              /* limit rate RS_LOG_RATE before log */
	uint16_t over_rate, over_burst;  /* limit rate over RATE/second burst BURST
				  * packets (0: none): matches past it */
	uint32_t count_over;     /* ct count over this (0: no count) */
	enum { RL_NONE, RL_ALLOW, RL_DENY } log;
	bool set_mark;           /* ct mark set <the VM's mark> */
	uint32_t meta_mark;      /* meta mark set this (0: none) */
	bool masquerade;         /* masquerade, after the counter */
	bool notrack;            /* notrack: the packet makes no conntrack entry */
	enum { RQ_NONE, RQ_NFT, RQ_XT } queue;  /* queue to queue_num (bypass unless
				  * queue_no_bypass): nft's statement, or xtables'
				  * NFQUEUE through nft_compat */
	uint16_t queue_num;
	bool queue_no_bypass;    /* dropped, not let through, while no one reads the queue */
	bool match_mark;         /* ct mark <the VM's mark>, before the matches */
	bool below_birth;        /* ct mark < <the VM's birth>, before the matches */
	enum rs_verdict verdict;
	const char *what;        /* fixed text of the comment, or NULL: "VM rule N" */
	int rule;                /* rule number in its VM (1-based), 0 for fixed rules */
	/* not part of what the kernel gets: ruleset_chain_equal() stops here */
	int line;                /* config line, for error messages */
};

struct rs_chain {
	char name[RS_NAME_MAX];
	bool base;
	bool nat;                /* a base chain of type nat, else filter */
	int hook;                /* NF_INET_* when base */
	int prio;
	bool policy_drop;
	struct rs_rule *rules;
	size_t nrules, cap;
	unsigned *shared;        /* rules shared with other rulesets: their count */
	int vm;                  /* owning VM or -1 */
};

enum rs_set_type {
	RST_IFNAME,      /* the names of the VMs' links */
	RST_IFNAME_VMAP,
	RST_MARK,
	RST_MARK_VMAP,   /* mark : accept, or jump exp_VM (the VM has `until` rules) */
	RST_IPV4,
	RST_IPV6,
};

struct rs_elem {
	uint8_t key[16];
	char chain[RS_NAME_MAX]; /* vmap: jump target ("" in a mark vmap: accept) */
};

struct rs_set {
	char name[RS_NAME_MAX];
	enum rs_set_type type;
	bool dynamic;            /* a host-name set: filled at run time by
				  * moat-firewalld from the DNS answers it
				  * holds (firewallvm/names.c): never diffed */
	uint32_t timeout_s;      /* default element timeout, 0 = none */
	struct rs_elem *elems;
	size_t nelems, cap;
};

struct rs_vm {
	char name[MOAT_NAME_MAX + 1];
	uint32_t mark;           /* from the ruleset's mark counter, never reused */
	uint32_t birth;          /* the mark counter when it got these addresses */
	uint8_t addr[4], addr6[16];  /* a new address is a new mark and birth */
	uint64_t fingerprint;    /* of everything its chains are made from */
};

struct ruleset {
	const char *table;       /* table inet TABLE; NULL: RS_TABLE */
	uint32_t generation;
	uint32_t mark_next;      /* the first mark no ruleset has handed out */
	struct rs_chain *chains;
	size_t nchains;
	struct rs_set *sets;
	size_t nsets;
	struct rs_vm *vms;       /* same order as policy.vms */
	size_t nvms;
	size_t chains_cap, sets_cap;
	size_t *chain_order;     /* chain indices sorted by name, for lookups */
	size_t *set_order;
	size_t *vm_order;
};

/* What the daemon keeps across its restarts (its state directory). */
struct rs_history {
	uint32_t first_mark;         /* no mark at or past it was handed out */
	const struct rs_vm *vms;     /* name, addresses and birth of the VMs */
	size_t nvms;                 /* in force when it stopped */
};

/* Compile a checked policy. PREV (may be NULL) is the ruleset loaded now: a VM
 * whose forward chains and addresses are unchanged keeps its mark, so its
 * connections are not re-judged; every other VM gets a new mark, counted on
 * from PREV's counter or HISTORY's first mark, whichever is higher. A VM keeps
 * its birth if PREV, or else HISTORY, has it with the same addresses. HISTORY
 * may be NULL (first mark 1). Returns NULL on out-of-memory, or E2BIG past
 * RS_MAX_SLOTS VMs. */
struct ruleset *ruleset_compile(const struct policy *p, const struct ruleset *prev,
				uint32_t generation, const struct rs_history *history);
void ruleset_free(struct ruleset *rs);
/* Builds the sorted name indices of a complete ruleset (compile.c calls it). */
void ruleset_index(struct ruleset *rs);

/* The nftables set names for a host-name destination (names.c fills them). */
void ruleset_host_set_name(const char *host, int family, char *buf, size_t len);

/* nft text: `nft -f` loads the same ruleset the batch does. ONLY_VM >= 0:
 * just that VM's chains (for reading, not loading). */
void ruleset_render(FILE *out, const struct ruleset *rs, int only_vm);
/* The kernel comment ("dev rule 3", "dev spoofed MAC") and NFLOG prefix
 * ("moat dev 3 deny ") of a rule; the log reader parses the prefix back. */
void ruleset_rule_comment(const struct ruleset *rs, const struct rs_chain *c,
			  const struct rs_rule *r, char *buf, size_t len);
void ruleset_log_prefix(const struct ruleset *rs, const struct rs_chain *c,
			const struct rs_rule *r, char *buf, size_t len);
/* The statements of one rule as nft text. */
void ruleset_render_rule(FILE *out, const struct ruleset *rs, const struct rs_chain *c,
			 const struct rs_rule *r);

/* ---- building a ruleset (compile.c, and the netvm's fixed table) ----
 * Each returns the zeroed new element; running out of memory aborts (a
 * ruleset is bounded by its input). A complete ruleset is indexed with
 * ruleset_index() before lookups. */

#define RS_CT_INVALID     1u
#define RS_CT_ESTABLISHED 2u
#define RS_CT_RELATED     4u
#define RS_CT_NEW         8u

/* A table of its own name (NULL: RS_TABLE); free with ruleset_free(). */
struct ruleset *ruleset_new(const char *table);
/* A chain of VM (-1: of none). */
struct rs_chain *ruleset_chain_new(struct ruleset *rs, const char *name, int vm);
/* A base chain on HOOK (NF_INET_*) at PRIO, policy accept, type filter. */
struct rs_chain *ruleset_base_chain_new(struct ruleset *rs, const char *name, int hook, int prio);
struct rs_set *ruleset_set_new(struct ruleset *rs, const char *name, enum rs_set_type type);
struct rs_elem *rs_elem_add(struct rs_set *s);
/* An element IFNAME : jump CHAIN of an ifname vmap. */
void rs_vmap_add(struct rs_set *s, const char *ifname, const char *chain);
/* Rule NUMBER of its VM (0: a fixed rule) from config line LINE (0: none). */
struct rs_rule *rs_rule_new(struct rs_chain *c, int number, int line);
/* A match of KEY by OP; its value is the caller's to fill. */
struct rs_match *rs_match(struct rs_rule *r, enum rs_key key, enum rs_op op);
void rs_match_u8(struct rs_rule *r, enum rs_key key, enum rs_op op, uint8_t v);
/* host order in, big-endian in the match (ports) */
void rs_match_u16(struct rs_rule *r, enum rs_key key, uint16_t lo, uint16_t hi);
void rs_match_u32(struct rs_rule *r, enum rs_key key, enum rs_op op, uint32_t v);   /* host order */
void rs_match_str(struct rs_rule *r, enum rs_key key, enum rs_op op, const char *s);
void rs_match_set(struct rs_rule *r, enum rs_key key, enum rs_op op, const char *set);
/* ct state: any of BITS (RS_CT_*) */
void rs_match_ct_state(struct rs_rule *r, uint32_t bits);

/* The table's name: rs->table, or RS_TABLE. */
const char *ruleset_table(const struct ruleset *rs);

/* Same hook and the same rules (the VM's mark is not part of a rule). */
bool ruleset_chain_equal(const struct rs_chain *a, const struct rs_chain *b);

const struct rs_chain *ruleset_find_chain(const struct ruleset *rs, const char *name);
/* The same, trying index HINT first: where a chain usually is in a ruleset
 * compiled from nearly the same policy (VMs keep their order). */
const struct rs_chain *ruleset_find_chain_near(const struct ruleset *rs, const char *name, size_t hint);
const struct rs_set *ruleset_find_set(const struct ruleset *rs, const char *name);
int ruleset_find_vm(const struct ruleset *rs, const char *name);   /* -1: none */

#endif

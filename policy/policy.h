/* policy.h: the data model of moat.conf, and the front end that fills it.
 *
 * moat.conf -> policy_parse() (lex.c, parse.c) -> policy_check() (check.c)
 * -> a struct policy that the compiler (compile.c) turns into a ruleset.
 * Every diagnostic goes through struct diags (diag.c) so that it names the
 * file, line and column and quotes the line.
 */
#ifndef MOAT_POLICY_H
#define MOAT_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#define MOAT_NAME_MAX     15   /* a VM's name is its interface name */
#define MOAT_STRING_MAX   128
#define MOAT_HOST_MAX     253
#define MOAT_MAX_ERRORS   20   /* errors reported per file before giving up */
#define MOAT_ADDR_STRLEN  50   /* addr_format's longest "address/prefix" + NUL */
#define MOAT_MAC_STRLEN   18
#define MOAT_TIME_STRLEN  32
#define MOAT_OWNER_MAX    32   /* a user or group name in `owner`, as useradd allows */

/* ---- source positions and diagnostics (diag.c) ---- */

struct src_loc {
	int line;   /* 1-based */
	int col;    /* 1-based, in bytes */
	int len;    /* length of the offending token, >= 1 */
};

struct diags {
	const char *file;   /* name shown in messages */
	const char *text;   /* the whole source, to quote lines */
	size_t text_len;
	int nerrors;
	int nwarnings;
	bool capped;        /* more than MOAT_MAX_ERRORS: the rest were not shown */
	char *out;          /* every message, formatted, NUL-terminated */
	size_t out_len, out_cap;
};

void diags_init(struct diags *d, const char *file, const char *text, size_t len);
void diags_free(struct diags *d);
/* "file:line:col: error: MSG\n<quoted line>\n<caret>~~~\n" appended to d->out. */
void diag_error(struct diags *d, struct src_loc loc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void diag_warning(struct diags *d, struct src_loc loc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- addresses ---- */

struct addr {
	int family;          /* AF_INET or AF_INET6 */
	uint8_t prefix;      /* 32/128 for a plain address */
	uint8_t bytes[16];   /* network order; IPv4 uses the first 4 */
};

/* "10.0.0.0/8", "2001:db8::1": false if not an address or host bits are set
 * (*host_bits tells which, when not NULL; then *a holds the value as written). */
bool addr_parse(const char *s, struct addr *a, bool *host_bits);
/* Prints "10.0.0.0/8", or "10.0.0.1" when the prefix is the full length. */
void addr_format(const struct addr *a, char *buf, size_t len);
bool addr_contains(const struct addr *net, const struct addr *a);
bool addr_equal(const struct addr *a, const struct addr *b);

/* ---- the policy ---- */

enum uplink_kind { UPLINK_USER = 0, UPLINK_PCI, UPLINK_TAP };
enum deny_mode { DENY_REJECT = 0, DENY_DROP };

/* presence bits: "given twice" is an error */
enum {
	NET_HAS_UPLINK  = 1 << 0,
	NET_HAS_SUBNET  = 1 << 1,
	NET_HAS_SUBNET6 = 1 << 2,
	NET_HAS_DNS     = 1 << 3,
	NET_HAS_POLICY  = 1 << 4,
	NET_HAS_LOG     = 1 << 5,
};

struct network {
	unsigned has;
	struct src_loc loc;              /* the `network` keyword */
	enum uplink_kind uplink;
	char uplink_arg[64];             /* PCI BDF "0000:03:00.0" or tap name */
	struct addr subnet;              /* IPv4 */
	struct addr subnet6;
	struct addr *dns;                /* upstream resolvers */
	size_t ndns;
	enum deny_mode deny;
	bool log_denied;
	bool incomplete;                 /* a parse error inside the block */
};

enum dest_kind {
	DEST_ADDR,   /* address or CIDR (IPv4 or IPv6) */
	DEST_HOST,   /* host name: the name and its subdomains */
	DEST_VM,     /* `vm NAME` */
};

struct dest {
	enum dest_kind kind;
	struct addr addr;                /* DEST_ADDR */
	char *name;                      /* DEST_HOST: lower-case host; DEST_VM: VM name */
	int vm;                          /* DEST_VM: index into policy.vms, set by the checker */
	struct src_loc loc;              /* the item, or the `$NAME` it came from */
};

enum proto { PROTO_ANY = 0, PROTO_TCP, PROTO_UDP, PROTO_ICMP };
enum action { ACT_ALLOW, ACT_DENY };

enum rule_kind {
	RULE_MATCH,   /* ACTION [PROTO] [to ...] [port ...] [type ...] */
	RULE_ALL,     /* allow all / deny all: the whole outside world */
	RULE_DNS,     /* allow dns: udp+tcp 53 to the firewall's resolver */
};

struct port_range { uint16_t lo, hi; };

struct rule {
	enum action action;
	enum rule_kind kind;
	enum proto proto;
	struct dest *dests;              /* after $NAME expansion; 0 dests = any */
	size_t ndests;
	bool to_any;                     /* `to any` was written (also when ndests == 0) */
	struct port_range *ports;
	size_t nports;
	uint8_t *types;                  /* ICMP types */
	size_t ntypes;
	bool log;
	bool has_until;
	time_t until;                    /* UTC seconds */
	struct src_loc until_loc;        /* the time after `until` */
	char *comment;                   /* NULL when absent */
	int number;                      /* 1-based position in its VM, as written */
	struct src_loc loc;              /* the action keyword */
	bool expired;                    /* set by the checker: `until` has passed */
};

struct vm {
	char name[MOAT_NAME_MAX + 1];
	struct src_loc loc;              /* the name after `vm` */
	bool has_addr, has_addr6, has_mac;
	struct addr addr;                /* IPv4, /32 */
	struct addr addr6;               /* /128 */
	uint8_t mac[6];                  /* the app VM's NIC (default from addr) */
	struct src_loc addr_loc, addr6_loc, mac_loc;
	/* `owner USER[:GROUP]`: who may connect to the VM's side of its link
	 * on the host (names or ids; netctl checks that they exist there,
	 * the firewall ignores them). owner_group "" when only a user. */
	bool has_owner;
	char owner_user[MOAT_OWNER_MAX + 1], owner_group[MOAT_OWNER_MAX + 1];
	struct src_loc owner_loc;        /* the whole USER[:GROUP] */
	struct rule *rules;
	size_t nrules;
	bool incomplete;                 /* a parse error inside the block: only
					    what cannot be its consequence is checked */
};

struct pool_block;

struct policy {
	char *file;
	struct network net;
	struct vm *vms;
	size_t nvms;
	struct pool_block *pool;         /* every array and string above (pool.h) */
};

/* Parse TEXT (not NUL-terminated necessarily). Returns NULL when there were
 * errors (all of them in d); never a partial policy. The caller sets up D
 * with diags_init() on the same text, and frees it. */
struct policy *policy_parse(const char *text, size_t len, struct diags *d);

/* Semantic checks (check.c): VM references, duplicates, addresses against the
 * subnet, ... Fills dest.vm and default MACs; marks rules whose `until` is
 * before NOW as expired (a warning). Returns false on any error. */
bool policy_check(struct policy *p, time_t now, struct diags *d);

/* parse + check; NULL on any error. */
struct policy *policy_load(const char *file, const char *text, size_t len,
			   time_t now, struct diags *d);
/* What only the host can check (netctl: that each VM's owner exists there),
 * run after policy_check on the policy as parsed, errors into D. */
typedef void policy_host_check(const struct policy *p, struct diags *d);
/* policy_load, then HOST (if not NULL) before deciding: its errors count. */
struct policy *policy_load_host(const char *file, const char *text, size_t len, time_t now,
				struct diags *d, policy_host_check *host);
void policy_free(struct policy *p);

/* Read PATH and policy_load it; every diagnostic (and an unreadable file) is
 * written to ERRS, ending with "PATH: N errors, nothing applied" on failure.
 * NULL on any error. */
struct policy *policy_load_file(const char *path, time_t now, FILE *errs);
/* The same with policy_load_host's HOST check. */
struct policy *policy_load_file_host(const char *path, time_t now, FILE *errs, policy_host_check *host);

/* Read a whole file into memory (NUL-terminated); NULL + errno on failure. */
char *policy_read_file(const char *path, size_t *len);

/* The firewall VM's address: first host of the subnet (subnet6). */
void policy_gateway(const struct policy *p, struct addr *gw);
void policy_gateway6(const struct policy *p, struct addr *gw);
/* Default MACs of DESIGN.md: app side 02:6d:61:00:cc:dd, firewall side
 * 02:6d:66:00:cc:dd, for an IPv4 address a.b.c.d. */
void policy_default_mac(const struct addr *a, uint8_t mac[6]);
void policy_firewall_mac(const struct vm *v, uint8_t mac[6]);
int policy_find_vm(const struct policy *p, const char *name);
/* "echo-request" for 8; NULL for an ICMP type moat.conf has no name for. */
const char *policy_icmp_type_name(uint8_t type);

/* The policy as moat.conf text that parses back to the same policy, each VM
 * and rule followed by a comment saying in words what it allows (print.c).
 * ONLY_VM NULL = everything. Returns false if ONLY_VM is unknown. */
bool policy_print(FILE *out, const struct policy *p, const char *only_vm);
/* "02:6d:61:00:00:0a"; "2026-12-01T18:00Z" (seconds only when not zero),
 * both as moat.conf writes them. */
void policy_format_mac(const uint8_t mac[6], char *buf, size_t len);
void policy_format_time(time_t t, char *buf, size_t len);

#endif

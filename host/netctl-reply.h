/* netctl-reply.h: what netctl takes from an appliance's reply. The appliances
 * may be compromised: every call has a deadline, every record is checked and
 * bounded by what netctl asked for (its own policy), and every string is
 * printed escaped (ctl_fput_safe). Built alone for the fuzz target. */
#ifndef MOAT_NETCTL_REPLY_H
#define MOAT_NETCTL_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lib/ctl.h"
#include "policy/policy.h"

_Static_assert(CTL_NAME_MAX == MOAT_NAME_MAX, "a VM name on the wire is a VM name");

/* Each appliance has two control sockets: PATH (its read-write channel,
 * root's alone) and, next to it, the read-only one the group moat may use
 * (PATH with ".ctl" replaced by ".status", or ".status" added): false if
 * that does not fit BUF. */
bool netctl_status_path(const char *path, char *buf, size_t len);
/* Where a request of TYPE to the appliance behind PATH goes: for root
 * always PATH; for anyone else the read-only socket for what only reads
 * (ctl_request_read_only) when there is one (BUF holds it then), else PATH. */
const char *netctl_channel(const char *path, uint16_t type, char *buf, size_t len);

/* REQ to WHO ("firewall", "netvm") behind PATH (netctl_channel), within
 * TIMEOUT_MS (<= 0: CTL_CALL_MS). The reply (malloc'd), or NULL after saying
 * why on stderr, e.g. "netctl: firewall not answering on PATH (timeout 10 s)";
 * a request that changes something refused for want of permission says
 * that it needs root. */
uint8_t *netctl_call(const char *who, const char *path, const struct ctl_msg *req, size_t *len,
		     long timeout_ms);
/* Says why a call to WHO on PATH failed with ERR (-errno). */
void netctl_call_failed(const char *who, const char *path, int err, long timeout_ms);
/* The reply's status (EPROTO if it has none); when it is not 0 and PRINT,
 * the message the appliance gave is printed to stderr, escaped. */
uint32_t netctl_reply_status(const uint8_t *f, size_t len, bool print);
/* MSG, an appliance's, escaped; a line end added if it has none. */
void netctl_print_lines(FILE *out, const char *msg);

/* ---- stats: COUNTER records ---- */

struct netctl_counter {
	char vm[MOAT_NAME_MAX + 1];
	uint32_t kind;                   /* enum ctl_counter */
	uint32_t rule;                   /* CTL_C_RULE: from 1 */
	uint64_t packets, bytes;
};

/* The next COUNTER of *IT; false at the end. A record that is not whole or
 * names no known kind is skipped and counted in *BAD. */
bool netctl_counter_next(struct ctl_attrs *it, struct netctl_counter *c, size_t *bad);

struct netctl_count {
	uint64_t packets, bytes;
	bool seen;
};

struct netctl_vm_counts {
	struct netctl_count *rules;      /* [0..nrules), rule N at N - 1 */
	size_t nrules;
	struct netctl_count by_kind[CTL_C_COUNT_];   /* but CTL_C_RULE */
};

/* A stats reply laid over POLICY: one entry per VM of it, one count per rule
 * it has. A record for a VM or rule the policy does not have is not kept,
 * only counted in IGNORED (with malformed ones), so what is allocated is the
 * policy's size whatever the reply says. */
struct netctl_stats {
	struct netctl_vm_counts *vms;    /* [p->nvms] */
	size_t nvms;
	size_t ignored;
};

bool netctl_stats_decode(const uint8_t *f, size_t len, const struct policy *p, struct netctl_stats *s);
void netctl_stats_free(struct netctl_stats *s);

/* ---- log: LOG records ---- */

struct netctl_log {
	uint64_t time;
	char vm[MOAT_NAME_MAX + 1];
	uint32_t action;                 /* enum ctl_action */
	char proto[16], src[64], dst[64];
	bool has_type;
	uint32_t type;
	uint32_t rule;                   /* 0: the default deny */
};

/* The next LOG record of *IT; false at the end. Records that are not whole
 * are skipped and counted in *BAD. */
bool netctl_log_next(struct ctl_attrs *it, struct netctl_log *r, size_t *bad);

/* ---- apply and status: what is in force ---- */

struct netctl_counts {
	bool has;                        /* a policy is loaded */
	uint32_t vms, rules, expiring;
	uint64_t next_expiry;
};

void netctl_counts_decode(const uint8_t *f, size_t len, struct netctl_counts *c);
/* "5 VMs, 12 rules (2 with until; next at TIME)" */
void netctl_counts_format(const struct netctl_counts *c, char *buf, size_t size);

#endif

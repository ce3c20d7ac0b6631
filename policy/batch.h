/* batch.h: a ruleset as one nftables transaction (libnftnl messages between
 * a batch begin and end), and the socket that commits it (nlsock.c). */
#ifndef MOAT_BATCH_H
#define MOAT_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/netlink.h>

#include "policy/ruleset.h"

#ifndef NFT_TABLE_F_PERSIST
#define NFT_TABLE_F_PERSIST 0x4   /* Linux 6.9: the table outlives its owner */
#endif

/* What one message of the batch was, so a kernel error names it. */
struct batch_origin {
	uint32_t seq;
	int vm, rule, line;       /* from the rule; -1/0/0 for the rest */
	char what[96];            /* "rule \"dev rule 3\" in chain out_dev", "set h4_github.com" */
};

struct nl_batch {
	char *buf;
	size_t len, cap;
	uint32_t seq;             /* next sequence number, never 0 */
	uint32_t first_seq;
	size_t nmsgs;             /* between begin and end */
	struct batch_origin *origins;
	size_t norigins, ocap;
	uint32_t next_set_id;
	const char *table;        /* inet TABLE the messages name; RS_TABLE by default */
	bool queue_xt;            /* RQ_NFT rules go as RQ_XT (nft_queue_kind) */
};

void batch_init(struct nl_batch *b, uint32_t first_seq);
void batch_free(struct nl_batch *b);

/* The whole table: create it (if missing), delete it, create it again with
 * TABLE_FLAGS and everything in RS: one transaction replaces any old table. */
void batch_ruleset_full(struct nl_batch *b, const struct ruleset *rs, uint32_t table_flags);

/* Everything in RS, into a transaction the caller has begun on a table that
 * exists (batch_table): no table messages, no begin or end. */
void batch_ruleset_add(struct nl_batch *b, const struct ruleset *rs);

/* Only what differs between OLD (what the kernel has) and NEW: chains whose
 * rules changed are flushed and refilled, sets and map elements added or
 * removed. Unchanged VMs cost nothing. */
void batch_ruleset_diff(struct nl_batch *b, const struct ruleset *old, const struct ruleset *new);

/* One message on B's table: the table itself (NFT_MSG_NEWTABLE, created if
 * missing, with FLAGS; or NFT_MSG_DELTABLE), or set S (NFT_MSG_NEWSET, created
 * if missing; or NFT_MSG_DELSET). */
void batch_table(struct nl_batch *b, uint16_t type, uint32_t flags);
void batch_set(struct nl_batch *b, uint16_t type, const struct rs_set *s);

const struct batch_origin *batch_find_origin(const struct nl_batch *b, uint32_t seq);

/* For other tables built by hand (the netvm's): the batch's begin and end
 * messages, and one message between them: batch_msg() gives its header
 * (recorded as WHAT for error messages), batch_msg_done() counts it in. */
void batch_begin(struct nl_batch *b);
void batch_end(struct nl_batch *b);
struct nlmsghdr *batch_msg(struct nl_batch *b, uint16_t type, uint16_t flags, const char *what);
void batch_msg_done(struct nl_batch *b, struct nlmsghdr *nlh);

/* ---- nlsock.c: the one handle that touches the kernel ---- */

struct nft_sock {
	struct mnl_socket *nl;
	bool dry_run;             /* build everything, send nothing */
	uint32_t portid;
};

/* 0, or -errno with a message naming the failing part in ERR. */
int nft_sock_open(struct nft_sock *s, bool dry_run);
void nft_sock_close(struct nft_sock *s);
int nft_commit(struct nft_sock *s, struct nl_batch *b, char *err, size_t errlen);
/* The kernel's answers to B in BUF (N bytes, as received): the first error
 * among them (0: none), each described in ERR from offset *USED on. A reply
 * too short to hold the error it announces counts as -EPROTO. */
int nft_acks(const struct nl_batch *b, const void *buf, size_t n, char *err, size_t errlen, size_t *used);

/* The flags an appliance's own table is created with. Where the kernel has
 * NFT_TABLE_F_PERSIST (Linux 6.9), OWNER | PERSIST: only the daemon's socket
 * may change the table, and it stays in force when the daemon dies. On an
 * older kernel (Debian 12's 6.1) an owned table is deleted with its owner, so
 * a dead daemon would leave every VM unfiltered: there the table is not owned
 * (0): failing closed comes before keeping other processes out. */
uint32_t nft_appliance_table_flags(struct nft_sock *s);

/* How this kernel can queue a packet to NFQUEUE: RQ_NFT (nft_queue), RQ_XT
 * (only xt_NFQUEUE through nft_compat) or RQ_NONE. A batch with queue_xt
 * set sends RQ_NFT rules the RQ_XT way, so one compiled ruleset (and its
 * nft text, with nft's queue statement) loads on either. */
int nft_queue_kind(struct nft_sock *s);

/* Send REQ (a GET request: its sequence number and NLM_F_DUMP are set here)
 * on a socket of its own and call CB (a libmnl data callback) on each message
 * of the answer. 0 or -errno (ENOENT: no such table or set). */
int nft_dump(struct nlmsghdr *req, int (*cb)(const struct nlmsghdr *nlh, void *data), void *data);
/* Dump every rule of table inet TABLE through its own socket, calling CB
 * (a libmnl data callback) on each message. 0 or -errno. */
int nft_dump_rules(const char *table, int (*cb)(const struct nlmsghdr *nlh, void *data),
		   void *data);
/* Whether table inet TABLE is loaded: 1, 0, or -errno. */
int nft_table_exists(const char *table);

#endif

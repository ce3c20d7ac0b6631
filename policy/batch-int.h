/* batch-int.h: what the parts of the batch share beyond batch.h: batch.c
 * (the buffer and its table, chain and set messages), batch-rule.c (a rule
 * as libnftnl expressions) and batch-diff.c (whole rulesets and what
 * differs between two). */
#ifndef MOAT_BATCH_INT_H
#define MOAT_BATCH_INT_H

#include "policy/batch.h"

/* Message SEQ comes from VM's RULE at LINE (-1/0/0: from none), what FMT says. */
__attribute__((format(printf, 6, 7)))
void batch_note(struct nl_batch *b, uint32_t seq, int vm, int rule, int line, const char *fmt, ...);
/* The header of the next message, in room enough for it; batch_msg_done
 * counts it in once its payload is built. */
struct nlmsghdr *batch_hdr(struct nl_batch *b, uint16_t type, uint16_t flags);

/* The id of set NAME in a batch, stable per name, so rules in the same batch
 * can name a set it creates. */
uint32_t batch_set_id(const char *name);

/* Chain C created (NFT_MSG_NEWCHAIN) or deleted (NFT_MSG_DELCHAIN). */
void batch_chain(struct nl_batch *b, uint16_t type, const struct rs_chain *c);
/* Every rule of chain C deleted. */
void batch_flush_chain(struct nl_batch *b, const struct rs_chain *c);
/* ELEMS[0..N) of S added (NFT_MSG_NEWSETELEM) or deleted, a few hundred a message. */
void batch_elems(struct nl_batch *b, uint16_t type, const struct rs_set *s, const struct rs_elem *const *elems,
		 size_t n);
/* Rule RU of RS's chain C appended. */
void batch_rule(struct nl_batch *b, const struct ruleset *rs, const struct rs_chain *c, const struct rs_rule *ru);

#endif

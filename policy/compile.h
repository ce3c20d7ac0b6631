/* compile.h: what compile.c and marks.c share, nothing else includes it. */
#ifndef MOAT_COMPILE_H
#define MOAT_COMPILE_H

#include <stdint.h>

#include "policy/policy.h"
#include "policy/ruleset.h"

/* Each VM's mark and birth in RS (its VMs and chains complete and indexed),
 * from PREV (the ruleset in force, or NULL) and H (what the daemon kept
 * across restarts, or NULL); RS->mark_next after them. */
void marks_assign(struct ruleset *rs, const struct policy *p, const struct ruleset *prev,
		  const struct rs_history *h);
/* A hash of everything V's chains are made from: the same in PREV means
 * they can be shared. */
uint64_t marks_fingerprint(const struct policy *p, const struct vm *v);
/* VM V's chains (index VM in RS) shared from PREV instead of compiled. */
void marks_reuse_chains(struct ruleset *rs, const struct ruleset *prev, const struct vm *v, int vm);

#endif

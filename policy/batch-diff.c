/* batch-diff.c: whole rulesets into the batch, and only what differs
 * between the ruleset the kernel has and the next one. */
#include <linux/netfilter/nf_tables.h>
#include <stdlib.h>
#include <string.h>

#include "policy/batch-int.h"

static void chain_rules(struct nl_batch *b, const struct ruleset *rs, const struct rs_chain *c)
{
	for (size_t i = 0; i < c->nrules; i++)
		batch_rule(b, rs, c, &c->rules[i]);
}

/* ---- element differences ---- */

static int elem_cmp(const void *a, const void *b)
{
	const struct rs_elem *x = *(const struct rs_elem *const *)a, *y = *(const struct rs_elem *const *)b;
	int c = memcmp(x->key, y->key, sizeof(x->key));
	return c ? c : strcmp(x->chain, y->chain);
}

static const struct rs_elem **elems_sorted(const struct rs_set *s)
{
	const struct rs_elem **v = malloc((s->nelems ? s->nelems : 1) * sizeof(*v));
	if (!v)
		abort();
	for (size_t i = 0; i < s->nelems; i++)
		v[i] = &s->elems[i];
	qsort(v, s->nelems, sizeof(*v), elem_cmp);
	return v;
}

/* Elements of A that are not in OTHER, added or deleted as TYPE says: a merge
 * of two sorted lists, so 500 VMs cost 500 steps, not 250,000. */
static void elems_diff(struct nl_batch *b, uint16_t type, const struct rs_set *a,
		       const struct rs_set *other)
{
	if (a->dynamic || a->nelems == 0)
		return;
	if (other && other->nelems == a->nelems &&
	    memcmp(other->elems, a->elems, a->nelems * sizeof(*a->elems)) == 0)
		return;   /* the common case: the same elements in the same order */
	const struct rs_elem **va = elems_sorted(a), **vo = NULL, **out;
	size_t no = other ? other->nelems : 0, n = 0, j = 0;
	if (other)
		vo = elems_sorted(other);
	out = malloc(a->nelems * sizeof(*out));
	if (!out)
		abort();
	for (size_t i = 0; i < a->nelems; i++) {
		while (j < no && elem_cmp(&vo[j], &va[i]) < 0)
			j++;
		if (j >= no || elem_cmp(&vo[j], &va[i]) != 0)
			out[n++] = va[i];
	}
	if (n)
		batch_elems(b, type, a, out, n);
	free(out);
	free(va);
	free(vo);
}

/* ---- whole batches ---- */

static bool uses_mark(const struct rs_chain *c)
{
	for (size_t i = 0; i < c->nrules; i++)
		if (c->rules[i].set_mark || c->rules[i].match_mark)
			return true;
	return false;
}

static bool uses_birth(const struct rs_chain *c)
{
	for (size_t i = 0; i < c->nrules; i++)
		if (c->rules[i].below_birth)
			return true;
	return false;
}

/* Same rules, and the same mark and birth where the rules use them. */
static bool chain_changed(const struct ruleset *old, const struct rs_chain *oc,
			  const struct ruleset *new, const struct rs_chain *nc)
{
	if (!ruleset_chain_equal(nc, oc))
		return true;
	if (nc->vm < 0 || oc->vm < 0)
		return false;
	/* the values first: comparing them is cheaper than looking through
	 * the rules, and an unchanged VM keeps both */
	const struct rs_vm *nv = &new->vms[nc->vm], *ov = &old->vms[oc->vm];
	return (nv->mark != ov->mark && uses_mark(nc)) || (nv->birth != ov->birth && uses_birth(nc));
}

/* The chain of OTHER named like SELF's chain I, or NULL: first where it
 * usually is (the same index: VMs keep their order), then by name. A
 * one-VM change at 500 VMs looked up 8,000 chains by binary search. */
static const struct rs_chain *counterpart(const struct ruleset *other, const struct ruleset *self,
					  size_t i)
{
	return other ? ruleset_find_chain_near(other, self->chains[i].name, i) : NULL;
}

/* OLD may be NULL: everything in NEW is added. */
static void ruleset_changes(struct nl_batch *b, const struct ruleset *old, const struct ruleset *new)
{
	const struct rs_chain *oc;
	const struct rs_set *os;

	for (size_t i = 0; i < new->nchains; i++)
		if (!counterpart(old, new, i))
			batch_chain(b, NFT_MSG_NEWCHAIN, &new->chains[i]);
	for (size_t i = 0; i < new->nsets; i++)
		if (!ruleset_find_set(old, new->sets[i].name))
			batch_set(b, NFT_MSG_NEWSET, &new->sets[i]);
	/* elements leave before the chains they jump to go */
	for (size_t i = 0; old && i < old->nsets; i++)
		if ((os = ruleset_find_set(new, old->sets[i].name)))
			elems_diff(b, NFT_MSG_DELSETELEM, &old->sets[i], os);
	for (size_t i = 0; old && i < old->nchains; i++) {
		oc = &old->chains[i];
		const struct rs_chain *nc = counterpart(new, old, i);
		if (!nc || chain_changed(old, oc, new, nc))
			batch_flush_chain(b, oc);
	}
	for (size_t i = 0; i < new->nchains; i++) {
		const struct rs_chain *nc = &new->chains[i];
		oc = counterpart(old, new, i);
		if (!oc || chain_changed(old, oc, new, nc))
			chain_rules(b, new, nc);
	}
	for (size_t i = 0; i < new->nsets; i++)
		elems_diff(b, NFT_MSG_NEWSETELEM, &new->sets[i], ruleset_find_set(old, new->sets[i].name));
	for (size_t i = 0; old && i < old->nsets; i++)
		if (!ruleset_find_set(new, old->sets[i].name))
			batch_set(b, NFT_MSG_DELSET, &old->sets[i]);
	for (size_t i = 0; old && i < old->nchains; i++)
		if (!counterpart(new, old, i))
			batch_chain(b, NFT_MSG_DELCHAIN, &old->chains[i]);
}

void batch_ruleset_full(struct nl_batch *b, const struct ruleset *rs, uint32_t table_flags)
{
	b->table = ruleset_table(rs);
	batch_begin(b);
	batch_table(b, NFT_MSG_NEWTABLE, table_flags);
	batch_table(b, NFT_MSG_DELTABLE, 0);
	batch_table(b, NFT_MSG_NEWTABLE, table_flags);
	ruleset_changes(b, NULL, rs);
	batch_end(b);
}

void batch_ruleset_add(struct nl_batch *b, const struct ruleset *rs)
{
	b->table = ruleset_table(rs);
	ruleset_changes(b, NULL, rs);
}

void batch_ruleset_diff(struct nl_batch *b, const struct ruleset *old, const struct ruleset *new)
{
	b->table = ruleset_table(new);
	batch_begin(b);
	ruleset_changes(b, old, new);
	batch_end(b);
}

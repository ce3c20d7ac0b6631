/* ruleset.c: building a ruleset, and what can be asked of one: lookups by
 * name, whether two chains are the same, the texts derived from a rule, and
 * freeing it. */
#include <stdlib.h>
#include <string.h>

#include "policy/ruleset.h"

const char *ruleset_table(const struct ruleset *rs)
{
	return rs->table ? rs->table : RS_TABLE;
}

/* ---- building ---- */

static void *grow(void *arr, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return arr;
	size_t n = *cap ? *cap * 2 : 8;
	while (n < need)
		n *= 2;
	void *p = realloc(arr, n * size);
	if (!p)
		abort();   /* a ruleset never needs more than a few MB */
	memset((char *)p + *cap * size, 0, (n - *cap) * size);
	*cap = n;
	return p;
}

struct ruleset *ruleset_new(const char *table)
{
	struct ruleset *rs = calloc(1, sizeof(*rs));
	if (!rs)
		abort();
	rs->table = table;
	return rs;
}

struct rs_chain *ruleset_chain_new(struct ruleset *rs, const char *name, int vm)
{
	rs->chains = grow(rs->chains, &rs->chains_cap, rs->nchains + 1, sizeof(*rs->chains));
	struct rs_chain *c = &rs->chains[rs->nchains++];
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->vm = vm;
	return c;
}

struct rs_chain *ruleset_base_chain_new(struct ruleset *rs, const char *name, int hook, int prio)
{
	struct rs_chain *c = ruleset_chain_new(rs, name, -1);
	c->base = true;
	c->hook = hook;
	c->prio = prio;
	return c;
}

struct rs_set *ruleset_set_new(struct ruleset *rs, const char *name, enum rs_set_type type)
{
	rs->sets = grow(rs->sets, &rs->sets_cap, rs->nsets + 1, sizeof(*rs->sets));
	struct rs_set *s = &rs->sets[rs->nsets++];
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->type = type;
	return s;
}

struct rs_elem *rs_elem_add(struct rs_set *s)
{
	s->elems = grow(s->elems, &s->cap, s->nelems + 1, sizeof(*s->elems));
	return &s->elems[s->nelems++];
}

void rs_vmap_add(struct rs_set *s, const char *ifname, const char *chain)
{
	struct rs_elem *e = rs_elem_add(s);
	memcpy(e->key, ifname, strnlen(ifname, sizeof(e->key) - 1));
	snprintf(e->chain, sizeof(e->chain), "%s", chain);
}

struct rs_rule *rs_rule_new(struct rs_chain *c, int number, int line)
{
	c->rules = grow(c->rules, &c->cap, c->nrules + 1, sizeof(*c->rules));
	struct rs_rule *r = &c->rules[c->nrules++];
	r->rule = number;
	r->line = line;
	return r;
}

struct rs_match *rs_match(struct rs_rule *r, enum rs_key key, enum rs_op op)
{
	if (r->nm >= RS_MATCH_MAX)
		abort();   /* no builder makes such a rule */
	struct rs_match *m = &r->m[r->nm++];
	m->key = key;
	m->op = op;
	return m;
}

void rs_match_u8(struct rs_rule *r, enum rs_key key, enum rs_op op, uint8_t v)
{
	rs_match(r, key, op)->val[0] = v;
}

void rs_match_u16(struct rs_rule *r, enum rs_key key, uint16_t lo, uint16_t hi)
{
	struct rs_match *m = rs_match(r, key, lo == hi ? RO_EQ : RO_RANGE);
	m->val[0] = lo >> 8; m->val[1] = lo & 0xff;
	m->val2[0] = hi >> 8; m->val2[1] = hi & 0xff;
}

void rs_match_u32(struct rs_rule *r, enum rs_key key, enum rs_op op, uint32_t v)
{
	memcpy(rs_match(r, key, op)->val, &v, 4);
}

void rs_match_str(struct rs_rule *r, enum rs_key key, enum rs_op op, const char *s)
{
	size_t n = strlen(s);
	memcpy(rs_match(r, key, op)->val, s, n < 15 ? n : 15);
}

void rs_match_set(struct rs_rule *r, enum rs_key key, enum rs_op op, const char *set)
{
	snprintf(rs_match(r, key, op)->set, RS_SETREF_MAX, "%s", set);
}

void rs_match_ct_state(struct rs_rule *r, uint32_t bits)
{
	rs_match_u32(r, RK_CT_STATE, RO_ANYBIT, bits);   /* host order, as the kernel keeps it */
}

void ruleset_rule_comment(const struct ruleset *rs, const struct rs_chain *c,
			  const struct rs_rule *r, char *buf, size_t len)
{
	if (c->vm < 0)
		snprintf(buf, len, "%s", r->what ? r->what : "");
	else if (r->what)
		snprintf(buf, len, "%s %s", rs->vms[c->vm].name, r->what);
	else
		snprintf(buf, len, "%s rule %d", rs->vms[c->vm].name, r->rule);
}

void ruleset_log_prefix(const struct ruleset *rs, const struct rs_chain *c,
			const struct rs_rule *r, char *buf, size_t len)
{
	const char *name = c->vm >= 0 ? rs->vms[c->vm].name : "-";
	if (r->rule)
		snprintf(buf, len, "moat %s %d %s ", name, r->rule, r->log == RL_ALLOW ? "allow" : "deny");
	else
		snprintf(buf, len, "moat %s default deny ", name);
}

bool ruleset_chain_equal(const struct rs_chain *a, const struct rs_chain *b)
{
	if (a->base != b->base || a->hook != b->hook || a->prio != b->prio ||
	    a->policy_drop != b->policy_drop || a->nat != b->nat || a->nrules != b->nrules)
		return false;
	if (a->rules == b->rules)
		return true;
	/* rules come from zeroed memory, so padding compares equal too */
	for (size_t i = 0; i < a->nrules; i++)
		if (memcmp(&a->rules[i], &b->rules[i], offsetof(struct rs_rule, line)) != 0)
			return false;
	return true;
}

/* ---- lookups by name: sorted indices, built once a ruleset is complete ---- */

static const struct ruleset *sort_rs;

static int cmp_chain(const void *a, const void *b)
{
	return strcmp(sort_rs->chains[*(const size_t *)a].name,
		      sort_rs->chains[*(const size_t *)b].name);
}

static int cmp_set(const void *a, const void *b)
{
	return strcmp(sort_rs->sets[*(const size_t *)a].name, sort_rs->sets[*(const size_t *)b].name);
}

static int cmp_vm(const void *a, const void *b)
{
	return strcmp(sort_rs->vms[*(const size_t *)a].name, sort_rs->vms[*(const size_t *)b].name);
}

static size_t *sorted(const struct ruleset *rs, size_t n, int (*cmp)(const void *, const void *))
{
	size_t *idx = malloc((n ? n : 1) * sizeof(*idx));
	if (!idx)
		abort();
	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	sort_rs = rs;
	qsort(idx, n, sizeof(*idx), cmp);
	return idx;
}

void ruleset_index(struct ruleset *rs)
{
	rs->chain_order = sorted(rs, rs->nchains, cmp_chain);
	rs->set_order = sorted(rs, rs->nsets, cmp_set);
	rs->vm_order = sorted(rs, rs->nvms, cmp_vm);
}

/* Binary search of ORDER (indices into an array of N items whose name
 * NAME_AT gives); -1 when absent. Before indexing, a linear search. */
static long find(const size_t *order, size_t n, const char *name,
		 const char *(*name_at)(const struct ruleset *, size_t), const struct ruleset *rs)
{
	if (!order) {
		for (size_t i = 0; i < n; i++)
			if (strcmp(name_at(rs, i), name) == 0)
				return i;
		return -1;
	}
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(name_at(rs, order[mid]), name);
		if (c == 0)
			return order[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static const char *chain_name(const struct ruleset *rs, size_t i) { return rs->chains[i].name; }
static const char *set_name(const struct ruleset *rs, size_t i) { return rs->sets[i].name; }
static const char *vm_name(const struct ruleset *rs, size_t i) { return rs->vms[i].name; }

const struct rs_chain *ruleset_find_chain(const struct ruleset *rs, const char *name)
{
	long i = rs ? find(rs->chain_order, rs->nchains, name, chain_name, rs) : -1;
	return i >= 0 ? &rs->chains[i] : NULL;
}

const struct rs_chain *ruleset_find_chain_near(const struct ruleset *rs, const char *name, size_t hint)
{
	if (rs && hint < rs->nchains && strcmp(rs->chains[hint].name, name) == 0)
		return &rs->chains[hint];
	return ruleset_find_chain(rs, name);
}

const struct rs_set *ruleset_find_set(const struct ruleset *rs, const char *name)
{
	long i = rs ? find(rs->set_order, rs->nsets, name, set_name, rs) : -1;
	return i >= 0 ? &rs->sets[i] : NULL;
}

int ruleset_find_vm(const struct ruleset *rs, const char *name)
{
	return rs ? (int)find(rs->vm_order, rs->nvms, name, vm_name, rs) : -1;
}

void ruleset_free(struct ruleset *rs)
{
	if (!rs)
		return;
	for (size_t i = 0; i < rs->nchains; i++) {
		struct rs_chain *c = &rs->chains[i];
		if (c->shared && --*c->shared > 0)
			continue;   /* another ruleset still uses these rules */
		free(c->shared);
		free(c->rules);
	}
	free(rs->chain_order);
	free(rs->set_order);
	free(rs->vm_order);
	for (size_t i = 0; i < rs->nsets; i++)
		free(rs->sets[i].elems);
	free(rs->chains);
	free(rs->sets);
	free(rs->vms);
	free(rs);
}

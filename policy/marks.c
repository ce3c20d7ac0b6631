/* marks.c: what a new ruleset carries over from the one in force (see
 * ruleset.h): each VM's conntrack mark and birth, and the chains of a VM
 * whose policy did not change, shared rather than compiled again. */
#include <stdlib.h>
#include <string.h>

#include "policy/compile.h"
#include "policy/ruleset.h"

/* ---- marks ---- */

static const struct rs_vm *prev_vm(const struct ruleset *prev, const char *name)
{
	int i = ruleset_find_vm(prev, name);
	return i >= 0 ? &prev->vms[i] : NULL;
}

static bool forward_unchanged(const struct ruleset *rs, const struct ruleset *prev, int vm,
			      const struct rs_vm *old)
{
	const struct rs_vm *v = &rs->vms[vm];
	/* another VM may take over the old address: its packets would match
	 * this VM's connections, so those must be judged again */
	if (memcmp(v->addr, old->addr, sizeof(v->addr)) != 0 ||
	    memcmp(v->addr6, old->addr6, sizeof(v->addr6)) != 0)
		return false;
	const char *prefixes[] = { "out_", "local_" };
	for (int i = 0; i < 2; i++) {
		char cn[RS_NAME_MAX];
		snprintf(cn, sizeof(cn), "%s%s", prefixes[i], v->name);
		const struct rs_chain *a = ruleset_find_chain(rs, cn);
		const struct rs_chain *b = a ? ruleset_find_chain_near(prev, cn, (size_t)(a - rs->chains)) : NULL;
		if (!a || !b || !ruleset_chain_equal(a, b))
			return false;
	}
	return true;
}

static bool same_addresses(const struct rs_vm *a, const struct rs_vm *b)
{
	return memcmp(a->addr, b->addr, sizeof(a->addr)) == 0 &&
	       memcmp(a->addr6, b->addr6, sizeof(a->addr6)) == 0;
}

/* The birth a VM had with these addresses, from PREV or else HISTORY; 0: none. */
static uint32_t known_birth(const struct rs_vm *v, const struct rs_vm *old,
			    const struct rs_history *h)
{
	if (old)
		return same_addresses(v, old) ? old->birth : 0;
	for (size_t i = 0; h && i < h->nvms; i++)
		if (strcmp(h->vms[i].name, v->name) == 0)
			return same_addresses(v, &h->vms[i]) ? h->vms[i].birth : 0;
	return 0;
}

/* Whether one of the VMs V's rules name was born in this ruleset: a VM
 * that took over the address of one V reached (V's chain reads the same)
 * must not inherit V's connections to its predecessor, nor see V's new
 * ones marked below its birth. */
static bool names_a_newborn(const struct policy *p, size_t v, const struct ruleset *rs, uint32_t now)
{
	const struct vm *vm = &p->vms[v];
	for (size_t i = 0; i < vm->nrules; i++)
		for (size_t d = 0; d < vm->rules[i].ndests; d++) {
			const struct dest *ds = &vm->rules[i].dests[d];
			if (ds->kind == DEST_VM && ds->vm >= 0 && (size_t)ds->vm < rs->nvms &&
			    rs->vms[ds->vm].birth == now)
				return true;
		}
	return false;
}

/* A mark is handed out once: a connection cut by a new mark can never
 * find its old one live again (until expiries, restarts, renames). A new
 * birth is the counter before this ruleset's marks, so every mark handed
 * out from now on is at or past it, and every older one below. */
void marks_assign(struct ruleset *rs, const struct policy *p, const struct ruleset *prev,
			 const struct rs_history *h)
{
	uint32_t next = h && h->first_mark ? h->first_mark : 1;
	if (prev && prev->mark_next > next)
		next = prev->mark_next;
	const uint32_t now = next;
	for (size_t i = 0; i < rs->nvms; i++) {
		struct rs_vm *v = &rs->vms[i];
		v->birth = known_birth(v, prev_vm(prev, v->name), h);
		if (!v->birth)
			v->birth = now;
	}
	for (size_t i = 0; i < rs->nvms; i++) {
		struct rs_vm *v = &rs->vms[i];
		const struct rs_vm *old = prev_vm(prev, v->name);
		if (old && forward_unchanged(rs, prev, i, old) && !names_a_newborn(p, i, rs, now)) {
			v->mark = old->mark;
			continue;
		}
		if (next == 0)   /* 0 is every untouched connection's mark */
			next = 1;
		v->mark = next++;
	}
	rs->mark_next = next;
}

/* ---- unchanged VMs: their chains are copied, not compiled again ---- */

/* FNV-1a over 8-byte words (then bytes), with a fold after each multiply so
 * high bits reach low ones: a byte at a time was 5% of a one-VM change at
 * 500 VMs. The fingerprints never leave the process. */
static uint64_t fnv(uint64_t h, const void *data, size_t len)
{
	const uint8_t *p = data;
	for (; len >= 8; p += 8, len -= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		h = (h ^ w) * 1099511628211ull;
		h ^= h >> 29;
	}
	for (; len; p++, len--)
		h = (h ^ *p) * 1099511628211ull;
	return h;
}

static uint64_t fnv_addr(uint64_t h, const struct addr *a)
{
	h = fnv(h, &a->family, sizeof(a->family));
	h = fnv(h, &a->prefix, 1);
	return fnv(h, a->bytes, sizeof(a->bytes));
}

/* Everything a VM's chains are compiled from: its block, the settings of the
 * network block that shape every VM's chains, the addresses of the VMs its
 * rules name. Not comments or lines: the kernel does not see them. */
uint64_t marks_fingerprint(const struct policy *p, const struct vm *v)
{
	uint64_t h = 14695981039346656037ull;
	unsigned has = p->net.has & (NET_HAS_SUBNET | NET_HAS_SUBNET6);
	h = fnv(h, &has, sizeof(has));
	h = fnv_addr(h, &p->net.subnet);
	h = fnv_addr(h, &p->net.subnet6);
	h = fnv(h, &p->net.deny, sizeof(p->net.deny));
	h = fnv(h, &p->net.log_denied, sizeof(p->net.log_denied));
	h = fnv(h, v->name, sizeof(v->name));
	h = fnv_addr(h, &v->addr);
	h = fnv(h, &v->has_addr6, sizeof(v->has_addr6));
	h = fnv_addr(h, &v->addr6);
	h = fnv(h, v->mac, sizeof(v->mac));
	h = fnv(h, &v->nrules, sizeof(v->nrules));
	for (size_t i = 0; i < v->nrules; i++) {
		const struct rule *r = &v->rules[i];
		int f[] = { r->action, r->kind, r->proto, r->to_any, r->log, r->expired, r->number,
			    r->has_until };
		h = fnv(h, f, sizeof(f));
		int64_t until = r->has_until ? (int64_t)r->until : 0;   /* the kernel matches it */
		h = fnv(h, &until, sizeof(until));
		h = fnv(h, &r->nports, sizeof(r->nports));
		h = fnv(h, r->ports, r->nports * sizeof(*r->ports));
		h = fnv(h, &r->ntypes, sizeof(r->ntypes));
		h = fnv(h, r->types, r->ntypes);
		h = fnv(h, &r->ndests, sizeof(r->ndests));
		for (size_t d = 0; d < r->ndests; d++) {
			const struct dest *ds = &r->dests[d];
			h = fnv(h, &ds->kind, sizeof(ds->kind));
			h = fnv_addr(h, &ds->addr);
			if (ds->name)
				h = fnv(h, ds->name, strlen(ds->name) + 1);
			if (ds->kind == DEST_VM) {
				const struct vm *peer = &p->vms[ds->vm];
				h = fnv_addr(h, &peer->addr);
				h = fnv(h, &peer->has_addr6, sizeof(peer->has_addr6));
				h = fnv_addr(h, &peer->addr6);
			}
		}
	}
	return h;
}

void marks_reuse_chains(struct ruleset *rs, const struct ruleset *prev, const struct vm *v, int vm)
{
	static const char *prefixes[] = { "pre_", "in_", "out_", "local_", "acc_", "exp_", "own_", "resp_",
					  "born_", "lim_" };
	for (size_t k = 0; k < sizeof(prefixes) / sizeof(prefixes[0]); k++) {
		char name[RS_NAME_MAX];
		snprintf(name, sizeof(name), "%s%s", prefixes[k], v->name);
		const struct rs_chain *from = ruleset_find_chain_near(prev, name, rs->nchains);
		if (!from)   /* exp_: only a VM with `until` rules has one */
			continue;
		struct rs_chain *c = ruleset_chain_new(rs, name, vm);
		/* shared, not copied: an unchanged VM costs no memory traffic */
		struct rs_chain *f = (struct rs_chain *)from;
		if (!f->shared) {
			f->shared = malloc(sizeof(*f->shared));
			if (!f->shared)
				abort();
			*f->shared = 1;
		}
		++*f->shared;
		c->shared = f->shared;
		c->rules = f->rules;
		c->nrules = c->cap = f->nrules;
	}
}

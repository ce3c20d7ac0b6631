/* check.c: what the grammar cannot see: names that refer to each other,
 * duplicates, addresses against the address plan, rules that have expired. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/contract.h"
#include "policy/policy.h"
#include "lib/xalloc.h"

int policy_find_vm(const struct policy *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->nvms; i++)
		if (strcmp(p->vms[i].name, name) == 0)
			return (int)i;
	return -1;
}

void policy_gateway(const struct policy *p, struct addr *gw)
{
	*gw = p->net.subnet;
	gw->prefix = 32;
	gw->bytes[3] |= 1;
}

void policy_gateway6(const struct policy *p, struct addr *gw)
{
	*gw = p->net.subnet6;
	gw->prefix = 128;
	gw->bytes[15] |= 1;
}

void policy_default_mac(const struct addr *a, uint8_t mac[6])
{
	const uint8_t m[6] = { MOAT_VM_MAC_PREFIX_BYTES, a->bytes[2], a->bytes[3] };
	memcpy(mac, m, 6);
}

void policy_firewall_mac(const struct vm *v, uint8_t mac[6])
{
	policy_default_mac(&v->addr, mac);
	mac[2] = MOAT_MAC_FW_BYTE;
}

/* The subnet's broadcast address: every host bit set. */
static void check_broadcast(const struct addr *net, struct addr *b)
{
	unsigned i;

	*b = *net;
	b->prefix = 32;
	for (i = net->prefix; i < 32; i++)
		b->bytes[i / 8] |= (uint8_t)(0x80 >> (i % 8));
}

static void check_address(const struct policy *p, const struct vm *v, struct diags *d)
{
	char buf[MOAT_ADDR_STRLEN], net[MOAT_ADDR_STRLEN];
	struct addr network, gw, bcast;

	addr_format(&v->addr, buf, sizeof(buf));
	addr_format(&p->net.subnet, net, sizeof(net));
	network = p->net.subnet;
	network.prefix = 32;
	policy_gateway(p, &gw);
	check_broadcast(&p->net.subnet, &bcast);
	if (!addr_contains(&p->net.subnet, &v->addr))
		diag_error(d, v->addr_loc, "address %s is outside subnet %s", buf, net);
	else if (addr_equal(&v->addr, &network))
		diag_error(d, v->addr_loc, "address %s is subnet %s's network address", buf, net);
	else if (addr_equal(&v->addr, &bcast))
		diag_error(d, v->addr_loc, "address %s is subnet %s's broadcast address", buf, net);
	else if (addr_equal(&v->addr, &gw))
		diag_error(d, v->addr_loc, "address %s is the firewall VM's own address", buf);
}

static void check_address6(const struct policy *p, const struct vm *v, struct diags *d)
{
	char buf[MOAT_ADDR_STRLEN], net[MOAT_ADDR_STRLEN];
	struct addr network, gw;

	addr_format(&v->addr6, buf, sizeof(buf));
	if (!(p->net.has & NET_HAS_SUBNET6)) {
		diag_error(d, v->addr6_loc, "address6 %s needs subnet6 in network { }", buf);
		return;
	}
	addr_format(&p->net.subnet6, net, sizeof(net));
	network = p->net.subnet6;
	network.prefix = 128;
	policy_gateway6(p, &gw);
	if (!addr_contains(&p->net.subnet6, &v->addr6))
		diag_error(d, v->addr6_loc, "address6 %s is outside subnet6 %s", buf, net);
	else if (addr_equal(&v->addr6, &network))
		diag_error(d, v->addr6_loc, "address6 %s is subnet6 %s's network address", buf, net);
	else if (addr_equal(&v->addr6, &gw))
		diag_error(d, v->addr6_loc, "address6 %s is the firewall VM's own address", buf);
}

/* ---- clashes between VMs, found by sorting: a policy of 500 VMs has
 * 125,000 pairs, and comparing them all cost more than the rest of the
 * check ---- */

enum vm_key { VK_NAME, VK_ADDR, VK_ADDR6, VK_MAC, VK__COUNT };

static bool check_has_mac(const struct vm *v)
{
	return v->has_mac || v->has_addr;
}

/* Whether V takes part in KEY's comparisons. */
static bool vm_has_key(const struct vm *v, enum vm_key key)
{
	switch (key) {
	case VK_NAME: return true;
	case VK_ADDR: return v->has_addr;
	case VK_ADDR6: return v->has_addr6;
	case VK_MAC: return check_has_mac(v);
	default: return false;
	}
}

static int vm_key_cmp(const struct vm *a, const struct vm *b, enum vm_key key)
{
	switch (key) {
	case VK_NAME: return strcmp(a->name, b->name);
	case VK_ADDR: return memcmp(a->addr.bytes, b->addr.bytes, sizeof(a->addr.bytes));
	case VK_ADDR6: return memcmp(a->addr6.bytes, b->addr6.bytes, sizeof(a->addr6.bytes));
	case VK_MAC: return memcmp(a->mac, b->mac, 6);
	default: return 0;
	}
}

struct vm_sort {
	const struct policy *p;
	enum vm_key key;
};

/* by key, then by position: the first of a run of equals is the earliest */
static int vm_sort_cmp(const void *x, const void *y, void *arg)
{
	const struct vm_sort *s = arg;
	size_t i = *(const size_t *)x, j = *(const size_t *)y;
	int c = vm_key_cmp(&s->p->vms[i], &s->p->vms[j], s->key);
	return c ? c : (i > j) - (i < j);
}

/* INDEX[0..n): the VMs that take part in KEY (incomplete ones never do: their
 * parse error said enough), sorted. Returns n. */
static size_t vm_sorted(const struct policy *p, enum vm_key key, size_t *index)
{
	size_t n = 0;
	for (size_t i = 0; i < p->nvms; i++)
		if (!p->vms[i].incomplete && vm_has_key(&p->vms[i], key))
			index[n++] = i;
	struct vm_sort s = { p, key };
	qsort_r(index, n, sizeof(*index), vm_sort_cmp, &s);
	return n;
}

/* FIRST[k][i]: the earliest VM before i with the same key, or SIZE_MAX. */
static void vm_firsts(const struct policy *p, size_t *first[VK__COUNT], size_t *index)
{
	for (int k = 0; k < VK__COUNT; k++) {
		for (size_t i = 0; i < p->nvms; i++)
			first[k][i] = SIZE_MAX;
		size_t n = vm_sorted(p, (enum vm_key)k, index);
		for (size_t a = 0; a < n;) {
			size_t b = a + 1;
			while (b < n && vm_key_cmp(&p->vms[index[a]], &p->vms[index[b]], (enum vm_key)k) == 0)
				first[k][index[b++]] = index[a];
			a = b;
		}
	}
}

/* Report each clash at the later VM, against the earliest one it clashes
 * with. A name given twice says only that. */
static void check_duplicates(const struct policy *p, size_t i, size_t *const first[VK__COUNT],
			     struct diags *d)
{
	const struct vm *v = &p->vms[i];
	char buf[MOAT_ADDR_STRLEN];
	size_t j;

	if ((j = first[VK_NAME][i]) != SIZE_MAX) {
		diag_error(d, v->loc, "VM '%s' is declared twice (first on line %d)", v->name,
			   p->vms[j].loc.line);
		return;
	}
	if ((j = first[VK_ADDR][i]) != SIZE_MAX) {
		addr_format(&v->addr, buf, sizeof(buf));
		diag_error(d, v->addr_loc, "address %s is already VM %s's", buf, p->vms[j].name);
	}
	if ((j = first[VK_ADDR6][i]) != SIZE_MAX) {
		addr_format(&v->addr6, buf, sizeof(buf));
		diag_error(d, v->addr6_loc, "address6 %s is already VM %s's", buf, p->vms[j].name);
	}
	/* a MAC derived from a clashing address clashes too: said once */
	j = first[VK_MAC][i];
	if (j != SIZE_MAX && !(first[VK_ADDR][i] != SIZE_MAX && !v->has_mac)) {
		const struct vm *w = &p->vms[j];
		char mac[MOAT_MAC_STRLEN];
		policy_format_mac(v->mac, mac, sizeof(mac));
		diag_error(d, v->has_mac ? v->mac_loc : v->addr_loc, "mac %s is already VM %s's%s", mac,
			   w->name, w->has_mac ? "" : " (derived from its address)");
	}
}

/* The VM named NAME (the first one), by binary search in BY_NAME[0..n)
 * (vm_sorted's order); -1 when there is none. */
static int vm_lookup(const struct policy *p, const size_t *by_name, size_t n, const char *name)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(p->vms[by_name[mid]].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && strcmp(p->vms[by_name[lo]].name, name) == 0 ? (int)by_name[lo] : -1;
}

/* Invariants the parser already enforces, kept for policies built in code. */
static void check_rule_shape(const struct rule *r, struct diags *d)
{
	size_t i;

	if (r->nports && r->proto == PROTO_ICMP)
		diag_error(d, r->loc, "port needs tcp or udp, not icmp");
	if (r->ntypes && r->proto != PROTO_ICMP)
		diag_error(d, r->loc, "type needs icmp");
	for (i = 0; i < r->nports; i++)
		if (r->ports[i].lo == 0 || r->ports[i].lo > r->ports[i].hi)
			diag_error(d, r->loc, "empty port range %u-%u", r->ports[i].lo, r->ports[i].hi);
}

static void check_rule(struct policy *p, size_t vm, struct rule *r, const size_t *by_name,
		       size_t nnames, time_t now, struct diags *d)
{
	size_t i;

	check_rule_shape(r, d);
	for (i = 0; i < r->ndests; i++) {
		struct dest *dst = &r->dests[i];
		if (dst->kind == DEST_HOST && r->action == ACT_DENY)
			diag_warning(d, dst->loc, "'deny to %s' covers only the addresses the firewall's "
				     "DNS has answered for it: a VM that resolves names elsewhere "
				     "(its own resolver, DNS over HTTPS) or connects by address is "
				     "not stopped; deny its addresses, or allow only what the VM needs",
				     dst->name);
		if (dst->kind != DEST_VM)
			continue;
		dst->vm = vm_lookup(p, by_name, nnames, dst->name);
		if (dst->vm < 0)
			diag_error(d, dst->loc, "no VM named '%s'", dst->name);
		else if ((size_t)dst->vm == vm)
			diag_error(d, dst->loc, "VM '%s' cannot be its own destination", dst->name);
	}
	if (r->has_until && r->until <= now) {
		char when[MOAT_TIME_STRLEN];

		policy_format_time(r->until, when, sizeof(when));
		r->expired = true;
		diag_warning(d, r->until_loc, "rule expired at %s: it is ignored", when);
	}
}

bool policy_check(struct policy *p, time_t now, struct diags *d)
{
	int errors = d->nerrors;
	size_t i, j;

	if (p->nvms > 0 && !(p->net.has & NET_HAS_SUBNET) && !p->net.incomplete)
		diag_error(d, p->vms[0].loc, "VMs need an address plan: network { subnet 10.137.0.0/24 }");
	for (i = 0; i < p->nvms; i++)
		if (!p->vms[i].incomplete && p->vms[i].has_addr && !p->vms[i].has_mac)
			policy_default_mac(&p->vms[i].addr, p->vms[i].mac);
	size_t *mem = calloc(p->nvms * (VK__COUNT + 2) + 1, sizeof(size_t));
	if (!mem)
		xalloc_fail();
	size_t *first[VK__COUNT], *index = mem + p->nvms * VK__COUNT;
	size_t *by_name = index + p->nvms;
	for (int k = 0; k < VK__COUNT; k++)
		first[k] = mem + p->nvms * (size_t)k;
	vm_firsts(p, first, index);
	/* every VM, incomplete ones too, can be named (and found) */
	for (i = 0; i < p->nvms; i++)
		by_name[i] = i;
	struct vm_sort byname = { p, VK_NAME };
	qsort_r(by_name, p->nvms, sizeof(*by_name), vm_sort_cmp, &byname);
	for (i = 0; i < p->nvms && !d->capped; i++) {
		struct vm *v = &p->vms[i];
		if (v->incomplete)
			continue;   /* its parse error said what is wrong with it */
		if (!v->has_addr)
			diag_error(d, v->loc, "VM '%s' has no address", v->name);
		else if (p->net.has & NET_HAS_SUBNET)
			check_address(p, v, d);
		if (v->has_addr6)
			check_address6(p, v, d);
		check_duplicates(p, i, first, d);
		for (j = 0; j < v->nrules; j++)
			check_rule(p, i, &v->rules[j], by_name, p->nvms, now, d);
	}
	free(mem);
	return d->nerrors == errors;
}

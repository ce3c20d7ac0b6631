/* check.c: what the grammar cannot see: names that refer to each other,
 * duplicates, addresses against the address plan, rules that have expired. */
#include <string.h>
#include <sys/socket.h>

#include "policy.h"

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
	const uint8_t m[6] = { 0x02, 0x6d, 0x61, 0x00, a->bytes[2], a->bytes[3] };
	memcpy(mac, m, 6);
}

void policy_firewall_mac(const struct vm *v, uint8_t mac[6])
{
	policy_default_mac(&v->addr, mac);
	mac[2] = 0x66;
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

static bool check_has_mac(const struct vm *v)
{
	return v->has_mac || v->has_addr;
}

/* Earlier VMs are already checked: report each clash at the later one. */
static void check_duplicates(const struct policy *p, size_t i, struct diags *d)
{
	const struct vm *v = &p->vms[i];
	char buf[MOAT_ADDR_STRLEN];
	size_t j;

	for (j = 0; j < i; j++) {
		const struct vm *w = &p->vms[j];
		if (w->incomplete)
			continue;
		if (strcmp(v->name, w->name) == 0) {
			diag_error(d, v->loc, "VM '%s' is declared twice (first on line %d)",
				   v->name, w->loc.line);
			return;
		}
		if (v->has_addr && w->has_addr && addr_equal(&v->addr, &w->addr)) {
			addr_format(&v->addr, buf, sizeof(buf));
			diag_error(d, v->addr_loc, "address %s is already VM %s's", buf, w->name);
			continue;   /* the MACs derived from it clash too: say it once */
		}
		if (v->has_addr6 && w->has_addr6 && addr_equal(&v->addr6, &w->addr6)) {
			addr_format(&v->addr6, buf, sizeof(buf));
			diag_error(d, v->addr6_loc, "address6 %s is already VM %s's", buf, w->name);
		}
		if (check_has_mac(v) && check_has_mac(w) && memcmp(v->mac, w->mac, 6) == 0) {
			char mac[MOAT_MAC_STRLEN];
			policy_format_mac(v->mac, mac, sizeof(mac));
			diag_error(d, v->has_mac ? v->mac_loc : v->addr_loc,
				   "mac %s is already VM %s's%s", mac, w->name,
				   w->has_mac ? "" : " (derived from its address)");
		}
	}
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

static void check_rule(struct policy *p, size_t vm, struct rule *r, time_t now, struct diags *d)
{
	size_t i;

	check_rule_shape(r, d);
	for (i = 0; i < r->ndests; i++) {
		struct dest *dst = &r->dests[i];
		if (dst->kind != DEST_VM)
			continue;
		dst->vm = policy_find_vm(p, dst->name);
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
	for (i = 0; i < p->nvms && !d->capped; i++) {
		struct vm *v = &p->vms[i];
		if (v->incomplete)
			continue;   /* its parse error said what is wrong with it */
		if (v->has_addr && !v->has_mac)
			policy_default_mac(&v->addr, v->mac);
		if (!v->has_addr)
			diag_error(d, v->loc, "VM '%s' has no address", v->name);
		else if (p->net.has & NET_HAS_SUBNET)
			check_address(p, v, d);
		if (v->has_addr6)
			check_address6(p, v, d);
		check_duplicates(p, i, d);
		for (j = 0; j < v->nrules; j++)
			check_rule(p, i, &v->rules[j], now, d);
	}
	return d->nerrors == errors;
}

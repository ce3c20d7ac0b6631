/* compile.c: a checked policy -> struct ruleset (see ruleset.h for the shape).
 *
 * One kernel rule per (config rule, destination, protocol, port item): no
 * anonymous sets, whose load cost grows with the square of their number, and
 * no per-rule named sets either. Host names are the only sets rules look up,
 * one per name, shared by every VM and filled by moat-firewalld from the
 * DNS answers it holds before a VM sees them (firewallvm/names.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "policy/compile.h"
#include "policy/ruleset.h"

#define CT_DIR_ORIGINAL      0
#define CT_DIR_REPLY         1

/* ---- building blocks ---- */

struct builder {
	struct ruleset *rs;
	const struct policy *p;
};

static void match_addr(struct rs_rule *r, enum rs_key key, enum rs_op op, const struct addr *a)
{
	int full = a->family == AF_INET ? 32 : 128;
	struct rs_match *m = rs_match(r, key, a->prefix == full ? op : RO_PREFIX);
	memcpy(m->val, a->bytes, full / 8);
	m->plen = a->prefix;
}

/* meta time < T: nanoseconds since the epoch, big-endian as nft compares them */
static void match_time_before(struct rs_rule *r, time_t t)
{
	struct rs_match *m = rs_match(r, RK_META_TIME, RO_LT);
	uint64_t ns = (uint64_t)t * 1000000000ull;
	for (int i = 0; i < 8; i++)
		m->val[i] = (uint8_t)(ns >> (56 - 8 * i));
}

static void match_nfproto(struct rs_rule *r, int family)
{
	rs_match_u8(r, RK_NFPROTO, RO_EQ, family == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6);
}


static void comment_fixed(struct rs_rule *r, const char *what)
{
	r->what = what;
}

static void comment_vm(struct rs_rule *r, const struct vm *v, const char *what)
{
	(void)v;   /* the comment names the VM when it is rendered */
	r->what = r->rule ? NULL : what;
}

static void copy_matches(struct rs_rule *r, const struct rs_match *ms, int nm)
{
	if (nm)
		memcpy(r->m, ms, nm * sizeof(*ms));
	r->nm = nm;
}

/* ---- the deny at the end of a VM's chain (policy reject|drop, log denied) ---- */

static void add_deny(const struct policy *p, struct rs_chain *c, const struct vm *v, int vm,
		     int number, int line, bool log, const struct rs_match *ms, int nm)
{
	const char *what = number ? NULL : "default deny";
	int proto = -1;   /* the protocol the matches already pin down */
	for (int i = 0; i < nm; i++)
		if (ms[i].key == RK_L4PROTO)
			proto = ms[i].val[0];
	if (log) {
		struct rs_rule *r = rs_rule_new(c, number, line);
		copy_matches(r, ms, nm);
		r->limit = true;
		r->log = RL_DENY;
		comment_vm(r, v, what);
	}
	if (p->net.deny == DENY_REJECT && (proto < 0 || proto == IPPROTO_TCP)) {
		struct rs_rule *r = rs_rule_new(c, number, line);
		copy_matches(r, ms, nm);
		if (proto < 0)
			rs_match_u8(r, RK_L4PROTO, RO_EQ, IPPROTO_TCP);
		r->verdict = RV_REJECT_TCP;
		comment_vm(r, v, what);
		if (proto == IPPROTO_TCP)
			return;
	}
	struct rs_rule *r = rs_rule_new(c, number, line);
	copy_matches(r, ms, nm);
	r->verdict = p->net.deny == DENY_REJECT ? RV_REJECT_ICMPX : RV_DROP;
	comment_vm(r, v, what);
}

/* ---- per-VM chains ---- */

static void compile_pre(struct builder *b, const struct vm *v, int vm)
{
	char name[RS_NAME_MAX];
	snprintf(name, sizeof(name), "pre_%s", v->name);
	struct rs_chain *c = ruleset_chain_new(b->rs, name, vm);
	struct rs_rule *r;

	r = rs_rule_new(c, 0, 0);
	rs_match_u8(r, RK_IIFTYPE, RO_EQ, 1 /* ARPHRD_ETHER */);
	memcpy(rs_match(r, RK_ETHER_SADDR, RO_NE)->val, v->mac, 6);
	r->verdict = RV_DROP;
	comment_vm(r, v, "spoofed MAC");

	/* DHCP before the VM has an address */
	r = rs_rule_new(c, 0, 0);
	match_nfproto(r, AF_INET);
	rs_match(r, RK_IP_SADDR, RO_EQ);   /* 0.0.0.0 */
	rs_match_u8(r, RK_L4PROTO, RO_EQ, IPPROTO_UDP);
	rs_match_u16(r, RK_TH_DPORT, 67, 67);   /* one port: nft would merge sport+dport */
	r->verdict = RV_RETURN;
	comment_vm(r, v, "DHCP discover");

	r = rs_rule_new(c, 0, 0);
	match_nfproto(r, AF_INET);
	match_addr(r, RK_IP_SADDR, RO_NE, &v->addr);
	r->verdict = RV_DROP;
	comment_vm(r, v, "spoofed IPv4 source");

	if (v->has_addr6 && (b->p->net.has & NET_HAS_SUBNET6)) {
		/* a link-local source is any the VM likes: only for what needs
		 * one, neighbour discovery (ICMPv6, judged by in_NAME; the
		 * kernel forwards no link-local source) and DHCPv6 */
		struct addr ll;
		addr_parse("fe80::/10", &ll, NULL);
		r = rs_rule_new(c, 0, 0);
		match_nfproto(r, AF_INET6);
		match_addr(r, RK_IP6_SADDR, RO_EQ, &ll);
		rs_match_u8(r, RK_L4PROTO, RO_EQ, IPPROTO_ICMPV6);
		r->verdict = RV_RETURN;
		comment_vm(r, v, "IPv6 link-local: ICMPv6");
		r = rs_rule_new(c, 0, 0);
		match_nfproto(r, AF_INET6);
		match_addr(r, RK_IP6_SADDR, RO_EQ, &ll);
		rs_match_u8(r, RK_L4PROTO, RO_EQ, IPPROTO_UDP);
		rs_match_u16(r, RK_TH_DPORT, 547, 547);
		r->verdict = RV_RETURN;
		comment_vm(r, v, "IPv6 link-local: DHCPv6");
		r = rs_rule_new(c, 0, 0);
		match_nfproto(r, AF_INET6);
		match_addr(r, RK_IP6_SADDR, RO_NE, &v->addr6);
		r->verdict = RV_DROP;
		comment_vm(r, v, "spoofed IPv6 source");
	} else {
		r = rs_rule_new(c, 0, 0);
		match_nfproto(r, AF_INET6);
		r->verdict = RV_DROP;
		comment_vm(r, v, "no IPv6");
	}
}

/* What picks out a service of the firewall: FAMILY, destination GW (or
 * any), PROTO and PORT (an ICMP type), before UNTIL (0: no end). */
static void input_match(struct rs_rule *r, int family, const struct addr *gw, int proto,
			uint16_t port, time_t until)
{
	match_nfproto(r, family);
	if (gw)
		match_addr(r, family == AF_INET ? RK_IP_DADDR : RK_IP6_DADDR, RO_EQ, gw);
	rs_match_u8(r, RK_L4PROTO, RO_EQ, proto);
	if (proto == IPPROTO_ICMP)
		rs_match_u8(r, RK_ICMP_TYPE, RO_EQ, port);
	else if (proto == IPPROTO_ICMPV6)
		rs_match_u8(r, RK_ICMP6_TYPE, RO_EQ, port);
	else
		rs_match_u16(r, RK_TH_DPORT, port, port);
	if (until > 0)
		match_time_before(r, until);
}

static void input_service_until(struct rs_chain *c, const struct vm *v, int vm, int family,
				const struct addr *gw, int proto, uint16_t port, const char *what,
				time_t until)
{
	struct rs_rule *r = rs_rule_new(c, 0, 0);
	input_match(r, family, gw, proto, port, until);
	r->verdict = RV_ACCEPT;
	comment_vm(r, v, what);
}

static void input_service(struct rs_chain *c, const struct vm *v, int vm, int family,
			  const struct addr *gw, int proto, uint16_t port, const char *what)
{
	input_service_until(c, v, vm, family, gw, proto, port, what, 0);
}

/* DNS to the gateway of FAMILY: the VM's `allow dns` rules in their order,
 * so the first in force decides (its `log`, its `until`, which the kernel
 * matches, daemon or not). No other rule can name the firewall. */
static void input_dns(struct rs_chain *c, const struct vm *v, int vm, int family,
		      const struct addr *gw)
{
	for (size_t i = 0; i < v->nrules; i++) {
		const struct rule *ru = &v->rules[i];
		if (ru->kind != RULE_DNS || ru->expired)
			continue;
		time_t until = ru->has_until ? ru->until : 0;
		for (int proto = IPPROTO_UDP; ; proto = IPPROTO_TCP) {
			if (ru->log) {
				struct rs_rule *r = rs_rule_new(c, ru->number, ru->loc.line);
				input_match(r, family, gw, proto, 53, until);
				r->limit = true;
				r->log = RL_ALLOW;
				comment_vm(r, v, NULL);
			}
			input_service_until(c, v, vm, family, gw, proto, 53, "DNS", until);
			if (proto == IPPROTO_TCP)
				break;
		}
		if (!until)
			return;   /* no later one is ever reached */
	}
}

/* A drop rule for DHCPv4 messages to the firewall; the caller adds what
 * makes one unacceptable. */
static struct rs_rule *dhcp4_guard(struct rs_chain *c)
{
	struct rs_rule *r = rs_rule_new(c, 0, 0);
	match_nfproto(r, AF_INET);
	rs_match_u8(r, RK_L4PROTO, RO_EQ, IPPROTO_UDP);
	rs_match_u16(r, RK_TH_DPORT, 67, 67);
	r->verdict = RV_DROP;
	return r;
}

/* A drop rule for DHCPv6 messages of types LO..HI to the firewall. */
static void dhcp6_guard(struct rs_chain *c, const struct vm *v, uint8_t lo, uint8_t hi,
			const char *what)
{
	struct rs_rule *r = rs_rule_new(c, 0, 0);
	match_nfproto(r, AF_INET6);
	rs_match_u8(r, RK_L4PROTO, RO_EQ, IPPROTO_UDP);
	rs_match_u16(r, RK_TH_DPORT, 547, 547);
	struct rs_match *m = rs_match(r, RK_DHCP6_TYPE, lo == hi ? RO_EQ : RO_RANGE);
	m->val[0] = lo;
	m->val2[0] = hi;
	r->verdict = RV_DROP;
	comment_vm(r, v, what);
}

/* dnsmasq serves every VM from one process: past RS_IN_RATE packets a
 * second, what a VM sends the firewall itself is dropped and counted, so
 * one VM's flood of DHCP or DNS leaves the others their share. */
static void input_rate_limit(struct rs_chain *c, const struct vm *v)
{
	struct rs_rule *r = rs_rule_new(c, 0, 0);
	r->over_rate = RS_IN_RATE;
	r->over_burst = RS_IN_BURST;
	r->verdict = RV_DROP;
	comment_vm(r, v, "too fast to the firewall");
}

/* dnsmasq's forwarded queries and TCP connections are shared by every VM:
 * past its share of each (RS_DNS_RATE, RS_DNS_TCP_MAX; dnsmasq gets the
 * shares of every VM), a VM's DNS is dropped and counted. */
static void input_dns_limits(struct rs_chain *c, const struct vm *v)
{
	bool dns = false;
	for (size_t i = 0; i < v->nrules; i++)
		dns = dns || (v->rules[i].kind == RULE_DNS && !v->rules[i].expired);
	if (!dns)
		return;   /* no DNS at all */
	struct rs_rule *r = rs_rule_new(c, 0, 0);
	rs_match_u8(r, RK_L4PROTO, RO_EQ, IPPROTO_UDP);
	rs_match_u16(r, RK_TH_DPORT, 53, 53);
	r->over_rate = RS_DNS_RATE;
	r->over_burst = RS_DNS_BURST;
	r->verdict = RV_DROP;
	comment_vm(r, v, "DNS too fast");
	r = rs_rule_new(c, 0, 0);
	rs_match_u8(r, RK_L4PROTO, RO_EQ, IPPROTO_TCP);
	rs_match_u16(r, RK_TH_DPORT, 53, 53);
	rs_match_ct_state(r, RS_CT_NEW);
	r->count_over = RS_DNS_TCP_MAX;
	r->verdict = RV_DROP;
	comment_vm(r, v, "too many DNS connections");
}

/* lim_NAME: the VM's share of the firewall's one conntrack table. One
 * connlimit counts per rule, and this rule is reached for every new
 * connection of the VM, to the firewall (input) and through it (forward),
 * so it counts all of the VM's live connections. */
static void compile_limit(struct builder *b, const struct vm *v, int vm)
{
	char name[RS_NAME_MAX];
	snprintf(name, sizeof(name), "lim_%s", v->name);
	struct rs_rule *r = rs_rule_new(ruleset_chain_new(b->rs, name, vm), 0, 0);
	r->count_over = RS_VM_CONN_MAX;
	r->verdict = RV_DROP;
	comment_vm(r, v, "too many connections");
}

static void compile_in(struct builder *b, const struct vm *v, int vm)
{
	const struct policy *p = b->p;
	char name[RS_NAME_MAX];
	snprintf(name, sizeof(name), "in_%s", v->name);
	struct rs_chain *c = ruleset_chain_new(b->rs, name, vm);
	struct addr gw;
	policy_gateway(p, &gw);

	/* a DHCP message speaks for the client its chaddr names: only its own */
	struct rs_rule *r = dhcp4_guard(c);
	memcpy(rs_match(r, RK_DHCP_CHADDR, RO_NE)->val, v->mac, 6);
	comment_vm(r, v, "DHCP not its own MAC");
	/* a VM is a client, never a relay: dnsmasq would send its answer (and
	 * the relay's option 82) to any giaddr, inside or out */
	r = dhcp4_guard(c);
	rs_match(r, RK_DHCP_GIADDR, RO_NE);   /* != 0.0.0.0 */
	comment_vm(r, v, "DHCP through a relay");
	input_rate_limit(c, v);
	/* the rest waits in the daemon's queue, which reads its options: a
	 * client identifier must name its own MAC too (firewallvm/dhcp4.h).
	 * No bypass: with no daemon there is no DHCP. */
	r = rs_rule_new(c, 0, 0);
	input_match(r, AF_INET, NULL, IPPROTO_UDP, 67, 0);
	r->queue = RQ_NFT;
	r->queue_num = RS_DHCP4_QUEUE;
	r->queue_no_bypass = true;
	comment_vm(r, v, "DHCP");
	input_dns_limits(c, v);
	input_dns(c, v, vm, AF_INET, &gw);
	input_service(c, v, vm, AF_INET, &gw, IPPROTO_ICMP, 8, "ping gateway");
	if (v->has_addr6 && (p->net.has & NET_HAS_SUBNET6)) {
		struct addr gw6, routers, dhcp6;
		policy_gateway6(p, &gw6);
		addr_parse("ff02::2", &routers, NULL);
		addr_parse("ff02::1:2", &dhcp6, NULL);
		/* neighbour discovery: solicitations (of routers: to all of
		 * them) and advertisements; neighbours' to the firewall's own
		 * addresses, multicast or not, which is all input sees */
		input_service(c, v, vm, AF_INET6, &routers, IPPROTO_ICMPV6, 133, "router solicitation");
		input_service(c, v, vm, AF_INET6, NULL, IPPROTO_ICMPV6, 135, "neighbour solicitation");
		input_service(c, v, vm, AF_INET6, NULL, IPPROTO_ICMPV6, 136, "neighbour advertisement");
		input_service(c, v, vm, AF_INET6, &gw6, IPPROTO_ICMPV6, 128, "ping gateway");
		/* its address6 by DHCPv6 (moat-firewalld's own server, which
		 * answers by the link, never by DUID: firewallvm/dhcp6.c), to
		 * the servers' multicast group (a client unicasts only when a
		 * server says so, and ours never does). A relay message (12,
		 * 13 and above) would speak for another. */
		dhcp6_guard(c, v, 12, 255, "DHCPv6 relay message");
		input_service(c, v, vm, AF_INET6, &dhcp6, IPPROTO_UDP, 547, "DHCPv6");
		input_dns(c, v, vm, AF_INET6, &gw6);
	}
	add_deny(p, c, v, vm, 0, 0, false, NULL, 0);
}

/* ICMP types are written as ICMPv4 numbers; these are their ICMPv6 twins. */
static int icmp6_type(uint8_t t)
{
	switch (t) {
	case 0: return 129;   /* echo reply */
	case 3: return 1;     /* destination unreachable */
	case 8: return 128;   /* echo request */
	case 11: return 3;    /* time exceeded */
	default: return -1;
	}
}

/* One destination of a rule, as the matches that pick it out. */
struct target {
	int family;              /* 0 = any family */
	enum rs_key key;
	const struct addr *addr; /* or NULL */
	char set[RS_SETREF_MAX]; /* host-name set, or "" */
};

static void emit_rule(const struct policy *p, struct rs_chain *c, const struct vm *v, int vm,
		      const struct rule *ru, const struct target *t, int proto,
		      const struct port_range *port, int type)
{
	/* no meta nfproto: a ct address load of the other family does not match */
	struct rs_rule tmpl = { .rule = 0 };
	if (t->addr)
		match_addr(&tmpl, t->key, RO_EQ, t->addr);
	else if (t->set[0])
		rs_match_set(&tmpl, t->key, RO_LOOKUP, t->set);
	if (proto >= 0)
		rs_match_u8(&tmpl, RK_L4PROTO, RO_EQ, proto);   /* nft types proto-dst by it */
	if (port)
		rs_match_u16(&tmpl, RK_CT_OPROTO_DST, port->lo, port->hi);
	if (type >= 0)   /* the tuple's "port" of an ICMP flow is type << 8 | code */
		rs_match_u16(&tmpl, RK_CT_OPROTO_DST, type << 8, type << 8 | 0xff);
	if (ru->has_until)   /* in force until then, with or without the daemon */
		match_time_before(&tmpl, ru->until);

	if (ru->action == ACT_DENY) {
		add_deny(p, c, v, vm, ru->number, ru->loc.line, ru->log, tmpl.m, tmpl.nm);
		return;
	}
	if (ru->log) {
		struct rs_rule *r = rs_rule_new(c, ru->number, ru->loc.line);
		copy_matches(r, tmpl.m, tmpl.nm);
		r->limit = true;
		r->log = RL_ALLOW;
		comment_vm(r, v, NULL);
	}
	struct rs_rule *r = rs_rule_new(c, ru->number, ru->loc.line);
	copy_matches(r, tmpl.m, tmpl.nm);
	r->verdict = RV_GOTO_ACCEPT;
	comment_vm(r, v, NULL);
}

/* Expand one destination over the rule's protocols and ports. */
static void emit_target(const struct policy *p, struct rs_chain *c, const struct vm *v, int vm,
			const struct rule *ru, const struct target *t)
{
	if (ru->kind == RULE_ALL || (ru->proto == PROTO_ANY && ru->nports == 0)) {
		emit_rule(p, c, v, vm, ru, t, -1, NULL, -1);
		return;
	}
	if (ru->proto == PROTO_ICMP) {
		bool v6 = p->net.has & NET_HAS_SUBNET6;
		for (int fam = AF_INET; ; fam = AF_INET6) {
			if (!t->family || t->family == fam) {
				int proto = fam == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6;
				struct target ft = *t;
				if (!ft.family && ru->ntypes)   /* type numbers differ per family */
					ft.family = fam;
				if (ru->ntypes == 0)
					emit_rule(p, c, v, vm, ru, &ft, proto, NULL, -1);
				for (size_t i = 0; i < ru->ntypes; i++) {
					int ty = fam == AF_INET ? ru->types[i] : icmp6_type(ru->types[i]);
					if (ty >= 0)
						emit_rule(p, c, v, vm, ru, &ft, proto, NULL, ty);
				}
			}
			if (fam == AF_INET6 || !v6)
				break;
		}
		return;
	}
	int protos[2], np = 0;
	if (ru->proto == PROTO_TCP || ru->proto == PROTO_ANY)
		protos[np++] = IPPROTO_TCP;
	if (ru->proto == PROTO_UDP || ru->proto == PROTO_ANY)
		protos[np++] = IPPROTO_UDP;
	for (int i = 0; i < np; i++) {
		if (ru->nports == 0)
			emit_rule(p, c, v, vm, ru, t, protos[i], NULL, -1);
		for (size_t j = 0; j < ru->nports; j++)
			emit_rule(p, c, v, vm, ru, t, protos[i], &ru->ports[j], -1);
	}
}

/* The earliest `until` of the VM's forward rules in force, or 0. */
static time_t first_until(const struct vm *v)
{
	time_t t = 0;
	for (size_t i = 0; i < v->nrules; i++) {
		const struct rule *ru = &v->rules[i];
		if (ru->has_until && !ru->expired && ru->kind != RULE_DNS && (!t || ru->until < t))
			t = ru->until;
	}
	return t;
}

/* Related packets (ICMP errors) of this VM's connections. own_NAME: the
 * connection is NAME's (it opened it); resp_NAME: NAME is the one it was
 * opened to, so it may answer with an error, sent on to the opener's own_. */
static void compile_related(struct builder *b, const struct vm *v, int vm, time_t until)
{
	char name[RS_NAME_MAX];
	struct rs_rule *r;

	snprintf(name, sizeof(name), "own_%s", v->name);
	struct rs_chain *c = ruleset_chain_new(b->rs, name, vm);
	r = rs_rule_new(c, 0, 0);
	r->match_mark = true;
	if (until)
		match_time_before(r, until);
	r->verdict = RV_ACCEPT;
	comment_vm(r, v, "related to its connection");
	r = rs_rule_new(c, 0, 0);
	r->verdict = RV_DROP;
	comment_vm(r, v, "related packet of another VM's connection");

	snprintf(name, sizeof(name), "resp_%s", v->name);
	c = ruleset_chain_new(b->rs, name, vm);
	r = rs_rule_new(c, 0, 0);
	match_addr(r, RK_CT_ODADDR, RO_EQ, &v->addr);
	rs_match_set(r, RK_OIFNAME, RO_VMAP, "own_vm");
	comment_vm(r, v, "related, a connection to it");
	if (v->has_addr6 && (b->p->net.has & NET_HAS_SUBNET6)) {
		r = rs_rule_new(c, 0, 0);
		match_addr(r, RK_CT_ODADDR6, RO_EQ, &v->addr6);
		rs_match_set(r, RK_OIFNAME, RO_VMAP, "own_vm");
		comment_vm(r, v, "related, a connection to it");
	}
	r = rs_rule_new(c, 0, 0);
	r->verdict = RV_DROP;
	comment_vm(r, v, "related packet of another VM's connection");
}

static void compile_forward(struct builder *b, const struct vm *v, int vm)
{
	const struct policy *p = b->p;
	bool v6 = p->net.has & NET_HAS_SUBNET6;
	char name[RS_NAME_MAX];
	snprintf(name, sizeof(name), "out_%s", v->name);
	ruleset_chain_new(b->rs, name, vm);
	snprintf(name, sizeof(name), "local_%s", v->name);
	ruleset_chain_new(b->rs, name, vm);
	/* chain_new may move the array: take both pointers after */
	struct rs_chain *out = &b->rs->chains[b->rs->nchains - 2];
	struct rs_chain *local = &b->rs->chains[b->rs->nchains - 1];

	for (size_t i = 0; i < v->nrules; i++) {
		const struct rule *ru = &v->rules[i];
		if (ru->expired || ru->kind == RULE_DNS)
			continue;
		if (ru->kind == RULE_ALL || ru->ndests == 0) {
			struct target t = { 0 };
			emit_target(p, out, v, vm, ru, &t);
			continue;
		}
		for (size_t d = 0; d < ru->ndests; d++) {
			const struct dest *ds = &ru->dests[d];
			struct target t = { 0 };
			if (ds->kind == DEST_ADDR) {
				if (ds->addr.family == AF_INET6 && !v6)
					continue;   /* IPv6 never leaves an app VM */
				t.family = ds->addr.family;
				t.key = t.family == AF_INET ? RK_CT_ODADDR : RK_CT_ODADDR6;
				t.addr = &ds->addr;
				emit_target(p, out, v, vm, ru, &t);
			} else if (ds->kind == DEST_HOST) {
				for (int fam = AF_INET; ; fam = AF_INET6) {
					t.family = fam;
					t.key = fam == AF_INET ? RK_CT_ODADDR : RK_CT_ODADDR6;
					ruleset_host_set_name(ds->name, fam, t.set, sizeof(t.set));
					emit_target(p, out, v, vm, ru, &t);
					if (fam == AF_INET6 || !v6)
						break;
				}
			} else {
				const struct vm *peer = &p->vms[ds->vm];
				t.family = AF_INET;
				t.key = RK_CT_ODADDR;
				t.addr = &peer->addr;
				emit_target(p, local, v, vm, ru, &t);
				if (v6 && peer->has_addr6 && v->has_addr6) {
					t.family = AF_INET6;
					t.key = RK_CT_ODADDR6;
					t.addr = &peer->addr6;
					emit_target(p, local, v, vm, ru, &t);
				}
			}
		}
	}
	add_deny(p, out, v, vm, 0, 0, p->net.log_denied, NULL, 0);
	add_deny(p, local, v, vm, 0, 0, p->net.log_denied, NULL, 0);

	/* every accept of this VM goes here: the mark lives in one rule */
	snprintf(name, sizeof(name), "acc_%s", v->name);
	struct rs_rule *r = rs_rule_new(ruleset_chain_new(b->rs, name, vm), 0, 0);
	r->set_mark = true;
	r->verdict = RV_ACCEPT;
	comment_vm(r, v, "accepted");

	/* its connections ride on the live mark only until its first `until`:
	 * then they go back to the rules, daemon or not (see ruleset.h) */
	time_t until = first_until(v);
	if (until) {
		snprintf(name, sizeof(name), "exp_%s", v->name);
		r = rs_rule_new(ruleset_chain_new(b->rs, name, vm), 0, 0);
		match_time_before(r, until);
		r->verdict = RV_ACCEPT;
		comment_vm(r, v, "until its first rule expires");
	}
	compile_related(b, v, vm, until);

	/* connections of whoever had its addresses before (see ruleset.h) */
	snprintf(name, sizeof(name), "born_%s", v->name);
	r = rs_rule_new(ruleset_chain_new(b->rs, name, vm), 0, 0);
	r->below_birth = true;
	r->verdict = RV_DROP;
	comment_vm(r, v, "connection of an earlier holder of its address");
}

/* ---- the fixed part of the table ---- */

/* The jump to a VM's lim_ chain, for each new connection from it. */
static void limit_new(struct rs_chain *c)
{
	struct rs_rule *r = rs_rule_new(c, 0, 0);
	rs_match_ct_state(r, RS_CT_NEW);
	rs_match_set(r, RK_IIFNAME, RO_VMAP, "lim_vm");
	comment_fixed(r, "the VM's share of conntrack");
}

static void compile_base(struct builder *b)
{
	const struct policy *p = b->p;
	struct rs_chain *c;
	struct rs_rule *r;
	struct addr uplink_net;
	addr_parse(MOAT_UPLINK_NET, &uplink_net, NULL);

	c = ruleset_base_chain_new(b->rs, "prerouting", NF_INET_PRE_ROUTING, -150);
	r = rs_rule_new(c, 0, 0);
	rs_match_set(r, RK_IIFNAME, RO_VMAP, "pre_vm");
	comment_fixed(r, "anti-spoofing per VM");
	/* a link of no VM in force (one being removed or renamed, one not yet
	 * named) carries nothing: it could speak for any connection. A plain
	 * set, as Linux 6.1 refuses an inverted lookup in a map. */
	r = rs_rule_new(c, 0, 0);
	rs_match_set(r, RK_IIFNAME, RO_NOT_LOOKUP, "vm_links");
	rs_match_str(r, RK_IIFNAME, RO_NE, "lo");
	rs_match_str(r, RK_IIFNAME, RO_NE, MOAT_UPLINK_FW_IF);
	r->verdict = RV_DROP;
	comment_fixed(r, "a link of no VM in force");

	c = ruleset_base_chain_new(b->rs, "input", NF_INET_LOCAL_IN, 0);
	c->policy_drop = true;
	r = rs_rule_new(c, 0, 0);
	rs_match_str(r, RK_IIFNAME, RO_EQ, "lo");
	r->verdict = RV_ACCEPT;
	limit_new(c);
	r = rs_rule_new(c, 0, 0);
	rs_match_set(r, RK_IIFNAME, RO_VMAP, "in_vm");
	comment_fixed(r, "what each VM may ask the firewall");
	r = rs_rule_new(c, 0, 0);
	rs_match_str(r, RK_IIFNAME, RO_EQ, MOAT_UPLINK_FW_IF);
	rs_match_ct_state(r, RS_CT_ESTABLISHED | RS_CT_RELATED);
	r->verdict = RV_ACCEPT;
	comment_fixed(r, "replies to the firewall's own traffic");

	c = ruleset_base_chain_new(b->rs, "forward", NF_INET_FORWARD, 0);
	c->policy_drop = true;
	r = rs_rule_new(c, 0, 0);
	rs_match_ct_state(r, RS_CT_ESTABLISHED);
	rs_match_set(r, RK_CT_MARK, RO_VMAP, "live");
	comment_fixed(r, "connections the policy in force allowed");
	/* ICMP errors: a packet of the connection they quote, which any VM can
	 * name. They pass only between that connection's own ends, with its
	 * mark live, and never reach the rules (which would mark it anew). */
	r = rs_rule_new(c, 0, 0);
	rs_match_ct_state(r, RS_CT_RELATED);
	rs_match_u8(r, RK_CT_DIRECTION, RO_EQ, CT_DIR_ORIGINAL);
	rs_match_set(r, RK_IIFNAME, RO_VMAP, "own_vm");
	comment_fixed(r, "related, from the VM that opened it");
	/* a connection between two VMs never leaves: an error from the
	 * uplink quoting one is forged, whichever family */
	for (int fam = AF_INET; ; fam = AF_INET6) {
		bool v4 = fam == AF_INET;
		if (p->net.has & (v4 ? NET_HAS_SUBNET : NET_HAS_SUBNET6)) {
			r = rs_rule_new(c, 0, 0);
			rs_match_ct_state(r, RS_CT_RELATED);
			rs_match_str(r, RK_IIFNAME, RO_EQ, MOAT_UPLINK_FW_IF);
			match_addr(r, v4 ? RK_CT_ODADDR : RK_CT_ODADDR6, RO_EQ,
				   v4 ? &p->net.subnet : &p->net.subnet6);
			r->verdict = RV_DROP;
			comment_fixed(r, "related packet of another VM's connection");
		}
		if (!v4)
			break;
	}
	r = rs_rule_new(c, 0, 0);
	rs_match_ct_state(r, RS_CT_RELATED);
	rs_match_u8(r, RK_CT_DIRECTION, RO_EQ, CT_DIR_REPLY);
	rs_match_str(r, RK_IIFNAME, RO_EQ, MOAT_UPLINK_FW_IF);
	rs_match_set(r, RK_OIFNAME, RO_VMAP, "own_vm");
	comment_fixed(r, "related, from upstream to the VM that opened it");
	r = rs_rule_new(c, 0, 0);
	rs_match_ct_state(r, RS_CT_RELATED);
	rs_match_u8(r, RK_CT_DIRECTION, RO_EQ, CT_DIR_REPLY);
	rs_match_set(r, RK_IIFNAME, RO_VMAP, "resp_vm");
	comment_fixed(r, "related, from the VM it was opened to");
	r = rs_rule_new(c, 0, 0);
	rs_match_ct_state(r, RS_CT_RELATED);
	r->verdict = RV_DROP;
	comment_fixed(r, "related packet of another VM's connection");
	r = rs_rule_new(c, 0, 0);
	rs_match_ct_state(r, RS_CT_INVALID);
	r->verdict = RV_DROP;
	comment_fixed(r, "invalid");
	/* before any rule may judge it: a connection to or from a VM is that
	 * VM's only if it was opened since the VM got its address */
	r = rs_rule_new(c, 0, 0);
	rs_match_ct_state(r, RS_CT_ESTABLISHED);
	rs_match_set(r, RK_IIFNAME, RO_VMAP, "born_vm");
	comment_fixed(r, "from a VM: not a connection of its address's earlier holder");
	r = rs_rule_new(c, 0, 0);
	rs_match_ct_state(r, RS_CT_ESTABLISHED);
	rs_match_set(r, RK_OIFNAME, RO_VMAP, "born_vm");
	comment_fixed(r, "to a VM: not a connection of its address's earlier holder");
	r = rs_rule_new(c, 0, 0);
	match_addr(r, RK_CT_ODADDR, RO_EQ, &uplink_net);
	r->verdict = RV_DROP;
	comment_fixed(r, "never the netvm");
	limit_new(c);

	for (int dir = CT_DIR_ORIGINAL; dir <= CT_DIR_REPLY; dir++) {
		enum rs_key ifkey = dir == CT_DIR_ORIGINAL ? RK_IIFNAME : RK_OIFNAME;
		bool orig = dir == CT_DIR_ORIGINAL;
		if (p->net.has & NET_HAS_SUBNET) {
			r = rs_rule_new(c, 0, 0);
			rs_match_u8(r, RK_CT_DIRECTION, RO_EQ, dir);
			match_addr(r, RK_CT_ODADDR, RO_EQ, &p->net.subnet);
			rs_match_set(r, ifkey, RO_VMAP, "local_vm");
			comment_fixed(r, orig ? "VM to VM, from a VM" : "VM to VM, back to a VM");
		}
		if (p->net.has & NET_HAS_SUBNET6) {
			r = rs_rule_new(c, 0, 0);
			rs_match_u8(r, RK_CT_DIRECTION, RO_EQ, dir);
			match_addr(r, RK_CT_ODADDR6, RO_EQ, &p->net.subnet6);
			rs_match_set(r, ifkey, RO_VMAP, "local_vm");
			comment_fixed(r, orig ? "VM to VM (IPv6), from a VM" : "VM to VM (IPv6), back to a VM");
		}
		r = rs_rule_new(c, 0, 0);
		rs_match_u8(r, RK_CT_DIRECTION, RO_EQ, dir);
		rs_match_set(r, ifkey, RO_VMAP, "out_vm");
		comment_fixed(r, orig ? "VM to the world, from a VM" : "VM to the world, back to a VM");
	}

}

/* ---- what the firewall's own processes send ---- */

/* The daemon's DHCPv6 answers go to a VM's link-local address, which the
 * VM may change at will: tracked, each would be a conntrack entry of the
 * firewall's own that no VM's share counts (a VM soliciting from 1,500
 * link-local sources held 768 entries against its 512, red team rt10).
 * They are never tracked (raw priority, before conntrack). */
static void compile_notrack(struct builder *b)
{
	struct rs_chain *c = ruleset_base_chain_new(b->rs, "raw_output", NF_INET_LOCAL_OUT, -300);
	struct rs_rule *r = rs_rule_new(c, 0, 0);
	match_nfproto(r, AF_INET6);
	rs_match_u8(r, RK_L4PROTO, RO_EQ, IPPROTO_UDP);
	rs_match_u16(r, RK_TH_SPORT, 547, 547);
	rs_match_u16(r, RK_TH_DPORT, 546, 546);
	r->notrack = true;
	comment_fixed(r, "DHCPv6 answers: no conntrack entry");
}

/* Fragments from a VM are dropped before conntrack reassembles them
 * (defrag runs at priority -400): reassembly memory is one for all VMs,
 * and one VM's fragments that never complete filled it, so every other
 * VM's fragmented traffic was dropped, before any share or counter saw
 * them (red team rt14). A VM has an MTU of 1500 and path MTU discovery
 * (TCP never fragments); a UDP datagram larger than its link does not get
 * through. IPv6: the fragment header, and the extension headers that
 * could come before it. */
static void compile_fragments(struct builder *b)
{
	struct rs_chain *c = ruleset_base_chain_new(b->rs, "fragments", NF_INET_PRE_ROUTING, -450);
	struct rs_rule *r = rs_rule_new(c, 0, 0);
	rs_match_set(r, RK_IIFNAME, RO_LOOKUP, "vm_links");
	match_nfproto(r, AF_INET);
	struct rs_match *m = rs_match(r, RK_IP_FRAGOFF, RO_ANYBIT);
	m->val[0] = 0x3f;   /* more fragments, or an offset */
	m->val[1] = 0xff;
	r->verdict = RV_DROP;
	comment_fixed(r, "IPv4 fragment from a VM");
	static const uint8_t ext[] = { 0 /* hop-by-hop */, 43 /* routing */, 44 /* fragment */,
				       60 /* destination options */ };
	for (size_t i = 0; i < sizeof(ext); i++) {
		r = rs_rule_new(c, 0, 0);
		rs_match_set(r, RK_IIFNAME, RO_LOOKUP, "vm_links");
		match_nfproto(r, AF_INET6);
		rs_match_u8(r, RK_IP6_NEXTHDR, RO_EQ, ext[i]);
		r->verdict = RV_DROP;
		comment_fixed(r, ext[i] == 44 ? "IPv6 fragment from a VM" : "IPv6 extension header from a VM");
	}
}

static struct rs_rule *dnsmasq_rule(struct rs_chain *c)
{
	struct rs_rule *r = rs_rule_new(c, 0, 0);
	uint32_t uid = MOAT_FW_DNSMASQ_UID;
	memcpy(rs_match(r, RK_SKUID, RO_EQ)->val, &uid, 4);   /* host order */
	return r;
}

/* dnsmasq parses what the VMs and the internet send it, so it may be
 * taken over. Its uid may send what serving DNS and DHCP takes and
 * nothing else: answers to the queries the VMs sent it (the reply
 * direction of their connections, out of a VM's link), DHCP from port 67
 * to port 68 out of a VM's link (broadcast, a new connection to
 * conntrack), and DNS to the netvm. Never a packet
 * of its own to a VM, the netvm or the world. Packets without a socket
 * (the kernel's resets and ICMP errors) have no uid and pass. */
static void compile_output(struct builder *b)
{
	struct rs_chain *c = ruleset_base_chain_new(b->rs, "output", NF_INET_LOCAL_OUT, 0);
	struct rs_rule *r;
	struct addr netvm;
	addr_parse(MOAT_UPLINK_NETVM_ADDR, &netvm, NULL);

	for (int proto = IPPROTO_UDP; ; proto = IPPROTO_TCP) {
		r = dnsmasq_rule(c);
		rs_match_set(r, RK_OIFNAME, RO_LOOKUP, "vm_links");
		rs_match_u8(r, RK_CT_DIRECTION, RO_EQ, CT_DIR_REPLY);
		rs_match_u8(r, RK_L4PROTO, RO_EQ, proto);
		rs_match_u16(r, RK_TH_SPORT, 53, 53);
		r->verdict = RV_ACCEPT;
		comment_fixed(r, "dnsmasq: DNS answers to the VMs");
		if (proto == IPPROTO_TCP)
			break;
	}
	r = dnsmasq_rule(c);
	rs_match_set(r, RK_OIFNAME, RO_LOOKUP, "vm_links");
	match_nfproto(r, AF_INET);
	rs_match_u8(r, RK_L4PROTO, RO_EQ, IPPROTO_UDP);
	rs_match_u16(r, RK_TH_SPORT, 67, 67);
	rs_match_u16(r, RK_TH_DPORT, 68, 68);   /* one load with the source port, as nft */
	r->verdict = RV_ACCEPT;
	comment_fixed(r, "dnsmasq: DHCP to the VMs");
	for (int proto = IPPROTO_UDP; ; proto = IPPROTO_TCP) {
		r = dnsmasq_rule(c);
		rs_match_str(r, RK_OIFNAME, RO_EQ, MOAT_UPLINK_FW_IF);
		match_nfproto(r, AF_INET);
		match_addr(r, RK_IP_DADDR, RO_EQ, &netvm);
		rs_match_u8(r, RK_L4PROTO, RO_EQ, proto);
		rs_match_u16(r, RK_TH_DPORT, 53, 53);
		r->verdict = RV_ACCEPT;
		comment_fixed(r, "dnsmasq: DNS to the netvm");
		if (proto == IPPROTO_TCP)
			break;
	}
	r = dnsmasq_rule(c);
	r->verdict = RV_DROP;
	comment_fixed(r, "dnsmasq: nothing else");
}

/* ---- entry points ---- */

void ruleset_host_set_name(const char *host, int family, char *buf, size_t len)
{
	/* a long host name gets a hash: rules keep set names short */
	const char *pfx = family == AF_INET ? "h4_" : "h6_";
	if (strlen(host) + 3 < RS_SETREF_MAX) {
		snprintf(buf, len, "%s%s", pfx, host);
		return;
	}
	uint64_t h = 1469598103934665603ull;
	for (const char *s = host; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	snprintf(buf, len, "%s%.11s~%016llx", pfx, host, (unsigned long long)h);
}

static void add_host_sets(struct builder *b)
{
	const struct policy *p = b->p;
	for (size_t i = 0; i < p->nvms; i++)
		for (size_t j = 0; j < p->vms[i].nrules; j++) {
			const struct rule *ru = &p->vms[i].rules[j];
			for (size_t d = 0; d < ru->ndests; d++) {
				if (ru->dests[d].kind != DEST_HOST || ru->expired)
					continue;
				for (int fam = AF_INET; ; fam = AF_INET6) {
					char name[RS_NAME_MAX];
					ruleset_host_set_name(ru->dests[d].name, fam, name, sizeof(name));
					if (!ruleset_find_set(b->rs, name)) {
						struct rs_set *s = ruleset_set_new(b->rs, name, fam == AF_INET ? RST_IPV4 : RST_IPV6);
						s->dynamic = true;
						s->timeout_s = RS_HOST_TIMEOUT_S;
					}
					if (fam == AF_INET6 || !(p->net.has & NET_HAS_SUBNET6))
						break;
				}
			}
		}
}

struct ruleset *ruleset_compile(const struct policy *p, const struct ruleset *prev,
				uint32_t generation, const struct rs_history *history)
{
	if (p->nvms > RS_MAX_SLOTS) {
		errno = E2BIG;
		return NULL;
	}
	struct ruleset *rs = calloc(1, sizeof(*rs));
	if (!rs)
		return NULL;
	struct builder b = { .rs = rs, .p = p };
	rs->generation = generation;
	rs->nvms = p->nvms;
	rs->vms = calloc(p->nvms ? p->nvms : 1, sizeof(*rs->vms));
	if (!rs->vms) {
		free(rs);
		return NULL;
	}

	compile_base(&b);
	compile_output(&b);
	compile_notrack(&b);
	compile_fragments(&b);
	const char *maps[] = { "pre_vm", "in_vm", "out_vm", "local_vm", "own_vm", "resp_vm", "born_vm",
			       "lim_vm" };
	const char *chains[] = { "pre_", "in_", "out_", "local_", "own_", "resp_", "born_", "lim_" };
	const int nmaps = sizeof(maps) / sizeof(maps[0]);
	for (int k = 0; k < nmaps; k++)
		ruleset_set_new(rs, maps[k], RST_IFNAME_VMAP);
	ruleset_set_new(rs, "live", RST_MARK_VMAP);
	ruleset_set_new(rs, "vm_links", RST_IFNAME);
	add_host_sets(&b);

	for (size_t i = 0; i < p->nvms; i++) {
		const struct vm *v = &p->vms[i];
		snprintf(rs->vms[i].name, sizeof(rs->vms[i].name), "%s", v->name);
		memcpy(rs->vms[i].addr, v->addr.bytes, sizeof(rs->vms[i].addr));
		if (v->has_addr6)
			memcpy(rs->vms[i].addr6, v->addr6.bytes, sizeof(rs->vms[i].addr6));
		rs->vms[i].fingerprint = marks_fingerprint(p, v);
		int old = ruleset_find_vm(prev, v->name);
		if (old >= 0 && prev->vms[old].fingerprint == rs->vms[i].fingerprint) {
			marks_reuse_chains(rs, prev, v, i);
		} else {
			compile_pre(&b, v, i);
			compile_in(&b, v, i);
			compile_forward(&b, v, i);
			compile_limit(&b, v, i);
		}
		struct rs_set *links = (struct rs_set *)ruleset_find_set(rs, "vm_links");
		memcpy(rs_elem_add(links)->key, v->name, strnlen(v->name, 15));
		for (int k = 0; k < nmaps; k++) {
			char cn[RS_NAME_MAX];
			snprintf(cn, sizeof(cn), "%s%s", chains[k], v->name);
			rs_vmap_add((struct rs_set *)ruleset_find_set(rs, maps[k]), v->name, cn);
		}
	}
	ruleset_index(rs);
	marks_assign(rs, p, prev, history);

	struct rs_set *live = (struct rs_set *)ruleset_find_set(rs, "live");
	for (size_t i = 0; i < rs->nvms; i++) {
		uint32_t m = rs->vms[i].mark;
		struct rs_elem *e = rs_elem_add(live);
		memcpy(e->key, &m, 4);   /* host order, like ct mark */
		char cn[RS_NAME_MAX];
		snprintf(cn, sizeof(cn), "exp_%s", rs->vms[i].name);
		if (ruleset_find_chain(rs, cn))
			snprintf(e->chain, sizeof(e->chain), "%s", cn);
	}
	return rs;
}



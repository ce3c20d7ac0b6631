/* render.c: a ruleset as nft text. `nft -f` of this text builds the same
 * table as the libnftnl batch (tests/netns checks both list the same). */
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <string.h>

#include "policy/ruleset.h"

static const char *proto_name(uint8_t p)
{
	switch (p) {
	case IPPROTO_TCP: return "tcp";
	case IPPROTO_UDP: return "udp";
	case IPPROTO_ICMP: return "icmp";
	case IPPROTO_ICMPV6: return "ipv6-icmp";
	default: return NULL;
	}
}

static void render_addr(FILE *out, int family, const struct rs_match *m)
{
	struct addr a = { .family = family, .prefix = m->plen };
	memcpy(a.bytes, m->val, family == AF_INET ? 4 : 16);
	if (m->op != RO_PREFIX)
		a.prefix = family == AF_INET ? 32 : 128;
	char buf[64];
	addr_format(&a, buf, sizeof(buf));
	fputs(buf, out);
}

static void render_value(FILE *out, const struct rs_match *m)
{
	uint16_t v16 = m->val[0] << 8 | m->val[1];
	uint16_t hi16 = m->val2[0] << 8 | m->val2[1];
	uint32_t v32;

	switch ((enum rs_key)m->key) {
	case RK_NFPROTO:
		fputs(m->val[0] == NFPROTO_IPV4 ? "ipv4" : "ipv6", out);
		break;
	case RK_L4PROTO: {
		const char *n = proto_name(m->val[0]);
		if (n)
			fputs(n, out);
		else
			fprintf(out, "%u", m->val[0]);
		break;
	}
	case RK_IIFNAME:
	case RK_OIFNAME:
		fprintf(out, "\"%.16s\"", (const char *)m->val);
		break;
	case RK_IIFTYPE:
		fputs("ether", out);
		break;
	case RK_ETHER_SADDR:
		fprintf(out, "%02x:%02x:%02x:%02x:%02x:%02x", m->val[0], m->val[1],
			m->val[2], m->val[3], m->val[4], m->val[5]);
		break;
	case RK_IP_SADDR:
	case RK_IP_DADDR:
	case RK_CT_ODADDR:
		render_addr(out, AF_INET, m);
		break;
	case RK_IP6_SADDR:
	case RK_IP6_DADDR:
	case RK_CT_ODADDR6:
		render_addr(out, AF_INET6, m);
		break;
	case RK_TH_SPORT:
	case RK_TH_DPORT:
	case RK_CT_OPROTO_DST:
		if (m->op == RO_RANGE)
			fprintf(out, "%u-%u", v16, hi16);
		else
			fprintf(out, "%u", v16);
		break;
	case RK_ICMP_TYPE:
	case RK_ICMP6_TYPE:
		fprintf(out, "%u", m->val[0]);
		break;
	case RK_CT_STATE: {
		memcpy(&v32, m->val, 4);
		const char *names[] = { "invalid", "established", "related", "new" };
		const char *sep = "";
		for (int i = 0; i < 4; i++)
			if (v32 & (1u << i)) {
				fprintf(out, "%s%s", sep, names[i]);
				sep = ",";
			}
		break;
	}
	case RK_CT_DIRECTION:
		fputs(m->val[0] ? "reply" : "original", out);
		break;
	case RK_CT_MARK:
		memcpy(&v32, m->val, 4);
		fprintf(out, "0x%08x", v32);
		break;
	case RK_META_TIME: {   /* seconds since the epoch: nft reads them in any TZ */
		uint64_t ns = 0;
		for (int i = 0; i < 8; i++)
			ns = ns << 8 | m->val[i];
		fprintf(out, "%llu", (unsigned long long)(ns / 1000000000ull));
		break;
	}
	case RK_DHCP_GIADDR:
		fprintf(out, "0x%02x%02x%02x%02x", m->val[0], m->val[1], m->val[2], m->val[3]);
		break;
	case RK_DHCP6_TYPE:
		if (m->op == RO_RANGE)
			fprintf(out, "%u-%u", m->val[0], m->val2[0]);
		else
			fprintf(out, "%u", m->val[0]);
		break;
	case RK_SKUID:
		memcpy(&v32, m->val, 4);
		fprintf(out, "%u", v32);
		break;
	case RK_META_MARK:
		memcpy(&v32, m->val, 4);
		fprintf(out, "0x%08x", v32);
		break;
	case RK_FIB_DADDR_TYPE: {
		static const char *const types[] = { [RTN_UNICAST] = "unicast", [RTN_LOCAL] = "local",
			[RTN_BROADCAST] = "broadcast", [RTN_ANYCAST] = "anycast", [RTN_MULTICAST] = "multicast" };
		memcpy(&v32, m->val, 4);
		if (v32 < sizeof(types) / sizeof(types[0]) && types[v32])
			fputs(types[v32], out);
		else
			fprintf(out, "%u", v32);
		break;
	}
	case RK_DHCP_CHADDR:
		fprintf(out, "0x%02x%02x%02x%02x%02x%02x", m->val[0], m->val[1], m->val[2],
			m->val[3], m->val[4], m->val[5]);
		break;
	case RK_IP_FRAGOFF:   /* with RO_ANYBIT: the mask (render_match says != 0) */
		fprintf(out, "0x%02x%02x", m->val[0], m->val[1]);
		break;
	case RK_IP6_NEXTHDR:
		fprintf(out, "%u", m->val[0]);
		break;
	case RK__COUNT:
		break;
	}
}

static void render_match(FILE *out, const struct rs_match *m)
{
	fputs(rs_keys[m->key].text, out);
	switch ((enum rs_op)m->op) {
	case RO_LOOKUP:
		fprintf(out, " @%s", m->set);
		return;
	case RO_NOT_LOOKUP:
		fprintf(out, " != @%s", m->set);
		return;
	case RO_VMAP:
		fprintf(out, " vmap @%s", m->set);
		return;
	case RO_NE:
		fputs(" !=", out);
		break;
	case RO_LT:
		fputs(" <", out);
		break;
	case RO_EQ:
	case RO_RANGE:
	case RO_PREFIX:
	case RO_ANYBIT:
		break;
	}
	if (m->op == RO_ANYBIT && m->key != RK_CT_STATE) {
		/* a payload's bits: "ip frag-off & 0x3fff != 0" */
		fputs(" & ", out);
		render_value(out, m);
		fputs(" != 0", out);
		return;
	}
	fputc(' ', out);
	render_value(out, m);
}

void ruleset_render_rule(FILE *out, const struct ruleset *rs, const struct rs_chain *c,
			 const struct rs_rule *r)
{
	const char *sep = "";
	if (r->match_mark) {
		fprintf(out, "ct mark 0x%08x", rs->vms[c->vm].mark);
		sep = " ";
	}
	if (r->below_birth) {
		fprintf(out, "%sct mark < 0x%08x", sep, rs->vms[c->vm].birth);
		sep = " ";
	}
	for (int i = 0; i < r->nm; i++) {
		fputs(sep, out);
		render_match(out, &r->m[i]);
		sep = " ";
	}
	if (r->limit) {
		fprintf(out, "%slimit rate %d/second burst %d packets", sep, RS_LOG_RATE, RS_LOG_BURST);
		sep = " ";
	}
	if (r->count_over) {
		fprintf(out, "%sct count over %u", sep, r->count_over);
		sep = " ";
	}
	if (r->over_rate) {
		fprintf(out, "%slimit rate over %u/second burst %u packets", sep, r->over_rate, r->over_burst);
		sep = " ";
	}
	fprintf(out, "%scounter", sep);
	if (r->meta_mark)
		fprintf(out, " meta mark set 0x%08x", r->meta_mark);
	if (r->masquerade)
		fputs(" masquerade", out);
	if (r->notrack)
		fputs(" notrack", out);
	if (r->queue == RQ_NFT)
		fprintf(out, " queue %sto %u", r->queue_no_bypass ? "" : "flags bypass ", r->queue_num);
	else if (r->queue == RQ_XT)   /* as nft lists it; nft -f cannot load it */
		fputs(" xt target \"NFQUEUE\"", out);
	char text[160];
	if (r->log) {
		ruleset_log_prefix(rs, c, r, text, sizeof(text));
		fprintf(out, " log prefix \"%s\" group %d", text, RS_LOG_GROUP);
	}
	if (r->set_mark)
		fprintf(out, " ct mark set 0x%08x", rs->vms[c->vm].mark);
	switch (r->verdict) {
	case RV_NONE: break;
	case RV_ACCEPT: fputs(" accept", out); break;
	case RV_DROP: fputs(" drop", out); break;
	case RV_RETURN: fputs(" return", out); break;
	case RV_REJECT_TCP: fputs(" reject with tcp reset", out); break;
	case RV_REJECT_ICMPX: fputs(" reject with icmpx admin-prohibited", out); break;
	case RV_GOTO_ACCEPT: fprintf(out, " goto acc_%s", rs->vms[c->vm].name); break;
	}
	ruleset_rule_comment(rs, c, r, text, sizeof(text));
	if (text[0])
		fprintf(out, " comment \"%s\"", text);
}

static void render_key(FILE *out, const struct rs_set *s, const struct rs_elem *e)
{
	struct rs_match m = { 0 };
	memcpy(m.val, e->key, sizeof(e->key));
	switch (s->type) {
	case RST_IFNAME:
		fprintf(out, "\"%.16s\"", (const char *)e->key);
		break;
	case RST_IFNAME_VMAP:
		fprintf(out, "\"%.16s\" : jump %s", (const char *)e->key, e->chain);
		break;
	case RST_MARK:
		m.key = RK_CT_MARK;
		render_value(out, &m);
		break;
	case RST_MARK_VMAP:
		m.key = RK_CT_MARK;
		render_value(out, &m);
		if (e->chain[0])
			fprintf(out, " : jump %s", e->chain);
		else
			fputs(" : accept", out);
		break;
	case RST_IPV4:
		render_addr(out, AF_INET, &m);
		break;
	case RST_IPV6:
		render_addr(out, AF_INET6, &m);
		break;
	}
}

static void render_set(FILE *out, const struct rs_set *s)
{
	static const char *types[] = {
		[RST_IFNAME] = "ifname", [RST_IFNAME_VMAP] = "ifname : verdict", [RST_MARK] = "mark",
		[RST_MARK_VMAP] = "mark : verdict", [RST_IPV4] = "ipv4_addr", [RST_IPV6] = "ipv6_addr",
	};
	bool vmap = s->type == RST_IFNAME_VMAP || s->type == RST_MARK_VMAP;
	fprintf(out, "\t%s %s {\n\t\ttype %s\n", vmap ? "map" : "set", s->name, types[s->type]);
	if (s->timeout_s)
		fprintf(out, "\t\tflags timeout\n\t\ttimeout %us\n", s->timeout_s);
	if (s->nelems) {
		fputs("\t\telements = { ", out);
		for (size_t i = 0; i < s->nelems; i++) {
			if (i)
				fputs(",\n\t\t\t     ", out);
			render_key(out, s, &s->elems[i]);
		}
		fputs(" }\n", out);
	}
	fputs("\t}\n", out);
}

static const char *hook_name(int hook)
{
	switch (hook) {
	case NF_INET_PRE_ROUTING: return "prerouting";
	case NF_INET_LOCAL_IN: return "input";
	case NF_INET_FORWARD: return "forward";
	case NF_INET_LOCAL_OUT: return "output";
	default: return "postrouting";
	}
}

static void render_chain(FILE *out, const struct ruleset *rs, const struct rs_chain *c)
{
	fprintf(out, "\n\tchain %s {\n", c->name);
	if (c->base)
		fprintf(out, "\t\ttype %s hook %s priority %d; policy %s;\n", c->nat ? "nat" : "filter",
			hook_name(c->hook), c->prio, c->policy_drop ? "drop" : "accept");
	for (size_t j = 0; j < c->nrules; j++) {
		fputs("\t\t", out);
		ruleset_render_rule(out, rs, c, &c->rules[j]);
		fputc('\n', out);
	}
	fputs("\t}\n", out);
}

void ruleset_render(FILE *out, const struct ruleset *rs, int only_vm)
{
	if (only_vm >= 0) {
		fprintf(out, "# the chains of VM %s in table inet %s\n", rs->vms[only_vm].name, ruleset_table(rs));
		for (size_t i = 0; i < rs->nchains; i++)
			if (rs->chains[i].vm == only_vm)
				render_chain(out, rs, &rs->chains[i]);
		return;
	}
	if (!rs->table)
		fprintf(out, "# generation %u; moat-firewalld loads this table with flags owner, persist\n",
			rs->generation);
	fprintf(out, "table inet %s {\n", ruleset_table(rs));
	for (size_t i = 0; i < rs->nsets; i++)
		render_set(out, &rs->sets[i]);
	for (size_t i = 0; i < rs->nchains; i++)
		render_chain(out, rs, &rs->chains[i]);
	fputs("}\n", out);
}

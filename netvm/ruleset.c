/* ruleset.c: table inet moat-net, the netvm's one table, built in the same
 * model as the firewall's (policy/ruleset.h), so the same code renders it as
 * nft text and as one libnftnl batch. The ruleset is fixed but for the NIC's
 * name and the host's addresses, so it is written here rule by rule rather
 * than compiled. Every rule carries a comment: the counters are found by it.
 *
 * Never the host: behind QEMU's user network the gateway is the host's
 * loopback and any other address is connected to by the host, and on a tap
 * or a shared LAN the host is a neighbour. So the forward chain starts by
 * dropping whatever goes to the addresses netctl says are the host's (and
 * QEMU's whole user network), and forwards nothing before it has heard them.
 *
 * In postrouting the input interface is gone, so "came from the firewall
 * link" is a packet mark set by the forward rule that let it through.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/batch.h"
#include "netvm/netd.h"
#include "policy/ruleset.h"

#define HOST_COMMENT "to the host"

/* A rule of CHAIN with COMMENT and VERDICT; IPV4: for IPv4 only. */
static struct rs_rule *rule(struct rs_chain *c, const char *comment, enum rs_verdict verdict, bool ipv4)
{
	struct rs_rule *r = rs_rule_new(c, 0, 0);
	r->what = comment;
	r->verdict = verdict;
	if (ipv4)
		rs_match_u8(r, RK_NFPROTO, RO_EQ, NFPROTO_IPV4);
	return r;
}

static void match_addr4(struct rs_rule *r, enum rs_key key, const char *addr)
{
	inet_pton(AF_INET, addr, rs_match(r, key, RO_EQ)->val);
}

static void match_port(struct rs_rule *r, enum rs_key key, uint16_t port)
{
	rs_match_u16(r, key, port, port);
}

/* iif/oif IFNAME, ip saddr SADDR (or NULL), l4proto PROTO, th dport PORT: accept */
static void accept_l4(struct rs_chain *c, enum rs_key ifkey, const char *ifname, const char *saddr,
		      uint8_t proto, uint16_t port, const char *comment)
{
	struct rs_rule *r = rule(c, comment, RV_ACCEPT, true);
	rs_match_str(r, ifkey, RO_EQ, ifname);
	if (saddr)
		match_addr4(r, RK_IP_SADDR, saddr);
	rs_match_u8(r, RK_L4PROTO, RO_EQ, proto);
	match_port(r, RK_TH_DPORT, port);
}

static void accept_established(struct rs_chain *c, const char *comment)
{
	rs_match_ct_state(rule(c, comment, RV_ACCEPT, false), RS_CT_ESTABLISHED | RS_CT_RELATED);
}

/* ---- the host, never forwarded to ---- */

/* Sets host4 and host6 with HOSTS's addresses, a drop for each, and a drop
 * for each of its networks: first in the forward chain, so no allow can
 * come before them. */
static void host_drops(struct ruleset *rs, struct rs_chain *fwd, const struct netd_hosts *hosts)
{
	static const struct { const char *set; int family; enum rs_set_type type; enum rs_key key; int nfproto; } sets[] = {
		{ "host4", AF_INET, RST_IPV4, RK_IP_DADDR, NFPROTO_IPV4 },
		{ "host6", AF_INET6, RST_IPV6, RK_IP6_DADDR, NFPROTO_IPV6 },
	};
	for (size_t s = 0; s < sizeof(sets) / sizeof(sets[0]); s++) {
		struct rs_set *set = ruleset_set_new(rs, sets[s].set, sets[s].type);
		for (size_t i = 0; hosts && i < hosts->n; i++) {
			const struct netd_host *h = &hosts->v[i];
			if (h->family == sets[s].family && hostaddrs_full(h))
				memcpy(rs_elem_add(set)->key, h->addr, h->family == AF_INET ? 4 : 16);
		}
		struct rs_rule *r = rule(fwd, HOST_COMMENT, RV_DROP, false);
		rs_match_u8(r, RK_NFPROTO, RO_EQ, sets[s].nfproto);
		rs_match_set(r, sets[s].key, RO_LOOKUP, sets[s].set);
	}
	for (size_t i = 0; hosts && i < hosts->n; i++) {
		const struct netd_host *h = &hosts->v[i];
		if (hostaddrs_full(h))
			continue;
		bool v4 = h->family == AF_INET;
		struct rs_rule *r = rule(fwd, HOST_COMMENT, RV_DROP, false);
		rs_match_u8(r, RK_NFPROTO, RO_EQ, v4 ? NFPROTO_IPV4 : NFPROTO_IPV6);
		struct rs_match *m = rs_match(r, v4 ? RK_IP_DADDR : RK_IP6_DADDR, RO_PREFIX);
		memcpy(m->val, h->addr, v4 ? 4 : 16);
		m->plen = h->prefix;
	}
}

/* ---- the two tables ---- */

struct ruleset *netd_ruleset(const char *nic, const struct netd_hosts *hosts)
{
	if (nic && (!*nic || strlen(nic) >= IFNAMSIZ))
		return NULL;
	struct ruleset *rs = ruleset_new(NETD_TABLE);
	struct rs_chain *in = ruleset_base_chain_new(rs, "input", NF_INET_LOCAL_IN, 0);
	struct rs_chain *fwd = ruleset_base_chain_new(rs, "forward", NF_INET_FORWARD, 0);
	struct rs_chain *out = ruleset_base_chain_new(rs, "output", NF_INET_LOCAL_OUT, 0);
	in->policy_drop = fwd->policy_drop = out->policy_drop = true;
	rs_match_str(rule(in, "loopback", RV_ACCEPT, false), RK_IIFNAME, RO_EQ, "lo");
	rs_match_str(rule(out, "loopback", RV_ACCEPT, false), RK_OIFNAME, RO_EQ, "lo");
	if (nic) {
		accept_established(in, "replies");
		accept_l4(in, RK_IIFNAME, MOAT_UPLINK_NETVM_IF, MOAT_UPLINK_FW_ADDR, IPPROTO_UDP, 53, "dns from the firewall");
		accept_l4(in, RK_IIFNAME, MOAT_UPLINK_NETVM_IF, MOAT_UPLINK_FW_ADDR, IPPROTO_TCP, 53, "dns from the firewall");
		struct rs_rule *r = rule(in, "ping from the firewall", RV_ACCEPT, true);
		rs_match_str(r, RK_IIFNAME, RO_EQ, MOAT_UPLINK_NETVM_IF);
		match_addr4(r, RK_IP_SADDR, MOAT_UPLINK_FW_ADDR);
		rs_match_u8(r, RK_L4PROTO, RO_EQ, IPPROTO_ICMP);
		rs_match_u8(r, RK_ICMP_TYPE, RO_EQ, 8 /* echo request */);
		/* an offer or ack to a broadcast is no conntrack reply */
		r = rule(in, "dhcp replies", RV_ACCEPT, true);
		rs_match_str(r, RK_IIFNAME, RO_EQ, nic);
		rs_match_u8(r, RK_L4PROTO, RO_EQ, IPPROTO_UDP);
		match_port(r, RK_TH_SPORT, 67);
		match_port(r, RK_TH_DPORT, 68);

		/* the host first; until its addresses are known, nothing passes */
		host_drops(rs, fwd, hosts);
		if (hosts) {
			r = rule(fwd, "forwarded", RV_ACCEPT, true);
			rs_match_str(r, RK_IIFNAME, RO_EQ, MOAT_UPLINK_NETVM_IF);
			rs_match_str(r, RK_OIFNAME, RO_EQ, nic);
			r->meta_mark = NETD_MARK;
			r = rule(fwd, "replies forwarded", RV_ACCEPT, false);
			rs_match_str(r, RK_IIFNAME, RO_EQ, nic);
			rs_match_str(r, RK_OIFNAME, RO_EQ, MOAT_UPLINK_NETVM_IF);
			rs_match_ct_state(r, RS_CT_ESTABLISHED | RS_CT_RELATED);
		}

		accept_established(out, "replies");
		accept_l4(out, RK_OIFNAME, nic, NULL, IPPROTO_UDP, 67, "dhcp");
		accept_l4(out, RK_OIFNAME, nic, NULL, IPPROTO_UDP, 53, "dns upstream");
		accept_l4(out, RK_OIFNAME, nic, NULL, IPPROTO_TCP, 53, "dns upstream");

		struct rs_chain *post = ruleset_base_chain_new(rs, "postrouting", NF_INET_POST_ROUTING, 100);
		post->nat = true;
		r = rule(post, "nat", RV_NONE, true);
		rs_match_str(r, RK_OIFNAME, RO_EQ, nic);
		rs_match_u32(r, RK_META_MARK, RO_EQ, NETD_MARK);
		r->masquerade = true;
	}
	rule(in, "dropped input", RV_DROP, false);
	rule(fwd, "dropped forward", RV_DROP, false);
	rule(out, "dropped output", RV_DROP, false);
	ruleset_index(rs);
	return rs;
}

void netd_batch_closed(struct nl_batch *b, uint32_t table_flags)
{
	struct ruleset *rs = netd_ruleset(NULL, NULL);
	batch_ruleset_full(b, rs, table_flags);
	ruleset_free(rs);
}

bool netd_batch_open(struct nl_batch *b, const char *nic, uint32_t table_flags,
		     const struct netd_hosts *hosts)
{
	struct ruleset *rs = netd_ruleset(nic, hosts);
	if (!rs)
		return false;
	batch_ruleset_full(b, rs, table_flags);
	ruleset_free(rs);
	return true;
}

/* ---- counters ---- */

static int expr_cb(struct nftnl_expr *e, void *data)
{
	uint64_t *packets = data;
	const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
	if (name && strcmp(name, "counter") == 0)
		*packets += nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS);
	return MNL_CB_OK;
}

static int udata_cb(const struct nftnl_udata *attr, void *data)
{
	const char **comment = data;
	const char *s = nftnl_udata_get(attr);
	uint8_t len = nftnl_udata_len(attr);
	if (nftnl_udata_type(attr) == NFTNL_UDATA_RULE_COMMENT && len && s[len - 1] == 0)
		*comment = s;
	return MNL_CB_OK;
}

static int rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct netd_counters *c = data;
	struct nftnl_rule *r = nftnl_rule_alloc();
	if (!r)
		return MNL_CB_ERROR;
	if (nftnl_rule_nlmsg_parse(nlh, r) == 0) {
		uint64_t packets = 0;
		const char *comment = NULL;
		uint32_t ulen = 0;
		const void *u = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &ulen);
		nftnl_expr_foreach(r, expr_cb, &packets);
		if (u)
			nftnl_udata_parse(u, ulen, udata_cb, &comment);
		static const struct { const char *comment; size_t off; } slots[] = {
			{ "nat", offsetof(struct netd_counters, nat) },
			{ "forwarded", offsetof(struct netd_counters, forwarded) },
			{ "replies forwarded", offsetof(struct netd_counters, replies) },
			{ "dropped input", offsetof(struct netd_counters, dropped_in) },
			{ "dropped forward", offsetof(struct netd_counters, dropped_fwd) },
			{ "dropped output", offsetof(struct netd_counters, dropped_out) },
			{ HOST_COMMENT, offsetof(struct netd_counters, to_host) },
		};
		for (size_t i = 0; comment && i < sizeof(slots) / sizeof(slots[0]); i++)
			if (strcmp(comment, slots[i].comment) == 0)
				*(uint64_t *)((char *)c + slots[i].off) += packets;
	}
	nftnl_rule_free(r);
	return MNL_CB_OK;
}

int netd_counters_read(struct netd_counters *c)
{
	memset(c, 0, sizeof(*c));
	return nft_dump_rules(NETD_TABLE, rule_cb, c);
}

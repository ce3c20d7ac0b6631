/* ruleset.c: table inet moat-net, the netvm's one table, as libnftnl
 * messages in one nl_batch (policy/batch.h sends it). The ruleset is fixed
 * but for the NIC's name and the host's addresses, so it is written here
 * rule by rule rather than compiled. Every rule carries a comment: the
 * counters are found by it.
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
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch.h"
#include "netd.h"

static void table_msg(struct nl_batch *b, uint16_t type, uint32_t flags)
{
	struct nftnl_table *t = nftnl_table_alloc();
	if (!t)
		abort();
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, NETD_TABLE);
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	if (type == NFT_MSG_NEWTABLE)
		nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, flags);
	struct nlmsghdr *nlh = batch_msg(b, type, type == NFT_MSG_NEWTABLE ? NLM_F_CREATE : 0,
				   "table inet " NETD_TABLE);
	nftnl_table_nlmsg_build_payload(nlh, t);
	batch_msg_done(b, nlh);
	nftnl_table_free(t);
}

static void chain_msg(struct nl_batch *b, const char *name, const char *type, int hook, int prio,
		      bool drop)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	if (!c)
		abort();
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, NETD_TABLE);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, type);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, (uint32_t)hook);
	nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, prio);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, drop ? NF_DROP : NF_ACCEPT);
	char what[64];
	snprintf(what, sizeof(what), "chain %s", name);
	struct nlmsghdr *nlh = batch_msg(b, NFT_MSG_NEWCHAIN, NLM_F_CREATE, what);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	batch_msg_done(b, nlh);
	nftnl_chain_free(c);
}

/* ---- expressions ---- */

/* an expression without attributes: counter, masq */
static void add(struct nftnl_rule *r, const char *name)
{
	struct nftnl_expr *e = nftnl_expr_alloc(name);
	if (!e)
		abort();
	nftnl_rule_add_expr(r, e);
}

static void meta_load(struct nftnl_rule *r, uint32_t key)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");
	if (!e)
		abort();
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	nftnl_rule_add_expr(r, e);
}

static void payload_load(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");
	if (!e)
		abort();
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	nftnl_rule_add_expr(r, e);
}

static void cmp(struct nftnl_rule *r, uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");
	if (!e)
		abort();
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	nftnl_rule_add_expr(r, e);
}

static void match_ifname(struct nftnl_rule *r, uint32_t key, const char *name)
{
	char buf[IFNAMSIZ] = { 0 };
	memcpy(buf, name, strlen(name));
	meta_load(r, key);
	cmp(r, NFT_CMP_EQ, buf, sizeof(buf));
}

static void match_u8(struct nftnl_rule *r, uint32_t key, uint8_t v)
{
	meta_load(r, key);
	cmp(r, NFT_CMP_EQ, &v, 1);
}

static void match_saddr(struct nftnl_rule *r, const char *addr)
{
	struct in_addr a;
	inet_pton(AF_INET, addr, &a);
	payload_load(r, NFT_PAYLOAD_NETWORK_HEADER, 12, 4);
	cmp(r, NFT_CMP_EQ, &a, 4);
}

static void match_port(struct nftnl_rule *r, uint32_t off, uint16_t port)
{
	uint16_t be = htons(port);
	payload_load(r, NFT_PAYLOAD_TRANSPORT_HEADER, off, 2);
	cmp(r, NFT_CMP_EQ, &be, 2);
}

/* reg 1 &= MASK (LEN bytes) */
static void bitwise(struct nftnl_rule *r, const void *mask, uint32_t len)
{
	static const uint8_t zero[16];
	struct nftnl_expr *e = nftnl_expr_alloc("bitwise");
	if (!e)
		abort();
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, len);
	nftnl_rule_add_expr(r, e);
}

static void match_established(struct nftnl_rule *r)
{
	struct nftnl_expr *e = nftnl_expr_alloc("ct");
	if (!e)
		abort();
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_STATE);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	nftnl_rule_add_expr(r, e);
	uint32_t mask = NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED), zero = 0;
	bitwise(r, &mask, 4);
	cmp(r, NFT_CMP_NEQ, &zero, 4);
}

static void match_mark(struct nftnl_rule *r)
{
	uint32_t m = NETD_MARK;
	meta_load(r, NFT_META_MARK);
	cmp(r, NFT_CMP_EQ, &m, 4);
}

static void set_mark(struct nftnl_rule *r)
{
	uint32_t m = NETD_MARK;
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");
	if (!e)
		abort();
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_1);
	nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, &m, 4);
	nftnl_rule_add_expr(r, e);
	e = nftnl_expr_alloc("meta");
	if (!e)
		abort();
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, NFT_META_MARK);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_SREG, NFT_REG_1);
	nftnl_rule_add_expr(r, e);
}

static void verdict(struct nftnl_rule *r, int v)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");
	if (!e)
		abort();
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)v);
	nftnl_rule_add_expr(r, e);
}

static void match_daddr(struct nftnl_rule *r, const struct netd_host *h)
{
	bool v4 = h->family == AF_INET;
	uint32_t len = v4 ? 4 : 16;
	payload_load(r, NFT_PAYLOAD_NETWORK_HEADER, v4 ? 16 : 24, len);
	if (hostaddrs_full(h)) {
		cmp(r, NFT_CMP_EQ, h->addr, len);
		return;
	}
	uint8_t mask[16] = { 0 };
	for (int i = 0; i < (int)len; i++) {
		int keep = h->prefix - 8 * i;
		mask[i] = keep >= 8 ? 0xff : keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
	}
	bitwise(r, mask, len);
	cmp(r, NFT_CMP_EQ, h->addr, len);
}

static void lookup(struct nftnl_rule *r, const char *set)
{
	struct nftnl_expr *e = nftnl_expr_alloc("lookup");
	if (!e)
		abort();
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
	nftnl_rule_add_expr(r, e);
}

/* ---- rules ---- */

enum r_flags { R_COUNT = 1, R_V4 = 2, R_V6 = 4 };

static struct nftnl_rule *rule_new(const char *chain, unsigned flags)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	if (!r)
		abort();
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, NETD_TABLE);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	if (flags & R_V4)
		match_u8(r, NFT_META_NFPROTO, NFPROTO_IPV4);
	if (flags & R_V6)
		match_u8(r, NFT_META_NFPROTO, NFPROTO_IPV6);
	return r;
}

static void rule_msg(struct nl_batch *b, struct nftnl_rule *r, const char *comment, unsigned flags,
		     int v)
{
	if (flags & R_COUNT)
		add(r, "counter");
	if (v != -1)
		verdict(r, v);
	struct nftnl_udata_buf *u = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);
	if (!u || !nftnl_udata_put_strz(u, NFTNL_UDATA_RULE_COMMENT, comment))
		abort();
	nftnl_rule_set_data(r, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(u), nftnl_udata_buf_len(u));
	nftnl_udata_buf_free(u);
	char what[96];
	snprintf(what, sizeof(what), "rule \"%s\"", comment);
	struct nlmsghdr *nlh = batch_msg(b, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, what);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	batch_msg_done(b, nlh);
	nftnl_rule_free(r);
}

static void rule_loopback(struct nl_batch *b, const char *chain, uint32_t key)
{
	struct nftnl_rule *r = rule_new(chain, 0);
	match_ifname(r, key, "lo");
	rule_msg(b, r, "loopback", 0, NF_ACCEPT);
}

static void rule_established(struct nl_batch *b, const char *chain, const char *comment)
{
	struct nftnl_rule *r = rule_new(chain, 0);
	match_established(r);
	rule_msg(b, r, comment, 0, NF_ACCEPT);
}

/* chain: iif/oif ifname, l4proto, port at offset (or -1), comment */
static void rule_l4(struct nl_batch *b, const char *chain, uint32_t ifkey, const char *ifname,
		    const char *saddr, uint8_t proto, int off, uint16_t port, const char *comment)
{
	struct nftnl_rule *r = rule_new(chain, R_V4);
	match_ifname(r, ifkey, ifname);
	if (saddr)
		match_saddr(r, saddr);
	match_u8(r, NFT_META_L4PROTO, proto);
	if (off >= 0)
		match_port(r, (uint32_t)off, port);
	rule_msg(b, r, comment, 0, NF_ACCEPT);
}

static void rule_drop(struct nl_batch *b, const char *chain, const char *comment)
{
	rule_msg(b, rule_new(chain, 0), comment, R_COUNT, NF_DROP);
}

/* ---- the host, never forwarded to ---- */

#define HOST_COMMENT "to the host"

static const struct { const char *set; int family; unsigned flag; uint32_t off, len; } host_sets[] = {
	{ "host4", AF_INET, R_V4, 16, 4 },
	{ "host6", AF_INET6, R_V6, 24, 16 },
};

/* Sets host4 and host6 with HOSTS's addresses, a drop for each, and a drop
 * for each of its networks: first in the forward chain, so no allow can
 * come before them. */
static void host_drops(struct nl_batch *b, const struct netd_hosts *hosts)
{
	for (size_t s = 0; s < sizeof(host_sets) / sizeof(host_sets[0]); s++) {
		struct rs_set set = { .type = host_sets[s].family == AF_INET ? RST_IPV4 : RST_IPV6 };
		snprintf(set.name, sizeof(set.name), "%s", host_sets[s].set);
		batch_set(b, NFT_MSG_NEWSET, &set);
		struct nftnl_set *ns = nftnl_set_alloc();
		if (!ns)
			abort();
		nftnl_set_set_str(ns, NFTNL_SET_TABLE, NETD_TABLE);
		nftnl_set_set_str(ns, NFTNL_SET_NAME, host_sets[s].set);
		nftnl_set_set_u32(ns, NFTNL_SET_FAMILY, NFPROTO_INET);
		size_t n = 0;
		for (size_t i = 0; hosts && i < hosts->n; i++) {
			const struct netd_host *h = &hosts->v[i];
			if (h->family != host_sets[s].family || !hostaddrs_full(h))
				continue;
			struct nftnl_set_elem *e = nftnl_set_elem_alloc();
			if (!e)
				abort();
			nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, h->addr, host_sets[s].len);
			nftnl_set_elem_add(ns, e);
			n++;
		}
		if (n) {
			char what[64];
			snprintf(what, sizeof(what), "elements of %s", host_sets[s].set);
			struct nlmsghdr *nlh = batch_msg(b, NFT_MSG_NEWSETELEM, NLM_F_CREATE, what);
			nftnl_set_elems_nlmsg_build_payload(nlh, ns);
			batch_msg_done(b, nlh);
		}
		nftnl_set_free(ns);
		struct nftnl_rule *r = rule_new("forward", host_sets[s].flag);
		payload_load(r, NFT_PAYLOAD_NETWORK_HEADER, host_sets[s].off, host_sets[s].len);
		lookup(r, host_sets[s].set);
		rule_msg(b, r, HOST_COMMENT, R_COUNT, NF_DROP);
	}
	for (size_t i = 0; hosts && i < hosts->n; i++) {
		const struct netd_host *h = &hosts->v[i];
		if (hostaddrs_full(h))
			continue;
		struct nftnl_rule *r = rule_new("forward", h->family == AF_INET ? R_V4 : R_V6);
		match_daddr(r, h);
		rule_msg(b, r, HOST_COMMENT, R_COUNT, NF_DROP);
	}
}

static void closed_chains(struct nl_batch *b, uint32_t flags)
{
	table_msg(b, NFT_MSG_NEWTABLE, flags);
	table_msg(b, NFT_MSG_DELTABLE, 0);
	table_msg(b, NFT_MSG_NEWTABLE, flags);
	chain_msg(b, "input", "filter", NF_INET_LOCAL_IN, 0, true);
	chain_msg(b, "forward", "filter", NF_INET_FORWARD, 0, true);
	chain_msg(b, "output", "filter", NF_INET_LOCAL_OUT, 0, true);
	rule_loopback(b, "input", NFT_META_IIFNAME);
}

void netd_batch_closed(struct nl_batch *b, uint32_t table_flags)
{
	batch_begin(b);
	closed_chains(b, table_flags);
	rule_loopback(b, "output", NFT_META_OIFNAME);
	rule_drop(b, "input", "dropped input");
	rule_drop(b, "forward", "dropped forward");
	rule_drop(b, "output", "dropped output");
	batch_end(b);
}

bool netd_batch_open(struct nl_batch *b, const char *nic, uint32_t table_flags,
		     const struct netd_hosts *hosts)
{
	if (!*nic || strlen(nic) >= IFNAMSIZ)
		return false;
	b->table = NETD_TABLE;
	batch_begin(b);
	closed_chains(b, table_flags);
	chain_msg(b, "postrouting", "nat", NF_INET_POST_ROUTING, 100, false);

	rule_established(b, "input", "replies");
	rule_l4(b, "input", NFT_META_IIFNAME, NETD_FW_IF, NETD_FW_PEER, IPPROTO_UDP, 2, 53,
		"dns from the firewall");
	rule_l4(b, "input", NFT_META_IIFNAME, NETD_FW_IF, NETD_FW_PEER, IPPROTO_TCP, 2, 53,
		"dns from the firewall");
	struct nftnl_rule *r = rule_new("input", R_V4);
	match_ifname(r, NFT_META_IIFNAME, NETD_FW_IF);
	match_saddr(r, NETD_FW_PEER);
	match_u8(r, NFT_META_L4PROTO, IPPROTO_ICMP);
	uint8_t echo = 8;
	payload_load(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1);
	cmp(r, NFT_CMP_EQ, &echo, 1);
	rule_msg(b, r, "ping from the firewall", 0, NF_ACCEPT);
	/* an offer or ack to a broadcast is no conntrack reply */
	r = rule_new("input", R_V4);
	match_ifname(r, NFT_META_IIFNAME, nic);
	match_u8(r, NFT_META_L4PROTO, IPPROTO_UDP);
	match_port(r, 0, 67);
	match_port(r, 2, 68);
	rule_msg(b, r, "dhcp replies", 0, NF_ACCEPT);
	rule_drop(b, "input", "dropped input");

	/* the host first; until its addresses are known, nothing passes */
	host_drops(b, hosts);
	if (hosts) {
		r = rule_new("forward", R_V4);
		match_ifname(r, NFT_META_IIFNAME, NETD_FW_IF);
		match_ifname(r, NFT_META_OIFNAME, nic);
		set_mark(r);
		rule_msg(b, r, "forwarded", R_COUNT, NF_ACCEPT);
		r = rule_new("forward", 0);
		match_ifname(r, NFT_META_IIFNAME, nic);
		match_ifname(r, NFT_META_OIFNAME, NETD_FW_IF);
		match_established(r);
		rule_msg(b, r, "replies forwarded", R_COUNT, NF_ACCEPT);
	}
	rule_drop(b, "forward", "dropped forward");

	rule_loopback(b, "output", NFT_META_OIFNAME);
	rule_established(b, "output", "replies");
	rule_l4(b, "output", NFT_META_OIFNAME, nic, NULL, IPPROTO_UDP, 2, 67, "dhcp");
	rule_l4(b, "output", NFT_META_OIFNAME, nic, NULL, IPPROTO_UDP, 2, 53, "dns upstream");
	rule_l4(b, "output", NFT_META_OIFNAME, nic, NULL, IPPROTO_TCP, 2, 53, "dns upstream");
	rule_drop(b, "output", "dropped output");

	r = rule_new("postrouting", R_V4);
	match_ifname(r, NFT_META_OIFNAME, nic);
	match_mark(r);
	add(r, "counter");
	add(r, "masq");
	rule_msg(b, r, "nat", 0, -1);
	batch_end(b);
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

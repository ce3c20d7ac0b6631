/* The host's own addresses, kept from the netvm on the host itself, for
 * `uplink user`. There the netvm's QEMU connect()s on the host for every
 * packet the netvm sends out, so any address the host has is one hop away:
 * the ones it has at `netctl up` (the netvm drops those: HOSTADDRS), and the
 * ones it gains later, on a new Wi-Fi network or a VPN, which the netvm never
 * hears of. Table inet moat_host rejects every packet a socket of the netvm's
 * user sends to an address of the host's (fib daddr type local, which the
 * kernel answers with the addresses of the moment) or to its listeners by
 * broadcast, anycast or multicast, but DNS to the resolvers of
 * /etc/resolv.conf that QEMU's DNS relays the netvm's queries to.
 *
 *   table inet moat_host {
 *     chain output {
 *       type filter hook output priority 0; policy accept;
 *       meta skuid UID meta l4proto udp|tcp ip[6] daddr RESOLVER th dport 53 accept
 *       meta skuid UID fib daddr type local|broadcast|anycast|multicast counter reject
 *     }
 *   }
 *
 * A table of its own, written rule by rule with libnftnl; `netctl up` loads
 * it before the netvm starts, `netctl down` deletes it.
 */
#include <arpa/inet.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "netctl.h"

#define GUARD_TABLE "moat_host"
#define GUARD_CHAIN "output"
#define MAX_RESOLVERS 8

struct resolver {
	int family;
	uint8_t addr[16];
};

static void table_msg(struct nl_batch *b, uint16_t type)
{
	struct nftnl_table *t = nftnl_table_alloc();
	if (!t)
		abort();
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, GUARD_TABLE);
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	if (type == NFT_MSG_NEWTABLE)
		nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, 0);
	struct nlmsghdr *nlh = batch_msg(b, type, type == NFT_MSG_NEWTABLE ? NLM_F_CREATE : 0,
					 "table inet " GUARD_TABLE);
	nftnl_table_nlmsg_build_payload(nlh, t);
	batch_msg_done(b, nlh);
	nftnl_table_free(t);
}

static void chain_msg(struct nl_batch *b)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	if (!c)
		abort();
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, GUARD_TABLE);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, GUARD_CHAIN);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, NF_INET_LOCAL_OUT);
	nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, 0);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	struct nlmsghdr *nlh = batch_msg(b, NFT_MSG_NEWCHAIN, NLM_F_CREATE, "chain " GUARD_CHAIN);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	batch_msg_done(b, nlh);
	nftnl_chain_free(c);
}

static struct nftnl_expr *expr(const char *name)
{
	struct nftnl_expr *e = nftnl_expr_alloc(name);
	if (!e)
		abort();
	return e;
}

static void cmp_eq(struct nftnl_rule *r, const void *data, uint32_t len)
{
	struct nftnl_expr *e = expr("cmp");
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	nftnl_rule_add_expr(r, e);
}

static void meta_eq(struct nftnl_rule *r, uint32_t key, const void *data, uint32_t len)
{
	struct nftnl_expr *e = expr("meta");
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	nftnl_rule_add_expr(r, e);
	cmp_eq(r, data, len);
}

static void payload_eq(struct nftnl_rule *r, uint32_t base, uint32_t off, const void *data, uint32_t len)
{
	struct nftnl_expr *e = expr("payload");
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	nftnl_rule_add_expr(r, e);
	cmp_eq(r, data, len);
}

static struct nftnl_rule *rule_start(uid_t uid)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	if (!r)
		abort();
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, GUARD_TABLE);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, GUARD_CHAIN);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	uint32_t u = (uint32_t)uid;
	meta_eq(r, NFT_META_SKUID, &u, 4);
	return r;
}

static void rule_msg(struct nl_batch *b, struct nftnl_rule *r, const char *what)
{
	struct nlmsghdr *nlh = batch_msg(b, NFT_MSG_NEWRULE, NLM_F_APPEND | NLM_F_CREATE, what);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	batch_msg_done(b, nlh);
	nftnl_rule_free(r);
}

/* meta skuid UID meta l4proto PROTO ip[6] daddr RESOLVER th dport 53 accept */
static void dns_rule(struct nl_batch *b, uid_t uid, const struct resolver *res, uint8_t proto)
{
	struct nftnl_rule *r = rule_start(uid);
	uint8_t nfproto = res->family == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6;
	meta_eq(r, NFT_META_L4PROTO, &proto, 1);
	meta_eq(r, NFT_META_NFPROTO, &nfproto, 1);
	if (res->family == AF_INET)
		payload_eq(r, NFT_PAYLOAD_NETWORK_HEADER, 16, res->addr, 4);
	else
		payload_eq(r, NFT_PAYLOAD_NETWORK_HEADER, 24, res->addr, 16);
	uint16_t port = htons(53);
	payload_eq(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, &port, 2);
	struct nftnl_expr *e = expr("immediate");
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, NF_ACCEPT);
	nftnl_rule_add_expr(r, e);
	rule_msg(b, r, "rule: DNS to the host's resolver");
}

/* meta skuid UID fib daddr type TYPE counter reject */
static void host_rule(struct nl_batch *b, uid_t uid, uint32_t type)
{
	struct nftnl_rule *r = rule_start(uid);
	struct nftnl_expr *e = expr("fib");
	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, NFTA_FIB_F_DADDR);
	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, NFT_REG_1);
	nftnl_rule_add_expr(r, e);
	cmp_eq(r, &type, 4);
	nftnl_rule_add_expr(r, expr("counter"));
	e = expr("reject");
	nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, NFT_REJECT_ICMPX_UNREACH);
	nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, NFT_REJECT_ICMPX_ADMIN_PROHIBITED);
	nftnl_rule_add_expr(r, e);
	rule_msg(b, r, "rule: the netvm's user to the host");
}

/* The nameservers of /etc/resolv.conf (QEMU's DNS relays to them). */
static size_t resolvers(struct resolver *out, size_t max)
{
	FILE *f = fopen("/etc/resolv.conf", "re");
	size_t n = 0;
	char line[512], addr[INET6_ADDRSTRLEN + 1];
	while (f && n < max && fgets(line, sizeof(line), f)) {
		if (sscanf(line, " nameserver %46s", addr) != 1)
			continue;
		char *zone = strchr(addr, '%');   /* fe80::1%eth0: the address alone */
		if (zone)
			*zone = 0;
		struct resolver *r = &out[n];
		if (inet_pton(AF_INET, addr, r->addr) == 1)
			r->family = AF_INET;
		else if (inet_pton(AF_INET6, addr, r->addr) == 1)
			r->family = AF_INET6;
		else
			continue;
		n++;
	}
	if (f)
		fclose(f);
	return n;
}

static bool commit(struct nl_batch *b, const char *what)
{
	struct nft_sock s;
	char err[512];
	int rc = nft_sock_open(&s, false);
	if (!rc) {
		rc = nft_commit(&s, b, err, sizeof(err));
		nft_sock_close(&s);
	} else {
		snprintf(err, sizeof(err), "%s", strerror(-rc));
	}
	if (rc)
		fprintf(stderr, "netctl: %s table inet %s: %s\n", what, GUARD_TABLE, err);
	return rc == 0;
}

bool netctl_host_guard(uid_t netvm_uid)
{
	struct resolver res[MAX_RESOLVERS];
	size_t nres = resolvers(res, MAX_RESOLVERS);
	struct nl_batch b;
	batch_init(&b, 1);
	batch_begin(&b);
	/* create, delete, create: whatever an earlier up left is replaced */
	table_msg(&b, NFT_MSG_NEWTABLE);
	table_msg(&b, NFT_MSG_DELTABLE);
	table_msg(&b, NFT_MSG_NEWTABLE);
	chain_msg(&b);
	for (size_t i = 0; i < nres; i++) {
		dns_rule(&b, netvm_uid, &res[i], IPPROTO_UDP);
		dns_rule(&b, netvm_uid, &res[i], IPPROTO_TCP);
	}
	/* its own addresses, and what reaches its listeners without naming
	 * one: broadcast, anycast and multicast */
	static const uint32_t types[] = { RTN_LOCAL, RTN_BROADCAST, RTN_ANYCAST, RTN_MULTICAST };
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		host_rule(&b, netvm_uid, types[i]);
	batch_end(&b);
	bool ok = commit(&b, "loading");
	batch_free(&b);
	return ok;
}

bool netctl_host_guard_remove(void)
{
	struct nl_batch b;
	batch_init(&b, 1);
	batch_begin(&b);
	table_msg(&b, NFT_MSG_NEWTABLE);   /* so the delete finds one */
	table_msg(&b, NFT_MSG_DELTABLE);
	batch_end(&b);
	bool ok = commit(&b, "deleting");
	batch_free(&b);
	return ok;
}

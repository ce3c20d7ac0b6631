/* batch.c: ruleset -> libnftnl messages in one transaction.
 *
 * The batch is one growing buffer, sent with one sendmsg (nlsock.c): the
 * kernel applies all of it or none of it. Element lists are split over
 * several messages (a netlink attribute holds at most 64 KiB).
 */
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/xt_NFQUEUE.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "policy/batch.h"

#define MSG_ROOM        (256 * 1024)   /* free space kept for the next message */
#define ELEMS_PER_MSG   200
#define TYPE_VERDICT    1              /* nft's datatype numbers */
#define TYPE_IPADDR     7
#define TYPE_IP6ADDR    8
#define TYPE_MARK       19
#define TYPE_IFNAME     41
#define BYTEORDER_HOST  1              /* nft's enum byteorder */
#define BYTEORDER_BIG   2

void batch_init(struct nl_batch *b, uint32_t first_seq)
{
	memset(b, 0, sizeof(*b));
	b->seq = b->first_seq = first_seq ? first_seq : 1;
	b->next_set_id = 1;
	b->table = RS_TABLE;
}

void batch_free(struct nl_batch *b)
{
	free(b->buf);
	free(b->origins);
	memset(b, 0, sizeof(*b));
}

/* Room for one more message; returns where it goes. */
static char *room(struct nl_batch *b)
{
	if (b->cap - b->len < MSG_ROOM) {
		size_t n = b->cap ? b->cap * 2 : 4 * MSG_ROOM;
		char *p = realloc(b->buf, n);
		if (!p)
			abort();
		b->buf = p;
		b->cap = n;
	}
	return b->buf + b->len;
}

static void commit_msg(struct nl_batch *b, struct nlmsghdr *nlh)
{
	b->len += NLMSG_ALIGN(nlh->nlmsg_len);
	b->nmsgs++;
}

__attribute__((format(printf, 6, 7)))
static void note(struct nl_batch *b, uint32_t seq, int vm, int rule, int line, const char *fmt, ...)
{
	if (b->norigins == b->ocap) {
		b->ocap = b->ocap ? b->ocap * 2 : 256;
		b->origins = realloc(b->origins, b->ocap * sizeof(*b->origins));
		if (!b->origins)
			abort();
	}
	struct batch_origin *o = &b->origins[b->norigins++];
	o->seq = seq;
	o->vm = vm;
	o->rule = rule;
	o->line = line;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(o->what, sizeof(o->what), fmt, ap);
	va_end(ap);
}

const struct batch_origin *batch_find_origin(const struct nl_batch *b, uint32_t seq)
{
	/* origins are in sequence order */
	size_t lo = 0, hi = b->norigins;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (b->origins[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < b->norigins && b->origins[lo].seq == seq ? &b->origins[lo] : NULL;
}

static struct nlmsghdr *hdr(struct nl_batch *b, uint16_t type, uint16_t flags)
{
	return nftnl_nlmsg_build_hdr(room(b), type, NFPROTO_INET, flags, b->seq++);
}

void batch_begin(struct nl_batch *b)
{
	nftnl_batch_begin(room(b), b->seq++);
	b->len += NLMSG_ALIGN(((struct nlmsghdr *)(b->buf + b->len))->nlmsg_len);
}

void batch_end(struct nl_batch *b)
{
	nftnl_batch_end(room(b), b->seq++);
	b->len += NLMSG_ALIGN(((struct nlmsghdr *)(b->buf + b->len))->nlmsg_len);
}

struct nlmsghdr *batch_msg(struct nl_batch *b, uint16_t type, uint16_t flags, const char *what)
{
	note(b, b->seq, -1, 0, 0, "%s", what);
	return hdr(b, type, flags);
}

void batch_msg_done(struct nl_batch *b, struct nlmsghdr *nlh)
{
	commit_msg(b, nlh);
}

/* ---- table, chains, sets ---- */

void batch_table(struct nl_batch *b, uint16_t type, uint32_t flags)
{
	struct nftnl_table *t = nftnl_table_alloc();
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, b->table);
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	if (type == NFT_MSG_NEWTABLE)
		nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, flags);
	note(b, b->seq, -1, 0, 0, "table %s", b->table);
	struct nlmsghdr *nlh = hdr(b, type, type == NFT_MSG_NEWTABLE ? NLM_F_CREATE : 0);
	nftnl_table_nlmsg_build_payload(nlh, t);
	commit_msg(b, nlh);
	nftnl_table_free(t);
}

static void chain_msg(struct nl_batch *b, uint16_t type, const struct rs_chain *c)
{
	struct nftnl_chain *ch = nftnl_chain_alloc();
	nftnl_chain_set_str(ch, NFTNL_CHAIN_TABLE, b->table);
	nftnl_chain_set_str(ch, NFTNL_CHAIN_NAME, c->name);
	nftnl_chain_set_u32(ch, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	if (type == NFT_MSG_NEWCHAIN && c->base) {
		nftnl_chain_set_u32(ch, NFTNL_CHAIN_HOOKNUM, c->hook);
		nftnl_chain_set_s32(ch, NFTNL_CHAIN_PRIO, c->prio);
		nftnl_chain_set_str(ch, NFTNL_CHAIN_TYPE, c->nat ? "nat" : "filter");
		nftnl_chain_set_u32(ch, NFTNL_CHAIN_POLICY, c->policy_drop ? NF_DROP : NF_ACCEPT);
	}
	note(b, b->seq, c->vm, 0, 0, "chain %s", c->name);
	struct nlmsghdr *nlh = hdr(b, type, type == NFT_MSG_NEWCHAIN ? NLM_F_CREATE : 0);
	nftnl_chain_nlmsg_build_payload(nlh, ch);
	commit_msg(b, nlh);
	nftnl_chain_free(ch);
}

static uint32_t set_id(const char *name)
{
	/* stable per name, so rules in the same batch can name a new set */
	uint32_t h = 2166136261u;
	for (; *name; name++)
		h = (h ^ (uint8_t)*name) * 16777619u;
	return h ? h : 1;
}

static const uint32_t key_len[] = {
	[RST_IFNAME] = 16, [RST_IFNAME_VMAP] = 16, [RST_MARK] = 4, [RST_MARK_VMAP] = 4, [RST_IPV4] = 4, [RST_IPV6] = 16,
};

static struct nftnl_set *set_obj(const struct nl_batch *b, const struct rs_set *s)
{
	struct nftnl_set *ns = nftnl_set_alloc();
	nftnl_set_set_str(ns, NFTNL_SET_TABLE, b->table);
	nftnl_set_set_str(ns, NFTNL_SET_NAME, s->name);
	nftnl_set_set_u32(ns, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_u32(ns, NFTNL_SET_ID, set_id(s->name));
	return ns;
}

void batch_set(struct nl_batch *b, uint16_t type, const struct rs_set *s)
{
	struct nftnl_set *ns = set_obj(b, s);
	if (type == NFT_MSG_NEWSET) {
		static const uint32_t key_type[] = {
			[RST_IFNAME] = TYPE_IFNAME, [RST_IFNAME_VMAP] = TYPE_IFNAME, [RST_MARK] = TYPE_MARK,
			[RST_MARK_VMAP] = TYPE_MARK, [RST_IPV4] = TYPE_IPADDR, [RST_IPV6] = TYPE_IP6ADDR,
		};
		uint32_t flags = 0;
		bool vmap = s->type == RST_IFNAME_VMAP || s->type == RST_MARK_VMAP;
		nftnl_set_set_u32(ns, NFTNL_SET_KEY_TYPE, key_type[s->type]);
		nftnl_set_set_u32(ns, NFTNL_SET_KEY_LEN, key_len[s->type]);
		if (vmap) {
			flags |= NFT_SET_MAP;
			nftnl_set_set_u32(ns, NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
			nftnl_set_set_u32(ns, NFTNL_SET_DATA_LEN, 0);
		}
		if (s->timeout_s) {
			flags |= NFT_SET_TIMEOUT;
			nftnl_set_set_u64(ns, NFTNL_SET_TIMEOUT, (uint64_t)s->timeout_s * 1000);
		}
		nftnl_set_set_u32(ns, NFTNL_SET_FLAGS, flags);
		/* how nft prints the keys: strings and marks are host order */
		struct nftnl_udata_buf *u = nftnl_udata_buf_alloc(64);
		bool host = vmap || s->type == RST_MARK || s->type == RST_IFNAME;
		nftnl_udata_put_u32(u, NFTNL_UDATA_SET_KEYBYTEORDER,
				    host ? BYTEORDER_HOST : BYTEORDER_BIG);
		if (vmap)
			nftnl_udata_put_u32(u, NFTNL_UDATA_SET_DATABYTEORDER, 0);
		nftnl_set_set_data(ns, NFTNL_SET_USERDATA, nftnl_udata_buf_data(u),
				   nftnl_udata_buf_len(u));
		nftnl_udata_buf_free(u);
	}
	note(b, b->seq, -1, 0, 0, "set %s", s->name);
	struct nlmsghdr *nlh = hdr(b, type, type == NFT_MSG_NEWSET ? NLM_F_CREATE : 0);
	nftnl_set_nlmsg_build_payload(nlh, ns);
	commit_msg(b, nlh);
	nftnl_set_free(ns);
}

/* ELEMS[0..n) of S added or deleted, ELEMS_PER_MSG per message. */
static void elems_msg(struct nl_batch *b, uint16_t type, const struct rs_set *s,
		      const struct rs_elem *const *elems, size_t n)
{
	for (size_t at = 0; at < n; at += ELEMS_PER_MSG) {
		struct nftnl_set *ns = set_obj(b, s);
		for (size_t i = at; i < n && i < at + ELEMS_PER_MSG; i++) {
			struct nftnl_set_elem *e = nftnl_set_elem_alloc();
			nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, elems[i]->key, key_len[s->type]);
			bool vmap = s->type == RST_IFNAME_VMAP || s->type == RST_MARK_VMAP;
			if (vmap && type == NFT_MSG_NEWSETELEM && elems[i]->chain[0]) {
				nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT, NFT_JUMP);
				nftnl_set_elem_set_str(e, NFTNL_SET_ELEM_CHAIN, elems[i]->chain);
			} else if (vmap && type == NFT_MSG_NEWSETELEM) {
				nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT, NF_ACCEPT);
			}
			nftnl_set_elem_add(ns, e);
		}
		note(b, b->seq, -1, 0, 0, "elements of %s", s->name);
		struct nlmsghdr *nlh = hdr(b, type, type == NFT_MSG_NEWSETELEM ? NLM_F_CREATE : 0);
		nftnl_set_elems_nlmsg_build_payload(nlh, ns);
		commit_msg(b, nlh);
		nftnl_set_free(ns);
	}
}

/* ---- rules ---- */

static void add_expr(struct nftnl_rule *r, struct nftnl_expr *e)
{
	nftnl_rule_add_expr(r, e);
}

static struct nftnl_expr *expr(const char *name)
{
	struct nftnl_expr *e = nftnl_expr_alloc(name);
	if (!e)
		abort();
	return e;
}

static void load(struct nftnl_rule *r, const struct rs_keyinfo *k, int len)
{
	struct nftnl_expr *e;
	switch (k->source) {
	case RS_META:
		e = expr("meta");
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, k->nkey);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
		break;
	case RS_PAYLOAD:
		e = expr("payload");
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, k->nkey);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, k->offset);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
		break;
	case RS_FIB:
		e = expr("fib");
		nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, k->offset);
		nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, k->nkey);
		nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, NFT_REG_1);
		break;
	default:
		e = expr("ct");
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, k->nkey);
		if (k->original)
			nftnl_expr_set_u8(e, NFTNL_EXPR_CT_DIR, 0 /* IP_CT_DIR_ORIGINAL */);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
		break;
	}
	add_expr(r, e);
}

static void cmp(struct nftnl_rule *r, uint32_t op, const void *data, int len)
{
	struct nftnl_expr *e = expr("cmp");
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	add_expr(r, e);
}

static void bitwise(struct nftnl_rule *r, const uint8_t *mask, int len)
{
	static const uint8_t zero[16];
	struct nftnl_expr *e = expr("bitwise");
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, len);
	add_expr(r, e);
}

static void byteorder_hton(struct nftnl_rule *r, int len)
{
	struct nftnl_expr *e = expr("byteorder");
	nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_OP, NFT_BYTEORDER_HTON);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_LEN, len);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SIZE, len);
	add_expr(r, e);
}

static void lookup(struct nftnl_rule *r, const char *set, enum rs_op op)
{
	struct nftnl_expr *e = expr("lookup");
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, set_id(set));
	if (op == RO_VMAP)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, NFT_REG_VERDICT);
	if (op == RO_NOT_LOOKUP)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
	add_expr(r, e);
}

/* nft's own encoding of each match, so both loads give the same bytecode. */
static void match_exprs(struct nftnl_rule *r, const struct rs_match *m)
{
	const struct rs_keyinfo *k = &rs_keys[m->key];
	static const uint8_t zero[16];

	switch ((enum rs_op)m->op) {
	case RO_EQ:
	case RO_NE:
		load(r, k, k->len);
		cmp(r, m->op == RO_EQ ? NFT_CMP_EQ : NFT_CMP_NEQ, m->val, k->len);
		break;
	case RO_RANGE:
		load(r, k, k->len);
		cmp(r, NFT_CMP_GTE, m->val, k->len);
		cmp(r, NFT_CMP_LTE, m->val2, k->len);
		break;
	case RO_PREFIX: {
		/* like nft: whole bytes compare a shorter load; otherwise (and /0,
		 * which still pins the family) mask the whole value */
		int bytes = m->plen / 8;
		if (m->plen % 8 == 0 && bytes > 0) {
			load(r, k, k->source == RS_PAYLOAD ? bytes : k->len);
			cmp(r, NFT_CMP_EQ, m->val, bytes);
			break;
		}
		uint8_t mask[16] = { 0 };
		for (int i = 0; i < m->plen; i++)
			mask[i / 8] |= 0x80 >> (i % 8);
		load(r, k, k->len);
		bitwise(r, mask, k->len);
		cmp(r, NFT_CMP_EQ, m->val, k->len);
		break;
	}
	case RO_ANYBIT:
		load(r, k, k->len);
		bitwise(r, m->val, k->len);
		cmp(r, NFT_CMP_NEQ, zero, k->len);
		break;
	case RO_LOOKUP:
	case RO_NOT_LOOKUP:
	case RO_VMAP:
		load(r, k, k->len);
		lookup(r, m->set, (enum rs_op)m->op);
		break;
	case RO_LT:
		/* a host-order load (meta time) is compared big-endian, as nft does */
		load(r, k, k->len);
		if (k->source == RS_META)
			byteorder_hton(r, k->len);
		cmp(r, NFT_CMP_LT, m->val, k->len);
		break;
	}
}

/* Two equality matches on adjoining bytes of the same header ("th sport 67
 * th dport 68"): nft loads and compares them as one, up to a register. */
static bool payloads_adjoin(const struct rs_match *a, const struct rs_match *b)
{
	const struct rs_keyinfo *ka = &rs_keys[a->key], *kb = &rs_keys[b->key];
	return a->op == RO_EQ && b->op == RO_EQ && ka->source == RS_PAYLOAD && kb->source == RS_PAYLOAD &&
	       ka->nkey == kb->nkey && ka->offset + ka->len == kb->offset && ka->len + kb->len <= 16;
}

static void match_joined(struct nftnl_rule *r, const struct rs_match *a, const struct rs_match *b)
{
	const struct rs_keyinfo *ka = &rs_keys[a->key], *kb = &rs_keys[b->key];
	uint8_t val[16];
	memcpy(val, a->val, ka->len);
	memcpy(val + ka->len, b->val, kb->len);
	load(r, ka, ka->len + kb->len);
	cmp(r, NFT_CMP_EQ, val, ka->len + kb->len);
}

static const struct rs_keyinfo ct_mark_key = { "ct mark", RS_CT, NFT_CT_MARK, 0, 4, false };

/* ct mark == the VM's mark */
static void match_vm_mark(struct nftnl_rule *r, uint32_t mark)
{
	load(r, &ct_mark_key, 4);
	cmp(r, NFT_CMP_EQ, &mark, 4);   /* host order, as the kernel keeps it */
}

/* ct mark < the VM's birth: compared big-endian, as nft does */
static void match_below_birth(struct nftnl_rule *r, uint32_t birth)
{
	uint8_t be[4] = { birth >> 24, birth >> 16, birth >> 8, birth };
	load(r, &ct_mark_key, 4);
	byteorder_hton(r, 4);
	cmp(r, NFT_CMP_LT, be, 4);
}

static void verdict(struct nftnl_rule *r, int v)
{
	struct nftnl_expr *e = expr("immediate");
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, v);
	add_expr(r, e);
}

static void goto_chain(struct nftnl_rule *r, const char *chain)
{
	struct nftnl_expr *e = expr("immediate");
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, NFT_GOTO);
	nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
	add_expr(r, e);
}

static void reject(struct nftnl_rule *r, uint32_t type, uint8_t code)
{
	struct nftnl_expr *e = expr("reject");
	nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, type);
	nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, code);
	add_expr(r, e);
}

/* limit rate RATE/second burst BURST packets; OVER: matches past it */
static void limit(struct nftnl_rule *r, int rate, int burst, bool over)
{
	struct nftnl_expr *e = expr("limit");
	nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_RATE, rate);
	nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_UNIT, 1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_BURST, burst);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_TYPE, NFT_LIMIT_PKTS);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_FLAGS, over ? NFT_LIMIT_F_INV : 0);
	add_expr(r, e);
}

static void rule_msg(struct nl_batch *b, const struct ruleset *rs, const struct rs_chain *c,
		     const struct rs_rule *ru)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nftnl_expr *e;
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, b->table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, c->name);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);

	if (ru->match_mark)
		match_vm_mark(r, rs->vms[c->vm].mark);
	if (ru->below_birth)
		match_below_birth(r, rs->vms[c->vm].birth);
	for (int i = 0; i < ru->nm; i++) {
		if (i + 1 < ru->nm && payloads_adjoin(&ru->m[i], &ru->m[i + 1])) {
			match_joined(r, &ru->m[i], &ru->m[i + 1]);
			i++;
			continue;
		}
		match_exprs(r, &ru->m[i]);
	}
	if (ru->limit)
		limit(r, RS_LOG_RATE, RS_LOG_BURST, false);
	if (ru->count_over) {
		e = expr("connlimit");
		nftnl_expr_set_u32(e, NFTNL_EXPR_CONNLIMIT_COUNT, ru->count_over);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CONNLIMIT_FLAGS, NFT_CONNLIMIT_F_INV);
		add_expr(r, e);
	}
	if (ru->over_rate)
		limit(r, ru->over_rate, ru->over_burst, true);
	add_expr(r, expr("counter"));
	if (ru->meta_mark) {
		e = expr("immediate");
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_1);
		nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, &ru->meta_mark, sizeof(ru->meta_mark));
		add_expr(r, e);
		e = expr("meta");
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, NFT_META_MARK);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_SREG, NFT_REG_1);
		add_expr(r, e);
	}
	if (ru->masquerade)
		add_expr(r, expr("masq"));
	if (ru->notrack)
		add_expr(r, expr("notrack"));
	if (ru->queue == RQ_NFT && !b->queue_xt) {
		e = expr("queue");
		nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_NUM, ru->queue_num);
		nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_TOTAL, 1);
		if (!ru->queue_no_bypass)
			nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_FLAGS, NFT_QUEUE_FLAG_BYPASS);
		add_expr(r, e);
	} else if (ru->queue != RQ_NONE) {
		/* libnftnl keeps (and frees) the info it is given */
		struct xt_NFQ_info_v3 *info = calloc(1, sizeof(*info));
		if (!info)
			abort();
		info->queuenum = ru->queue_num;
		info->queues_total = 1;
		info->flags = ru->queue_no_bypass ? 0 : NFQ_FLAG_BYPASS;
		e = expr("target");
		nftnl_expr_set_str(e, NFTNL_EXPR_TG_NAME, "NFQUEUE");
		nftnl_expr_set_u32(e, NFTNL_EXPR_TG_REV, 3);
		nftnl_expr_set(e, NFTNL_EXPR_TG_INFO, info, sizeof(*info));
		add_expr(r, e);
	}
	char text[160];
	if (ru->log) {
		ruleset_log_prefix(rs, c, ru, text, sizeof(text));
		e = expr("log");
		nftnl_expr_set_str(e, NFTNL_EXPR_LOG_PREFIX, text);
		nftnl_expr_set_u16(e, NFTNL_EXPR_LOG_GROUP, RS_LOG_GROUP);
		add_expr(r, e);
	}
	if (ru->set_mark) {
		uint32_t mark = rs->vms[c->vm].mark;
		e = expr("immediate");
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_1);
		nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, &mark, sizeof(mark));
		add_expr(r, e);
		e = expr("ct");
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_MARK);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_SREG, NFT_REG_1);
		add_expr(r, e);
	}
	switch (ru->verdict) {
	case RV_NONE: break;
	case RV_ACCEPT: verdict(r, NF_ACCEPT); break;
	case RV_DROP: verdict(r, NF_DROP); break;
	case RV_RETURN: verdict(r, NFT_RETURN); break;
	case RV_REJECT_TCP: reject(r, NFT_REJECT_TCP_RST, 0); break;
	case RV_REJECT_ICMPX:
		reject(r, NFT_REJECT_ICMPX_UNREACH, NFT_REJECT_ICMPX_ADMIN_PROHIBITED);
		break;
	case RV_GOTO_ACCEPT:
		snprintf(text, sizeof(text), "acc_%s", rs->vms[c->vm].name);
		goto_chain(r, text);
		break;
	}
	ruleset_rule_comment(rs, c, ru, text, sizeof(text));
	if (text[0]) {
		struct nftnl_udata_buf *u = nftnl_udata_buf_alloc(256);
		nftnl_udata_put_strz(u, NFTNL_UDATA_RULE_COMMENT, text);
		nftnl_rule_set_data(r, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(u),
				    nftnl_udata_buf_len(u));
		nftnl_udata_buf_free(u);
	}
	if (text[0])
		note(b, b->seq, c->vm, ru->rule, ru->line, "rule \"%s\" in chain %s", text, c->name);
	else
		note(b, b->seq, c->vm, ru->rule, ru->line, "rule in chain %s", c->name);
	struct nlmsghdr *nlh = hdr(b, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	commit_msg(b, nlh);
	nftnl_rule_free(r);
}

static void flush_chain_msg(struct nl_batch *b, const struct rs_chain *c)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, b->table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, c->name);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	note(b, b->seq, c->vm, 0, 0, "flush chain %s", c->name);
	struct nlmsghdr *nlh = hdr(b, NFT_MSG_DELRULE, 0);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	commit_msg(b, nlh);
	nftnl_rule_free(r);
}

static void chain_rules(struct nl_batch *b, const struct ruleset *rs, const struct rs_chain *c)
{
	for (size_t i = 0; i < c->nrules; i++)
		rule_msg(b, rs, c, &c->rules[i]);
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
		elems_msg(b, type, a, out, n);
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
			chain_msg(b, NFT_MSG_NEWCHAIN, &new->chains[i]);
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
			flush_chain_msg(b, oc);
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
			chain_msg(b, NFT_MSG_DELCHAIN, &old->chains[i]);
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

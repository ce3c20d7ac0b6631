/* batch-rule.c: a compiled rule as libnftnl expressions, one message each. */
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/xt_NFQUEUE.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/udata.h>

#include "policy/batch-int.h"

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
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, batch_set_id(set));
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

void batch_rule(struct nl_batch *b, const struct ruleset *rs, const struct rs_chain *c,
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
		batch_note(b, b->seq, c->vm, ru->rule, ru->line, "rule \"%s\" in chain %s", text, c->name);
	else
		batch_note(b, b->seq, c->vm, ru->rule, ru->line, "rule in chain %s", c->name);
	struct nlmsghdr *nlh = batch_hdr(b, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	batch_msg_done(b, nlh);
	nftnl_rule_free(r);
}

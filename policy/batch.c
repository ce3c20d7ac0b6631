/* batch.c: the batch, libnftnl messages in one transaction, and its table,
 * chain and set messages. batch-rule.c adds rules, batch-diff.c whole
 * rulesets and their differences.
 *
 * The batch is one growing buffer, sent with one sendmsg (nlsock.c): the
 * kernel applies all of it or none of it. Element lists are split over
 * several messages (a netlink attribute holds at most 64 KiB).
 */
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/batch-int.h"

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

void batch_note(struct nl_batch *b, uint32_t seq, int vm, int rule, int line, const char *fmt, ...)
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

struct nlmsghdr *batch_hdr(struct nl_batch *b, uint16_t type, uint16_t flags)
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
	batch_note(b, b->seq, -1, 0, 0, "%s", what);
	return batch_hdr(b, type, flags);
}

void batch_msg_done(struct nl_batch *b, struct nlmsghdr *nlh)
{
	b->len += NLMSG_ALIGN(nlh->nlmsg_len);
	b->nmsgs++;
}

/* ---- table, chains, sets ---- */

void batch_table(struct nl_batch *b, uint16_t type, uint32_t flags)
{
	struct nftnl_table *t = nftnl_table_alloc();
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, b->table);
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	if (type == NFT_MSG_NEWTABLE)
		nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, flags);
	batch_note(b, b->seq, -1, 0, 0, "table %s", b->table);
	struct nlmsghdr *nlh = batch_hdr(b, type, type == NFT_MSG_NEWTABLE ? NLM_F_CREATE : 0);
	nftnl_table_nlmsg_build_payload(nlh, t);
	batch_msg_done(b, nlh);
	nftnl_table_free(t);
}

void batch_chain(struct nl_batch *b, uint16_t type, const struct rs_chain *c)
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
	batch_note(b, b->seq, c->vm, 0, 0, "chain %s", c->name);
	struct nlmsghdr *nlh = batch_hdr(b, type, type == NFT_MSG_NEWCHAIN ? NLM_F_CREATE : 0);
	nftnl_chain_nlmsg_build_payload(nlh, ch);
	batch_msg_done(b, nlh);
	nftnl_chain_free(ch);
}

uint32_t batch_set_id(const char *name)
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
	nftnl_set_set_u32(ns, NFTNL_SET_ID, batch_set_id(s->name));
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
	batch_note(b, b->seq, -1, 0, 0, "set %s", s->name);
	struct nlmsghdr *nlh = batch_hdr(b, type, type == NFT_MSG_NEWSET ? NLM_F_CREATE : 0);
	nftnl_set_nlmsg_build_payload(nlh, ns);
	batch_msg_done(b, nlh);
	nftnl_set_free(ns);
}

/* ELEMS[0..n) of S added or deleted, ELEMS_PER_MSG per message. */
void batch_elems(struct nl_batch *b, uint16_t type, const struct rs_set *s,
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
		batch_note(b, b->seq, -1, 0, 0, "elements of %s", s->name);
		struct nlmsghdr *nlh = batch_hdr(b, type, type == NFT_MSG_NEWSETELEM ? NLM_F_CREATE : 0);
		nftnl_set_elems_nlmsg_build_payload(nlh, ns);
		batch_msg_done(b, nlh);
		nftnl_set_free(ns);
	}
}

void batch_flush_chain(struct nl_batch *b, const struct rs_chain *c)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, b->table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, c->name);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	batch_note(b, b->seq, c->vm, 0, 0, "flush chain %s", c->name);
	struct nlmsghdr *nlh = batch_hdr(b, NFT_MSG_DELRULE, 0);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	batch_msg_done(b, nlh);
	nftnl_rule_free(r);
}

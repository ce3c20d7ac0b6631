/* names.c: the addresses dnsmasq resolves for host-name rules, carried into
 * the policy table.
 *
 * inet moat has the owner flag, and the kernel refuses a write to an owned
 * table from any netlink socket but the owner's (EPERM): dnsmasq's nftset
 * cannot fill the table's host sets. It should not be able to either: dnsmasq
 * parses DNS from the internet and DHCP from the VMs, and a process that can
 * write the policy table can open the firewall.
 *
 * So dnsmasq writes into a side table, inet moat-dns, which has the same host
 * sets and no chains: it decides nothing. This part hears each element arrive
 * (nf_tables multicast events) and adds it to the same set of inet moat with
 * that set's full timeout, so each answer refreshes the address. Side elements
 * live FW_NAMES_SIDE_TIMEOUT seconds: an answer after that is a new element,
 * a new event, a new refresh. Only host sets of the ruleset in force are
 * copied, and only keys of their address length; anything else in the side
 * table is ignored.
 *
 * The order is what makes a name usable at once: dnsmasq adds the addresses
 * (and the kernel queues their event to us) before it sends the answer; the
 * ruleset sends the firewall's DNS answers to NFQUEUE FW_DNS_QUEUE, and this
 * part reads every pending event and copies the addresses before it lets the
 * answers go. A VM never holds an answer whose address its rule does not have.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <linux/netfilter/xt_NFQUEUE.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "batch.h"
#include "firewalld.h"

#define NAMES_RCVBUF     (4 << 20)
#define NAMES_PENDING    1024      /* copied in one transaction */

static char buf_discard[16384];

struct names_elem {
	const struct rs_set *set;  /* in the ruleset in force */
	uint8_t key[16];
};

enum names_hold { HOLD_NONE, HOLD_NFT, HOLD_XT };

struct fw_names {
	struct mnl_socket *ev;     /* NFNLGRP_NFTABLES */
	struct mnl_socket *q;      /* NFQUEUE FW_DNS_QUEUE: the DNS answers held */
	enum names_hold hold;      /* how the side table's chain queues them */
	bool synced;               /* the side table was made anew by this process */
	bool listening;            /* member of NFNLGRP_NFTABLES */
	bool side_sets;            /* the side table has sets, as far as we know */
	bool hold_loaded;          /* and has the hold chain now */
	struct fw_state *st;
	struct names_elem pending[NAMES_PENDING];
	size_t npending;
	uint32_t seq;
	unsigned long copied, ignored;
};

/* ---- the DNS answers held in NFQUEUE ---- */

static struct nlmsghdr *queue_msg(char *buf, uint16_t type)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_QUEUE << 8) | type;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	struct nfgenmsg *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = AF_UNSPEC;
	g->version = NFNETLINK_V0;
	g->res_id = htons(FW_DNS_QUEUE);
	return nlh;
}

/* Send NLH and wait for its acknowledgement. 0 or -errno. */
static int queue_talk(struct fw_names *n, struct nlmsghdr *nlh)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = ++n->seq;
	if (mnl_socket_sendto(n->q, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t len = mnl_socket_recvfrom(n->q, buf, sizeof(buf));
		if (len < 0)
			return -errno;
		int rc = mnl_cb_run(buf, (size_t)len, nlh->nlmsg_seq, mnl_socket_get_portid(n->q),
				    NULL, NULL);
		if (rc <= MNL_CB_STOP)
			return rc < 0 ? -errno : 0;
	}
}

static int queue_open(struct fw_names *n)
{
	char buf[256];
	n->q = mnl_socket_open(NETLINK_NETFILTER);
	if (!n->q || mnl_socket_bind(n->q, 0, MNL_SOCKET_AUTOPID) < 0)
		return -1;
	struct nlmsghdr *nlh = queue_msg(buf, NFQNL_MSG_CONFIG);
	struct nfqnl_msg_config_cmd cmd = { .command = NFQNL_CFG_CMD_BIND };
	mnl_attr_put(nlh, NFQA_CFG_CMD, sizeof(cmd), &cmd);
	int rc = queue_talk(n, nlh);
	if (rc == 0) {
		/* the packet id is all we need */
		nlh = queue_msg(buf, NFQNL_MSG_CONFIG);
		struct nfqnl_msg_config_params params = { .copy_mode = NFQNL_COPY_META };
		mnl_attr_put(nlh, NFQA_CFG_PARAMS, sizeof(params), &params);
		rc = queue_talk(n, nlh);
	}
	if (rc < 0) {
		errno = -rc;
		return -1;
	}
	int fl = fcntl(mnl_socket_get_fd(n->q), F_GETFL);
	fcntl(mnl_socket_get_fd(n->q), F_SETFL, fl | O_NONBLOCK);
	return 0;
}

struct queue_read {
	uint32_t last_id;
	size_t held;
};

static int queue_attr_cb(const struct nlattr *a, void *data)
{
	struct queue_read *r = data;
	if (mnl_attr_get_type(a) == NFQA_PACKET_HDR &&
	    mnl_attr_get_payload_len(a) >= sizeof(struct nfqnl_msg_packet_hdr)) {
		const struct nfqnl_msg_packet_hdr *h = mnl_attr_get_payload(a);
		uint32_t id = ntohl(h->packet_id);
		if (!r->held || id > r->last_id)
			r->last_id = id;
		r->held++;
	}
	return MNL_CB_OK;
}

static int queue_packet_cb(const struct nlmsghdr *nlh, void *data)
{
	if (nlh->nlmsg_type != ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET))
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(struct nfgenmsg), queue_attr_cb, data);
	return MNL_CB_OK;
}

/* The rule that holds the firewall's DNS answers over PROTO: th sport 53,
 * queue num FW_DNS_QUEUE bypass. HOW: nft's queue expression, or (kernels
 * built without nft_queue) the xtables NFQUEUE target through nft_compat. */
static void hold_rule(struct nl_batch *b, const char *chain, uint8_t proto, enum names_hold how)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, b->table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	struct nftnl_expr *e = nftnl_expr_alloc("meta");
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, NFT_META_L4PROTO);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	nftnl_rule_add_expr(r, e);
	e = nftnl_expr_alloc("cmp");
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, &proto, 1);
	nftnl_rule_add_expr(r, e);
	e = nftnl_expr_alloc("payload");
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_TRANSPORT_HEADER);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, 0);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, 2);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	nftnl_rule_add_expr(r, e);
	uint16_t port = htons(53);
	e = nftnl_expr_alloc("cmp");
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, &port, sizeof(port));
	nftnl_rule_add_expr(r, e);
	if (how == HOLD_NFT) {
		e = nftnl_expr_alloc("queue");
		nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_NUM, FW_DNS_QUEUE);
		nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_TOTAL, 1);
		nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_FLAGS, NFT_QUEUE_FLAG_BYPASS);
	} else {
		/* libnftnl keeps (and frees) the info it is given */
		struct xt_NFQ_info_v3 *info = calloc(1, sizeof(*info));
		if (!info)
			abort();
		info->queuenum = FW_DNS_QUEUE;
		info->queues_total = 1;
		info->flags = NFQ_FLAG_BYPASS;
		e = nftnl_expr_alloc("target");
		nftnl_expr_set_str(e, NFTNL_EXPR_TG_NAME, "NFQUEUE");
		nftnl_expr_set_u32(e, NFTNL_EXPR_TG_REV, 3);
		nftnl_expr_set(e, NFTNL_EXPR_TG_INFO, info, sizeof(*info));
	}
	nftnl_rule_add_expr(r, e);
	struct nlmsghdr *nlh = batch_msg(b, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND,
					 "rule holding DNS answers");
	nftnl_rule_nlmsg_build_payload(nlh, r);
	batch_msg_done(b, nlh);
	nftnl_rule_free(r);
}

/* The base chain "hold" of B's table, with its two rules. */
static void hold_chain(struct nl_batch *b, enum names_hold how)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, b->table);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, "hold");
	nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, NF_INET_LOCAL_OUT);
	nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, 0);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
	nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	struct nlmsghdr *nlh = batch_msg(b, NFT_MSG_NEWCHAIN, NLM_F_CREATE, "chain hold");
	nftnl_chain_nlmsg_build_payload(nlh, c);
	batch_msg_done(b, nlh);
	nftnl_chain_free(c);
	hold_rule(b, "hold", IPPROTO_UDP, how);
	hold_rule(b, "hold", IPPROTO_TCP, how);
}

/* Can the kernel take the hold rule the HOW way? A table with the chain is
 * created and deleted in one transaction: ENOENT when the expression or
 * target is missing. */
static bool hold_probe(struct fw_state *st, enum names_hold how)
{
	struct nl_batch b;
	batch_init(&b, 1);
	b.table = "moat-probe";
	batch_begin(&b);
	batch_table(&b, NFT_MSG_NEWTABLE, 0);
	hold_chain(&b, how);
	batch_table(&b, NFT_MSG_DELTABLE, 0);
	batch_end(&b);
	char err[256];
	int rc = nft_commit(st->nft, &b, err, sizeof(err));
	batch_free(&b);
	return rc == 0;
}

const char *fw_names_hold(const struct fw_names *n)
{
	if (!n || !n->q)
		return "not held (the first connection to a new address may be refused)";
	return n->hold == HOLD_NFT ? "held until their addresses are in (nft queue)"
				   : "held until their addresses are in (xt NFQUEUE)";
}

int fw_names_queue_fd(const struct fw_names *n)
{
	return n && n->q ? mnl_socket_get_fd(n->q) : -1;
}

int fw_names_queue_event(struct fw_names *n)
{
	static char buf[64 * 1024];
	struct queue_read r = { 0 };
	for (;;) {
		ssize_t len = recv(mnl_socket_get_fd(n->q), buf, sizeof(buf), 0);
		if (len < 0 && (errno == EINTR || errno == ENOBUFS))
			continue;          /* ENOBUFS: the kernel dropped some; bypass lets them through */
		if (len <= 0)
			break;
		mnl_cb_run(buf, (size_t)len, 0, 0, queue_packet_cb, &r);
	}
	if (!r.held)
		return 0;
	/* every address of these answers is an event read by now */
	fw_names_event(n);
	struct nlmsghdr *nlh = queue_msg(buf, NFQNL_MSG_VERDICT_BATCH);
	struct nfqnl_msg_verdict_hdr v = { .verdict = htonl(NF_ACCEPT), .id = htonl(r.last_id) };
	mnl_attr_put(nlh, NFQA_VERDICT_HDR, sizeof(v), &v);
	if (mnl_socket_sendto(n->q, nlh, nlh->nlmsg_len) < 0) {
		fprintf(stderr, "moat-firewalld: letting %zu DNS answers go: %s\n", r.held, strerror(errno));
		return -errno;
	}
	return 0;
}

struct fw_names *fw_names_open(struct fw_state *st)
{
	struct fw_names *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->st = st;
	n->seq = (uint32_t)time(NULL) ^ 0x6e616d65u;
	n->ev = mnl_socket_open2(NETLINK_NETFILTER, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!n->ev || mnl_socket_bind(n->ev, 0, MNL_SOCKET_AUTOPID) < 0)
		goto fail;
	int size = NAMES_RCVBUF, fd = mnl_socket_get_fd(n->ev);
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	n->hold = hold_probe(st, HOLD_NFT) ? HOLD_NFT : hold_probe(st, HOLD_XT) ? HOLD_XT : HOLD_NONE;
	if (n->hold == HOLD_NONE) {
		fprintf(stderr, "moat-firewalld: the kernel has neither nft_queue nor xt_NFQUEUE:"
			" DNS answers are not held, a name's first connection may be refused\n");
	} else if (queue_open(n) < 0) {
		/* the answers then race their copies: the first connection may be refused */
		fprintf(stderr, "moat-firewalld: NFQUEUE %d: %s; DNS answers are not held\n",
			FW_DNS_QUEUE, strerror(errno));
		if (n->q)
			mnl_socket_close(n->q);
		n->q = NULL;
		n->hold = HOLD_NONE;
	}
	return n;
fail:;
	int err = errno;
	fw_names_close(n);
	errno = err;
	return NULL;
}

void fw_names_close(struct fw_names *n)
{
	if (!n)
		return;
	if (n->ev)
		mnl_socket_close(n->ev);
	if (n->q)
		mnl_socket_close(n->q);
	free(n);
}

int fw_names_fd(const struct fw_names *n)
{
	return n && n->ev ? mnl_socket_get_fd(n->ev) : -1;
}

unsigned long fw_names_copied(const struct fw_names *n)
{
	return n ? n->copied : 0;
}

/* A host set of the ruleset in force, or NULL. */
static const struct rs_set *host_set(const struct fw_state *st, const char *name)
{
	if (!st->rs)
		return NULL;
	const struct rs_set *s = ruleset_find_set(st->rs, name);
	if (!s || !s->dynamic || (s->type != RST_IPV4 && s->type != RST_IPV6))
		return NULL;
	return s;
}

static size_t key_len(const struct rs_set *s)
{
	return s->type == RST_IPV4 ? 4 : 16;
}

/* ---- copying into inet moat ---- */

static int names_flush(struct fw_names *n)
{
	if (!n->npending)
		return 0;
	struct nl_batch b;
	batch_init(&b, n->seq);
	batch_begin(&b);
	/* one message per run of the same set */
	for (size_t i = 0; i < n->npending;) {
		const struct rs_set *s = n->pending[i].set;
		struct nftnl_set *ns = nftnl_set_alloc();
		nftnl_set_set_str(ns, NFTNL_SET_TABLE, RS_TABLE);
		nftnl_set_set_str(ns, NFTNL_SET_NAME, s->name);
		nftnl_set_set_u32(ns, NFTNL_SET_FAMILY, NFPROTO_INET);
		for (; i < n->npending && n->pending[i].set == s; i++) {
			struct nftnl_set_elem *e = nftnl_set_elem_alloc();
			nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, n->pending[i].key, key_len(s));
			/* given explicitly, the timeout also renews an element already there */
			nftnl_set_elem_set_u64(e, NFTNL_SET_ELEM_TIMEOUT, (uint64_t)s->timeout_s * 1000);
			nftnl_set_elem_add(ns, e);
		}
		char what[RS_NAME_MAX + 16];
		snprintf(what, sizeof(what), "elements of %s", s->name);
		struct nlmsghdr *nlh = batch_msg(&b, NFT_MSG_NEWSETELEM, NLM_F_CREATE, what);
		nftnl_set_elems_nlmsg_build_payload(nlh, ns);
		batch_msg_done(&b, nlh);
		nftnl_set_free(ns);
	}
	batch_end(&b);
	char err[512];
	int rc = nft_commit(n->st->nft, &b, err, sizeof(err));
	n->seq = b.seq;
	batch_free(&b);
	if (rc)
		fprintf(stderr, "moat-firewalld: copying %zu resolved addresses: %s\n", n->npending, err);
	else
		n->copied += n->npending;
	n->npending = 0;
	return rc;
}

static int names_set_cmp(const void *a, const void *b)
{
	const struct names_elem *x = a, *y = b;
	return x->set < y->set ? -1 : x->set > y->set;
}

/* A NEWSETELEM message (an event, or an answer to a dump): its elements for
 * host sets of the side table become pending copies. */
static int names_elems_cb(const struct nlmsghdr *nlh, void *data)
{
	struct fw_names *n = data;
	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES ||
	    NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_NEWSETELEM)
		return MNL_CB_OK;
	struct nftnl_set *ns = nftnl_set_alloc();
	if (!ns)
		return MNL_CB_OK;
	const struct rs_set *s = NULL;
	if (nftnl_set_elems_nlmsg_parse(nlh, ns) == 0 &&
	    nftnl_set_is_set(ns, NFTNL_SET_TABLE) && nftnl_set_is_set(ns, NFTNL_SET_NAME) &&
	    nftnl_set_get_u32(ns, NFTNL_SET_FAMILY) == NFPROTO_INET &&
	    strcmp(nftnl_set_get_str(ns, NFTNL_SET_TABLE), FW_NAMES_TABLE) == 0)
		s = host_set(n->st, nftnl_set_get_str(ns, NFTNL_SET_NAME));
	if (!s) {
		nftnl_set_free(ns);
		return MNL_CB_OK;
	}
	struct nftnl_set_elems_iter *it = nftnl_set_elems_iter_create(ns);
	for (struct nftnl_set_elem *e = it ? nftnl_set_elems_iter_next(it) : NULL; e;
	     e = nftnl_set_elems_iter_next(it)) {
		uint32_t len = 0;
		const void *key = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
		if (!key || len != key_len(s)) {
			n->ignored++;
			continue;
		}
		if (n->npending == NAMES_PENDING)
			names_flush(n);
		struct names_elem *p = &n->pending[n->npending++];
		p->set = s;
		memcpy(p->key, key, len);
	}
	if (it)
		nftnl_set_elems_iter_destroy(it);
	nftnl_set_free(ns);
	return MNL_CB_OK;
}

/* Copy everything the side table holds now: after our own commits (events
 * are not listened to while the daemon commits) and when events were lost.
 * One socket, one dump per host set. */
static void names_resync(struct fw_names *n)
{
	if (!n->st->rs)
		return;
	struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		fprintf(stderr, "moat-firewalld: reading inet %s: %s\n", FW_NAMES_TABLE, strerror(errno));
		if (nl)
			mnl_socket_close(nl);
		return;
	}
	static char buf[64 * 1024];
	unsigned portid = mnl_socket_get_portid(nl);
	for (size_t i = 0; i < n->st->rs->nsets; i++) {
		const struct rs_set *s = &n->st->rs->sets[i];
		if (!host_set(n->st, s->name))
			continue;
		struct nftnl_set *ns = nftnl_set_alloc();
		nftnl_set_set_str(ns, NFTNL_SET_TABLE, FW_NAMES_TABLE);
		nftnl_set_set_str(ns, NFTNL_SET_NAME, s->name);
		uint32_t seq = ++n->seq;
		struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, NFPROTO_INET,
							     NLM_F_DUMP, seq);
		nftnl_set_elems_nlmsg_build_payload(nlh, ns);
		nftnl_set_free(ns);
		if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
			break;
		int rc;
		do {
			ssize_t len = mnl_socket_recvfrom(nl, buf, sizeof(buf));
			rc = len < 0 ? MNL_CB_ERROR :
				mnl_cb_run(buf, (size_t)len, seq, portid, names_elems_cb, n);
		} while (rc > MNL_CB_STOP);   /* ENOENT: the set is empty of answers yet */
	}
	mnl_socket_close(nl);
	qsort(n->pending, n->npending, sizeof(n->pending[0]), names_set_cmp);
	names_flush(n);
}

/* Join or leave NFNLGRP_NFTABLES. While nobody listens the kernel builds no
 * events: a big apply costs a third more with a listener. */
static void names_listen(struct fw_names *n, bool on)
{
	if (on == n->listening)
		return;
	int group = NFNLGRP_NFTABLES;
	if (mnl_socket_setsockopt(n->ev, on ? NETLINK_ADD_MEMBERSHIP : NETLINK_DROP_MEMBERSHIP,
				  &group, sizeof(group)) < 0) {
		fprintf(stderr, "moat-firewalld: nf_tables events: %s\n", strerror(errno));
		return;
	}
	n->listening = on;
	if (!on) {
		/* what was queued before is not needed: a resync follows */
		while (recv(mnl_socket_get_fd(n->ev), buf_discard, sizeof(buf_discard), 0) > 0)
			;
	}
}

void fw_names_pause(struct fw_names *n)
{
	if (n)
		names_listen(n, false);
}

static bool has_host_sets(const struct fw_names *n)
{
	const struct ruleset *rs = n->st->rs;
	for (size_t i = 0; rs && i < rs->nsets; i++)
		if (host_set(n->st, rs->sets[i].name))
			return true;
	return false;
}

void fw_names_resume(struct fw_names *n)
{
	if (!n)
		return;
	bool on = has_host_sets(n);
	names_listen(n, on);
	if (on)
		names_resync(n);
}

int fw_names_event(struct fw_names *n)
{
	static char buf[64 * 1024];
	bool lost = false;
	for (;;) {
		ssize_t len = recv(mnl_socket_get_fd(n->ev), buf, sizeof(buf), 0);
		if (len < 0 && errno == EINTR)
			continue;
		if (len < 0 && errno == ENOBUFS) {
			lost = true;       /* the kernel dropped events: read the table instead */
			continue;
		}
		if (len <= 0)
			break;
		mnl_cb_run(buf, (size_t)len, 0, 0, names_elems_cb, n);
	}
	qsort(n->pending, n->npending, sizeof(n->pending[0]), names_set_cmp);
	int rc = names_flush(n);
	if (lost)
		names_resync(n);
	return rc;
}

/* ---- the side table ---- */

struct names_have {
	char (*names)[RS_NAME_MAX];
	size_t n, cap;
};

static int names_sets_cb(const struct nlmsghdr *nlh, void *data)
{
	struct names_have *h = data;
	struct nftnl_set *ns = nftnl_set_alloc();
	if (ns && nftnl_set_nlmsg_parse(nlh, ns) == 0 && nftnl_set_is_set(ns, NFTNL_SET_NAME)) {
		if (h->n == h->cap) {
			size_t cap = h->cap ? h->cap * 2 : 16;
			void *p = realloc(h->names, cap * sizeof(*h->names));
			if (!p) {
				nftnl_set_free(ns);
				return MNL_CB_ERROR;
			}
			h->names = p;
			h->cap = cap;
		}
		snprintf(h->names[h->n++], RS_NAME_MAX, "%s", nftnl_set_get_str(ns, NFTNL_SET_NAME));
	}
	if (ns)
		nftnl_set_free(ns);
	return MNL_CB_OK;
}

static bool have_set(const struct names_have *h, const char *name)
{
	for (size_t i = 0; i < h->n; i++)
		if (strcmp(h->names[i], name) == 0)
			return true;
	return false;
}

int fw_names_sync(struct fw_names *n)
{
	const struct ruleset *rs = n->st->rs;
	struct names_have have = { 0 };
	bool sets = has_host_sets(n);
	bool want_hold = sets && n->hold != HOLD_NONE;

	struct nl_batch b;
	batch_init(&b, n->seq);
	b.table = FW_NAMES_TABLE;
	batch_begin(&b);
	size_t changes = 0;
	if (!n->synced) {
		/* made anew by each daemon: what an earlier one left is not known */
		batch_table(&b, NFT_MSG_NEWTABLE, 0);
		batch_table(&b, NFT_MSG_DELTABLE, 0);
		batch_table(&b, NFT_MSG_NEWTABLE, 0);
		n->hold_loaded = false;
		changes++;
	} else if (sets || n->side_sets) {
		char buf[512];
		struct nftnl_set *q = nftnl_set_alloc();
		nftnl_set_set_str(q, NFTNL_SET_TABLE, FW_NAMES_TABLE);
		struct nlmsghdr *req = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSET, NFPROTO_INET,
							     NLM_F_DUMP, 0);
		nftnl_set_nlmsg_build_payload(req, q);
		nftnl_set_free(q);
		if (nft_dump(req, names_sets_cb, &have) < 0) {
			free(have.names);
			batch_free(&b);
			n->synced = false;    /* someone deleted it: make it again */
			return fw_names_sync(n);
		}
	}
	for (size_t i = 0; rs && i < rs->nsets; i++) {
		const struct rs_set *s = &rs->sets[i];
		if (!host_set(n->st, s->name) || have_set(&have, s->name))
			continue;
		struct rs_set side = *s;
		side.timeout_s = FW_NAMES_SIDE_TIMEOUT;
		batch_set(&b, NFT_MSG_NEWSET, &side);
		changes++;
	}
	for (size_t i = 0; i < have.n; i++) {
		if (host_set(n->st, have.names[i]))
			continue;
		struct rs_set gone = { .type = RST_IPV4 };
		snprintf(gone.name, sizeof(gone.name), "%s", have.names[i]);
		batch_set(&b, NFT_MSG_DELSET, &gone);
		changes++;
	}
	if (want_hold && !n->hold_loaded) {
		hold_chain(&b, n->hold);
		changes++;
	} else if (!want_hold && n->hold_loaded) {
		struct nftnl_chain *c = nftnl_chain_alloc();
		nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, FW_NAMES_TABLE);
		nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, "hold");
		nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
		struct nlmsghdr *nlh = batch_msg(&b, NFT_MSG_DELCHAIN, 0, "chain hold");
		nftnl_chain_nlmsg_build_payload(nlh, c);
		batch_msg_done(&b, nlh);
		nftnl_chain_free(c);
		changes++;
	}
	batch_end(&b);
	int rc = 0;
	if (changes) {
		char err[512];
		rc = nft_commit(n->st->nft, &b, err, sizeof(err));
		if (rc)
			fprintf(stderr, "moat-firewalld: the table inet %s: %s\n", FW_NAMES_TABLE, err);
		else {
			n->synced = true;
			n->hold_loaded = want_hold;
		}
	}
	if (!rc)
		n->side_sets = sets;
	n->seq = b.seq;
	batch_free(&b);
	free(have.names);
	fw_names_resume(n);
	return rc;
}

/* nlsock.c: send one batch to nf_tables and map any error back to the part
 * of the ruleset (and the config line) that caused it.
 *
 * The kernel handles a batch inside our sendmsg(): when it returns, every
 * error is already queued on the socket. No error queued = committed.
 */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <limits.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <stdlib.h>
#include <time.h>
#include <linux/netfilter/nfnetlink.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "policy/batch.h"

int nft_sock_open(struct nft_sock *s, bool dry_run)
{
	memset(s, 0, sizeof(*s));
	s->dry_run = dry_run;
	if (dry_run)
		return 0;
	s->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!s->nl)
		return -errno;
	if (mnl_socket_bind(s->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int err = -errno;
		mnl_socket_close(s->nl);
		s->nl = NULL;
		return err;
	}
	int one = 1;
	mnl_socket_setsockopt(s->nl, NETLINK_EXT_ACK, &one, sizeof(one));
	s->portid = mnl_socket_get_portid(s->nl);
	return 0;
}

void nft_sock_close(struct nft_sock *s)
{
	if (s->nl)
		mnl_socket_close(s->nl);
	s->nl = NULL;
}

static void describe_error(const struct nl_batch *b, const struct nlmsghdr *nlh,
			   char *err, size_t errlen, size_t *used)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	const char *extack = NULL;
	size_t payload = nlh->nlmsg_len - NLMSG_HDRLEN;   /* >= sizeof(*e): nft_commit checked */
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
		/* the TLVs follow the error and, unless capped, the whole request */
		size_t off = sizeof(*e);
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED) && e->msg.nlmsg_len >= sizeof(struct nlmsghdr))
			off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
		const struct nlattr *attr;
		void *start = (char *)e + off;
		size_t left = off <= payload ? payload - off : 0;
		mnl_attr_for_each_payload(start, left) {
			if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
			    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
				extack = mnl_attr_get_str(attr);
		}
	}
	const struct batch_origin *o = batch_find_origin(b, e->msg.nlmsg_seq);
	int n = snprintf(err + *used, errlen - *used, "%s%s%s%s%s", *used ? "; " : "",
			 o ? o->what : "batch", ": ", strerror(-e->error),
			 extack ? " (" : "");
	if (n > 0 && (size_t)n < errlen - *used)
		*used += n;
	if (extack && *used < errlen) {
		n = snprintf(err + *used, errlen - *used, "%s)", extack);
		if (n > 0 && (size_t)n < errlen - *used)
			*used += n;
	}
	if (o && o->line && *used < errlen) {
		n = snprintf(err + *used, errlen - *used, " [config line %d]", o->line);
		if (n > 0 && (size_t)n < errlen - *used)
			*used += n;
	}
}

int nft_acks(const struct nl_batch *b, const void *buf, size_t n, char *err, size_t errlen, size_t *used)
{
	int first_error = 0;
	const struct nlmsghdr *nlh = buf;
	int left = n > INT_MAX ? INT_MAX : (int)n;
	for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
		if (nlh->nlmsg_type != NLMSG_ERROR)
			continue;
		if (nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(struct nlmsgerr)) {
			if (!first_error)
				first_error = -EPROTO;   /* an error we cannot read is still one */
			continue;
		}
		const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
		if (e->error == 0)
			continue;
		if (!first_error)
			first_error = e->error < 0 ? e->error : -EPROTO;
		describe_error(b, nlh, err, errlen, used);
	}
	return first_error;
}

int nft_commit(struct nft_sock *s, struct nl_batch *b, char *err, size_t errlen)
{
	if (errlen)
		err[0] = 0;
	if (s->dry_run)
		return 0;
	int size = b->len + 65536 > (size_t)1 << 30 ? 1 << 30 : (int)(b->len + 65536);
	int fd = mnl_socket_get_fd(s->nl);
	/* FORCE: the batch is one message and may exceed the default limits */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	int rcv = 4 << 20;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));

	if (mnl_socket_sendto(s->nl, b->buf, b->len) < 0) {
		int e = -errno;
		snprintf(err, errlen, "sending the batch: %s", strerror(errno));
		return e;
	}

	static char buf[64 * 1024];
	int first_error = 0;
	size_t used = 0;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (!first_error)
				first_error = -errno;
			break;
		}
		int e = nft_acks(b, buf, (size_t)n, err, errlen, &used);
		if (!first_error)
			first_error = e;
	}
	return first_error;
}

int nft_dump(struct nlmsghdr *req, int (*cb)(const struct nlmsghdr *nlh, void *data), void *data)
{
	enum { BUF = 32768 };
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!nl)
		return -errno;
	int err = 0;
	char *buf = malloc(BUF);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		goto out;
	}
	uint32_t seq = req->nlmsg_seq = (uint32_t)time(NULL) | 1;   /* never 0 */
	req->nlmsg_flags |= NLM_F_DUMP;
	if (mnl_socket_sendto(nl, req, req->nlmsg_len) < 0) {
		err = -errno;
		goto out;
	}
	unsigned portid = mnl_socket_get_portid(nl);
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, BUF);
		if (n < 0) {
			err = -errno;
			break;
		}
		int ret = mnl_cb_run(buf, (size_t)n, seq, portid, cb, data);
		if (ret < 0) {
			err = -errno;
			break;
		}
		if (ret == MNL_CB_STOP)
			break;
	}
out:
	free(buf);
	mnl_socket_close(nl);
	return err;
}

int nft_dump_rules(const char *table, int (*cb)(const struct nlmsghdr *nlh, void *data),
		   void *data)
{
	char buf[512];
	struct nftnl_rule *r = nftnl_rule_alloc();
	if (!r)
		return -ENOMEM;
	struct nlmsghdr *nlh = nftnl_rule_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, NFPROTO_INET,
							  NLM_F_DUMP, 0);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	return nft_dump(nlh, cb, data);
}

uint32_t nft_appliance_table_flags(struct nft_sock *s)
{
	const uint32_t owned = NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST;
	if (s->dry_run)
		return owned;
	/* create and delete a scratch table with both flags in one transaction:
	 * nothing stays behind either way */
	struct nl_batch b;
	char err[256];
	batch_init(&b, (uint32_t)time(NULL) | 1);
	b.table = "moat-probe";
	batch_begin(&b);
	batch_table(&b, NFT_MSG_NEWTABLE, owned);
	batch_table(&b, NFT_MSG_DELTABLE, 0);
	batch_end(&b);
	int rc = nft_commit(s, &b, err, sizeof(err));
	batch_free(&b);
	return rc == -EOPNOTSUPP ? 0 : owned;
}

/* Whether a table with one rule queueing the HOW way loads: it is created
 * and deleted in one transaction (ENOENT when the expression or target is
 * missing). */
static bool queue_probe(struct nft_sock *s, int how)
{
	struct ruleset *rs = ruleset_new("moat-probe");
	struct rs_chain *c = ruleset_base_chain_new(rs, "probe", NF_INET_LOCAL_OUT, 0);
	struct rs_rule *r = rs_rule_new(c, 0, 0);
	r->what = "probe";
	r->queue = how;
	ruleset_index(rs);
	struct nl_batch b;
	char err[256];
	batch_init(&b, (uint32_t)time(NULL) | 1);
	b.table = ruleset_table(rs);
	batch_begin(&b);
	batch_table(&b, NFT_MSG_NEWTABLE, 0);
	batch_ruleset_add(&b, rs);
	batch_table(&b, NFT_MSG_DELTABLE, 0);
	batch_end(&b);
	int rc = nft_commit(s, &b, err, sizeof(err));
	batch_free(&b);
	ruleset_free(rs);
	return rc == 0;
}

int nft_queue_kind(struct nft_sock *s)
{
	if (s->dry_run || queue_probe(s, RQ_NFT))
		return RQ_NFT;
	return queue_probe(s, RQ_XT) ? RQ_XT : RQ_NONE;
}

struct table_seek {
	const char *name;
	bool found;
};

static int table_seen(const struct nlmsghdr *nlh, void *data)
{
	struct table_seek *t = data;
	struct nftnl_table *nt = nftnl_table_alloc();
	if (!nt)
		return MNL_CB_ERROR;
	if (nftnl_table_nlmsg_parse(nlh, nt) == 0 && nftnl_table_is_set(nt, NFTNL_TABLE_NAME) &&
	    strcmp(nftnl_table_get_str(nt, NFTNL_TABLE_NAME), t->name) == 0)
		t->found = true;
	nftnl_table_free(nt);
	return MNL_CB_OK;
}

int nft_table_exists(const char *table)
{
	char buf[512];
	struct nlmsghdr *nlh = nftnl_table_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, NFPROTO_INET, NLM_F_DUMP, 0);
	struct table_seek t = { table, false };
	int rc = nft_dump(nlh, table_seen, &t);
	return rc < 0 ? rc : t.found;
}

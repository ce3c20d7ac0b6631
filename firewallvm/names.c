/* names.c: the addresses DNS answers give the host names of the policy,
 * put into the host sets of inet moat before a VM has the answer.
 *
 * A rule `allow tcp to a.test` matches the set h4_a.test (h6_ for IPv6) of
 * inet moat. The firewall's DNS answers to the VMs (source port 53, UDP and
 * TCP) leave through the only chain of a side table, inet moat-dns, which
 * sends them to NFQUEUE FW_DNS_QUEUE. This part reads each held packet whole
 * and parses its answer (dnsanswer.c): every A and AAAA address of the
 * question's name, or of a name its CNAME chain reaches, goes into the set
 * of each host name of the policy in force that the name is (or is under),
 * with the set's full timeout, which also renews an address already there.
 * One transaction takes the addresses of every packet read, then they all
 * go: a VM never holds an answer whose address its rule does not have.
 *
 * dnsmasq writes no table (dnsmasq.c: without subnet6 it holds no
 * capability over this network namespace). The answers are only what the
 * upstream resolver said, relayed by dnsmasq: whoever controls them can put
 * addresses into host sets, for an hour, and nothing else. An answer that does not parse gives no address and is
 * let go unchanged: it can open nothing, and the VM's resolver judges it as
 * it would without us (dropping it would only make the VM ask again). A TCP
 * answer split across segments is let go unread: its name's first
 * connection may be refused, as with no hold at all.
 *
 * An apply changes only what differs and never touches the host sets: what
 * they hold stays until it times out or the name is asked again.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "policy/batch.h"
#include "firewallvm/dnsanswer.h"
#include "firewallvm/firewalld.h"

#define NAMES_PENDING    1024      /* added in one transaction */
#define NAMES_COPY       0xffff    /* bytes of each held packet we read */

struct names_elem {
	const struct rs_set *set;  /* in the ruleset in force */
	uint8_t key[16];
	uint64_t timeout_ms;
};

/* A host name of the policy in force and its sets (NULL: not in the ruleset) */
struct names_host {
	const char *name;          /* the policy's string */
	const struct rs_set *set4, *set6;
};

enum names_hold { HOLD_NONE, HOLD_NFT, HOLD_XT };

struct fw_names {
	struct mnl_socket *q;      /* NFQUEUE FW_DNS_QUEUE: the DNS answers held */
	enum names_hold hold;      /* how the side table's chain queues them */
	bool synced;               /* the side table was made anew by this process */
	bool hold_loaded;          /* and has the hold chain now */
	struct fw_state *st;
	struct names_host *hosts;
	size_t nhosts;
	struct names_elem pending[NAMES_PENDING];
	size_t npending;
	uint32_t seq;
	unsigned long copied;
	struct dns_tcp tcp;        /* where each TCP answer stream's next message starts */
};

/* ---- the DNS answers held in NFQUEUE ---- */

static int queue_open(struct fw_names *n)
{
	n->q = fw_nfq_open(FW_DNS_QUEUE, NAMES_COPY, &n->seq);
	return n->q ? 0 : -1;
}

/* Table TABLE as a ruleset: with HOW, its base chain "hold" on output,
 * whose two rules hold the firewall's DNS answers (th sport 53, UDP and
 * TCP) in queue FW_DNS_QUEUE, bypassed while no one listens. HOW: nft's
 * queue statement, or (kernels built without nft_queue) the xtables NFQUEUE
 * target through nft_compat. */
static struct ruleset *hold_ruleset(const char *table, enum names_hold how)
{
	struct ruleset *rs = ruleset_new(table);
	if (how != HOLD_NONE) {
		struct rs_chain *c = ruleset_base_chain_new(rs, "hold", NF_INET_LOCAL_OUT, 0);
		static const uint8_t protos[] = { IPPROTO_UDP, IPPROTO_TCP };
		for (size_t i = 0; i < sizeof(protos); i++) {
			struct rs_rule *r = rs_rule_new(c, 0, 0);
			r->what = "DNS answers held";
			rs_match_u8(r, RK_L4PROTO, RO_EQ, protos[i]);
			rs_match_u16(r, RK_TH_SPORT, 53, 53);
			r->queue = how == HOLD_NFT ? RQ_NFT : RQ_XT;
			r->queue_num = FW_DNS_QUEUE;
		}
	}
	ruleset_index(rs);
	return rs;
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

unsigned long fw_names_copied(const struct fw_names *n)
{
	return n ? n->copied : 0;
}

/* ---- adding to inet moat ---- */

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
			nftnl_set_elem_set_u64(e, NFTNL_SET_ELEM_TIMEOUT, n->pending[i].timeout_ms);
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
		fprintf(stderr, "moat-firewalld: adding %zu resolved addresses: %s\n", n->npending, err);
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

static void names_pend(struct fw_names *n, const struct rs_set *s, const uint8_t *key,
		       uint64_t timeout_ms)
{
	if (n->npending == NAMES_PENDING) {
		qsort(n->pending, n->npending, sizeof(n->pending[0]), names_set_cmp);
		names_flush(n);
	}
	struct names_elem *p = &n->pending[n->npending++];
	p->set = s;
	memset(p->key, 0, sizeof(p->key));
	memcpy(p->key, key, key_len(s));
	p->timeout_ms = timeout_ms;
}

/* The addresses of answer A for the host names of the policy in force. */
static void names_take(struct fw_names *n, const struct dns_answer *a)
{
	for (size_t h = 0; h < n->nhosts; h++) {
		const struct names_host *host = &n->hosts[h];
		bool match = false;
		for (size_t i = 0; i < a->nnames && !match; i++)
			match = dns_name_under(a->names[i], host->name);
		if (!match)
			continue;
		for (size_t i = 0; i < a->naddrs; i++) {
			const struct rs_set *s = a->addrs[i].len == 4 ? host->set4 : host->set6;
			if (!s)
				continue;
			names_pend(n, s, a->addrs[i].key, (uint64_t)s->timeout_s * 1000);
		}
	}
}

struct queue_read {
	struct fw_names *n;
	uint32_t last_id;
	size_t held;
};

static int queue_packet_cb(const struct nlmsghdr *nlh, void *data)
{
	struct queue_read *r = data;
	struct fw_nfq_packet p;
	if (!fw_nfq_packet(nlh, &p))
		return MNL_CB_OK;
	if (!r->held || p.id > r->last_id)
		r->last_id = p.id;
	r->held++;
	if (!p.payload)
		return MNL_CB_OK;
	/* malformed (-1) or nothing to read (0): it goes unchanged, adding nothing */
	static struct dns_answer ans;
	if (dns_packet_parse(p.payload, p.len, &r->n->tcp, &ans) > 0)
		names_take(r->n, &ans);
	return MNL_CB_OK;
}

int fw_names_queue_event(struct fw_names *n)
{
	static char buf[NAMES_COPY + 8192];
	struct queue_read r = { .n = n };
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
	/* every address of these answers is in by now (or refused: they go anyway) */
	qsort(n->pending, n->npending, sizeof(n->pending[0]), names_set_cmp);
	names_flush(n);
	int rc = fw_nfq_verdict(n->q, FW_DNS_QUEUE, r.last_id, NF_ACCEPT, true);
	if (rc < 0)
		fprintf(stderr, "moat-firewalld: letting %zu DNS answers go: %s\n", r.held, strerror(-rc));
	return rc;
}

struct fw_names *fw_names_open(struct fw_state *st)
{
	struct fw_names *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->st = st;
	n->seq = (uint32_t)time(NULL) ^ 0x6e616d65u;
	int kind = nft_queue_kind(st->nft);
	n->hold = kind == RQ_NFT ? HOLD_NFT : kind == RQ_XT ? HOLD_XT : HOLD_NONE;
	if (n->hold == HOLD_NONE) {
		fprintf(stderr, "moat-firewalld: the kernel has neither nft_queue nor xt_NFQUEUE:"
			" DNS answers are not seen, host-name rules get no address\n");
	} else if (queue_open(n) < 0) {
		fprintf(stderr, "moat-firewalld: NFQUEUE %d: %s; DNS answers are not seen,"
			" host-name rules get no address\n", FW_DNS_QUEUE, strerror(errno));
		if (n->q)
			mnl_socket_close(n->q);
		n->q = NULL;
		n->hold = HOLD_NONE;
	}
	return n;
}

void fw_names_close(struct fw_names *n)
{
	if (!n)
		return;
	if (n->q)
		mnl_socket_close(n->q);
	free(n->hosts);
	free(n);
}

/* ---- the policy's host names and the side table ---- */

static bool hosts_have(const struct fw_names *n, const char *name)
{
	for (size_t i = 0; i < n->nhosts; i++)
		if (strcmp(n->hosts[i].name, name) == 0)
			return true;
	return false;
}

/* The host names of the policy in force with their sets in the ruleset. */
static int hosts_collect(struct fw_names *n)
{
	const struct policy *p = n->st->policy;
	free(n->hosts);
	n->hosts = NULL;
	n->nhosts = 0;
	size_t cap = 0;
	for (size_t i = 0; p && n->st->rs && i < p->nvms; i++)
		for (size_t j = 0; j < p->vms[i].nrules; j++) {
			const struct rule *ru = &p->vms[i].rules[j];
			for (size_t d = 0; !ru->expired && d < ru->ndests; d++) {
				const char *name = ru->dests[d].name;
				if (ru->dests[d].kind != DEST_HOST || hosts_have(n, name))
					continue;
				char s4[RS_NAME_MAX], s6[RS_NAME_MAX];
				ruleset_host_set_name(name, AF_INET, s4, sizeof(s4));
				ruleset_host_set_name(name, AF_INET6, s6, sizeof(s6));
				struct names_host h = { name, host_set(n->st, s4), host_set(n->st, s6) };
				if (!h.set4 && !h.set6)
					continue;
				if (n->nhosts == cap) {
					cap = cap ? cap * 2 : 16;
					void *q = realloc(n->hosts, cap * sizeof(*n->hosts));
					if (!q)
						return -ENOMEM;
					n->hosts = q;
				}
				n->hosts[n->nhosts++] = h;
			}
		}
	return 0;
}

/* Held answers wait in the queue while the daemon commits, and nothing
 * else is listened to: there is nothing to pause or resume. apply.c calls
 * these around its commits. */
void fw_names_pause(struct fw_names *n)
{
	(void)n;
}

void fw_names_resume(struct fw_names *n)
{
	(void)n;
}

int fw_names_sync(struct fw_names *n)
{
	int rc = hosts_collect(n);
	if (rc < 0)
		return rc;
	bool want_hold = n->nhosts > 0 && n->hold != HOLD_NONE;
	if (n->synced && want_hold == n->hold_loaded)
		return 0;
	/* a hold loaded anew has seen no SYN-ACK: what the table says of
	 * connections from before it (one closed and reopened on the same
	 * ports meanwhile) is not known to be true */
	if (want_hold)
		memset(&n->tcp, 0, sizeof(n->tcp));
	struct ruleset *want = hold_ruleset(FW_NAMES_TABLE, want_hold ? n->hold : HOLD_NONE);
	struct nl_batch b;
	batch_init(&b, n->seq);
	if (!n->synced) {
		/* made anew by each daemon: an earlier one's is not known */
		batch_ruleset_full(&b, want, 0);
	} else {
		struct ruleset *had = hold_ruleset(FW_NAMES_TABLE, n->hold_loaded ? n->hold : HOLD_NONE);
		batch_ruleset_diff(&b, had, want);
		ruleset_free(had);
	}
	ruleset_free(want);
	char err[512];
	rc = nft_commit(n->st->nft, &b, err, sizeof(err));
	if (rc)
		fprintf(stderr, "moat-firewalld: the table inet %s: %s\n", FW_NAMES_TABLE, err);
	else {
		n->synced = true;
		n->hold_loaded = want_hold;
	}
	n->seq = b.seq;
	batch_free(&b);
	return rc;
}

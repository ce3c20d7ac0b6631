/* nflog.c: packets that log statements send to NFLOG group RS_LOG_GROUP,
 * read through libmnl (nfnetlink_log), turned into one line each and kept in
 * a bounded ring. What arrives here is a copy of a packet an app VM sent, so
 * every length is checked before use. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "firewallvm/firewalld.h"
#include "firewallvm/parts.h"

/* IPv6 with a few extension headers and the first 8 bytes of L4 */
#define NFLOG_COPY_RANGE 160
#define NFLOG_RCVBUF     (1 << 20)
#define NFLOG_EXT_MAX    8

struct nflog_entry {
	char vm[MOAT_NAME_MAX + 1];
	char line[FW_LOG_LINE_MAX];
};

struct fw_nflog {
	struct mnl_socket *nl;
	struct nflog_entry ring[FW_LOG_RING];
	size_t head, count;            /* head: the next slot written */
	unsigned long skipped;
	uint32_t seq;
};

struct nflog_prefix {
	char vm[MOAT_NAME_MAX + 1];
	char action[6];                /* "allow" | "deny" */
	int rule;                      /* 0: default deny */
};

/* "moat VM N allow ", "moat VM N deny ", "moat VM default deny " */
static bool nflog_parse_prefix(const char *s, struct nflog_prefix *p)
{
	if (strncmp(s, "moat ", 5) != 0)
		return false;
	s += 5;
	size_t n = 0;
	while (n < MOAT_NAME_MAX && ((s[n] >= 'a' && s[n] <= 'z') ||
				     (n > 0 && ((s[n] >= '0' && s[n] <= '9') || s[n] == '-'))))
		n++;
	if (n == 0 || s[n] != ' ')
		return false;
	memcpy(p->vm, s, n);
	p->vm[n] = '\0';
	s += n + 1;
	if (strcmp(s, "default deny ") == 0) {
		p->rule = 0;
		strcpy(p->action, "deny");
		return true;
	}
	int rule = 0;
	for (n = 0; s[n] >= '0' && s[n] <= '9'; n++) {
		if (n >= 5)
			return false;
		rule = rule * 10 + (s[n] - '0');
	}
	if (n == 0 || rule == 0 || s[n] != ' ')
		return false;
	s += n + 1;
	if (strcmp(s, "allow ") == 0)
		strcpy(p->action, "allow");
	else if (strcmp(s, "deny ") == 0)
		strcpy(p->action, "deny");
	else
		return false;
	p->rule = rule;
	return true;
}

struct nflog_pkt {
	int family;
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	uint8_t proto;
	bool has_ports, has_type;
	uint16_t sport, dport;
	uint8_t type;
};

static void nflog_l4(struct nflog_pkt *k, const uint8_t *l4, size_t len)
{
	switch (k->proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE:
	case IPPROTO_SCTP:
		if (len >= 4) {
			k->has_ports = true;
			k->sport = (uint16_t)(l4[0] << 8 | l4[1]);
			k->dport = (uint16_t)(l4[2] << 8 | l4[3]);
		}
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		if (len >= 1) {
			k->has_type = true;
			k->type = l4[0];
		}
		break;
	}
}

/* The IP packet as the hook saw it (perhaps cut at NFLOG_COPY_RANGE). */
static bool nflog_parse_packet(const uint8_t *p, size_t len, struct nflog_pkt *k)
{
	memset(k, 0, sizeof(*k));
	if (len < 1)
		return false;
	if (p[0] >> 4 == 4) {
		if (len < 20)
			return false;
		size_t ihl = (size_t)(p[0] & 0x0f) * 4;
		size_t total = (size_t)(p[2] << 8 | p[3]);
		if (ihl < 20 || ihl > len || total < ihl)
			return false;
		k->family = AF_INET;
		k->proto = p[9];
		inet_ntop(AF_INET, p + 12, k->src, sizeof(k->src));
		inet_ntop(AF_INET, p + 16, k->dst, sizeof(k->dst));
		if (total < len)
			len = total;   /* Ethernet padding is not L4 */
		if (((p[6] & 0x1f) << 8 | p[7]) == 0)   /* only the first fragment has L4 */
			nflog_l4(k, p + ihl, len - ihl);
		return true;
	}
	if (p[0] >> 4 == 6) {
		if (len < 40)
			return false;
		k->family = AF_INET6;
		inet_ntop(AF_INET6, p + 8, k->src, sizeof(k->src));
		inet_ntop(AF_INET6, p + 24, k->dst, sizeof(k->dst));
		size_t plen = (size_t)(p[4] << 8 | p[5]);
		if (40 + plen < len)
			len = 40 + plen;
		uint8_t nh = p[6];
		size_t off = 40;
		for (int i = 0; i < NFLOG_EXT_MAX; i++) {
			if (nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING || nh == IPPROTO_DSTOPTS) {
				if (len - off < 2)
					break;
				size_t hl = ((size_t)p[off + 1] + 1) * 8;
				if (hl > len - off)
					break;
				nh = p[off];
				off += hl;
			} else if (nh == IPPROTO_FRAGMENT) {
				if (len - off < 8)
					break;
				bool first = ((p[off + 2] << 8 | p[off + 3]) & 0xfff8) == 0;
				nh = p[off];
				off += 8;
				if (!first) {
					k->proto = nh;
					return true;
				}
			} else {
				break;
			}
		}
		k->proto = nh;
		nflog_l4(k, p + off, len - off);
		return true;
	}
	return false;
}

static const char *nflog_proto_name(const struct nflog_pkt *k)
{
	switch (k->proto) {
	case IPPROTO_TCP: return "tcp";
	case IPPROTO_UDP: return "udp";
	case IPPROTO_ICMP: return "icmp";
	case IPPROTO_ICMPV6: return "icmpv6";
	case IPPROTO_SCTP: return "sctp";
	case IPPROTO_UDPLITE: return "udplite";
	case IPPROTO_GRE: return "gre";
	case IPPROTO_ESP: return "esp";
	}
	return NULL;
}

static bool nflog_format(char *buf, size_t size, time_t now, const struct nflog_prefix *x,
			 const struct nflog_pkt *k)
{
	char when[32], proto[16], src[INET6_ADDRSTRLEN + 8], dst[INET6_ADDRSTRLEN + 8], rule[16];
	struct tm tm;
	if (!gmtime_r(&now, &tm) || strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return false;
	const char *pn = nflog_proto_name(k);
	if (pn)
		snprintf(proto, sizeof(proto), "%s", pn);
	else
		snprintf(proto, sizeof(proto), "proto %u", k->proto);
	if (k->has_ports && k->family == AF_INET6) {
		snprintf(src, sizeof(src), "[%s]:%u", k->src, k->sport);
		snprintf(dst, sizeof(dst), "[%s]:%u", k->dst, k->dport);
	} else if (k->has_ports) {
		snprintf(src, sizeof(src), "%s:%u", k->src, k->sport);
		snprintf(dst, sizeof(dst), "%s:%u", k->dst, k->dport);
	} else {
		snprintf(src, sizeof(src), "%s", k->src);
		snprintf(dst, sizeof(dst), "%s", k->dst);
	}
	if (x->rule)
		snprintf(rule, sizeof(rule), "%d", x->rule);
	else
		snprintf(rule, sizeof(rule), "default");
	int n;
	if (k->has_type)
		n = snprintf(buf, size, "%s %s %s %s %s -> %s type %u rule %s", when, x->vm, x->action,
			     proto, src, dst, k->type, rule);
	else
		n = snprintf(buf, size, "%s %s %s %s %s -> %s rule %s", when, x->vm, x->action,
			     proto, src, dst, rule);
	return n > 0 && (size_t)n < size;
}

static int nflog_attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	uint16_t type = mnl_attr_get_type(a);
	if (type <= NFULA_MAX)
		tb[type] = a;
	return MNL_CB_OK;
}

static void nflog_push(struct fw_nflog *l, const char *vm, const char *line)
{
	struct nflog_entry *e = &l->ring[l->head];
	snprintf(e->vm, sizeof(e->vm), "%s", vm);
	snprintf(e->line, sizeof(e->line), "%s", line);
	l->head = (l->head + 1) % FW_LOG_RING;
	if (l->count < FW_LOG_RING)
		l->count++;
}

/* One NFULNL_MSG_PACKET message: a line, or false when it is not one of ours. */
static bool nflog_message(const struct nlmsghdr *nlh, time_t now,
			  char *line, size_t size, char vm[MOAT_NAME_MAX + 1])
{
	if (nlh->nlmsg_type != ((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET) ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(struct nfgenmsg))
		return false;
	const struct nlattr *tb[NFULA_MAX + 1] = { 0 };
	if (mnl_attr_parse(nlh, sizeof(struct nfgenmsg), nflog_attr_cb, tb) < 0)
		return false;
	if (!tb[NFULA_PREFIX] || !tb[NFULA_PAYLOAD] ||
	    mnl_attr_validate(tb[NFULA_PREFIX], MNL_TYPE_NUL_STRING) < 0)
		return false;
	struct nflog_prefix x;
	struct nflog_pkt k;
	if (!nflog_parse_prefix(mnl_attr_get_str(tb[NFULA_PREFIX]), &x) ||
	    !nflog_parse_packet(mnl_attr_get_payload(tb[NFULA_PAYLOAD]),
				mnl_attr_get_payload_len(tb[NFULA_PAYLOAD]), &k))
		return false;
	if (!nflog_format(line, size, now, &x, &k))
		return false;
	memcpy(vm, x.vm, sizeof(x.vm));
	return true;
}

int fw_nflog_feed(struct fw_nflog *l, const void *buf, size_t len, time_t now,
		  void (*new_line)(const char *line, void *arg), void *arg)
{
	int added = 0;
	size_t off = 0;
	/* not mnl_nlmsg_ok(): it takes a length of 2^31 or more for a negative one */
	while (len - off >= sizeof(struct nlmsghdr)) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)((const char *)buf + off);
		if (nlh->nlmsg_len < sizeof(*nlh) || nlh->nlmsg_len > len - off)
			break;
		char line[FW_LOG_LINE_MAX], vm[MOAT_NAME_MAX + 1];
		if (nlh->nlmsg_type == NLMSG_ERROR || nlh->nlmsg_type == NLMSG_DONE ||
		    nlh->nlmsg_type == NLMSG_NOOP) {
			/* acks of our own config requests */
		} else if (nflog_message(nlh, now, line, sizeof(line), vm)) {
			nflog_push(l, vm, line);
			added++;
			if (new_line)
				new_line(line, arg);
		} else {
			l->skipped++;
		}
		size_t step = NLMSG_ALIGN(nlh->nlmsg_len);
		if (step >= len - off)
			return added;
		off += step;
	}
	return off == len ? added : -EBADMSG;
}

unsigned long fw_nflog_skipped(const struct fw_nflog *l)
{
	return l->skipped;
}

void fw_nflog_each(const struct fw_nflog *l, const char *vm,
		   void (*fn)(const char *line, void *arg), void *arg)
{
	size_t first = (l->head + FW_LOG_RING - l->count) % FW_LOG_RING;
	for (size_t i = 0; i < l->count; i++) {
		const struct nflog_entry *e = &l->ring[(first + i) % FW_LOG_RING];
		if (!vm || strcmp(vm, e->vm) == 0)
			fn(e->line, arg);
	}
}

struct fw_nflog *fw_nflog_new_ring(void)
{
	return calloc(1, sizeof(struct fw_nflog));
}

/* One config request, answered by an ack; log packets that arrive meanwhile
 * are dropped (the instance is not set up yet). Returns 0 or -errno. */
static int nflog_config(struct fw_nflog *l, uint8_t family, uint8_t cmd, bool mode)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = ++l->seq;
	struct nfgenmsg *nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = family;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = htons(cmd == NFULNL_CFG_CMD_PF_BIND || cmd == NFULNL_CFG_CMD_PF_UNBIND ?
			    0 : RS_LOG_GROUP);
	if (cmd != NFULNL_CFG_CMD_NONE) {
		struct nfulnl_msg_config_cmd c = { .command = cmd };
		mnl_attr_put(nlh, NFULA_CFG_CMD, sizeof(c), &c);
	}
	if (mode) {
		struct nfulnl_msg_config_mode m = {
			.copy_range = htonl(NFLOG_COPY_RANGE),
			.copy_mode = NFULNL_COPY_PACKET,
		};
		mnl_attr_put(nlh, NFULA_CFG_MODE, sizeof(m), &m);
		/* one packet per message, flushed at once: log lines are rate limited anyway */
		mnl_attr_put_u32(nlh, NFULA_CFG_QTHRESH, htonl(1));
		mnl_attr_put_u32(nlh, NFULA_CFG_TIMEOUT, htonl(1));
	}
	if (mnl_socket_sendto(l->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	unsigned portid = mnl_socket_get_portid(l->nl);
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(l->nl, buf, sizeof(buf));
		if (n < 0)
			return errno == ENOBUFS ? -EAGAIN : -errno;
		int ret = mnl_cb_run(buf, (size_t)n, l->seq, portid, NULL, NULL);
		if (ret < 0)
			return -errno;
		if (ret == MNL_CB_STOP)
			return 0;
	}
}

struct fw_nflog *fw_nflog_open(void)
{
	struct fw_nflog *l = fw_nflog_new_ring();
	if (!l)
		return NULL;
	int err = 0;
	l->seq = (uint32_t)time(NULL);
	l->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!l->nl || mnl_socket_bind(l->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		goto fail;
	}
	int size = NFLOG_RCVBUF;
	setsockopt(mnl_socket_get_fd(l->nl), SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	const uint8_t families[] = { AF_INET, AF_INET6 };
	for (size_t i = 0; i < sizeof(families); i++) {
		/* old kernels want the family bound to nfnetlink_log; new ones ignore it */
		nflog_config(l, families[i], NFULNL_CFG_CMD_PF_UNBIND, false);
		if ((err = nflog_config(l, families[i], NFULNL_CFG_CMD_PF_BIND, false)) < 0)
			goto fail;
	}
	if ((err = nflog_config(l, AF_UNSPEC, NFULNL_CFG_CMD_BIND, false)) < 0 ||
	    (err = nflog_config(l, AF_UNSPEC, NFULNL_CFG_CMD_NONE, true)) < 0)
		goto fail;
	int fd = mnl_socket_get_fd(l->nl);
	int one = 1;
	/* an overrun (ENOBUFS) loses lines, never the socket */
	setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof(one));
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		err = -errno;
		goto fail;
	}
	return l;
fail:
	fw_nflog_close(l);
	errno = -err;
	return NULL;
}

void fw_nflog_close(struct fw_nflog *l)
{
	if (!l)
		return;
	if (l->nl)
		mnl_socket_close(l->nl);
	free(l);
}

int fw_nflog_fd(const struct fw_nflog *l)
{
	return l->nl ? mnl_socket_get_fd(l->nl) : -1;
}

int fw_nflog_event(struct fw_nflog *l, void (*new_line)(const char *line, void *arg), void *arg)
{
	static char buf[1 << 16];
	int added = 0;
	for (;;) {
		ssize_t n = recv(mnl_socket_get_fd(l->nl), buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return added;
			if (errno == EINTR || errno == ENOBUFS)
				continue;
			return -errno;
		}
		if (n == 0)
			return added;
		int r = fw_nflog_feed(l, buf, (size_t)n, time(NULL), new_line, arg);
		if (r > 0)
			added += r;
	}
}

/* nfqueue.c: the NFQUEUE socket the daemon's held packets come on (DNS
 * answers in names.c, DHCPv4 in dhcp4q.c): binding a queue, reading a held
 * packet, giving verdicts. libmnl only. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <string.h>
#include <sys/socket.h>

#include "firewallvm/firewalld.h"

#define NFQ_RCVBUF (4 << 20)

struct nlmsghdr *fw_nfq_msg(char *buf, uint16_t type, uint16_t num)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_QUEUE << 8) | type;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	struct nfgenmsg *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = AF_UNSPEC;
	g->version = NFNETLINK_V0;
	g->res_id = htons(num);
	return nlh;
}

/* Send NLH and wait for its acknowledgement. 0 or -errno. */
static int nfq_talk(struct mnl_socket *q, struct nlmsghdr *nlh, uint32_t *seq)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = ++*seq;
	if (mnl_socket_sendto(q, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t len = mnl_socket_recvfrom(q, buf, sizeof(buf));
		if (len < 0)
			return -errno;
		int rc = mnl_cb_run(buf, (size_t)len, nlh->nlmsg_seq, mnl_socket_get_portid(q), NULL, NULL);
		if (rc <= MNL_CB_STOP)
			return rc < 0 ? -errno : 0;
	}
}

struct mnl_socket *fw_nfq_open(uint16_t num, uint32_t copy, uint32_t *seq)
{
	char buf[256];
	struct mnl_socket *q = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!q)
		return NULL;
	if (mnl_socket_bind(q, 0, MNL_SOCKET_AUTOPID) < 0)
		goto fail;
	int size = NFQ_RCVBUF, fd = mnl_socket_get_fd(q);
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	struct nlmsghdr *nlh = fw_nfq_msg(buf, NFQNL_MSG_CONFIG, num);
	struct nfqnl_msg_config_cmd cmd = { .command = NFQNL_CFG_CMD_BIND };
	mnl_attr_put(nlh, NFQA_CFG_CMD, sizeof(cmd), &cmd);
	int rc = nfq_talk(q, nlh, seq);
	if (rc == 0) {
		/* the whole packet: it is read */
		nlh = fw_nfq_msg(buf, NFQNL_MSG_CONFIG, num);
		struct nfqnl_msg_config_params params = {
			.copy_mode = NFQNL_COPY_PACKET, .copy_range = htonl(copy) };
		mnl_attr_put(nlh, NFQA_CFG_PARAMS, sizeof(params), &params);
		rc = nfq_talk(q, nlh, seq);
	}
	if (rc < 0) {
		errno = -rc;
		goto fail;
	}
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	return q;
fail:;
	int e = errno;
	mnl_socket_close(q);
	errno = e;
	return NULL;
}

bool fw_nfq_packet(const struct nlmsghdr *nlh, struct fw_nfq_packet *p)
{
	if (nlh->nlmsg_type != ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET))
		return false;
	struct nlattr *tb[NFQA_MAX + 1] = { 0 };
	const struct nlattr *a;
	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
		uint16_t type = mnl_attr_get_type(a);
		if (type <= NFQA_MAX && mnl_attr_validate(a, MNL_TYPE_UNSPEC) >= 0)
			tb[type] = (struct nlattr *)a;
	}
	if (!tb[NFQA_PACKET_HDR] ||
	    mnl_attr_get_payload_len(tb[NFQA_PACKET_HDR]) < sizeof(struct nfqnl_msg_packet_hdr))
		return false;
	const struct nfqnl_msg_packet_hdr *h = mnl_attr_get_payload(tb[NFQA_PACKET_HDR]);
	p->id = ntohl(h->packet_id);
	p->payload = tb[NFQA_PAYLOAD] ? mnl_attr_get_payload(tb[NFQA_PAYLOAD]) : NULL;
	p->len = tb[NFQA_PAYLOAD] ? mnl_attr_get_payload_len(tb[NFQA_PAYLOAD]) : 0;
	p->indev = tb[NFQA_IFINDEX_INDEV] && mnl_attr_get_payload_len(tb[NFQA_IFINDEX_INDEV]) >= 4
			   ? ntohl(mnl_attr_get_u32(tb[NFQA_IFINDEX_INDEV])) : 0;
	return true;
}

int fw_nfq_verdict(struct mnl_socket *q, uint16_t num, uint32_t id, uint32_t verdict, bool batch)
{
	char buf[128];
	struct nlmsghdr *nlh = fw_nfq_msg(buf, batch ? NFQNL_MSG_VERDICT_BATCH : NFQNL_MSG_VERDICT, num);
	struct nfqnl_msg_verdict_hdr v = { .verdict = htonl(verdict), .id = htonl(id) };
	mnl_attr_put(nlh, NFQA_VERDICT_HDR, sizeof(v), &v);
	return mnl_socket_sendto(q, nlh, nlh->nlmsg_len) < 0 ? -errno : 0;
}

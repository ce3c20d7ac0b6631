/* ctmarks.c: the highest mark a connection in the firewall VM's conntrack
 * carries. A daemon whose marks file is missing or damaged starts past it:
 * a mark handed out again would make a cut connection live again. */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <sys/socket.h>
#include <time.h>

#include "firewallvm/firewalld.h"

static int ct_attr(const struct nlattr *a, void *data)
{
	uint32_t *max = data;
	if (mnl_attr_get_type(a) == CTA_MARK && mnl_attr_validate(a, MNL_TYPE_U32) >= 0 &&
	    ntohl(mnl_attr_get_u32(a)) > *max)
		*max = ntohl(mnl_attr_get_u32(a));
	return MNL_CB_OK;
}

static int ct_entry(const struct nlmsghdr *nlh, void *data)
{
	return mnl_attr_parse(nlh, sizeof(struct nfgenmsg), ct_attr, data) < 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

int fw_ct_mark_max(uint32_t *max)
{
	*max = 0;
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!nl)
		return -errno;
	static char buf[32768];   /* a dump part is up to a page or 32 KiB */
	int rc = 0;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		rc = -errno;
		goto out;
	}
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = (uint32_t)time(NULL) | 1;
	uint32_t seq = nlh->nlmsg_seq;
	struct nfgenmsg *nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_UNSPEC;   /* IPv4 and IPv6 */
	nfg->version = NFNETLINK_V0;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		rc = -errno;
		goto out;
	}
	uint32_t portid = mnl_socket_get_portid(nl);
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0) {
			rc = -errno;
			break;
		}
		int r = mnl_cb_run(buf, (size_t)n, seq, portid, ct_entry, max);
		if (r == MNL_CB_STOP)
			break;
		if (r < 0) {
			rc = errno ? -errno : -EIO;
			break;
		}
	}
out:
	mnl_socket_close(nl);
	return rc;
}

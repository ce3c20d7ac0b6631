/* dhcp4q.c: every DHCPv4 message an app VM sends the firewall waits in
 * NFQUEUE FW_DHCP4_QUEUE (the queue rule of its in_VM chain, after the
 * ruleset's chaddr and relay checks) while this part reads its options
 * (dhcp4.c): a message that does not speak for the VM's own MAC alone is
 * dropped and counted as the VM's spoofing, the rest goes on to dnsmasq.
 *
 * The VM is the link the message came in on (NFQA_IFINDEX_INDEV: VM links
 * carry their VM's name), its MAC the policy's. The queue rule has no
 * bypass: while nothing reads the queue (the daemon dead, or the queue not
 * bound) no DHCPv4 reaches dnsmasq. One verdict a message: the ruleset
 * holds each VM to RS_IN_RATE packets a second to the firewall.
 */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/ctl.h"
#include "firewallvm/dhcp4.h"
#include "firewallvm/firewalld.h"

#define DHCP4Q_COPY 0xffff

struct dhcp4q_vm {
	char vm[MOAT_NAME_MAX + 1];
	uint64_t packets, bytes;   /* dropped */
};

struct fw_dhcp4q {
	struct mnl_socket *q;
	const struct fw_state *st;
	uint32_t seq;
	struct dhcp4q_vm *vms;     /* VMs with drops, of the policy in force when counted */
	size_t nvms, cap;
	struct fw_count *out;      /* what fw_dhcp4q_counts hands out */
};

struct fw_dhcp4q *fw_dhcp4q_open(const struct fw_state *st)
{
	struct fw_dhcp4q *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->st = st;
	d->seq = (uint32_t)time(NULL) ^ 0x64686370u;
	d->q = fw_nfq_open(FW_DHCP4_QUEUE, DHCP4Q_COPY, &d->seq);
	if (!d->q) {
		int e = errno;
		free(d);
		errno = e;
		return NULL;
	}
	return d;
}

void fw_dhcp4q_close(struct fw_dhcp4q *d)
{
	if (!d)
		return;
	mnl_socket_close(d->q);
	free(d->vms);
	free(d->out);
	free(d);
}

int fw_dhcp4q_fd(const struct fw_dhcp4q *d)
{
	return d ? mnl_socket_get_fd(d->q) : -1;
}

static const struct vm *policy_vm(const struct policy *p, const char *name)
{
	for (size_t i = 0; p && i < p->nvms; i++)
		if (strcmp(p->vms[i].name, name) == 0)
			return &p->vms[i];
	return NULL;
}

/* A drop of LEN bytes for VM: counted, and the first, second, fourth...
 * of each VM logged. */
static void dhcp4q_count(struct fw_dhcp4q *d, const char *vm, size_t len, int why)
{
	size_t i = 0;
	while (i < d->nvms && strcmp(d->vms[i].vm, vm) != 0)
		i++;
	if (i == d->nvms) {
		/* forget VMs no longer in force: the list stays the policy's size */
		size_t k = 0;
		for (size_t j = 0; j < d->nvms; j++)
			if (policy_vm(d->st->policy, d->vms[j].vm))
				d->vms[k++] = d->vms[j];
		d->nvms = i = k;
		if (d->nvms == d->cap) {
			size_t cap = d->cap ? d->cap * 2 : 16;
			void *v = realloc(d->vms, cap * sizeof(*d->vms));
			if (!v)
				return;
			d->vms = v;
			d->cap = cap;
		}
		memset(&d->vms[i], 0, sizeof(d->vms[i]));
		snprintf(d->vms[i].vm, sizeof(d->vms[i].vm), "%s", vm);
		d->nvms++;
	}
	struct dhcp4q_vm *c = &d->vms[i];
	c->packets++;
	c->bytes += len;
	if ((c->packets & (c->packets - 1)) == 0)
		fprintf(stderr, "moat-firewalld: %s's DHCP dropped (%s): %llu so far\n", vm,
			dhcp4_drop_str(why), (unsigned long long)c->packets);
}

static int dhcp4q_packet_cb(const struct nlmsghdr *nlh, void *data)
{
	struct fw_dhcp4q *d = data;
	struct fw_nfq_packet p;
	if (!fw_nfq_packet(nlh, &p))
		return MNL_CB_OK;
	char name[IF_NAMESIZE];
	const struct vm *v = NULL;
	if (p.indev && if_indextoname(p.indev, name))
		v = policy_vm(d->st->policy, name);
	int why = v && p.payload ? dhcp4_judge(p.payload, p.len, v->mac) : DHCP4_DROP_IP;
	if (why != DHCP4_ACCEPT && v)
		dhcp4q_count(d, v->name, p.len, why);
	int rc = fw_nfq_verdict(d->q, FW_DHCP4_QUEUE, p.id, why == DHCP4_ACCEPT ? NF_ACCEPT : NF_DROP,
				false);
	if (rc < 0)
		fprintf(stderr, "moat-firewalld: a verdict on a DHCP message: %s\n", strerror(-rc));
	return MNL_CB_OK;
}

void fw_dhcp4q_event(struct fw_dhcp4q *d)
{
	static char buf[DHCP4Q_COPY + 8192];
	for (;;) {
		ssize_t len = recv(mnl_socket_get_fd(d->q), buf, sizeof(buf), 0);
		if (len < 0 && (errno == EINTR || errno == ENOBUFS))
			continue;          /* ENOBUFS: the kernel dropped some (no bypass) */
		if (len <= 0)
			break;
		mnl_cb_run(buf, (size_t)len, 0, 0, dhcp4q_packet_cb, d);
	}
}

const struct fw_count *fw_dhcp4q_counts(struct fw_dhcp4q *d, size_t *n)
{
	*n = 0;
	if (!d || !d->nvms)
		return NULL;
	struct fw_count *out = realloc(d->out, d->nvms * sizeof(*out));
	if (!out)
		return NULL;
	d->out = out;
	for (size_t i = 0; i < d->nvms; i++)
		if (policy_vm(d->st->policy, d->vms[i].vm))
			out[(*n)++] = (struct fw_count){ d->vms[i].vm, CTL_C_SPOOF, d->vms[i].packets,
							 d->vms[i].bytes };
	return out;
}

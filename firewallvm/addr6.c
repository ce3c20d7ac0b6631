/* addr6.c: IPv6 address configuration for the app VMs, served by the daemon
 * itself so that dnsmasq needs no capability over this network namespace
 * (RA and DHCPv6 need a raw ICMPv6 socket here). dhcp6.c decides every
 * answer; this file has the sockets, the table of VM links and the RA timer.
 *
 * A VM link is one the policy in force gives an address6, found by the VM's
 * name and checked against its firewall-side MAC (ifaces.c names and
 * addresses the links). Each gets a router advertisement when it comes up
 * (three, a few seconds apart: its link-local address may still be
 * tentative), every 30 to 60 s after, and soon after a router solicitation
 * (at most one a second). DHCPv6 messages are answered for the link they came
 * in on; anything else is dropped and counted, and the log says why at most
 * A6_LOG_MAX times a minute. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "firewallvm/dhcp6.h"
#include "firewallvm/firewalld.h"

#define A6_DHCP_SERVER_PORT 547
#define A6_DHCP_CLIENT_PORT 546
#define A6_FAST_RAS     3        /* when a link comes up */
#define A6_FAST_MS      3000
#define A6_RETRY_MS     1000     /* a send failed (no usable link-local address yet) */
#define A6_PERIOD_MS    30000    /* then every 30 s plus up to A6_JITTER_MS */
#define A6_JITTER_MS    30000
#define A6_RS_GAP_MS    1000     /* solicited RAs on one link at most this often */
#define A6_LOG_MAX      10       /* drops logged a minute, then counted */
#define A6_BURST        64       /* messages read per event: the loop stays fair */

struct a6_link {
	int ifindex;
	char name[IFNAMSIZ];
	struct dhcp6_link info;
	bool up;
	int fast;                /* fast RAs still to send */
	int64_t last_ra, next_ra;    /* monotonic ms; 0: never */
};

struct fw_addr6 {
	int udp, raw;
	struct a6_link *links;
	size_t nlinks;
	int64_t log_since;
	unsigned long logged, quiet, dropped;
};

/* Drops come as fast as a VM likes to send them: a bounded log. */
__attribute__((format(printf, 2, 3)))
static void a6_drop(struct fw_addr6 *a, const char *fmt, ...)
{
	int64_t now = mono_ms();
	a->dropped++;
	if (!a->log_since || now - a->log_since >= 60000) {
		if (a->quiet)
			fprintf(stderr, "moat-firewalld: %lu more RA/DHCPv6 messages dropped (%lu in all)\n",
				a->quiet, a->dropped);
		a->log_since = now;
		a->logged = a->quiet = 0;
	}
	if (a->logged++ >= A6_LOG_MAX) {
		a->quiet++;
		return;
	}
	char line[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "moat-firewalld: %s (%lu dropped in all)\n", line, a->dropped);
}

static int a6_opt(int fd, int level, int name, int value)
{
	return setsockopt(fd, level, name, &value, sizeof(value));
}

struct fw_addr6 *fw_addr6_open(void)
{
	struct fw_addr6 *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->udp = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	a->raw = socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMPV6);
	struct sockaddr_in6 any = { .sin6_family = AF_INET6, .sin6_port = htons(A6_DHCP_SERVER_PORT) };
	struct icmp6_filter filter;
	ICMP6_FILTER_SETBLOCKALL(&filter);
	ICMP6_FILTER_SETPASS(ND_ROUTER_SOLICIT, &filter);
	if (a->udp < 0 || a->raw < 0 ||
	    a6_opt(a->udp, IPPROTO_IPV6, IPV6_V6ONLY, 1) < 0 ||
	    a6_opt(a->udp, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1) < 0 ||
	    bind(a->udp, (struct sockaddr *)&any, sizeof(any)) < 0 ||
	    setsockopt(a->raw, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof(filter)) < 0 ||
	    a6_opt(a->raw, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1) < 0 ||
	    a6_opt(a->raw, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1) < 0 ||
	    /* RFC 4861: a router's ND messages go out with hop limit 255 */
	    a6_opt(a->raw, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 255) < 0 ||
	    a6_opt(a->raw, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 255) < 0 ||
	    a6_opt(a->raw, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0) < 0) {
		int err = errno;
		fw_addr6_close(a);
		errno = err;
		return NULL;
	}
	return a;
}

void fw_addr6_close(struct fw_addr6 *a)
{
	if (!a)
		return;
	if (a->udp >= 0)
		close(a->udp);
	if (a->raw >= 0)
		close(a->raw);
	free(a->links);
	free(a);
}

size_t fw_addr6_pollfds(const struct fw_addr6 *a, struct pollfd *fds)
{
	fds[0] = (struct pollfd){ .fd = a->udp, .events = POLLIN };
	fds[1] = (struct pollfd){ .fd = a->raw, .events = POLLIN };
	return 2;
}

/* `allow dns` in force now (an expired one is the daemon's to remove, and
 * the kernel already stops it) */
static bool a6_vm_dns(const struct vm *v, time_t now)
{
	for (size_t i = 0; i < v->nrules; i++) {
		const struct rule *ru = &v->rules[i];
		if (ru->kind == RULE_DNS && !ru->expired && (!ru->has_until || ru->until > now))
			return true;
	}
	return false;
}

static void a6_join(struct fw_addr6 *a, int fd, const char *group, const struct a6_link *l)
{
	struct ipv6_mreq mr = { .ipv6mr_interface = (unsigned)l->ifindex };
	inet_pton(AF_INET6, group, &mr.ipv6mr_multiaddr);
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0 && errno != EADDRINUSE)
		fprintf(stderr, "moat-firewalld: join %s on %s: %s\n", group, l->name, strerror(errno));
}

/* The link named after V, if it has V's firewall-side MAC. */
static bool a6_find(struct fw_addr6 *a, const struct vm *v, struct a6_link *l)
{
	struct ifreq ifr = { 0 };
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", v->name);
	uint8_t mac[6];
	policy_firewall_mac(v, mac);
	if (ioctl(a->udp, SIOCGIFINDEX, &ifr) < 0)
		return false;
	l->ifindex = ifr.ifr_ifindex;
	if (ioctl(a->udp, SIOCGIFHWADDR, &ifr) < 0 || memcmp(ifr.ifr_hwaddr.sa_data, mac, 6) != 0 ||
	    ioctl(a->udp, SIOCGIFFLAGS, &ifr) < 0)
		return false;
	l->up = ifr.ifr_flags & IFF_UP;
	snprintf(l->name, sizeof(l->name), "%s", v->name);
	memcpy(l->info.mac, mac, 6);
	return true;
}

void fw_addr6_sync(struct fw_addr6 *a, const struct policy *p)
{
	size_t n = p && (p->net.has & NET_HAS_SUBNET6) ? p->nvms : 0;
	struct a6_link *links = calloc(n ? n : 1, sizeof(*links));
	if (!links) {
		fprintf(stderr, "moat-firewalld: RA/DHCPv6 links: %s\n", strerror(ENOMEM));
		return;   /* the old table stays: the next sync tries again */
	}
	size_t nlinks = 0;
	int64_t now = mono_ms();
	time_t wall = time(NULL);
	struct addr gw6 = { 0 };
	if (n)
		policy_gateway6(p, &gw6);
	for (size_t i = 0; i < n; i++) {
		const struct vm *v = &p->vms[i];
		struct a6_link *l = &links[nlinks];
		if (!v->has_addr6 || !a6_find(a, v, l))
			continue;
		memcpy(l->info.addr, v->addr6.bytes, 16);
		memcpy(l->info.gw, gw6.bytes, 16);
		l->info.dns = a6_vm_dns(v, wall);
		const struct a6_link *old = NULL;
		for (size_t j = 0; j < a->nlinks && !old; j++)
			if (a->links[j].ifindex == l->ifindex && strcmp(a->links[j].name, l->name) == 0 &&
			    memcmp(a->links[j].info.mac, l->info.mac, 6) == 0)
				old = &a->links[j];
		if (old && old->up && l->up && memcmp(&old->info, &l->info, sizeof(l->info)) == 0) {
			l->fast = old->fast;
			l->last_ra = old->last_ra;
			l->next_ra = old->next_ra;
		} else if (l->up) {
			/* new, just up, or what it announces changed: tell it now */
			l->fast = A6_FAST_RAS;
			l->last_ra = old ? old->last_ra : 0;
			l->next_ra = now;
		}
		a6_join(a, a->udp, "ff02::1:2", l);   /* All_DHCP_Relay_Agents_and_Servers */
		a6_join(a, a->raw, "ff02::2", l);     /* all routers: solicitations */
		nlinks++;
	}
	free(a->links);
	a->links = links;
	a->nlinks = nlinks;
}

static struct a6_link *a6_link_of(struct fw_addr6 *a, int ifindex)
{
	for (size_t i = 0; i < a->nlinks; i++)
		if (a->links[i].ifindex == ifindex)
			return &a->links[i];
	return NULL;
}

static void a6_send_ra(struct fw_addr6 *a, struct a6_link *l, int64_t now)
{
	uint8_t ra[RA6_MAX];
	size_t len = ra6_build(&l->info, ra, sizeof(ra));
	struct sockaddr_in6 to = { .sin6_family = AF_INET6, .sin6_scope_id = (uint32_t)l->ifindex };
	inet_pton(AF_INET6, "ff02::1", &to.sin6_addr);
	/* from the link's link-local address: the kernel picks it for a
	 * link-scope destination on that interface */
	if (sendto(a->raw, ra, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
		if (errno != EADDRNOTAVAIL && errno != ENETDOWN)
			a6_drop(a, "RA on %s not sent: %s", l->name, strerror(errno));
		l->next_ra = now + A6_RETRY_MS;
		return;
	}
	l->last_ra = now;
	if (l->fast > 0 && --l->fast > 0) {
		l->next_ra = now + A6_FAST_MS;
	} else {
		uint32_t r = 0;
		if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
			r = (uint32_t)now;
		l->next_ra = now + A6_PERIOD_MS + r % A6_JITTER_MS;
	}
}

int fw_addr6_timeout(const struct fw_addr6 *a)
{
	int64_t now = mono_ms(), ms = -1;
	for (size_t i = 0; i < a->nlinks; i++) {
		const struct a6_link *l = &a->links[i];
		if (!l->up || !l->next_ra)
			continue;
		int64_t d = l->next_ra > now ? l->next_ra - now : 0;
		if (ms < 0 || d < ms)
			ms = d;
	}
	return (int)(ms > INT32_MAX ? INT32_MAX : ms);
}

void fw_addr6_tick(struct fw_addr6 *a)
{
	int64_t now = mono_ms();
	for (size_t i = 0; i < a->nlinks; i++) {
		struct a6_link *l = &a->links[i];
		if (l->up && l->next_ra && l->next_ra <= now)
			a6_send_ra(a, l, now);
	}
}

/* One datagram with the interface it came in on (and the hop limit). */
static ssize_t a6_recv(int fd, uint8_t *buf, size_t len, struct sockaddr_in6 *from, int *ifindex,
		       int *hoplimit, bool *trunc)
{
	char cbuf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr mh = {
		.msg_name = from, .msg_namelen = sizeof(*from), .msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	ssize_t n = recvmsg(fd, &mh, MSG_TRUNC);
	if (n < 0)
		return -1;
	*ifindex = 0;
	*hoplimit = -1;
	*trunc = (mh.msg_flags & MSG_TRUNC) || (size_t)n > len;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != IPPROTO_IPV6)
			continue;
		if (c->cmsg_type == IPV6_PKTINFO && c->cmsg_len >= CMSG_LEN(sizeof(struct in6_pktinfo))) {
			struct in6_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			*ifindex = (int)pi.ipi6_ifindex;
		} else if (c->cmsg_type == IPV6_HOPLIMIT && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
			memcpy(hoplimit, CMSG_DATA(c), sizeof(int));
		}
	}
	return *trunc ? (ssize_t)len : n;
}

static void a6_dhcp(struct fw_addr6 *a)
{
	for (int i = 0; i < A6_BURST; i++) {
		uint8_t msg[DHCP6_MSG_MAX], reply[DHCP6_REPLY_MAX];
		struct sockaddr_in6 from;
		int ifindex, hoplimit;
		bool trunc;
		ssize_t n = a6_recv(a->udp, msg, sizeof(msg), &from, &ifindex, &hoplimit, &trunc);
		if (n < 0)
			return;
		struct a6_link *l = a6_link_of(a, ifindex);
		if (!l) {
			a6_drop(a, "DHCPv6 on interface %d dropped: not a VM link with an address6", ifindex);
			continue;
		}
		/* a client speaks from its link-local address (RFC 8415 13.1) */
		if (!IN6_IS_ADDR_LINKLOCAL(&from.sin6_addr)) {
			a6_drop(a, "DHCPv6 from %s dropped: not from a link-local address", l->name);
			continue;
		}
		if (trunc) {
			a6_drop(a, "DHCPv6 from %s dropped: %s", l->name, dhcp6_drop_str(DHCP6_DROP_SIZE));
			continue;
		}
		ssize_t r = dhcp6_answer(msg, (size_t)n, &l->info, reply, sizeof(reply));
		if (r < 0) {
			a6_drop(a, "DHCPv6 type %u from %s dropped: %s", msg[0], l->name, dhcp6_drop_str((int)r));
			continue;
		}
		if (r == 0)
			continue;
		struct sockaddr_in6 to = from;
		to.sin6_port = htons(A6_DHCP_CLIENT_PORT);
		to.sin6_scope_id = (uint32_t)l->ifindex;
		if (sendto(a->udp, reply, (size_t)r, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
			a6_drop(a, "DHCPv6 answer to %s not sent: %s", l->name, strerror(errno));
	}
}

static void a6_solicit(struct fw_addr6 *a)
{
	for (int i = 0; i < A6_BURST; i++) {
		uint8_t msg[DHCP6_MSG_MAX];
		struct sockaddr_in6 from;
		int ifindex, hoplimit;
		bool trunc;
		ssize_t n = a6_recv(a->raw, msg, sizeof(msg), &from, &ifindex, &hoplimit, &trunc);
		if (n < 0)
			return;
		struct a6_link *l = a6_link_of(a, ifindex);
		if (!l || !l->up)
			continue;   /* not a VM link: nothing to answer, nothing to say */
		if (trunc || !ra6_is_solicitation(msg, (size_t)n, hoplimit)) {
			a6_drop(a, "router solicitation from %s dropped: malformed", l->name);
			continue;
		}
		int64_t now = mono_ms();
		int64_t at = l->last_ra && l->last_ra + A6_RS_GAP_MS > now ? l->last_ra + A6_RS_GAP_MS : now;
		if (!l->next_ra || at < l->next_ra)
			l->next_ra = at;
	}
}

void fw_addr6_event(struct fw_addr6 *a, const struct pollfd *fds, size_t n)
{
	if (n > 0 && fds[0].revents)
		a6_dhcp(a);
	if (n > 1 && fds[1].revents)
		a6_solicit(a);
	fw_addr6_tick(a);
}

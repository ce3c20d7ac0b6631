/* The host's own addresses, which the netvm never forwards to: the text of
 * moat-netd's HOSTADDRS (netvm/hostaddrs.c), taken at every `netctl up`.
 *
 * Every address of the network namespace netctl runs in, which is where it
 * starts QEMU: the host's own on a real host. Whatever the uplink, the host
 * is one hop away: QEMU's user network connects from there, a tap lives
 * there, a passed-through NIC shares the host's LAN. With `uplink user`, also
 * QEMU's whole user network: its gateway is the host's loopback, its DNS the
 * host's resolver (the netvm's own DNS still goes there; app VMs' does not).
 * Addresses the host gains later are kept out from the next `netctl up` on,
 * and with `uplink user` at once by the host itself (netctl-hostguard.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <string.h>

#include "host/netctl.h"
#include "host/qemu.h"

#define MAX_ADDRS (256 - 1)   /* moat-netd takes 256 (NETD_MAX_HOSTS), one is QEMU's net */

struct haddr {
	uint8_t family;
	uint8_t bytes[16];
};

struct haddrs {
	struct haddr v[MAX_ADDRS];
	size_t n;
	bool too_many;
};

static void addrs_add(struct haddrs *a, const struct haddr *x)
{
	for (size_t i = 0; i < a->n; i++)
		if (memcmp(&a->v[i], x, sizeof(*x)) == 0)
			return;
	if (a->n == MAX_ADDRS)
		a->too_many = true;
	else
		a->v[a->n++] = *x;
}

/* Every IPv4 and IPv6 address of this namespace into A. */
static bool read_ifaddrs(struct haddrs *a)
{
	struct ifaddrs *list;
	if (getifaddrs(&list) < 0)
		return false;
	for (struct ifaddrs *i = list; i; i = i->ifa_next) {
		if (!i->ifa_addr || (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6))
			continue;
		struct haddr x = { .family = (uint8_t)i->ifa_addr->sa_family };
		if (x.family == AF_INET)
			memcpy(x.bytes, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, 4);
		else
			memcpy(x.bytes, &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, 16);
		addrs_add(a, &x);
	}
	freeifaddrs(list);
	return true;
}

bool netctl_host_addrs(enum uplink_kind uplink, char *buf, size_t len)
{
	static struct haddrs a;
	a.n = 0;
	a.too_many = false;
	if (!read_ifaddrs(&a)) {
		fprintf(stderr, "netctl: the host's addresses: %s\n", strerror(errno));
		return false;
	}
	if (a.too_many) {
		fprintf(stderr, "netctl: the host has more than %d addresses: the netvm cannot keep them all "
			"out\n", MAX_ADDRS);
		return false;
	}
	int w = snprintf(buf, len, "HOSTADDRS%s", uplink == UPLINK_USER ? " " QEMU_USER_NET : "");
	for (size_t i = 0; w >= 0 && (size_t)w < len && i < a.n; i++) {
		char s[INET6_ADDRSTRLEN];
		inet_ntop(a.v[i].family, a.v[i].bytes, s, sizeof(s));
		size_t at = (size_t)w;
		int more = snprintf(buf + at, len - at, " %s", s);
		w = more < 0 ? -1 : w + more;
	}
	if (w < 0 || (size_t)w >= len) {
		fprintf(stderr, "netctl: the host's addresses do not fit in a message\n");
		return false;
	}
	return true;
}

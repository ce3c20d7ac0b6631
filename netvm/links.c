/* links.c: the netvm's two interfaces through libnl-3 (rtnetlink). */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>
#include <netlink/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netvm/netd.h"
#include "lib/nlroute.h"

struct netd_links {
	struct nl_sock *sk;
};

struct netd_links *links_open(void)
{
	struct netd_links *k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	k->sk = nl_socket_alloc();
	if (!k->sk || nl_connect(k->sk, NETLINK_ROUTE) < 0) {
		if (k->sk)
			nl_socket_free(k->sk);
		free(k);
		errno = EIO;
		return NULL;
	}
	return k;
}

void links_close(struct netd_links *k)
{
	if (!k)
		return;
	nl_socket_free(k->sk);
	free(k);
}

static int fail(const char *what, const char *name, int nlerr)
{
	fprintf(stderr, "moat-netd: %s %s: %s\n", what, name, nl_geterror(nlerr));
	return -EIO;
}

static bool parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char end;
	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &end) != 6)
		return false;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return true;
}

/* The link with MAC, or NAME when MAC is NULL; a reference, or NULL. */
static struct rtnl_link *find(struct nl_cache *cache, const char *name, const char *mac)
{
	if (!mac)
		return rtnl_link_get_by_name(cache, name);
	uint8_t want[6];
	struct rtnl_link *l = parse_mac(mac, want) ? nlr_find_mac(cache, want) : NULL;
	if (l)
		nl_object_get((struct nl_object *)l);
	return l;
}

static int addr_add(struct netd_links *k, int ifindex, const char *name, struct netd_net net)
{
	return nlr_addr4(k->sk, ifindex, name, net.addr, net.prefix, 0, "moat-netd");
}

/* DST via GATEWAY (s_addr 0: on the link) out of IFINDEX; DEL removes it. */
static int route(struct netd_links *k, int ifindex, const char *name, struct netd_net dst,
		 struct in_addr gateway, bool del)
{
	return nlr_route4(k->sk, ifindex, name, dst.addr, dst.prefix, gateway.s_addr ? &gateway : NULL,
			  NULL, del, "moat-netd");
}

static int link_cache(struct netd_links *k, struct nl_cache **cache)
{
	int err = rtnl_link_alloc_cache(k->sk, AF_UNSPEC, cache);
	return err < 0 ? fail("reading", "the links", err) : 0;
}

int links_firewall(struct netd_links *k, const struct netd_net *nets, size_t n)
{
	struct nl_cache *cache;
	int err = link_cache(k, &cache);
	if (err)
		return err;
	struct rtnl_link *l = find(cache, MOAT_UPLINK_NETVM_IF, MOAT_UPLINK_NETVM_MAC);
	if (!l) {
		nl_cache_free(cache);
		return -ENODEV;
	}
	err = nlr_name_up(k->sk, cache, l, MOAT_UPLINK_NETVM_IF, "moat-netd");
	int ifindex = rtnl_link_get_ifindex(l);
	rtnl_link_put(l);
	nl_cache_free(cache);
	struct netd_net me = { .prefix = MOAT_UPLINK_PREFIX };
	struct in_addr peer;
	inet_pton(AF_INET, MOAT_UPLINK_NETVM_ADDR, &me.addr);
	inet_pton(AF_INET, MOAT_UPLINK_FW_ADDR, &peer);
	if (!err)
		err = addr_add(k, ifindex, MOAT_UPLINK_NETVM_IF, me);
	for (size_t i = 0; !err && i < n; i++)
		err = route(k, ifindex, MOAT_UPLINK_NETVM_IF, nets[i], peer, false);
	return err;
}

int links_unroute(struct netd_links *k, const struct netd_net *net)
{
	struct in_addr peer;
	inet_pton(AF_INET, MOAT_UPLINK_FW_ADDR, &peer);
	return route(k, 0, MOAT_UPLINK_NETVM_IF, *net, peer, true);
}

int links_nic(struct netd_links *k, char name[IFNAMSIZ], const char *mac)
{
	struct nl_cache *cache;
	int err = link_cache(k, &cache);
	if (err)
		return err;
	struct rtnl_link *l = find(cache, name, *name ? NULL : mac);
	if (!l) {
		nl_cache_free(cache);
		return -ENODEV;
	}
	const char *have = rtnl_link_get_name(l);
	if (strlen(have) >= IFNAMSIZ) {
		err = -ENAMETOOLONG;
	} else {
		strcpy(name, have);
		err = nlr_name_up(k->sk, NULL, l, NULL, "moat-netd");
	}
	rtnl_link_put(l);
	nl_cache_free(cache);
	return err;
}

struct addr_walk {
	struct netd_links *k;
	int ifindex;
	const char *name;
	const struct netd_lease *keep;
	bool kept;
	int err;
};

static void drop_addr(struct nl_object *o, void *arg)
{
	struct addr_walk *w = arg;
	struct rtnl_addr *a = (struct rtnl_addr *)o;
	if (rtnl_addr_get_ifindex(a) != w->ifindex || rtnl_addr_get_family(a) != AF_INET)
		return;
	struct nl_addr *local = rtnl_addr_get_local(a);
	if (w->keep && local && nl_addr_get_len(local) == 4 &&
	    memcmp(nl_addr_get_binary_addr(local), &w->keep->addr.addr, 4) == 0 &&
	    rtnl_addr_get_prefixlen(a) == w->keep->addr.prefix) {
		w->kept = true;
		return;
	}
	int err = rtnl_addr_delete(w->k->sk, a, 0);
	if (err < 0 && !w->err)
		w->err = fail("removing an address from", w->name, err);
}

int links_nic_address(struct netd_links *k, const char *nic, const struct netd_lease *l)
{
	struct nl_cache *cache;
	int err = link_cache(k, &cache);
	if (err)
		return err;
	int ifindex = rtnl_link_name2i(cache, nic);
	nl_cache_free(cache);
	if (!ifindex)
		return -ENODEV;
	struct nl_cache *addrs;
	if ((err = rtnl_addr_alloc_cache(k->sk, &addrs)) < 0)
		return fail("reading the addresses of", nic, err);
	struct addr_walk w = { .k = k, .ifindex = ifindex, .name = nic, .keep = l };
	nl_cache_foreach(addrs, drop_addr, &w);
	nl_cache_free(addrs);
	if (w.err)
		return w.err;
	struct netd_net any = { .prefix = 0 };
	if (!l || !l->gateway.s_addr)
		route(k, 0, nic, any, (struct in_addr){ 0 }, true);
	if (!l)
		return 0;
	if (!w.kept && (err = addr_add(k, ifindex, nic, l->addr)))
		return err;
	if (l->gateway.s_addr)
		return route(k, ifindex, nic, any, l->gateway, false);
	return 0;
}

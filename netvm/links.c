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

#include "netd.h"

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
	if (!parse_mac(mac, want))
		return NULL;
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_link *l = (struct rtnl_link *)o;
		struct nl_addr *a = rtnl_link_get_addr(l);
		if (a && nl_addr_get_len(a) == 6 && memcmp(nl_addr_get_binary_addr(a), want, 6) == 0) {
			nl_object_get(o);
			return l;
		}
	}
	return NULL;
}

/* Rename L to NAME (when NAME is not NULL and differs) and bring it up. */
static int name_up(struct netd_links *k, struct rtnl_link *l, const char *name)
{
	bool rename = name && strcmp(rtnl_link_get_name(l), name) != 0;
	if (!rename && (rtnl_link_get_flags(l) & IFF_UP))
		return 0;
	struct rtnl_link *chg = rtnl_link_alloc();
	if (!chg)
		return -ENOMEM;
	int err = 0;
	/* a link is renamed only while down */
	if (rename && (rtnl_link_get_flags(l) & IFF_UP)) {
		rtnl_link_unset_flags(chg, IFF_UP);
		if ((err = rtnl_link_change(k->sk, l, chg, 0)) < 0)
			goto out;
		rtnl_link_put(chg);
		if (!(chg = rtnl_link_alloc()))
			return -ENOMEM;
	}
	if (rename)
		rtnl_link_set_name(chg, name);
	rtnl_link_set_flags(chg, IFF_UP);
	err = rtnl_link_change(k->sk, l, chg, 0);
out:
	rtnl_link_put(chg);
	return err < 0 ? fail("bringing up", rtnl_link_get_name(l), err) : 0;
}

static struct nl_addr *v4(struct in_addr a, int prefix)
{
	struct nl_addr *n = nl_addr_build(AF_INET, &a, 4);
	if (n)
		nl_addr_set_prefixlen(n, prefix);
	return n;
}

static int addr_add(struct netd_links *k, int ifindex, const char *name, struct netd_net net)
{
	struct rtnl_addr *ra = rtnl_addr_alloc();
	struct nl_addr *local = v4(net.addr, net.prefix);
	struct in_addr b = net.addr;
	if (net.prefix < 32)
		b.s_addr |= htonl(0xffffffffu >> net.prefix);
	struct nl_addr *bcast = v4(b, 32);
	int err = -ENOMEM;
	if (ra && local && bcast) {
		rtnl_addr_set_ifindex(ra, ifindex);
		rtnl_addr_set_family(ra, AF_INET);
		rtnl_addr_set_local(ra, local);
		rtnl_addr_set_prefixlen(ra, net.prefix);
		rtnl_addr_set_broadcast(ra, bcast);
		err = rtnl_addr_add(k->sk, ra, NLM_F_REPLACE);
		if (err < 0)
			err = fail("address on", name, err);
	}
	nl_addr_put(local);
	nl_addr_put(bcast);
	if (ra)
		rtnl_addr_put(ra);
	return err;
}

/* DST via GATEWAY (s_addr 0: on the link) out of IFINDEX; DEL removes it. */
static int route(struct netd_links *k, int ifindex, const char *name, struct netd_net dst,
		 struct in_addr gateway, bool del)
{
	struct rtnl_route *rt = rtnl_route_alloc();
	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	struct nl_addr *d = v4(dst.addr, dst.prefix);
	struct nl_addr *g = gateway.s_addr ? v4(gateway, 32) : NULL;
	int err = -ENOMEM;
	if (!rt || !nh || !d || (gateway.s_addr && !g))
		goto out;
	rtnl_route_set_family(rt, AF_INET);
	rtnl_route_set_table(rt, RT_TABLE_MAIN);
	rtnl_route_set_protocol(rt, RTPROT_STATIC);
	rtnl_route_set_type(rt, RTN_UNICAST);
	rtnl_route_set_scope(rt, g ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
	rtnl_route_set_dst(rt, d);
	if (ifindex)
		rtnl_route_nh_set_ifindex(nh, ifindex);
	if (g)
		rtnl_route_nh_set_gateway(nh, g);
	rtnl_route_add_nexthop(rt, nh);
	nh = NULL;
	err = del ? rtnl_route_delete(k->sk, rt, 0) : rtnl_route_add(k->sk, rt, NLM_F_REPLACE);
	if (err < 0 && !(del && (err == -NLE_OBJ_NOTFOUND || err == -NLE_NOADDR)))
		err = fail(del ? "removing a route from" : "route on", name, err);
	else
		err = 0;
out:
	if (nh)
		rtnl_route_nh_free(nh);
	nl_addr_put(d);
	nl_addr_put(g);
	if (rt)
		rtnl_route_put(rt);
	return err;
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
	struct rtnl_link *l = find(cache, NETD_FW_IF, NETD_FW_MAC);
	if (!l) {
		nl_cache_free(cache);
		return -ENODEV;
	}
	err = name_up(k, l, NETD_FW_IF);
	int ifindex = rtnl_link_get_ifindex(l);
	rtnl_link_put(l);
	nl_cache_free(cache);
	struct netd_net me = { .prefix = NETD_FW_PREFIX };
	struct in_addr peer;
	inet_pton(AF_INET, NETD_FW_ADDR, &me.addr);
	inet_pton(AF_INET, NETD_FW_PEER, &peer);
	if (!err)
		err = addr_add(k, ifindex, NETD_FW_IF, me);
	for (size_t i = 0; !err && i < n; i++)
		err = route(k, ifindex, NETD_FW_IF, nets[i], peer, false);
	return err;
}

int links_unroute(struct netd_links *k, const struct netd_net *net)
{
	struct in_addr peer;
	inet_pton(AF_INET, NETD_FW_PEER, &peer);
	return route(k, 0, NETD_FW_IF, *net, peer, true);
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
		err = name_up(k, l, NULL);
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

/* nlroute.c: rtnetlink steps shared by moat-firewalld and moat-netd. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>
#include <stdio.h>
#include <string.h>

#include "lib/nlroute.h"

static int nlr_fail(const char *who, const char *what, const char *name, int nlerr)
{
	fprintf(stderr, "%s: %s %s: %s\n", who, what, name, nl_geterror(nlerr));
	return -EIO;
}

struct rtnl_link *nlr_find_mac(struct nl_cache *cache, const uint8_t mac[6])
{
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_link *l = (struct rtnl_link *)o;
		struct nl_addr *a = rtnl_link_get_addr(l);
		if (a && nl_addr_get_len(a) == 6 && memcmp(nl_addr_get_binary_addr(a), mac, 6) == 0)
			return l;
	}
	return NULL;
}

int nlr_name_up(struct nl_sock *sk, struct nl_cache *cache, struct rtnl_link *l, const char *name,
		const char *who)
{
	bool rename = name && strcmp(rtnl_link_get_name(l), name) != 0;
	if (rename && cache) {
		struct rtnl_link *other = rtnl_link_get_by_name(cache, name);
		if (other) {
			bool same = rtnl_link_get_ifindex(other) == rtnl_link_get_ifindex(l);
			rtnl_link_put(other);
			if (!same) {
				fprintf(stderr, "%s: cannot rename %s to %s: another link has that name\n",
					who, rtnl_link_get_name(l), name);
				return -EEXIST;
			}
		}
	}
	if (!rename && (rtnl_link_get_flags(l) & IFF_UP))
		return 0;
	struct rtnl_link *chg = rtnl_link_alloc();
	if (!chg)
		return -ENOMEM;
	int err = 0;
	/* a link is renamed only while down */
	if (rename && (rtnl_link_get_flags(l) & IFF_UP)) {
		rtnl_link_unset_flags(chg, IFF_UP);
		if ((err = rtnl_link_change(sk, l, chg, 0)) < 0)
			goto out;
		rtnl_link_put(chg);
		if (!(chg = rtnl_link_alloc()))
			return -ENOMEM;
	}
	if (rename)
		rtnl_link_set_name(chg, name);
	rtnl_link_set_flags(chg, IFF_UP);
	err = rtnl_link_change(sk, l, chg, 0);
out:
	rtnl_link_put(chg);
	return err < 0 ? nlr_fail(who, "bring up", name ? name : rtnl_link_get_name(l), err) : 0;
}

static struct nl_addr *v4(struct in_addr a, int prefix)
{
	struct nl_addr *n = nl_addr_build(AF_INET, &a, 4);
	if (n)
		nl_addr_set_prefixlen(n, prefix);
	return n;
}

/* One address of FAMILY on IFINDEX: LOCAL with its prefix, BCAST when IPv4
 * has one. WHAT names it in the error. */
static int addr_add(struct nl_sock *sk, int ifindex, const char *name, int family, struct nl_addr *local,
		    int prefix, struct nl_addr *bcast, unsigned flags, const char *what, const char *who)
{
	struct rtnl_addr *ra = rtnl_addr_alloc();
	if (!ra)
		return -ENOMEM;
	rtnl_addr_set_ifindex(ra, ifindex);
	rtnl_addr_set_family(ra, family);
	rtnl_addr_set_local(ra, local);
	rtnl_addr_set_prefixlen(ra, prefix);
	if (bcast)
		rtnl_addr_set_broadcast(ra, bcast);
	rtnl_addr_set_flags(ra, flags);
	int err = rtnl_addr_add(sk, ra, NLM_F_REPLACE);
	if (err < 0)
		err = nlr_fail(who, what, name, err);
	rtnl_addr_put(ra);
	return err;
}

/* A static unicast route of FAMILY to D, via G (a gateway: universe scope;
 * none: link scope, or universe for IPv6) out of IFINDEX (0: any), with
 * preferred source S; DEL removes it (gone already is fine). */
static int route_set(struct nl_sock *sk, int family, int ifindex, const char *name, struct nl_addr *d,
		     struct nl_addr *g, struct nl_addr *s, bool del, const char *what, const char *who)
{
	struct rtnl_route *rt = rtnl_route_alloc();
	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	int err = -ENOMEM;
	if (!rt || !nh)
		goto out;
	rtnl_route_set_family(rt, family);
	rtnl_route_set_table(rt, RT_TABLE_MAIN);
	rtnl_route_set_protocol(rt, RTPROT_STATIC);
	rtnl_route_set_type(rt, RTN_UNICAST);
	rtnl_route_set_scope(rt, g || family == AF_INET6 ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
	rtnl_route_set_dst(rt, d);
	if (s)
		rtnl_route_set_pref_src(rt, s);
	if (ifindex)
		rtnl_route_nh_set_ifindex(nh, ifindex);
	if (g)
		rtnl_route_nh_set_gateway(nh, g);
	rtnl_route_add_nexthop(rt, nh);
	nh = NULL;   /* the route owns it */
	err = del ? rtnl_route_delete(sk, rt, 0) : rtnl_route_add(sk, rt, NLM_F_REPLACE);
	if (err < 0 && !(del && (err == -NLE_OBJ_NOTFOUND || err == -NLE_NOADDR)))
		err = nlr_fail(who, what, name, err);
	else
		err = 0;
out:
	if (nh)
		rtnl_route_nh_free(nh);
	if (rt)
		rtnl_route_put(rt);
	return err;
}

int nlr_addr4(struct nl_sock *sk, int ifindex, const char *name, struct in_addr addr, int prefix,
	      unsigned flags, const char *who)
{
	struct nl_addr *local = v4(addr, prefix);
	struct in_addr b = addr;
	if (prefix < 32)
		b.s_addr |= htonl(0xffffffffu >> prefix);
	struct nl_addr *bcast = v4(b, 32);
	int err = local && bcast ? addr_add(sk, ifindex, name, AF_INET, local, prefix, bcast, flags,
					    "address on", who)
				 : -ENOMEM;
	nl_addr_put(local);
	nl_addr_put(bcast);
	return err;
}

int nlr_route4(struct nl_sock *sk, int ifindex, const char *name, struct in_addr dst, int plen,
	       const struct in_addr *gateway, const struct in_addr *src, bool del, const char *who)
{
	struct nl_addr *d = v4(dst, plen);
	struct nl_addr *g = gateway ? v4(*gateway, 32) : NULL;
	struct nl_addr *s = src ? v4(*src, 32) : NULL;
	int err = -ENOMEM;
	if (d && (!gateway || g) && (!src || s))
		err = route_set(sk, AF_INET, ifindex, name, d, g, s, del,
				del ? "removing a route from" : "route on", who);
	nl_addr_put(d);
	nl_addr_put(g);
	nl_addr_put(s);
	return err;
}

static struct nl_addr *v6(const struct in6_addr *a, int prefix)
{
	struct nl_addr *n = nl_addr_build(AF_INET6, a, 16);
	if (n)
		nl_addr_set_prefixlen(n, prefix);
	return n;
}

int nlr_addr6(struct nl_sock *sk, int ifindex, const char *name, const struct in6_addr *addr,
	      int prefix, unsigned flags, const char *who)
{
	struct nl_addr *local = v6(addr, prefix);
	int err = local ? addr_add(sk, ifindex, name, AF_INET6, local, prefix, NULL, flags, "IPv6 address on", who)
			: -ENOMEM;
	nl_addr_put(local);
	return err;
}

int nlr_route6(struct nl_sock *sk, int ifindex, const char *name, const struct in6_addr *dst, int plen,
	       const struct in6_addr *src, const char *who)
{
	struct nl_addr *d = v6(dst, plen);
	struct nl_addr *s = src ? v6(src, 128) : NULL;
	int err = -ENOMEM;
	if (d && (!src || s))
		err = route_set(sk, AF_INET6, ifindex, name, d, NULL, s, false, "IPv6 route on", who);
	nl_addr_put(d);
	nl_addr_put(s);
	return err;
}

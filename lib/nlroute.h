/* nlroute.h: the rtnetlink steps both appliance daemons take through
 * libnl-3: find a link by MAC, name it and bring it up, put an IPv4 address
 * on it, add or remove a route. Failures are logged as "WHO: what NAME: why"
 * and returned as -errno. Linked by the daemons only (netctl has no libnl). */
#ifndef MOAT_NLROUTE_H
#define MOAT_NLROUTE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

struct nl_sock;
struct nl_cache;
struct rtnl_link;

/* The link of CACHE with MAC (no reference taken), or NULL. */
struct rtnl_link *nlr_find_mac(struct nl_cache *cache, const uint8_t mac[6]);
/* Name L NAME (renamed only when it has another name, and only while down;
 * NAME NULL keeps its name) and bring it up. With CACHE, a different link
 * already called NAME is refused (-EEXIST) rather than fought over. */
int nlr_name_up(struct nl_sock *sk, struct nl_cache *cache, struct rtnl_link *l, const char *name,
		const char *who);
/* ADDR/PREFIX (with its broadcast) on IFINDEX, replacing; FLAGS: IFA_F_*. */
int nlr_addr4(struct nl_sock *sk, int ifindex, const char *name, struct in_addr addr, int prefix,
	      unsigned flags, const char *who);
/* DST/PLEN out of IFINDEX (0: any), via GATEWAY when not NULL, from SRC when
 * not NULL; DEL removes it (a route that is not there is no error). */
int nlr_route4(struct nl_sock *sk, int ifindex, const char *name, struct in_addr dst, int plen,
	       const struct in_addr *gateway, const struct in_addr *src, bool del, const char *who);
/* The same for IPv6: ADDR/PREFIX on IFINDEX; a route DST/PLEN on the link,
 * from SRC when not NULL. */
int nlr_addr6(struct nl_sock *sk, int ifindex, const char *name, const struct in6_addr *addr,
	      int prefix, unsigned flags, const char *who);
int nlr_route6(struct nl_sock *sk, int ifindex, const char *name, const struct in6_addr *dst, int plen,
	       const struct in6_addr *src, const char *who);

#endif

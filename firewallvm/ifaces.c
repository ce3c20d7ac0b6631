/* ifaces.c: the firewall VM's links, through libnl-3 route. Each VM's link is
 * found by its firewall-side MAC and renamed to the VM's name; it gets the
 * gateway address with the subnet's prefix but no prefix route (dnsmasq
 * needs an address in the DHCP range's subnet, routing needs one host route
 * per VM so proxy ARP can answer for the others), and proxy ARP. The uplink
 * gets its /30 and the default route. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "firewallvm/firewalld.h"
#include "lib/nlroute.h"

#define WHO "moat-firewalld"
#define FW_VM_MAC_PREFIX "\x02\x6d\x66\x00"   /* default firewall-side MACs */

/* What a link was last set up as: links that already are need no netlink. */
struct fi_done {
	int ifindex;
	char name[IFNAMSIZ];
	struct addr addr, gw;
	uint8_t prefix;
	struct addr addr6, gw6;    /* family 0: no IPv6 on the link */
	uint8_t prefix6;
};

struct fw_ifaces {
	struct nl_sock *sk;        /* requests */
	struct nl_sock *ev;        /* RTNLGRP_LINK events */
	struct fi_done *done;
	size_t ndone;
};

static int fi_event_cb(struct nl_msg *msg, void *arg)
{
	return NL_OK;
}

struct fw_ifaces *fw_ifaces_open(void)
{
	struct fw_ifaces *fi = calloc(1, sizeof(*fi));
	if (!fi)
		return NULL;
	int err = -ENOMEM;
	fi->sk = nl_socket_alloc();
	fi->ev = nl_socket_alloc();
	if (!fi->sk || !fi->ev)
		goto fail;
	err = -EIO;
	if (nl_connect(fi->sk, NETLINK_ROUTE) < 0)
		goto fail;
	nl_socket_disable_seq_check(fi->ev);
	nl_socket_modify_cb(fi->ev, NL_CB_VALID, NL_CB_CUSTOM, fi_event_cb, fi);
	if (nl_connect(fi->ev, NETLINK_ROUTE) < 0 ||
	    nl_socket_add_membership(fi->ev, RTNLGRP_LINK) < 0 ||
	    nl_socket_set_nonblocking(fi->ev) < 0)
		goto fail;
	return fi;
fail:
	fw_ifaces_close(fi);
	errno = -err;
	return NULL;
}

void fw_ifaces_close(struct fw_ifaces *fi)
{
	if (!fi)
		return;
	nl_socket_free(fi->sk);
	nl_socket_free(fi->ev);
	free(fi->done);
	free(fi);
}

int fw_ifaces_fd(const struct fw_ifaces *fi)
{
	return nl_socket_get_fd(fi->ev);
}

static int fi_sysctl(const char *fmt, const char *name, const char *value)
{
	char path[128];
	if ((size_t)snprintf(path, sizeof(path), fmt, name) >= sizeof(path))
		return -ENAMETOOLONG;
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, value, strlen(value));
	int err = n < 0 ? -errno : (size_t)n != strlen(value) ? -EIO : 0;
	close(fd);
	return err;
}

static int fi_fail(const char *what, const char *name, int nlerr)
{
	fprintf(stderr, "moat-firewalld: %s %s: %s\n", what, name, nl_geterror(nlerr));
	return -EIO;
}

static struct in_addr in4(const struct addr *a)
{
	struct in_addr v;
	memcpy(&v, a->bytes, 4);
	return v;
}

static bool fi_is_done(const struct fw_ifaces *fi, const struct fi_done *want)
{
	for (size_t i = 0; i < fi->ndone; i++)
		if (memcmp(&fi->done[i], want, sizeof(*want)) == 0)
			return true;
	return false;
}

static int fi_sync_vm(struct fw_ifaces *fi, struct nl_cache *cache, struct rtnl_link *l,
		      const struct policy *p, const struct vm *v, struct fi_done *done)
{
	memset(done, 0, sizeof(*done));
	done->ifindex = rtnl_link_get_ifindex(l);
	snprintf(done->name, sizeof(done->name), "%s", v->name);
	done->addr = v->addr;
	policy_gateway(p, &done->gw);
	done->prefix = p->net.subnet.prefix;
	if ((p->net.has & NET_HAS_SUBNET6) && v->has_addr6) {
		done->addr6 = v->addr6;
		policy_gateway6(p, &done->gw6);
		done->prefix6 = p->net.subnet6.prefix;
	}
	if (strcmp(rtnl_link_get_name(l), v->name) == 0 && (rtnl_link_get_flags(l) & IFF_UP) &&
	    fi_is_done(fi, done))
		return 0;
	int err;
	struct in_addr gw = in4(&done->gw);
	if ((err = nlr_name_up(fi->sk, cache, l, v->name, WHO)) < 0 ||
	    (err = fi_sysctl("/proc/sys/net/ipv4/conf/%s/proxy_arp", v->name, "1")) < 0 ||
	    /* strict reverse path: the only way back to a sender is the VM's
	     * /32 on its link, so an ARP request from any other sender address
	     * makes no neighbour entry (one VM filled the table, shared by all
	     * links, with 2,000 sender addresses a second: red team rt14) */
	    (err = fi_sysctl("/proc/sys/net/ipv4/conf/%s/rp_filter", v->name, "1")) < 0 ||
	    (err = nlr_addr4(fi->sk, done->ifindex, v->name, gw, done->prefix, IFA_F_NOPREFIXROUTE,
			     WHO)) < 0 ||
	    (err = nlr_route4(fi->sk, done->ifindex, v->name, in4(&v->addr), 32, NULL, &gw, false,
			      WHO)) < 0) {
		done->ifindex = 0;
		return err;
	}
	if (done->addr6.family) {
		/* the same as IPv4: the gateway with the plan's prefix but no prefix
		 * route, and one host route to the VM. A VM takes its address6 as
		 * a /128 with the gateway as its router (what DHCPv6 gives), so
		 * every other address is off its link and no NDP proxy is needed. */
		struct in6_addr gw6, vm6;
		memcpy(&gw6, done->gw6.bytes, 16);
		memcpy(&vm6, done->addr6.bytes, 16);
		if ((err = nlr_addr6(fi->sk, done->ifindex, v->name, &gw6, done->prefix6,
				     IFA_F_NOPREFIXROUTE | IFA_F_NODAD, WHO)) < 0 ||
		    (err = nlr_route6(fi->sk, done->ifindex, v->name, &vm6, 128, &gw6, WHO)) < 0) {
			done->ifindex = 0;
			return err;
		}
	}
	return 0;
}

static int fi_sync_uplink(struct fw_ifaces *fi, struct nl_cache *cache, struct rtnl_link *l,
			  struct fi_done *done)
{
	memset(done, 0, sizeof(*done));
	done->ifindex = rtnl_link_get_ifindex(l);
	snprintf(done->name, sizeof(done->name), "%s", MOAT_UPLINK_FW_IF);
	addr_parse(MOAT_UPLINK_FW_ADDR, &done->addr, NULL);
	addr_parse(MOAT_UPLINK_NETVM_ADDR, &done->gw, NULL);
	done->prefix = 30;
	if (strcmp(rtnl_link_get_name(l), MOAT_UPLINK_FW_IF) == 0 && (rtnl_link_get_flags(l) & IFF_UP) &&
	    fi_is_done(fi, done))
		return 0;
	struct in_addr any = { 0 }, gw = in4(&done->gw);
	int err;
	if ((err = nlr_name_up(fi->sk, cache, l, MOAT_UPLINK_FW_IF, WHO)) < 0 ||
	    (err = nlr_addr4(fi->sk, done->ifindex, MOAT_UPLINK_FW_IF, in4(&done->addr), 30, 0, WHO)) < 0 ||
	    (err = nlr_route4(fi->sk, done->ifindex, MOAT_UPLINK_FW_IF, any, 0, &gw, NULL, false, WHO)) < 0) {
		done->ifindex = 0;
		return err;
	}
	return 0;
}

/* A VM link P does not give the name it has now (its VM renamed or removed,
 * its name now another VM's, a new link) goes down and takes a name no VM can
 * have ("moat+IFINDEX": '+' is not allowed in a VM's name), so a swap of two
 * names needs no free name, and no link is ever up under a name whose rules
 * are not its VM's. CACHE is kept in step. -errno if a link that is up could
 * not be taken down. */
static int fi_park(struct fw_ifaces *fi, struct nl_cache *cache, const struct policy *p)
{
	int rc = 0;
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_link *l = (struct rtnl_link *)o;
		struct nl_addr *a = rtnl_link_get_addr(l);
		if (!a || nl_addr_get_len(a) != 6 ||
		    memcmp(nl_addr_get_binary_addr(a), FW_VM_MAC_PREFIX, 4) != 0)
			continue;
		const char *want = NULL;
		for (size_t i = 0; p && i < p->nvms && !want; i++) {
			uint8_t mac[6];
			policy_firewall_mac(&p->vms[i], mac);
			if (memcmp(nl_addr_get_binary_addr(a), mac, 6) == 0)
				want = p->vms[i].name;
		}
		char parked[IFNAMSIZ];
		snprintf(parked, sizeof(parked), "moat+%d", rtnl_link_get_ifindex(l));
		const char *name = rtnl_link_get_name(l);
		bool up = rtnl_link_get_flags(l) & IFF_UP;
		if ((want && strcmp(name, want) == 0) || (!up && strcmp(name, parked) == 0))
			continue;
		struct rtnl_link *chg = rtnl_link_alloc();
		if (!chg)
			return -ENOMEM;
		int err = 0;
		if (up) {
			rtnl_link_unset_flags(chg, IFF_UP);
			if ((err = rtnl_link_change(fi->sk, l, chg, 0)) < 0) {
				rc = fi_fail("bring down", name, err);
				rtnl_link_put(chg);
				continue;
			}
			rtnl_link_unset_flags(l, IFF_UP);
			rtnl_link_put(chg);
			if (!(chg = rtnl_link_alloc()))
				return -ENOMEM;
		}
		/* down is what matters: a link left with its old name is renamed
		 * when it is brought up */
		rtnl_link_set_name(chg, parked);
		if ((err = rtnl_link_change(fi->sk, l, chg, 0)) < 0)
			fi_fail("rename", name, err);
		else
			rtnl_link_set_name(l, parked);
		rtnl_link_put(chg);
	}
	return rc;
}

int fw_ifaces_park(struct fw_ifaces *fi, const struct policy *p)
{
	struct nl_cache *cache;
	int nerr = rtnl_link_alloc_cache(fi->sk, AF_UNSPEC, &cache);
	if (nerr < 0)
		return fi_fail("list", "links", nerr);
	int err = fi_park(fi, cache, p);
	nl_cache_free(cache);
	return err;
}

int fw_ifaces_sync(struct fw_ifaces *fi, const struct policy *p)
{
	int err = fi_sysctl("/proc/sys/net/ipv4/%s", "ip_forward", "1");
	if (err < 0) {
		fprintf(stderr, "moat-firewalld: IPv4 forwarding: %s\n", strerror(-err));
		return err;
	}
	if (p && (p->net.has & NET_HAS_SUBNET6))
		fi_sysctl("/proc/sys/net/ipv6/conf/%s/forwarding", "all", "1");
	struct nl_cache *cache;
	int nerr = rtnl_link_alloc_cache(fi->sk, AF_UNSPEC, &cache);
	if (nerr < 0)
		return fi_fail("list", "links", nerr);
	size_t n = p ? p->nvms : 0;
	struct fi_done *done = calloc(n + 1, sizeof(*done));
	if (!done) {
		nl_cache_free(cache);
		return -ENOMEM;
	}
	size_t ndone = 0;
	uint8_t mac[6];
	fi_park(fi, cache, p);   /* renames go through a name no VM has */
	const uint8_t uplink_mac[6] = { MOAT_UPLINK_FW_MAC_BYTES };
	struct rtnl_link *l = nlr_find_mac(cache, uplink_mac);
	if (l) {
		int e = fi_sync_uplink(fi, cache, l, &done[ndone]);
		if (e < 0)
			err = e;
		else
			ndone++;
	}
	for (size_t i = 0; i < n; i++) {
		policy_firewall_mac(&p->vms[i], mac);
		if (!(l = nlr_find_mac(cache, mac)))
			continue;   /* configured when its link appears */
		int e = fi_sync_vm(fi, cache, l, p, &p->vms[i], &done[ndone]);
		if (e < 0) {
			err = e;
			continue;
		}
		ndone++;
		/* the cache still has the old name: a later VM's conflict check needs the new one */
		rtnl_link_set_name(l, p->vms[i].name);
	}
	nl_cache_free(cache);
	free(fi->done);
	fi->done = done;
	fi->ndone = ndone;
	return err;
}

int fw_ifaces_event(struct fw_ifaces *fi, const struct policy *p)
{
	/* what changed does not matter: sync compares everything */
	for (;;) {
		int err = nl_recvmsgs_default(fi->ev);
		if (err == -NLE_AGAIN)
			break;
		if (err < 0 && err != -NLE_NOMEM && err != -NLE_DUMP_INTR)
			return fi_fail("read", "link events", err);
		if (err < 0)
			break;   /* an overrun: events were lost, a sync covers them */
	}
	return fw_ifaces_sync(fi, p);
}

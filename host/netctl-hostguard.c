/* The host's own addresses, kept from the netvm on the host itself, for
 * `uplink user`. There the netvm's QEMU connect()s on the host for every
 * packet the netvm sends out, so any address the host has is one hop away:
 * the ones it has at `netctl up` (the netvm drops those: HOSTADDRS), and the
 * ones it gains later, on a new Wi-Fi network or a VPN, which the netvm never
 * hears of. Table inet moat_host rejects every packet a socket of the netvm's
 * user sends to an address of the host's (fib daddr type local, which the
 * kernel answers with the addresses of the moment) or to its listeners by
 * broadcast, anycast or multicast, but DNS to the resolvers of
 * /etc/resolv.conf that QEMU's DNS relays the netvm's queries to.
 *
 *   table inet moat_host {
 *     chain output {
 *       type filter hook output priority 0; policy accept;
 *       meta skuid UID meta l4proto udp|tcp ip[6] daddr RESOLVER th dport 53 accept
 *       meta skuid UID fib daddr type local|broadcast|anycast|multicast counter reject
 *     }
 *   }
 *
 * A table of its own in the firewall's table model (policy/ruleset.h), so
 * the same code renders and loads it; `netctl up` loads it before the netvm
 * starts, `netctl down` deletes it.
 */
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/batch.h"
#include "host/netctl.h"
#include "policy/ruleset.h"

#define GUARD_TABLE "moat_host"
#define MAX_RESOLVERS 8

/* The nameservers of /etc/resolv.conf (QEMU's DNS relays to them). */
size_t netctl_host_resolvers(struct netctl_resolver *out, size_t max)
{
	FILE *f = fopen("/etc/resolv.conf", "re");
	size_t n = 0;
	char line[512], addr[INET6_ADDRSTRLEN + 1];
	while (f && n < max && fgets(line, sizeof(line), f)) {
		if (sscanf(line, " nameserver %46s", addr) != 1)
			continue;
		char *zone = strchr(addr, '%');   /* fe80::1%eth0: the address alone */
		if (zone)
			*zone = 0;
		struct netctl_resolver *r = &out[n];
		if (inet_pton(AF_INET, addr, r->addr) == 1)
			r->family = AF_INET;
		else if (inet_pton(AF_INET6, addr, r->addr) == 1)
			r->family = AF_INET6;
		else
			continue;
		n++;
	}
	if (f)
		fclose(f);
	return n;
}

struct ruleset *netctl_host_guard_ruleset(uid_t netvm_uid, const struct netctl_resolver *res, size_t nres)
{
	struct ruleset *rs = ruleset_new(GUARD_TABLE);
	struct rs_chain *c = ruleset_base_chain_new(rs, "output", NF_INET_LOCAL_OUT, 0);
	/* meta skuid UID ip[6] daddr RESOLVER meta l4proto udp|tcp th dport 53 accept */
	static const uint8_t protos[] = { IPPROTO_UDP, IPPROTO_TCP };
	for (size_t i = 0; i < nres; i++)
		for (size_t p = 0; p < sizeof(protos); p++) {
			struct rs_rule *r = rs_rule_new(c, 0, 0);
			bool v4 = res[i].family == AF_INET;
			r->what = "DNS to the host's resolver";
			r->verdict = RV_ACCEPT;
			rs_match_u32(r, RK_SKUID, RO_EQ, (uint32_t)netvm_uid);
			rs_match_u8(r, RK_NFPROTO, RO_EQ, v4 ? NFPROTO_IPV4 : NFPROTO_IPV6);
			memcpy(rs_match(r, v4 ? RK_IP_DADDR : RK_IP6_DADDR, RO_EQ)->val, res[i].addr, v4 ? 4 : 16);
			rs_match_u8(r, RK_L4PROTO, RO_EQ, protos[p]);
			rs_match_u16(r, RK_TH_DPORT, 53, 53);
		}
	/* its own addresses, and what reaches its listeners without naming
	 * one: broadcast, anycast and multicast */
	static const uint32_t types[] = { RTN_LOCAL, RTN_BROADCAST, RTN_ANYCAST, RTN_MULTICAST };
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct rs_rule *r = rs_rule_new(c, 0, 0);
		r->what = "the netvm's user to the host";
		r->verdict = RV_REJECT_ICMPX;
		rs_match_u32(r, RK_SKUID, RO_EQ, (uint32_t)netvm_uid);
		rs_match_u32(r, RK_FIB_DADDR_TYPE, RO_EQ, types[i]);
	}
	ruleset_index(rs);
	return rs;
}

static bool commit(struct nl_batch *b, const char *what)
{
	struct nft_sock s;
	char err[512];
	int rc = nft_sock_open(&s, false);
	if (!rc) {
		rc = nft_commit(&s, b, err, sizeof(err));
		nft_sock_close(&s);
	} else {
		snprintf(err, sizeof(err), "%s", strerror(-rc));
	}
	if (rc)
		fprintf(stderr, "netctl: %s table inet %s: %s\n", what, GUARD_TABLE, err);
	return rc == 0;
}

bool netctl_host_guard(uid_t netvm_uid)
{
	struct netctl_resolver res[MAX_RESOLVERS];
	size_t nres = netctl_host_resolvers(res, MAX_RESOLVERS);
	struct ruleset *rs = netctl_host_guard_ruleset(netvm_uid, res, nres);
	struct nl_batch b;
	batch_init(&b, 1);
	/* create, delete, create: whatever an earlier up left is replaced */
	batch_ruleset_full(&b, rs, 0);
	ruleset_free(rs);
	bool ok = commit(&b, "loading");
	batch_free(&b);
	return ok;
}

bool netctl_host_guard_remove(void)
{
	struct nl_batch b;
	batch_init(&b, 1);
	b.table = GUARD_TABLE;
	batch_begin(&b);
	batch_table(&b, NFT_MSG_NEWTABLE, 0);   /* so the delete finds one */
	batch_table(&b, NFT_MSG_DELTABLE, 0);
	batch_end(&b);
	bool ok = commit(&b, "deleting");
	batch_free(&b);
	return ok;
}

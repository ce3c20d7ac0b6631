/* dhcp6.h: the firewall's answers to an app VM's IPv6 address configuration,
 * as pure functions of the bytes a VM sent and what moat.conf says of the
 * link it came in on (addr6.c does the sockets).
 *
 * DHCPv6 (RFC 8415, the subset a VM with one static address needs): answers
 * go by interface, never by DUID. Whatever client id a VM sends, it gets its
 * own address6 and nothing else; a Release or Decline changes nothing, so no
 * VM can take, give back or refuse another's address. Relay messages,
 * server-to-client messages and anything malformed get no answer.
 *
 * Router advertisements (RFC 4861): M and O set (addresses by DHCPv6), no
 * prefix information (the VM's address is a /128 behind the router: nothing
 * is on-link), the link's MAC, and RDNSS (RFC 8106) with the gateway when
 * the VM has `allow dns`. */
#ifndef MOAT_DHCP6_H
#define MOAT_DHCP6_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define DHCP6_MSG_MAX      1500   /* a longer message is dropped */
#define DHCP6_REPLY_MAX    1500   /* every answer fits */
#define DHCP6_IA_MAX       8      /* IA options a message may carry */
#define DHCP6_LIFETIME     3600   /* valid and preferred, seconds */
#define DHCP6_T1           1800
#define DHCP6_T2           2880
#define RA6_LIFETIME       1800   /* router lifetime, seconds */
#define RA6_RDNSS_LIFETIME 600
#define RA6_MAX            64     /* an RA's length */

/* One VM link, as the daemon knows it from the policy in force. */
struct dhcp6_link {
	uint8_t mac[6];          /* the firewall side of the link: the server's DUID-LL */
	uint8_t addr[16];        /* the VM's address6 */
	uint8_t gw[16];          /* the gateway, the DNS server when dns */
	bool dns;                /* the VM has `allow dns` (in force now) */
};

/* Why a message got no answer (negative), for the daemon's log. */
enum dhcp6_drop {
	DHCP6_NO_ANSWER = 0,     /* well formed, nothing to say (a Confirm of nothing) */
	DHCP6_DROP_SIZE = -1,    /* shorter than a header or longer than DHCP6_MSG_MAX */
	DHCP6_DROP_RELAY = -2,   /* Relay-forward or Relay-reply */
	DHCP6_DROP_TYPE = -3,    /* a server's message or an unknown type */
	DHCP6_DROP_MALFORMED = -4, /* options that do not fit, a repeated id, ... */
	DHCP6_DROP_CLIENTID = -5,  /* client id missing where required, or out of bounds */
	DHCP6_DROP_SERVERID = -6,  /* server id missing, present where forbidden, or not ours */
	DHCP6_DROP_IA = -7,        /* IA options where forbidden, or too many */
};
const char *dhcp6_drop_str(int reason);

/* The answer to the client message MSG (LEN bytes) that came in on LINK:
 * its length in OUT (at least DHCP6_REPLY_MAX bytes), 0 when there is none
 * to send, or a negative enum dhcp6_drop. */
ssize_t dhcp6_answer(const uint8_t *msg, size_t len, const struct dhcp6_link *link, uint8_t *out,
		     size_t outlen);

/* The router advertisement for LINK (ICMPv6 with checksum 0: the kernel
 * fills it): its length in OUT (at least RA6_MAX bytes). */
size_t ra6_build(const struct dhcp6_link *link, uint8_t *out, size_t outlen);

/* Whether MSG (LEN bytes of ICMPv6), received with HOPLIMIT, is a router
 * solicitation RFC 4861 lets a router answer. */
bool ra6_is_solicitation(const uint8_t *msg, size_t len, int hoplimit);

#endif

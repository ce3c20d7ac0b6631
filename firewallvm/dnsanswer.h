/* dnsanswer.h: the names and addresses of a DNS answer, read from the packet
 * that carries it to a VM (names.c holds those packets in NFQUEUE).
 *
 * Hostile input: an answer carries whatever the upstream resolver (or
 * anything on the path to it) said. Every read is bounded by the packet,
 * compression pointers may only point backwards (no loop), a name is at
 * most DNS_NAME_MAX bytes, and an answer that does not parse as a whole
 * gives nothing. */
#ifndef MOAT_FW_DNSANSWER_H
#define MOAT_FW_DNSANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_NAME_MAX   253    /* text, without the trailing dot */
#define DNS_CHAIN_MAX  16     /* the question's name and the CNAMEs followed from it */
#define DNS_ADDRS_MAX  64     /* addresses taken from one answer */
#define DNS_RR_MAX     512    /* answer records looked at; more: malformed */

struct dns_addr {
	uint8_t len;              /* 4 (A) or 16 (AAAA) */
	uint8_t key[16];          /* network order */
};

struct dns_answer {
	/* names[0] is the question's name; then each CNAME target reached from
	 * it, in order. Lower case, no trailing dot. A byte that cannot be in a
	 * host name of the policy reads as '?', so such a name matches none. */
	size_t nnames;
	char names[DNS_CHAIN_MAX][DNS_NAME_MAX + 1];
	/* A and AAAA records of class IN whose owner is one of names[] */
	size_t naddrs;
	struct dns_addr addrs[DNS_ADDRS_MAX];
};

/* Parse MSG, one DNS message as on the wire. 0: it is a response (QR) of
 * opcode QUERY to one question of class IN, A holds what it says (possibly
 * nothing). Anything else that is well formed (a query, another opcode or
 * class, several questions) gives 0 and nothing. -1: malformed (header,
 * question or answer section out of bounds or inconsistent); A is empty. */
int dns_answer_parse(const uint8_t *msg, size_t len, struct dns_answer *a);

/* An IPv4 or IPv6 packet (as NFQUEUE gives it) carrying DNS from port 53 over
 * UDP or TCP: its DNS message parsed into A. A TCP segment counts only when
 * it holds exactly one whole message with its length prefix: an answer split
 * across segments, or several in one, is not read (docs/design.md, "Host
 * names"). 1: a message was read; 0: the packet carries none that can be read
 * (a fragment, a TCP segment without one whole message, another protocol or
 * port); -1: the packet or its message is malformed. A is empty unless 1. */
int dns_packet_parse(const uint8_t *pkt, size_t len, struct dns_answer *a);

/* Whether NAME is DOMAIN or a name under it ("www.a.test" under "a.test"),
 * ignoring case. */
bool dns_name_under(const char *name, const char *domain);

#endif

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

/* DNS over TCP is a stream: where a message starts is known only from the
 * length prefixes since the connection's first byte, never from where a
 * segment starts (the VM at the other end chooses how the stream is cut, by
 * its MSS and what it acknowledges, so a segment can start inside an answer,
 * at bytes a resolver's TXT record chose). Each connection from port 53 is
 * followed from its SYN-ACK: the sequence number where its next message
 * starts. A bounded table: each peer (a VM's address) has at most
 * DNS_TCP_PER_PEER of it, its own least recently used connection forgotten
 * for a new one, so no VM can push out another's; a forgotten or lost
 * connection's answers are not read. */
#define DNS_TCP_STREAMS  4096
#define DNS_TCP_PER_PEER 8

struct dns_tcp_stream {
	uint8_t family;           /* 4 or 6; 0: a free slot */
	uint8_t addrs[32];        /* source then destination */
	uint16_t sport, dport;
	uint32_t next;            /* sequence number of the next message's length prefix */
	uint64_t used;
};

struct dns_tcp {
	struct dns_tcp_stream s[DNS_TCP_STREAMS];
	uint64_t clock;
};

/* An IPv4 or IPv6 packet (as NFQUEUE gives it) carrying DNS from port 53 over
 * UDP or TCP: its DNS message parsed into A. A TCP segment is read only when
 * TCP (NULL: never) has followed its connection and the segment starts where
 * a message starts and holds it whole; an answer split across segments is
 * not read (docs/design.md, "Host names"). 1: a message was read; 0: the
 * packet carries none that can be read (a fragment, a TCP segment without
 * one whole message at its start, another protocol or port); -1: the packet
 * or its message is malformed. A is empty unless 1. */
int dns_packet_parse(const uint8_t *pkt, size_t len, struct dns_tcp *tcp, struct dns_answer *a);

/* Whether NAME is DOMAIN or a name under it ("www.a.test" under "a.test"),
 * ignoring case. */
bool dns_name_under(const char *name, const char *domain);

#endif

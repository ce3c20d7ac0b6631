/* dnsanswer.c: names and addresses out of a DNS answer (RFC 1035 sections
 * 4.1 and 3.1), and that answer out of the packet carrying it. */
#include <string.h>
#include <strings.h>

#include "firewallvm/dnsanswer.h"

#define DNS_HEADER      12
#define DNS_PTR_HOPS    64      /* compression pointers followed in one name */
#define DNS_TYPE_A      1
#define DNS_TYPE_CNAME  5
#define DNS_TYPE_AAAA   28
#define DNS_CLASS_IN    1
#define DNS_PORT        53

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static char name_char(uint8_t c)
{
	if (c >= 'A' && c <= 'Z')
		return (char)(c - 'A' + 'a');
	if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')
		return (char)c;
	return '?';                /* '.', NUL and the rest: never a policy name */
}

/* The name at OFF of M as text into OUT; *END is the offset just after it
 * where it is written (not where its pointers lead). -1 when malformed. */
static int name_read(const uint8_t *m, size_t len, size_t off, char out[DNS_NAME_MAX + 1],
		     size_t *end)
{
	size_t o = off, n = 0;
	bool jumped = false;
	int hops = 0;
	for (;;) {
		if (o >= len)
			return -1;
		uint8_t c = m[o];
		if (c == 0) {
			if (!jumped)
				*end = o + 1;
			break;
		}
		if ((c & 0xc0) == 0xc0) {
			if (o + 1 >= len)
				return -1;
			size_t ptr = (size_t)(c & 0x3f) << 8 | m[o + 1];
			if (!jumped)
				*end = o + 2;
			jumped = true;
			/* only backwards: every hop strictly lowers o, no loop */
			if (ptr >= o || ++hops > DNS_PTR_HOPS)
				return -1;
			o = ptr;
			continue;
		}
		if (c & 0xc0)
			return -1;         /* the 0x40 and 0x80 label types are not in use */
		if (o + 1 + c > len || n + (n ? 1u : 0u) + c > DNS_NAME_MAX)
			return -1;
		if (n)
			out[n++] = '.';
		for (size_t i = 0; i < c; i++)
			out[n++] = name_char(m[o + 1 + i]);
		o += 1 + (size_t)c;
	}
	out[n] = 0;
	return 0;
}

struct rr {
	size_t owner;              /* offset of the owner name */
	uint16_t type;
	size_t rdata;              /* offset and length of the data */
	uint16_t rdlen;
};

static bool in_chain(const struct dns_answer *a, const char *name)
{
	for (size_t i = 0; i < a->nnames; i++)
		if (strcmp(a->names[i], name) == 0)
			return true;
	return false;
}

static int parse_fail(struct dns_answer *a)
{
	a->nnames = a->naddrs = 0;
	return -1;
}

int dns_answer_parse(const uint8_t *msg, size_t len, struct dns_answer *a)
{
	struct rr rrs[DNS_RR_MAX];
	char name[DNS_NAME_MAX + 1];
	a->nnames = a->naddrs = 0;
	if (len < DNS_HEADER)
		return parse_fail(a);
	uint16_t flags = get16(msg + 2), qd = get16(msg + 4), an = get16(msg + 6);
	size_t off;
	/* a response (QR), opcode QUERY, one question */
	if (!(flags & 0x8000) || ((flags >> 11) & 0xf) != 0 || qd != 1)
		return 0;
	if (name_read(msg, len, DNS_HEADER, a->names[0], &off) < 0 || off + 4 > len)
		return parse_fail(a);
	bool in = get16(msg + off + 2) == DNS_CLASS_IN;
	off += 4;
	if (an > DNS_RR_MAX)
		return parse_fail(a);
	/* the answer section, all of it, before anything is taken from it */
	for (size_t i = 0; i < an; i++) {
		struct rr *r = &rrs[i];
		r->owner = off;
		if (name_read(msg, len, off, name, &off) < 0 || off + 10 > len)
			return parse_fail(a);
		r->type = get16(msg + off);
		uint16_t class = get16(msg + off + 2);
		r->rdlen = get16(msg + off + 8);
		r->rdata = off + 10;
		if (r->rdata + r->rdlen > len)
			return parse_fail(a);
		off = r->rdata + r->rdlen;
		if (class != DNS_CLASS_IN) {
			r->type = 0;       /* not ours to read */
			continue;
		}
		if ((r->type == DNS_TYPE_A && r->rdlen != 4) || (r->type == DNS_TYPE_AAAA && r->rdlen != 16))
			return parse_fail(a);
		if (r->type == DNS_TYPE_CNAME) {
			size_t end;
			if (name_read(msg, len, r->rdata, name, &end) < 0 || end != r->rdata + r->rdlen)
				return parse_fail(a);
		}
	}
	if (!in)
		return 0;
	a->nnames = 1;
	/* CNAME chains from the question's name, in any order, at most
	 * DNS_CHAIN_MAX names: each round adds one or ends */
	for (bool grew = true; grew && a->nnames < DNS_CHAIN_MAX;) {
		grew = false;
		for (size_t i = 0; i < an && a->nnames < DNS_CHAIN_MAX; i++) {
			size_t end;
			if (rrs[i].type != DNS_TYPE_CNAME)
				continue;
			name_read(msg, len, rrs[i].owner, name, &end);
			if (!in_chain(a, name))
				continue;
			name_read(msg, len, rrs[i].rdata, name, &end);
			if (in_chain(a, name))
				continue;
			memcpy(a->names[a->nnames++], name, sizeof(name));
			grew = true;
		}
	}
	for (size_t i = 0; i < an && a->naddrs < DNS_ADDRS_MAX; i++) {
		size_t end;
		if (rrs[i].type != DNS_TYPE_A && rrs[i].type != DNS_TYPE_AAAA)
			continue;
		name_read(msg, len, rrs[i].owner, name, &end);
		if (!in_chain(a, name))
			continue;
		struct dns_addr *d = &a->addrs[a->naddrs++];
		d->len = (uint8_t)rrs[i].rdlen;
		memset(d->key, 0, sizeof(d->key));
		memcpy(d->key, msg + rrs[i].rdata, rrs[i].rdlen);
	}
	return 0;
}

/* The transport payload of an IPv4 or IPv6 packet: 1 and *PROTO, *L4, *L4LEN,
 * and its addresses (source then destination, 8 or 32 bytes) in ADDRS;
 * 0 when it has none to read (a fragment, extension headers); -1 malformed. */
static int ip_payload(const uint8_t *p, size_t len, uint8_t *proto, const uint8_t **l4, size_t *l4len,
		      uint8_t *family, uint8_t addrs[32])
{
	if (len < 1)
		return -1;
	if (p[0] >> 4 == 4) {
		size_t hl = (size_t)(p[0] & 0xf) * 4;
		if (len < 20 || hl < 20 || hl > len)
			return -1;
		size_t total = get16(p + 2);
		if (total < hl || total > len)
			return -1;
		if (get16(p + 6) & 0x3fff)
			return 0;          /* a fragment: not one whole datagram */
		*proto = p[9];
		*l4 = p + hl;
		*l4len = total - hl;
		*family = 4;
		memset(addrs, 0, 32);
		memcpy(addrs, p + 12, 8);
		return 1;
	}
	if (p[0] >> 4 == 6) {
		if (len < 40)
			return -1;
		size_t plen = get16(p + 4);
		if (40 + plen > len)
			return -1;
		*proto = p[6];         /* an extension header reads as another protocol */
		*l4 = p + 40;
		*l4len = plen;
		*family = 6;
		memcpy(addrs, p + 8, 32);
		return 1;
	}
	return -1;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The connection of a segment, or (MAKE) a slot for it: the peer's own
 * least recently used one when it has DNS_TCP_PER_PEER already, else a free
 * one, else the least recently used of all (a table full of peers at their
 * share). NULL: not followed. */
static struct dns_tcp_stream *stream_find(struct dns_tcp *t, uint8_t family, const uint8_t addrs[32],
					  uint16_t sport, uint16_t dport, bool make)
{
	struct dns_tcp_stream *free_slot = NULL, *oldest = NULL, *peer_oldest = NULL;
	size_t alen = family == 4 ? 4 : 16, peer = 0;
	for (size_t i = 0; i < DNS_TCP_STREAMS; i++) {
		struct dns_tcp_stream *s = &t->s[i];
		if (!s->family) {
			free_slot = free_slot ? free_slot : s;
			continue;
		}
		if (s->family == family && s->sport == sport && s->dport == dport && !memcmp(s->addrs, addrs, 32)) {
			s->used = ++t->clock;
			return s;
		}
		if (!oldest || s->used < oldest->used)
			oldest = s;
		/* the same peer: the answer's destination */
		if (s->family == family && !memcmp(s->addrs + alen, addrs + alen, alen)) {
			peer++;
			if (!peer_oldest || s->used < peer_oldest->used)
				peer_oldest = s;
		}
	}
	if (!make)
		return NULL;
	struct dns_tcp_stream *s = peer >= DNS_TCP_PER_PEER ? peer_oldest : free_slot ? free_slot : oldest;
	*s = (struct dns_tcp_stream){ .family = family, .sport = sport, .dport = dport, .used = ++t->clock };
	memcpy(s->addrs, addrs, 32);
	return s;
}

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

/* A TCP segment from port 53 (its payload PAY, PAYLEN bytes): the message
 * that starts where it starts, if its connection is followed and the message
 * is whole in it; every message boundary in it moves the connection on. */
static bool tcp_message(struct dns_tcp *t, uint8_t family, const uint8_t addrs[32], const uint8_t *l4,
			const uint8_t *pay, size_t paylen, const uint8_t **msg, size_t *msglen)
{
	uint16_t sport = get16(l4), dport = get16(l4 + 2);
	uint32_t seq = get32(l4 + 4);
	uint8_t flags = l4[13];
	if (!t)
		return false;
	if ((flags & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK)) {
		/* the server's first byte is the one after its SYN */
		stream_find(t, family, addrs, sport, dport, true)->next = seq + 1;
		return false;
	}
	struct dns_tcp_stream *s = stream_find(t, family, addrs, sport, dport, false);
	if (!s)
		return false;
	if (flags & (TCP_RST | TCP_FIN) && !paylen) {
		s->family = 0;
		return false;
	}
	if (seq != s->next || !paylen)
		return false;   /* not at a message: a retransmission, or the rest of one */
	bool whole = false;
	size_t off = 0;
	while (off + 2 <= paylen) {
		size_t l = get16(pay + off);
		if (off == 0 && 2 + l <= paylen) {
			*msg = pay + 2;
			*msglen = l;
			whole = true;
		}
		s->next += (uint32_t)(2 + l);
		off += 2 + l;
	}
	if (off < paylen)
		s->family = 0;  /* a length prefix cut in two: where the next message starts is lost */
	if (flags & (TCP_RST | TCP_FIN))
		s->family = 0;
	return whole;
}

int dns_packet_parse(const uint8_t *pkt, size_t len, struct dns_tcp *tcp, struct dns_answer *a)
{
	uint8_t proto, family, addrs[32];
	const uint8_t *l4;
	size_t l4len;
	a->nnames = a->naddrs = 0;
	int rc = ip_payload(pkt, len, &proto, &l4, &l4len, &family, addrs);
	if (rc <= 0)
		return rc;
	const uint8_t *msg;
	size_t msglen;
	if (proto == 17) {         /* UDP */
		if (l4len < 8 || get16(l4 + 4) < 8 || get16(l4 + 4) > l4len)
			return -1;
		if (get16(l4) != DNS_PORT)
			return 0;
		msg = l4 + 8;
		msglen = get16(l4 + 4) - 8u;
	} else if (proto == 6) {   /* TCP */
		if (l4len < 20)
			return -1;
		size_t doff = (size_t)(l4[12] >> 4) * 4;
		if (doff < 20 || doff > l4len)
			return -1;
		if (get16(l4) != DNS_PORT)
			return 0;
		if (!tcp_message(tcp, family, addrs, l4, l4 + doff, l4len - doff, &msg, &msglen))
			return 0;
	} else {
		return 0;
	}
	return dns_answer_parse(msg, msglen, a) < 0 ? -1 : 1;
}

bool dns_name_under(const char *name, const char *domain)
{
	size_t n = strlen(name), d = strlen(domain);
	if (d == 0 || n < d || strcasecmp(name + n - d, domain) != 0)
		return false;
	return n == d || name[n - d - 1] == '.';
}

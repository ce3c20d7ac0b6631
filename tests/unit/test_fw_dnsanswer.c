/* test_fw_dnsanswer: DNS answers, built here byte by byte as a resolver
 * sends them, give their names and addresses; hostile ones give nothing and
 * never read out of bounds. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "firewallvm/dnsanswer.h"

struct msg {
	uint8_t b[4096];
	size_t len;
};

static void put(struct msg *m, const void *p, size_t n)
{
	assert_true(m->len + n <= sizeof(m->b));
	memcpy(m->b + m->len, p, n);
	m->len += n;
}
static void put16(struct msg *m, unsigned v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	put(m, b, 2);
}
/* "a.test" as labels; a name ending in '@N' ends with a pointer to offset N */
static size_t put_name(struct msg *m, const char *name)
{
	size_t at = m->len;
	const char *p = name;
	while (*p && *p != '@') {
		size_t l = strcspn(p, ".@");
		uint8_t c = (uint8_t)l;
		put(m, &c, 1);
		put(m, p, l);
		p += l;
		if (*p == '.')
			p++;
	}
	if (*p == '@')
		put16(m, 0xc000 | (unsigned)atoi(p + 1));
	else
		put(m, "", 1);
	return at;
}
static void header(struct msg *m, unsigned flags, unsigned qd, unsigned an)
{
	m->len = 0;
	put16(m, 0x1234);
	put16(m, flags);
	put16(m, qd);
	put16(m, an);
	put16(m, 0);
	put16(m, 0);
}
static void question(struct msg *m, const char *name, unsigned type)
{
	put_name(m, name);
	put16(m, type);
	put16(m, 1);
}
static void rr(struct msg *m, const char *owner, unsigned type, const void *data, size_t len)
{
	put_name(m, owner);
	put16(m, type);
	put16(m, 1);
	put16(m, 0);
	put16(m, 300);
	put16(m, (unsigned)len);
	put(m, data, len);
}
static void rr_cname(struct msg *m, const char *owner, const char *target)
{
	put_name(m, owner);
	put16(m, 5);
	put16(m, 1);
	put16(m, 0);
	put16(m, 300);
	size_t at = m->len;
	put16(m, 0);
	put_name(m, target);
	m->b[at] = (uint8_t)((m->len - at - 2) >> 8);
	m->b[at + 1] = (uint8_t)(m->len - at - 2);
}

static const uint8_t A7[4] = { 198, 51, 100, 7 }, A8[4] = { 198, 51, 100, 8 };
static const uint8_t AAAA[16] = { 0xfd, 0, 0, 0x6d, [15] = 7 };

static struct dns_answer ans;

static void a_record_with_compression(void **state)
{
	struct msg m;
	header(&m, 0x8180, 1, 2);
	question(&m, "A.Test", 1);
	rr(&m, "@12", 1, A7, 4);             /* the owner points at the question */
	rr(&m, "@12", 28, AAAA, 16);
	assert_int_equal(dns_answer_parse(m.b, m.len, &ans), 0);
	assert_int_equal(ans.nnames, 1);
	assert_string_equal(ans.names[0], "a.test");
	assert_int_equal(ans.naddrs, 2);
	assert_int_equal(ans.addrs[0].len, 4);
	assert_memory_equal(ans.addrs[0].key, A7, 4);
	assert_int_equal(ans.addrs[1].len, 16);
	assert_memory_equal(ans.addrs[1].key, AAAA, 16);
}

static void cname_chain_in_any_order(void **state)
{
	struct msg m;
	header(&m, 0x8180, 1, 4);
	question(&m, "www.a.test", 1);
	rr(&m, "cdn.b.net", 1, A8, 4);        /* before the CNAME that leads to it */
	rr_cname(&m, "edge.c.org", "cdn.b.net");
	rr_cname(&m, "@12", "edge.c.org");
	rr(&m, "other.test", 1, A7, 4);       /* an owner the chain never reaches */
	assert_int_equal(dns_answer_parse(m.b, m.len, &ans), 0);
	assert_int_equal(ans.nnames, 3);
	assert_string_equal(ans.names[0], "www.a.test");
	assert_string_equal(ans.names[1], "edge.c.org");
	assert_string_equal(ans.names[2], "cdn.b.net");
	assert_int_equal(ans.naddrs, 1);
	assert_memory_equal(ans.addrs[0].key, A8, 4);
}

static void cname_chain_is_bounded(void **state)
{
	struct msg m;
	char from[32], to[32];
	header(&m, 0x8180, 1, DNS_CHAIN_MAX + 5);
	question(&m, "n0.test", 1);
	for (int i = 0; i < DNS_CHAIN_MAX + 4; i++) {
		snprintf(from, sizeof(from), "n%d.test", i);
		snprintf(to, sizeof(to), "n%d.test", i + 1);
		rr_cname(&m, from, to);
	}
	snprintf(from, sizeof(from), "n%d.test", DNS_CHAIN_MAX + 4);
	rr(&m, from, 1, A7, 4);
	assert_int_equal(dns_answer_parse(m.b, m.len, &ans), 0);
	assert_int_equal(ans.nnames, DNS_CHAIN_MAX);
	assert_int_equal(ans.naddrs, 0);      /* too deep: nothing, never a guess */
}

static void cname_loop_ends(void **state)
{
	struct msg m;
	header(&m, 0x8180, 1, 3);
	question(&m, "x.test", 1);
	rr_cname(&m, "x.test", "y.test");
	rr_cname(&m, "y.test", "x.test");
	rr(&m, "y.test", 1, A7, 4);
	assert_int_equal(dns_answer_parse(m.b, m.len, &ans), 0);
	assert_int_equal(ans.nnames, 2);
	assert_int_equal(ans.naddrs, 1);
}

static void pointer_loops_are_malformed(void **state)
{
	struct msg m;
	header(&m, 0x8180, 1, 1);
	question(&m, "a.test", 1);
	size_t at = m.len;
	put16(&m, 0xc000 | (unsigned)at);     /* owner: a pointer to itself */
	put16(&m, 1); put16(&m, 1); put16(&m, 0); put16(&m, 1); put16(&m, 4); put(&m, A7, 4);
	assert_int_equal(dns_answer_parse(m.b, m.len, &ans), -1);
	assert_int_equal(ans.naddrs, 0);
	/* forwards: also refused, so two names can never point at each other */
	header(&m, 0x8180, 1, 1);
	question(&m, "a.test", 1);
	put16(&m, 0xc000 | (unsigned)(m.len + 2));
	put_name(&m, "a.test");
	put16(&m, 1); put16(&m, 1); put16(&m, 0); put16(&m, 1); put16(&m, 4); put(&m, A7, 4);
	assert_int_equal(dns_answer_parse(m.b, m.len, &ans), -1);
}

static void every_truncation_is_malformed(void **state)
{
	struct msg m;
	header(&m, 0x8180, 1, 3);
	question(&m, "www.a.test", 1);
	rr_cname(&m, "@12", "a.test");
	rr(&m, "a.test", 1, A7, 4);
	rr(&m, "a.test", 28, AAAA, 16);
	assert_int_equal(dns_answer_parse(m.b, m.len, &ans), 0);
	assert_int_equal(ans.naddrs, 2);
	for (size_t len = 0; len < m.len; len++) {
		/* exact bounds for ASan: a copy of just LEN bytes */
		uint8_t *cut = malloc(len ? len : 1);
		memcpy(cut, m.b, len);
		assert_int_equal(dns_answer_parse(cut, len, &ans), -1);
		assert_int_equal(ans.naddrs, 0);
		free(cut);
	}
}

static void bad_records_are_malformed(void **state)
{
	struct msg m;
	header(&m, 0x8180, 1, 1);
	question(&m, "a.test", 1);
	rr(&m, "@12", 1, A7, 3);              /* an A of 3 bytes */
	assert_int_equal(dns_answer_parse(m.b, m.len, &ans), -1);
	header(&m, 0x8180, 1, 1);
	question(&m, "a.test", 1);
	rr(&m, "@12", 5, "\x01" "b\x00" "xx", 5); /* a CNAME with bytes after its name */
	assert_int_equal(dns_answer_parse(m.b, m.len, &ans), -1);
	/* a name over 253 bytes */
	char longname[300] = "";
	for (int i = 0; i < 26; i++)
		strcat(longname, "abcdefghi.");
	strcat(longname, "test");
	header(&m, 0x8180, 1, 0);
	question(&m, longname, 1);
	assert_int_equal(dns_answer_parse(m.b, m.len, &ans), -1);
	/* more records than are looked at */
	header(&m, 0x8180, 1, DNS_RR_MAX + 1);
	question(&m, "a.test", 1);
	for (int i = 0; i <= DNS_RR_MAX && m.len + 16 < sizeof(m.b); i++)
		rr(&m, "@12", 1, A7, 4);
	assert_int_equal(dns_answer_parse(m.b, m.len, &ans), -1);
}

static void odd_names_match_nothing(void **state)
{
	struct msg m;
	header(&m, 0x8180, 1, 1);
	/* one label "a.test": its dot is a byte of the label, not a separator */
	put(&m, "\x06" "a.test\x00", 8);
	put16(&m, 1);
	put16(&m, 1);
	rr(&m, "@12", 1, A7, 4);
	assert_int_equal(dns_answer_parse(m.b, m.len, &ans), 0);
	assert_string_equal(ans.names[0], "a?test");
	assert_false(dns_name_under(ans.names[0], "a.test"));
}

static void queries_and_other_classes_give_nothing(void **state)
{
	struct msg m;
	header(&m, 0x0100, 1, 1);             /* a query */
	question(&m, "a.test", 1);
	rr(&m, "@12", 1, A7, 4);
	assert_int_equal(dns_answer_parse(m.b, m.len, &ans), 0);
	assert_int_equal(ans.naddrs, 0);
	header(&m, 0x8180, 2, 0);             /* two questions */
	question(&m, "a.test", 1);
	question(&m, "b.test", 1);
	assert_int_equal(dns_answer_parse(m.b, m.len, &ans), 0);
	assert_int_equal(ans.nnames, 0);
}

static void names_under_a_domain(void **state)
{
	assert_true(dns_name_under("a.test", "a.test"));
	assert_true(dns_name_under("www.A.test", "a.test"));
	assert_false(dns_name_under("ba.test", "a.test"));
	assert_false(dns_name_under("test", "a.test"));
	assert_false(dns_name_under("a.test", ""));
}

/* TCP segments wrap() makes: their sequence number and flags (ACK|PSH) */
static uint32_t tcp_seq = 1001;
static uint8_t tcp_flags = 0x18;
static uint16_t tcp_dport;
static uint8_t peer;   /* the last byte of the packets' destination (a VM) */

/* The answer in an IP packet as NFQUEUE hands it over. */
static size_t wrap(uint8_t *pkt, int ipv, int proto, const struct msg *m, bool prefix)
{
	size_t ip = ipv == 4 ? 20 : 40, l4 = proto == 17 ? 8 : 20, pre = prefix ? 2 : 0;
	size_t total = ip + l4 + pre + m->len;
	memset(pkt, 0, ip + l4 + pre);
	if (ipv == 4) {
		pkt[19] = peer;
		pkt[0] = 0x45;
		pkt[2] = (uint8_t)(total >> 8);
		pkt[3] = (uint8_t)total;
		pkt[9] = (uint8_t)proto;
	} else {
		pkt[39] = peer;
		pkt[0] = 0x60;
		pkt[4] = (uint8_t)((total - 40) >> 8);
		pkt[5] = (uint8_t)(total - 40);
		pkt[6] = (uint8_t)proto;
	}
	uint8_t *t = pkt + ip;
	t[1] = 53;
	t[2] = (uint8_t)(tcp_dport >> 8);
	t[3] = (uint8_t)tcp_dport;
	if (proto == 17) {
		t[4] = (uint8_t)((l4 + m->len) >> 8);
		t[5] = (uint8_t)(l4 + m->len);
	} else {
		t[12] = 5 << 4;
		t[4] = (uint8_t)(tcp_seq >> 24);
		t[5] = (uint8_t)(tcp_seq >> 16);
		t[6] = (uint8_t)(tcp_seq >> 8);
		t[7] = (uint8_t)tcp_seq;
		t[13] = tcp_flags;
	}
	if (prefix) {
		t[l4] = (uint8_t)(m->len >> 8);
		t[l4 + 1] = (uint8_t)m->len;
	}
	memcpy(t + l4 + pre, m->b, m->len);
	return total;
}

static struct dns_tcp tcp;

/* The server's SYN-ACK with initial sequence number ISN, on IPV. */
static void syn_ack(int ipv, uint32_t isn)
{
	static uint8_t pkt[128];
	struct msg none = { .len = 0 };
	tcp_seq = isn;
	tcp_flags = 0x12;
	size_t len = wrap(pkt, ipv, 6, &none, false);
	assert_int_equal(dns_packet_parse(pkt, len, &tcp, &ans), 0);
	tcp_seq = isn + 1;
	tcp_flags = 0x18;
}

static void packets_over_udp_and_tcp(void **state)
{
	struct msg m;
	static uint8_t pkt[8192];
	memset(&tcp, 0, sizeof(tcp));
	header(&m, 0x8180, 1, 1);
	question(&m, "a.test", 1);
	rr(&m, "@12", 1, A7, 4);
	size_t len = wrap(pkt, 4, 17, &m, false);
	assert_int_equal(dns_packet_parse(pkt, len, &tcp, &ans), 1);
	assert_int_equal(ans.naddrs, 1);
	len = wrap(pkt, 6, 17, &m, false);
	assert_int_equal(dns_packet_parse(pkt, len, &tcp, &ans), 1);
	assert_int_equal(ans.naddrs, 1);
	syn_ack(4, 1000);
	len = wrap(pkt, 4, 6, &m, true);
	assert_int_equal(dns_packet_parse(pkt, len, &tcp, &ans), 1);
	assert_int_equal(ans.naddrs, 1);
	/* a TCP segment with part of a message: nothing to read */
	syn_ack(4, 5000);
	len = wrap(pkt, 4, 6, &m, true);
	pkt[20 + 20 + 1] += 1;
	assert_int_equal(dns_packet_parse(pkt, len, &tcp, &ans), 0);
	assert_int_equal(ans.naddrs, 0);
	/* a fragment */
	len = wrap(pkt, 4, 17, &m, false);
	pkt[6] = 0x20;
	assert_int_equal(dns_packet_parse(pkt, len, &tcp, &ans), 0);
	/* a UDP length beyond the packet */
	len = wrap(pkt, 4, 17, &m, false);
	pkt[20 + 4] = 0xff;
	assert_int_equal(dns_packet_parse(pkt, len, &tcp, &ans), -1);
	/* every cut of a whole packet */
	len = wrap(pkt, 6, 6, &m, true);
	for (size_t cut = 0; cut < len; cut++) {
		uint8_t *p = malloc(cut ? cut : 1);
		memcpy(p, pkt, cut);
		assert_true(dns_packet_parse(p, cut, &tcp, &ans) <= 0);
		assert_int_equal(ans.naddrs, 0);
		free(p);
	}
}

/* DNS over TCP is read where the stream says a message starts, never where
 * the VM made a segment start: an answer whose TXT record carries a whole
 * "message" for another name, cut so that a segment starts at it, gives
 * nothing (red team rt10, finding 1: before, the address went into the set). */
static void tcp_answers_are_read_at_message_boundaries_only(void **state)
{
	static uint8_t pkt[8192];
	struct msg fake, m;
	memset(&tcp, 0, sizeof(tcp));
	header(&fake, 0x8180, 1, 1);
	question(&fake, "a.test", 1);
	rr(&fake, "@12", 1, A7, 4);
	size_t len;

	/* no SYN-ACK seen: not followed, not read */
	tcp_seq = 77;
	len = wrap(pkt, 4, 6, &fake, true);
	assert_int_equal(dns_packet_parse(pkt, len, &tcp, &ans), 0);
	assert_int_equal(ans.naddrs, 0);
	/* without a table, TCP is never read */
	assert_int_equal(dns_packet_parse(pkt, len, NULL, &ans), 0);

	/* followed from its SYN-ACK: the first message is read, then the next */
	syn_ack(4, 0xfffffff0);   /* and across the sequence numbers' wrap */
	len = wrap(pkt, 4, 6, &fake, true);
	assert_int_equal(dns_packet_parse(pkt, len, &tcp, &ans), 1);
	assert_int_equal(ans.naddrs, 1);
	uint32_t next = tcp_seq + 2 + (uint32_t)fake.len;
	/* its retransmission, or a segment inside it, is not at a message */
	assert_int_equal(dns_packet_parse(pkt, len, &tcp, &ans), 0);
	tcp_seq = next;
	len = wrap(pkt, 4, 6, &fake, true);
	assert_int_equal(dns_packet_parse(pkt, len, &tcp, &ans), 1);
	next += 2 + (uint32_t)fake.len;

	/* the attack: a long answer (M) whose tail is the fake message, its
	 * length prefix included; the VM's segment starts at the fake one */
	header(&m, 0x8180, 1, 0);
	question(&m, "evil.test", 16);
	size_t room = sizeof(m.b) - m.len;
	assert_true(room > fake.len + 2);
	m.b[m.len++] = (uint8_t)(fake.len >> 8);
	m.b[m.len++] = (uint8_t)fake.len;
	memcpy(m.b + m.len, fake.b, fake.len);
	m.len += fake.len;
	uint32_t inner = next + 2 + (uint32_t)(m.len - fake.len - 2);
	/* the first segment: M's prefix and head, not whole */
	tcp_seq = next;
	struct msg seg = { .len = 2 + m.len - fake.len - 2 };
	seg.b[0] = (uint8_t)(m.len >> 8), seg.b[1] = (uint8_t)m.len;
	memcpy(seg.b + 2, m.b, seg.len - 2);
	len = wrap(pkt, 4, 6, &seg, false);
	assert_int_equal(dns_packet_parse(pkt, len, &tcp, &ans), 0);
	/* the second: exactly the fake message with its prefix */
	tcp_seq = inner;
	len = wrap(pkt, 4, 6, &fake, true);
	assert_int_equal(dns_packet_parse(pkt, len, &tcp, &ans), 0);
	assert_int_equal(ans.naddrs, 0);
	/* the stream goes on after M */
	tcp_seq = next + 2 + (uint32_t)m.len;
	len = wrap(pkt, 4, 6, &fake, true);
	assert_int_equal(dns_packet_parse(pkt, len, &tcp, &ans), 1);

	/* a connection forgotten for newer ones is not read */
	memset(&tcp, 0, sizeof(tcp));
	tcp_dport = 1;
	syn_ack(6, 100);
	uint32_t first = tcp_seq;
	for (int i = 0; i < DNS_TCP_STREAMS; i++) {
		tcp_dport = (uint16_t)(2 + i);
		syn_ack(6, 100);
	}
	tcp_dport = 1;
	tcp_seq = first;
	len = wrap(pkt, 6, 6, &fake, true);
	assert_int_equal(dns_packet_parse(pkt, len, &tcp, &ans), 0);
	/* while the newest is still followed */
	tcp_dport = (uint16_t)(1 + DNS_TCP_STREAMS);
	assert_int_equal(dns_packet_parse(pkt, wrap(pkt, 6, 6, &fake, true), &tcp, &ans), 1);

	/* another VM's connections, however many it opens and drops, do not
	 * push out one of ours (red team rt12: 300 of them did, and our answer
	 * went unread) */
	memset(&tcp, 0, sizeof(tcp));
	peer = 1;
	tcp_dport = 1;
	syn_ack(4, 700);
	uint32_t ours = tcp_seq;
	peer = 2;
	for (int i = 0; i < 2 * DNS_TCP_STREAMS; i++) {
		tcp_dport = (uint16_t)(2 + i);
		syn_ack(4, 900);
	}
	peer = 1;
	tcp_dport = 1;
	tcp_seq = ours;
	assert_int_equal(dns_packet_parse(pkt, wrap(pkt, 4, 6, &fake, true), &tcp, &ans), 1);
	peer = 0;
	tcp_dport = 0;
	tcp_seq = 1001;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_record_with_compression),
		cmocka_unit_test(cname_chain_in_any_order),
		cmocka_unit_test(cname_chain_is_bounded),
		cmocka_unit_test(cname_loop_ends),
		cmocka_unit_test(pointer_loops_are_malformed),
		cmocka_unit_test(every_truncation_is_malformed),
		cmocka_unit_test(bad_records_are_malformed),
		cmocka_unit_test(odd_names_match_nothing),
		cmocka_unit_test(queries_and_other_classes_give_nothing),
		cmocka_unit_test(names_under_a_domain),
		cmocka_unit_test(packets_over_udp_and_tcp),
		cmocka_unit_test(tcp_answers_are_read_at_message_boundaries_only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

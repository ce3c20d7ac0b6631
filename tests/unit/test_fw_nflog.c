/* test_fw_nflog: NFLOG messages, built here as nfnetlink_log sends them,
 * become one line each in a bounded ring; hostile ones are skipped. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "firewallvm/parts.h"

#define NOW 1795640400   /* 2026-11-25T21:00:00Z */

/* One NFULNL_MSG_PACKET at the end of BUF (which holds *LEN bytes). */
static void put_msg(char *buf, size_t *len, const char *prefix, const void *pkt, size_t pktlen)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf + *len);
	nlh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET;
	struct nfgenmsg *nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_INET;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = htons(1);
	struct nfulnl_msg_packet_hdr ph = { .hw_protocol = htons(0x0800), .hook = 2 };
	mnl_attr_put(nlh, NFULA_PACKET_HDR, sizeof(ph), &ph);
	if (prefix)
		mnl_attr_put_strz(nlh, NFULA_PREFIX, prefix);
	mnl_attr_put_u32(nlh, NFULA_IFINDEX_INDEV, htonl(3));
	if (pkt)
		mnl_attr_put(nlh, NFULA_PAYLOAD, pktlen, pkt);
	*len += NLMSG_ALIGN(nlh->nlmsg_len);
}

static size_t ipv4(uint8_t *p, uint8_t proto, const char *src, const char *dst, const void *l4,
		   size_t l4len)
{
	memset(p, 0, 20);
	p[0] = 0x45;
	p[2] = (uint8_t)((20 + l4len) >> 8);
	p[3] = (uint8_t)(20 + l4len);
	p[8] = 64;
	p[9] = proto;
	inet_pton(AF_INET, src, p + 12);
	inet_pton(AF_INET, dst, p + 16);
	memcpy(p + 20, l4, l4len);
	return 20 + l4len;
}

struct lines {
	char text[8][FW_LOG_LINE_MAX];
	int n;
};

static void collect(const char *line, void *arg)
{
	struct lines *l = arg;
	if (l->n < 8)
		snprintf(l->text[l->n], FW_LOG_LINE_MAX, "%s", line);
	l->n++;
}

/* Feed one packet with PREFIX; the line it made, or "" when it was skipped. */
static const char *one(const char *prefix, const void *pkt, size_t len)
{
	static struct lines got;
	char buf[4096] __attribute__((aligned(4)));
	size_t blen = 0;
	put_msg(buf, &blen, prefix, pkt, len);
	struct fw_nflog *l = fw_nflog_new_ring();
	memset(&got, 0, sizeof(got));
	int n = fw_nflog_feed(l, buf, blen, NOW, collect, &got);
	assert_int_equal(n, got.n);
	assert_true(n == 0 || n == 1);
	assert_int_equal(fw_nflog_skipped(l), (unsigned long)(1 - n));
	fw_nflog_close(l);
	return got.text[0];
}

static const uint8_t tcp_40000_25[20] = { 0x9c, 0x40, 0x00, 0x19, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02 };

static void tcp_rule_deny(void **state)
{
	uint8_t p[64];
	size_t n = ipv4(p, IPPROTO_TCP, "10.137.0.10", "192.0.2.1", tcp_40000_25, sizeof(tcp_40000_25));
	assert_string_equal(one("moat dev 3 deny ", p, n),
			    "2026-11-25T21:00:00Z dev deny tcp 10.137.0.10:40000 -> 192.0.2.1:25 rule 3");
}

static void udp_default_deny_and_allow(void **state)
{
	uint8_t p[64];
	const uint8_t udp[8] = { 0x14, 0xe9, 0x00, 0x35, 0, 8, 0, 0 };
	size_t n = ipv4(p, IPPROTO_UDP, "10.137.0.11", "9.9.9.9", udp, sizeof(udp));
	assert_string_equal(one("moat shopping default deny ", p, n),
			    "2026-11-25T21:00:00Z shopping deny udp 10.137.0.11:5353 -> 9.9.9.9:53 rule default");
	assert_string_equal(one("moat a-1 12 allow ", p, n),
			    "2026-11-25T21:00:00Z a-1 allow udp 10.137.0.11:5353 -> 9.9.9.9:53 rule 12");
}

static void icmp_type(void **state)
{
	uint8_t p[64];
	const uint8_t echo[8] = { 8, 0, 0, 0, 0, 1, 0, 1 };
	size_t n = ipv4(p, IPPROTO_ICMP, "10.137.0.12", "192.168.1.1", echo, sizeof(echo));
	assert_string_equal(one("moat untrusted 1 deny ", p, n),
			    "2026-11-25T21:00:00Z untrusted deny icmp 10.137.0.12 -> 192.168.1.1 type 8 rule 1");
}

static void other_protocol_and_fragments(void **state)
{
	uint8_t p[64];
	size_t n = ipv4(p, 89, "10.137.0.10", "192.0.2.9", "abcd", 4);
	assert_string_equal(one("moat dev default deny ", p, n),
			    "2026-11-25T21:00:00Z dev deny proto 89 10.137.0.10 -> 192.0.2.9 rule default");
	n = ipv4(p, IPPROTO_TCP, "10.137.0.10", "192.0.2.1", tcp_40000_25, sizeof(tcp_40000_25));
	p[6] = 0x00;
	p[7] = 0x10;   /* offset 128: the ports are in the first fragment */
	assert_string_equal(one("moat dev 3 deny ", p, n),
			    "2026-11-25T21:00:00Z dev deny tcp 10.137.0.10 -> 192.0.2.1 rule 3");
}

static void ipv6_through_extension_headers(void **state)
{
	uint8_t p[128] = { 0 };
	p[0] = 0x60;
	p[5] = 8 + 20;
	p[6] = IPPROTO_HOPOPTS;
	p[7] = 64;
	inet_pton(AF_INET6, "fd00::a", p + 8);
	inet_pton(AF_INET6, "2001:db8::1", p + 24);
	p[40] = IPPROTO_TCP;   /* hop-by-hop: next header, length 0 = 8 bytes */
	memcpy(p + 48, tcp_40000_25, sizeof(tcp_40000_25));
	assert_string_equal(one("moat dev 2 deny ", p, 68),
			    "2026-11-25T21:00:00Z dev deny tcp [fd00::a]:40000 -> [2001:db8::1]:25 rule 2");
	p[6] = IPPROTO_ICMPV6;
	p[40] = 128;
	assert_string_equal(one("moat dev 2 deny ", p, 48),
			    "2026-11-25T21:00:00Z dev deny icmpv6 fd00::a -> 2001:db8::1 type 128 rule 2");
	/* an extension header longer than what was copied: no ports, still a line */
	p[6] = IPPROTO_DSTOPTS;
	p[40] = IPPROTO_TCP;
	p[41] = 200;
	assert_string_equal(one("moat dev 2 deny ", p, 68),
			    "2026-11-25T21:00:00Z dev deny proto 60 fd00::a -> 2001:db8::1 rule 2");
}

static void truncated_packets(void **state)
{
	uint8_t p[64];
	size_t n = ipv4(p, IPPROTO_TCP, "10.137.0.10", "192.0.2.1", tcp_40000_25, sizeof(tcp_40000_25));
	assert_string_equal(one("moat dev 3 deny ", p, 19), "");      /* no whole IP header */
	assert_string_equal(one("moat dev 3 deny ", p, 0), "");
	assert_string_equal(one("moat dev 3 deny ", p, 22),           /* half the ports */
			    "2026-11-25T21:00:00Z dev deny tcp 10.137.0.10 -> 192.0.2.1 rule 3");
	p[0] = 0x4f;   /* IHL 60 > what was copied */
	assert_string_equal(one("moat dev 3 deny ", p, n), "");
	p[0] = 0x44;   /* IHL 16 < 20 */
	assert_string_equal(one("moat dev 3 deny ", p, n), "");
	p[0] = 0x45;
	p[2] = 0;
	p[3] = 10;     /* total length shorter than the header */
	assert_string_equal(one("moat dev 3 deny ", p, n), "");
	p[0] = 0x75;   /* version 7 */
	assert_string_equal(one("moat dev 3 deny ", p, n), "");
	uint8_t v6[39] = { 0x60 };
	assert_string_equal(one("moat dev 3 deny ", v6, sizeof(v6)), "");
	assert_string_equal(one("moat dev 3 deny ", NULL, 0), "");    /* no payload attribute */
}

static void prefixes_not_ours(void **state)
{
	uint8_t p[64];
	size_t n = ipv4(p, IPPROTO_TCP, "10.137.0.10", "192.0.2.1", tcp_40000_25, sizeof(tcp_40000_25));
	const char *bad[] = {
		"", "moat", "moat ", "moat dev", "moat dev ", "moat dev 3", "moat dev 3 deny",
		"moat dev 3 drop ", "moat dev 0 deny ", "moat dev -1 deny ", "moat Dev 3 deny ",
		"moat 1dev 3 deny ", "moat dev 3 deny x", "moat dev default allow ",
		"moat dev 1234567 deny ", "moat abcdefghijklmnop 3 deny ", "other dev 3 deny ",
		"moat dev  3 deny ", "moat dev 3  deny ",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (strcmp(one(bad[i], p, n), "") != 0)
			fail_msg("prefix '%s' was taken", bad[i]);
	assert_string_equal(one(NULL, p, n), "");
	/* 15 characters is the longest name */
	assert_non_null(strstr(one("moat abcdefghijklmno 3 deny ", p, n), " abcdefghijklmno deny "));
}

static void hostile_netlink(void **state)
{
	uint8_t p[64];
	size_t n = ipv4(p, IPPROTO_TCP, "10.137.0.10", "192.0.2.1", tcp_40000_25, sizeof(tcp_40000_25));
	char buf[4096] __attribute__((aligned(4)));
	size_t len = 0;
	put_msg(buf, &len, "moat dev 3 deny ", p, n);
	put_msg(buf, &len, "moat dev 4 deny ", p, n);
	struct fw_nflog *l = fw_nflog_new_ring();
	struct lines got = { 0 };
	/* two messages, then half a header: both lines, and an error for the rest */
	assert_int_equal(fw_nflog_feed(l, buf, len + 7, NOW, collect, &got), -EBADMSG);
	assert_int_equal(got.n, 2);
	/* a message claiming more than the buffer: nothing */
	struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
	nlh->nlmsg_len = (uint32_t)len + 100;
	assert_int_equal(fw_nflog_feed(l, buf, len, NOW, collect, &got), -EBADMSG);
	assert_int_equal(got.n, 2);
	/* an attribute running past its message: skipped, the next message still read */
	len = 0;
	put_msg(buf, &len, "moat dev 3 deny ", p, n);
	size_t first = len;
	put_msg(buf, &len, "moat dev 5 deny ", p, n);
	struct nlattr *a = (struct nlattr *)(buf + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg)));
	a->nla_len = 0xfff0;
	assert_int_equal(fw_nflog_feed(l, buf, len, NOW, collect, &got), 1);
	assert_string_equal(got.text[2], "2026-11-25T21:00:00Z dev deny tcp 10.137.0.10:40000 -> 192.0.2.1:25 rule 5");
	/* a message too short for its nfgenmsg */
	len = 0;
	put_msg(buf, &len, "moat dev 3 deny ", p, n);
	nlh->nlmsg_len = NLMSG_HDRLEN + 2;
	assert_int_equal(fw_nflog_feed(l, buf, NLMSG_HDRLEN + 4, NOW, collect, &got), 0);
	/* acks and foreign message types are not lines */
	nlh->nlmsg_type = NLMSG_ERROR;
	assert_int_equal(fw_nflog_feed(l, buf, NLMSG_HDRLEN + 4, NOW, collect, &got), 0);
	(void)first;
	fw_nflog_close(l);
}

struct each { int n; char first[FW_LOG_LINE_MAX], last[FW_LOG_LINE_MAX]; };

static void each_cb(const char *line, void *arg)
{
	struct each *e = arg;
	if (e->n++ == 0)
		snprintf(e->first, sizeof(e->first), "%s", line);
	snprintf(e->last, sizeof(e->last), "%s", line);
}

static void ring_is_bounded_and_filtered(void **state)
{
	uint8_t p[64];
	size_t n = ipv4(p, IPPROTO_TCP, "10.137.0.10", "192.0.2.1", tcp_40000_25, sizeof(tcp_40000_25));
	struct fw_nflog *l = fw_nflog_new_ring();
	struct each e = { 0 };
	fw_nflog_each(l, NULL, each_cb, &e);
	assert_int_equal(e.n, 0);
	for (int i = 1; i <= FW_LOG_RING + 5; i++) {
		char buf[512] __attribute__((aligned(4))), prefix[64];
		size_t len = 0;
		snprintf(prefix, sizeof(prefix), "moat %s %d deny ", i % 2 ? "odd" : "even", i);
		put_msg(buf, &len, prefix, p, n);
		assert_int_equal(fw_nflog_feed(l, buf, len, NOW, NULL, NULL), 1);
	}
	fw_nflog_each(l, NULL, each_cb, &e);
	assert_int_equal(e.n, FW_LOG_RING);
	assert_non_null(strstr(e.first, "rule 6"));
	assert_non_null(strstr(e.last, "rule 1029"));
	memset(&e, 0, sizeof(e));
	fw_nflog_each(l, "even", each_cb, &e);
	assert_int_equal(e.n, FW_LOG_RING / 2);
	assert_non_null(strstr(e.first, "even deny tcp"));
	assert_non_null(strstr(e.first, "rule 6"));
	memset(&e, 0, sizeof(e));
	fw_nflog_each(l, "nobody", each_cb, &e);
	assert_int_equal(e.n, 0);
	fw_nflog_close(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tcp_rule_deny),
		cmocka_unit_test(udp_default_deny_and_allow),
		cmocka_unit_test(icmp_type),
		cmocka_unit_test(other_protocol_and_fragments),
		cmocka_unit_test(ipv6_through_extension_headers),
		cmocka_unit_test(truncated_packets),
		cmocka_unit_test(prefixes_not_ours),
		cmocka_unit_test(hostile_netlink),
		cmocka_unit_test(ring_is_bounded_and_filtered),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

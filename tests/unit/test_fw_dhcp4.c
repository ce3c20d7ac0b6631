/* test_fw_dhcp4: whether a VM's DHCPv4 message speaks for its own MAC
 * (firewallvm/dhcp4.c). A client identifier that names a MAC must name the
 * VM's; one that names none passes; whatever cannot be read to the end,
 * at any length, is dropped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "firewallvm/dhcp4.h"

static const uint8_t dev[6] = { 0x02, 0x6d, 0x61, 0x00, 0x00, 0x0a };
static const uint8_t com[6] = { 0x02, 0x6d, 0x61, 0x00, 0x00, 0x0d };

#define HDRS 28           /* IPv4 (20) and UDP (8) */
#define OPTS (HDRS + 240) /* the first option */

struct pkt {
	uint8_t b[1024];
	size_t len;
};

static void put16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* The IPv4 and UDP lengths say the packet is LEN bytes long. */
static void p_lengths(struct pkt *p, size_t len)
{
	put16(p->b + 2, len);
	put16(p->b + 24, len - 20);
}

/* A DHCPDISCOVER of dev's: chaddr dev, the cookie, option 53; no end yet. */
static void p_start(struct pkt *p)
{
	memset(p, 0, sizeof(*p));
	p->b[0] = 0x45;
	p->b[8] = 64;
	p->b[9] = 17;
	put16(p->b + 20, 68);
	put16(p->b + 22, 67);
	uint8_t *m = p->b + HDRS;
	m[0] = 1;
	m[1] = 1;
	m[2] = 6;
	memcpy(m + 28, dev, 6);
	static const uint8_t cookie[] = { 99, 130, 83, 99, 53, 1, 1 };
	memcpy(m + 236, cookie, sizeof(cookie));
	p->len = HDRS + 236 + sizeof(cookie);
}

static void p_raw(struct pkt *p, const void *data, size_t len)
{
	memcpy(p->b + p->len, data, len);
	p->len += len;
}

static void p_opt(struct pkt *p, uint8_t code, const void *data, size_t len)
{
	p->b[p->len] = code;
	p->b[p->len + 1] = (uint8_t)len;
	p->len += 2;
	p_raw(p, data, len);
}

static int judge_end(struct pkt *p)
{
	p->b[p->len++] = 255;
	p_lengths(p, p->len);
	return dhcp4_judge(p->b, p->len, dev);
}

/* A message carrying option 61 = CLID (LEN bytes) and the end option. */
static int judge_clid(const void *clid, size_t len)
{
	struct pkt p;
	p_start(&p);
	p_opt(&p, 61, clid, len);
	return judge_end(&p);
}

static size_t clid_eth(uint8_t *c, const uint8_t *mac)
{
	c[0] = 1;
	memcpy(c + 1, mac, 6);
	return 7;
}

/* RFC 4361: 255, IAID 1, then the DUID of type TYPE on hardware HW with
 * the link-layer address MAC (MACLEN bytes). */
static size_t clid_duid(uint8_t *c, uint16_t type, uint16_t hw, const uint8_t *mac, size_t maclen)
{
	static const uint8_t head[] = { 255, 0, 0, 0, 1 };
	memcpy(c, head, sizeof(head));
	size_t n = sizeof(head);
	put16(c + n, type);
	put16(c + n + 2, hw);
	n += 4;
	if (type == 1) {   /* DUID-LLT: the time */
		static const uint8_t t[] = { 0x2a, 0x3b, 0x4c, 0x5d };
		memcpy(c + n, t, 4);
		n += 4;
	}
	memcpy(c + n, mac, maclen);
	return n + maclen;
}

static void test_no_clid(void **s)
{
	struct pkt p;
	p_start(&p);
	assert_int_equal(judge_end(&p), DHCP4_ACCEPT);
	/* padding before the end, and bytes after it (BOOTP's 300-byte minimum) */
	p_start(&p);
	p_raw(&p, "\0\0\0", 3);
	p.b[p.len++] = 255;
	p.len += 40;
	p_lengths(&p, p.len);
	assert_int_equal(dhcp4_judge(p.b, p.len, dev), DHCP4_ACCEPT);
}

static void test_clid_ethernet(void **s)
{
	uint8_t c[32];
	assert_int_equal(judge_clid(c, clid_eth(c, dev)), DHCP4_ACCEPT);
	assert_int_equal(judge_clid(c, clid_eth(c, com)), DHCP4_DROP_CLID);
	/* type 1 is Ethernet: 6 bytes of address, no more, no less */
	clid_eth(c, dev);
	assert_int_equal(judge_clid(c, 6), DHCP4_DROP_CLID);
	c[7] = 0;
	assert_int_equal(judge_clid(c, 8), DHCP4_DROP_CLID);
}

static void test_clid_duid(void **s)
{
	uint8_t c[64];
	assert_int_equal(judge_clid(c, clid_duid(c, 3, 1, dev, 6)), DHCP4_ACCEPT);
	assert_int_equal(judge_clid(c, clid_duid(c, 1, 1, dev, 6)), DHCP4_ACCEPT);
	assert_int_equal(judge_clid(c, clid_duid(c, 3, 1, com, 6)), DHCP4_DROP_CLID);
	assert_int_equal(judge_clid(c, clid_duid(c, 1, 1, com, 6)), DHCP4_DROP_CLID);
	/* an Ethernet DUID with an address of another length */
	assert_int_equal(judge_clid(c, clid_duid(c, 3, 1, dev, 5)), DHCP4_DROP_CLID);
	assert_int_equal(judge_clid(c, clid_duid(c, 1, 1, dev, 0)), DHCP4_DROP_CLID);
	assert_int_equal(judge_clid(c, clid_duid(c, 3, 1, (const uint8_t *)"\2mabcdef", 8)),
			 DHCP4_DROP_CLID);
	/* other link layers name no MAC */
	assert_int_equal(judge_clid(c, clid_duid(c, 3, 6, com, 6)), DHCP4_ACCEPT);
	assert_int_equal(judge_clid(c, clid_duid(c, 1, 32, com, 6)), DHCP4_ACCEPT);
	/* DUID-EN (2) and DUID-UUID (4) name no MAC either */
	assert_int_equal(judge_clid(c, clid_duid(c, 2, 0x0b0c, com, 6)), DHCP4_ACCEPT);
	assert_int_equal(judge_clid(c, clid_duid(c, 4, 0, com, 6)), DHCP4_ACCEPT);
	/* a DUID cut short: no IAID, no type, no hardware type, no time */
	size_t full = clid_duid(c, 1, 1, dev, 6);
	for (size_t len = 1; len < full; len++)
		assert_int_equal(judge_clid(c, len), DHCP4_DROP_CLID);
	full = clid_duid(c, 3, 1, dev, 6);
	for (size_t len = 1; len < full; len++)
		assert_int_equal(judge_clid(c, len), DHCP4_DROP_CLID);
}

static void test_clid_other(void **s)
{
	/* a name (type 0) or another hardware type: dnsmasq ignores it */
	assert_int_equal(judge_clid("\0dev-laptop", 11), DHCP4_ACCEPT);
	assert_int_equal(judge_clid("\6\2\x6d\x61\0\0\x0d", 7), DHCP4_ACCEPT);
	/* RFC 2132: at least a type and one byte */
	assert_int_equal(judge_clid("", 0), DHCP4_DROP_CLID);
	assert_int_equal(judge_clid("\1", 1), DHCP4_DROP_CLID);
}

static void test_clid_twice(void **s)
{
	uint8_t c[16];
	size_t n = clid_eth(c, dev);
	struct pkt p;
	p_start(&p);
	p_opt(&p, 61, c, n);
	p_opt(&p, 61, c, n);
	assert_int_equal(judge_end(&p), DHCP4_DROP_CLID_TWICE);
	/* the second one naming com: also dropped */
	p_start(&p);
	p_opt(&p, 61, c, n);
	clid_eth(c, com);
	p_opt(&p, 61, c, n);
	assert_int_equal(judge_end(&p), DHCP4_DROP_CLID_TWICE);
}

static void test_options_malformed(void **s)
{
	struct pkt p;
	/* option 52: more options in sname/file, which are not read */
	p_start(&p);
	p_opt(&p, 52, "\3", 1);
	assert_int_equal(judge_end(&p), DHCP4_DROP_OVERLOAD);
	/* no end option */
	p_start(&p);
	p_lengths(&p, p.len);
	assert_int_equal(dhcp4_judge(p.b, p.len, dev), DHCP4_DROP_OPTIONS);
	/* an option whose length runs past the end */
	p_start(&p);
	p_raw(&p, "\x0c\x05" "ab", 4);
	p_lengths(&p, p.len);
	assert_int_equal(dhcp4_judge(p.b, p.len, dev), DHCP4_DROP_OPTIONS);
	/* ... also option 61's, hiding com's MAC past the end */
	p_start(&p);
	p_raw(&p, "\x3d\x07\x01\x02\x6d\x61", 6);
	p_lengths(&p, p.len);
	assert_int_equal(dhcp4_judge(p.b, p.len, dev), DHCP4_DROP_OPTIONS);
	/* a code with no length byte */
	p_start(&p);
	p_raw(&p, "\x0c", 1);
	p_lengths(&p, p.len);
	assert_int_equal(dhcp4_judge(p.b, p.len, dev), DHCP4_DROP_OPTIONS);
	/* no magic cookie, or another */
	p_start(&p);
	p.b[HDRS + 236] = 0;
	assert_int_equal(judge_end(&p), DHCP4_DROP_COOKIE);
	p_start(&p);
	p.len = HDRS + 236;
	p_lengths(&p, p.len);
	assert_int_equal(dhcp4_judge(p.b, p.len, dev), DHCP4_DROP_COOKIE);
}

static void test_bootp(void **s)
{
	struct pkt p;
	p_start(&p);
	p.b[HDRS] = 2;   /* a BOOTREPLY */
	assert_int_equal(judge_end(&p), DHCP4_DROP_BOOTP);
	p_start(&p);
	p.b[HDRS + 1] = 6;   /* not Ethernet */
	assert_int_equal(judge_end(&p), DHCP4_DROP_BOOTP);
	p_start(&p);
	p.b[HDRS + 2] = 16;
	assert_int_equal(judge_end(&p), DHCP4_DROP_BOOTP);
	p_start(&p);
	p.b[HDRS + 27] = 1;   /* a relay */
	assert_int_equal(judge_end(&p), DHCP4_DROP_BOOTP);
	p_start(&p);
	memcpy(p.b + HDRS + 28, com, 6);
	assert_int_equal(judge_end(&p), DHCP4_DROP_CHADDR);
}

static void test_ip_udp(void **s)
{
	struct pkt p;
	p_start(&p);
	p.b[0] = 0x65;   /* IPv6 */
	assert_int_equal(judge_end(&p), DHCP4_DROP_IP);
	p_start(&p);
	p.b[0] = 0x44;   /* header shorter than 20 */
	assert_int_equal(judge_end(&p), DHCP4_DROP_IP);
	p_start(&p);
	p.b[9] = 6;   /* TCP */
	assert_int_equal(judge_end(&p), DHCP4_DROP_IP);
	p_start(&p);
	p.b[6] = 0x20;   /* more fragments */
	assert_int_equal(judge_end(&p), DHCP4_DROP_IP);
	p_start(&p);
	p.b[7] = 1;   /* a fragment's offset */
	assert_int_equal(judge_end(&p), DHCP4_DROP_IP);
	p_start(&p);
	p.b[6] = 0x40;   /* don't fragment: fine */
	assert_int_equal(judge_end(&p), DHCP4_ACCEPT);
	p_start(&p);
	put16(p.b + 22, 68);
	assert_int_equal(judge_end(&p), DHCP4_DROP_IP);
	/* lengths past what is there */
	p_start(&p);
	judge_end(&p);
	put16(p.b + 2, p.len + 1);
	assert_int_equal(dhcp4_judge(p.b, p.len, dev), DHCP4_DROP_IP);
	p_lengths(&p, p.len);
	put16(p.b + 24, p.len - 20 + 1);
	assert_int_equal(dhcp4_judge(p.b, p.len, dev), DHCP4_DROP_IP);
	/* IP options: the UDP header is after them */
	p_start(&p);
	judge_end(&p);
	memmove(p.b + 24, p.b + 20, p.len - 20);
	p.b[0] = 0x46;
	memset(p.b + 20, 1, 4);   /* NOPs */
	p.len += 4;
	put16(p.b + 2, p.len);
	assert_int_equal(dhcp4_judge(p.b, p.len, dev), DHCP4_ACCEPT);
}

/* A message with a client identifier of com's, cut at every length: never
 * accepted; with its IP and UDP lengths saying the cut length, accepted
 * only once its end option is in (when option 61 names dev). */
static void test_truncations(void **s)
{
	uint8_t c[32];
	for (int who = 0; who < 2; who++) {
		struct pkt p;
		p_start(&p);
		p_opt(&p, 12, "dev", 3);
		p_opt(&p, 61, c, clid_duid(c, 1, 1, who ? com : dev, 6));
		p_opt(&p, 55, "\1\3\6", 3);
		judge_end(&p);
		size_t full = p.len;
		assert_int_equal(dhcp4_judge(p.b, full, dev), who ? DHCP4_DROP_CLID : DHCP4_ACCEPT);
		for (size_t len = 0; len < full; len++) {
			assert_int_equal(dhcp4_judge(p.b, len, dev), DHCP4_DROP_IP);
			struct pkt q = p;
			if (len >= HDRS)
				p_lengths(&q, len);
			int v = dhcp4_judge(q.b, len, dev);
			assert_int_not_equal(v, DHCP4_ACCEPT);
			assert_true(v < 0 && v >= DHCP4_DROP_CLID_TWICE);
		}
		/* padding after the end option: the same verdict */
		for (size_t len = full; len < full + 20; len++) {
			struct pkt q = p;
			p_lengths(&q, len);
			assert_int_equal(dhcp4_judge(q.b, len, dev), who ? DHCP4_DROP_CLID : DHCP4_ACCEPT);
		}
	}
}

static void test_drop_str(void **s)
{
	for (int v = DHCP4_DROP_CLID_TWICE; v <= 0; v++)
		assert_string_not_equal(dhcp4_drop_str(v), "?");
	assert_string_equal(dhcp4_drop_str(1), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_clid),
		cmocka_unit_test(test_clid_ethernet),
		cmocka_unit_test(test_clid_duid),
		cmocka_unit_test(test_clid_other),
		cmocka_unit_test(test_clid_twice),
		cmocka_unit_test(test_options_malformed),
		cmocka_unit_test(test_bootp),
		cmocka_unit_test(test_ip_udp),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_drop_str),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

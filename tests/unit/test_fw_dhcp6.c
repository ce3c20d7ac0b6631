/* test_fw_dhcp6: the firewall's DHCPv6 answers and RAs (firewallvm/dhcp6.c).
 * A VM gets its own address6 whatever client id or address it names; relay
 * and malformed messages get nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "firewallvm/dhcp6.h"

static const struct dhcp6_link link_dns = {
	.mac = { 0x02, 0x6d, 0x66, 0x00, 0x00, 0x0a },
	.addr = { 0xfd, 0x00, 0x00, 0x6d, [15] = 0x10 },
	.gw = { 0xfd, 0x00, 0x00, 0x6d, [15] = 0x01 },
	.dns = true,
};
static const uint8_t web_addr[16] = { 0xfd, 0x00, 0x00, 0x6d, [15] = 0x11 };
static const uint8_t our_duid[10] = { 0, 3, 0, 1, 0x02, 0x6d, 0x66, 0x00, 0x00, 0x0a };
/* web's DUID-LL: what dev may send as its own */
static const uint8_t web_duid[10] = { 0, 3, 0, 1, 0x02, 0x6d, 0x61, 0x00, 0x00, 0x0b };

struct msg {
	uint8_t b[2048];
	size_t len;
};

static void m_start(struct msg *m, uint8_t type)
{
	memset(m, 0, sizeof(*m));
	m->b[0] = type;
	m->b[1] = 0xab;
	m->b[2] = 0xcd;
	m->b[3] = 0xef;
	m->len = 4;
}

static void m_opt(struct msg *m, uint16_t code, const void *data, size_t len)
{
	m->b[m->len] = (uint8_t)(code >> 8);
	m->b[m->len + 1] = (uint8_t)code;
	m->b[m->len + 2] = (uint8_t)(len >> 8);
	m->b[m->len + 3] = (uint8_t)len;
	if (len)
		memcpy(m->b + m->len + 4, data, len);
	m->len += 4 + len;
}

/* IA_NA with IAID 7 and, if ADDR, one IAADDR naming it */
static void m_ia_na(struct msg *m, const uint8_t *addr)
{
	uint8_t ia[12 + 28] = { 0, 0, 0, 7 };
	size_t len = 12;
	if (addr) {
		ia[13] = 5;
		ia[15] = 24;
		memcpy(ia + 16, addr, 16);
		len += 28;
	}
	m_opt(m, 3, ia, len);
}

/* The body of the first option CODE in the LEN bytes at P, or NULL. */
static const uint8_t *find(const uint8_t *p, size_t len, uint16_t code, size_t *olen)
{
	size_t at = 0;
	while (at + 4 <= len) {
		uint16_t c = (uint16_t)(p[at] << 8 | p[at + 1]);
		size_t l = (size_t)(p[at + 2] << 8 | p[at + 3]);
		assert_true(at + 4 + l <= len);   /* the answer itself is well formed */
		if (c == code) {
			*olen = l;
			return p + at + 4;
		}
		at += 4 + l;
	}
	return NULL;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static ssize_t answer(const struct msg *m, const struct dhcp6_link *l, uint8_t *out)
{
	return dhcp6_answer(m->b, m->len, l, out, DHCP6_REPLY_MAX);
}

/* The IA_NA of an answer: the VM's address only, with lifetimes; OTHER (if
 * not NULL) named with lifetime 0. */
static void check_ia_na(const uint8_t *out, size_t n, const uint8_t *other)
{
	size_t l;
	const uint8_t *ia = find(out + 4, n - 4, 3, &l);
	assert_non_null(ia);
	assert_int_equal(get32(ia), 7);                    /* the client's IAID */
	assert_int_equal(get32(ia + 4), DHCP6_T1);
	assert_int_equal(get32(ia + 8), DHCP6_T2);
	size_t al;
	const uint8_t *a = find(ia + 12, l - 12, 5, &al);
	assert_non_null(a);
	assert_int_equal(al, 24);
	assert_memory_equal(a, link_dns.addr, 16);
	assert_int_equal(get32(a + 16), DHCP6_LIFETIME);
	assert_int_equal(get32(a + 20), DHCP6_LIFETIME);
	const uint8_t *next = a + 24;
	if (other) {
		assert_true(next + 28 <= ia + l);
		assert_int_equal(next[1], 5);
		assert_memory_equal(next + 4, other, 16);
		assert_int_equal(get32(next + 20), 0);      /* valid lifetime 0: drop it */
		next += 28;
	}
	assert_ptr_equal(next, ia + l);                    /* nothing else */
}

static void check_ids(const uint8_t *out, size_t n, const uint8_t *clientid, size_t clen)
{
	size_t l;
	const uint8_t *s = find(out + 4, n - 4, 2, &l);
	assert_non_null(s);
	assert_int_equal(l, sizeof(our_duid));
	assert_memory_equal(s, our_duid, sizeof(our_duid));   /* DUID-LL of the link's MAC */
	const uint8_t *c = find(out + 4, n - 4, 1, &l);
	if (!clientid) {
		assert_null(c);
		return;
	}
	assert_non_null(c);
	assert_int_equal(l, clen);
	assert_memory_equal(c, clientid, clen);
	assert_memory_equal(out + 1, "\xab\xcd\xef", 3);       /* transaction id */
}

static void solicit_gets_advertise_of_own_address(void **state)
{
	uint8_t out[DHCP6_REPLY_MAX];
	struct msg m;
	m_start(&m, 1);
	m_opt(&m, 1, web_duid, sizeof(web_duid));
	m_ia_na(&m, NULL);
	m_opt(&m, 6, "\0\x17", 2);   /* ORO: DNS servers */
	ssize_t n = answer(&m, &link_dns, out);
	assert_true(n > 0);
	assert_int_equal(out[0], 2);   /* Advertise */
	check_ids(out, (size_t)n, web_duid, sizeof(web_duid));
	check_ia_na(out, (size_t)n, NULL);
	size_t l;
	const uint8_t *pref = find(out + 4, (size_t)n - 4, 7, &l);
	assert_non_null(pref);
	assert_int_equal(*pref, 255);
	const uint8_t *dns = find(out + 4, (size_t)n - 4, 23, &l);
	assert_non_null(dns);
	assert_int_equal(l, 16);
	assert_memory_equal(dns, link_dns.gw, 16);
	assert_null(find(out + 4, (size_t)n - 4, 14, &l));   /* no rapid commit asked */

	/* without `allow dns`: no DNS server */
	struct dhcp6_link nodns = link_dns;
	nodns.dns = false;
	n = answer(&m, &nodns, out);
	assert_true(n > 0);
	assert_null(find(out + 4, (size_t)n - 4, 23, &l));
}

static void rapid_commit_gets_reply(void **state)
{
	uint8_t out[DHCP6_REPLY_MAX];
	struct msg m;
	m_start(&m, 1);
	m_opt(&m, 1, "\0\x04" "0123456789abcdef", 18);   /* a DUID-UUID */
	m_ia_na(&m, NULL);
	m_opt(&m, 14, NULL, 0);
	ssize_t n = answer(&m, &link_dns, out);
	assert_true(n > 0);
	assert_int_equal(out[0], 7);   /* Reply */
	size_t l;
	assert_non_null(find(out + 4, (size_t)n - 4, 14, &l));
	check_ia_na(out, (size_t)n, NULL);
}

static void another_vms_address_is_never_given(void **state)
{
	uint8_t out[DHCP6_REPLY_MAX];
	struct msg m;
	/* Solicit, Request, Renew and Rebind naming web's address: the VM's own
	 * comes back, web's with lifetime 0 */
	static const uint8_t types[] = { 1, 3, 5, 6 };
	for (size_t i = 0; i < sizeof(types); i++) {
		m_start(&m, types[i]);
		m_opt(&m, 1, web_duid, sizeof(web_duid));
		if (types[i] == 3 || types[i] == 5)
			m_opt(&m, 2, our_duid, sizeof(our_duid));
		m_ia_na(&m, web_addr);
		ssize_t n = answer(&m, &link_dns, out);
		assert_true(n > 0);
		assert_int_equal(out[0], types[i] == 1 ? 2 : 7);
		check_ia_na(out, (size_t)n, web_addr);
	}
}

static void server_id_must_be_ours_where_required(void **state)
{
	uint8_t out[DHCP6_REPLY_MAX];
	struct msg m;
	uint8_t other[10];
	memcpy(other, our_duid, 10);
	other[9] ^= 1;
	static const uint8_t need[] = { 3, 5, 8, 9 };   /* Request, Renew, Release, Decline */
	for (size_t i = 0; i < sizeof(need); i++) {
		m_start(&m, need[i]);
		m_opt(&m, 1, web_duid, sizeof(web_duid));
		m_ia_na(&m, link_dns.addr);
		assert_int_equal(answer(&m, &link_dns, out), DHCP6_DROP_SERVERID);
		m_opt(&m, 2, other, sizeof(other));
		assert_int_equal(answer(&m, &link_dns, out), DHCP6_DROP_SERVERID);
	}
	static const uint8_t never[] = { 1, 4, 6 };     /* Solicit, Confirm, Rebind */
	for (size_t i = 0; i < sizeof(never); i++) {
		m_start(&m, never[i]);
		m_opt(&m, 1, web_duid, sizeof(web_duid));
		m_opt(&m, 2, our_duid, sizeof(our_duid));
		m_ia_na(&m, link_dns.addr);
		assert_int_equal(answer(&m, &link_dns, out), DHCP6_DROP_SERVERID);
	}
	/* a client id is required but for Information-Request */
	m_start(&m, 1);
	m_ia_na(&m, NULL);
	assert_int_equal(answer(&m, &link_dns, out), DHCP6_DROP_CLIENTID);
}

static void release_and_decline_change_nothing(void **state)
{
	uint8_t out[DHCP6_REPLY_MAX];
	struct msg m;
	for (uint8_t t = 8; t <= 9; t++) {
		m_start(&m, t);
		m_opt(&m, 1, web_duid, sizeof(web_duid));
		m_opt(&m, 2, our_duid, sizeof(our_duid));
		m_ia_na(&m, web_addr);
		ssize_t n = answer(&m, &link_dns, out);
		assert_true(n > 0);
		assert_int_equal(out[0], 7);
		size_t l;
		const uint8_t *st = find(out + 4, (size_t)n - 4, 13, &l);
		assert_non_null(st);
		assert_int_equal(st[0] << 8 | st[1], 0);   /* Success */
		assert_null(find(out + 4, (size_t)n - 4, 3, &l));
		assert_null(memmem(out, (size_t)n, web_addr, 16));
	}
	/* and the next Renew still gets the same address */
	m_start(&m, 5);
	m_opt(&m, 1, web_duid, sizeof(web_duid));
	m_opt(&m, 2, our_duid, sizeof(our_duid));
	m_ia_na(&m, link_dns.addr);
	ssize_t n = answer(&m, &link_dns, out);
	assert_true(n > 0);
	check_ia_na(out, (size_t)n, NULL);
}

static void confirm_says_whether_on_link(void **state)
{
	uint8_t out[DHCP6_REPLY_MAX];
	struct msg m;
	size_t l;
	m_start(&m, 4);
	m_opt(&m, 1, web_duid, sizeof(web_duid));
	m_ia_na(&m, link_dns.addr);
	ssize_t n = answer(&m, &link_dns, out);
	assert_true(n > 0);
	const uint8_t *st = find(out + 4, (size_t)n - 4, 13, &l);
	assert_non_null(st);
	assert_int_equal(st[0] << 8 | st[1], 0);
	m_start(&m, 4);
	m_opt(&m, 1, web_duid, sizeof(web_duid));
	m_ia_na(&m, web_addr);
	n = answer(&m, &link_dns, out);
	assert_true(n > 0);
	st = find(out + 4, (size_t)n - 4, 13, &l);
	assert_non_null(st);
	assert_int_equal(st[0] << 8 | st[1], 4);   /* NotOnLink */
	m_start(&m, 4);
	m_opt(&m, 1, web_duid, sizeof(web_duid));
	m_ia_na(&m, NULL);
	assert_int_equal(answer(&m, &link_dns, out), DHCP6_NO_ANSWER);
}

static void information_request(void **state)
{
	uint8_t out[DHCP6_REPLY_MAX];
	struct msg m;
	size_t l;
	m_start(&m, 11);
	ssize_t n = answer(&m, &link_dns, out);
	assert_true(n > 0);
	assert_int_equal(out[0], 7);
	check_ids(out, (size_t)n, NULL, 0);
	assert_non_null(find(out + 4, (size_t)n - 4, 23, &l));
	m_ia_na(&m, NULL);
	assert_int_equal(answer(&m, &link_dns, out), DHCP6_DROP_IA);
}

static void extra_ias_get_nothing(void **state)
{
	uint8_t out[DHCP6_REPLY_MAX];
	struct msg m;
	m_start(&m, 1);
	m_opt(&m, 1, web_duid, sizeof(web_duid));
	m_ia_na(&m, NULL);
	uint8_t ia2[12] = { 0, 0, 0, 8 };
	m_opt(&m, 3, ia2, sizeof(ia2));
	m_opt(&m, 25, ia2, sizeof(ia2));   /* IA_PD */
	m_opt(&m, 4, ia2, 4);              /* IA_TA */
	ssize_t n = answer(&m, &link_dns, out);
	assert_true(n > 0);
	check_ia_na(out, (size_t)n, NULL);
	/* only one IAADDR in the whole answer */
	size_t count = 0;
	for (const uint8_t *p = out; (p = memmem(p, (size_t)(out + n - p), link_dns.addr, 16)); p++)
		count++;
	assert_int_equal(count, 1);
	/* too many IAs: dropped */
	m_start(&m, 1);
	m_opt(&m, 1, web_duid, sizeof(web_duid));
	for (int i = 0; i <= DHCP6_IA_MAX; i++)
		m_ia_na(&m, NULL);
	assert_int_equal(answer(&m, &link_dns, out), DHCP6_DROP_IA);
}

static void relay_and_server_messages_are_dropped(void **state)
{
	uint8_t out[DHCP6_REPLY_MAX];
	struct msg m;
	for (int t = 12; t <= 13; t++) {
		m_start(&m, (uint8_t)t);
		assert_int_equal(answer(&m, &link_dns, out), DHCP6_DROP_RELAY);
	}
	static const uint8_t server[] = { 0, 2, 7, 10, 14, 255 };
	for (size_t i = 0; i < sizeof(server); i++) {
		m_start(&m, server[i]);
		m_opt(&m, 1, web_duid, sizeof(web_duid));
		assert_int_equal(answer(&m, &link_dns, out), DHCP6_DROP_TYPE);
	}
}

static void malformed_is_dropped(void **state)
{
	uint8_t out[DHCP6_REPLY_MAX];
	struct msg m;
	m_start(&m, 1);
	assert_int_equal(dhcp6_answer(m.b, 3, &link_dns, out, sizeof(out)), DHCP6_DROP_SIZE);
	m_opt(&m, 1, web_duid, sizeof(web_duid));
	m_ia_na(&m, NULL);
	/* the last option cut short */
	assert_int_equal(dhcp6_answer(m.b, m.len - 1, &link_dns, out, sizeof(out)), DHCP6_DROP_MALFORMED);
	assert_int_equal(dhcp6_answer(m.b, m.len - 14, &link_dns, out, sizeof(out)),
			 DHCP6_DROP_MALFORMED);
	/* too long */
	static const uint8_t zeros[DHCP6_MSG_MAX];
	struct msg big = m;
	m_opt(&big, 16, zeros, sizeof(zeros));
	assert_int_equal(answer(&big, &link_dns, out), DHCP6_DROP_SIZE);
	/* a second client id */
	struct msg two = m;
	m_opt(&two, 1, our_duid, sizeof(our_duid));
	assert_int_equal(answer(&two, &link_dns, out), DHCP6_DROP_MALFORMED);
	/* rapid commit with data, an IA_NA too short, an IAADDR too short */
	struct msg bad = m;
	m_opt(&bad, 14, "x", 1);
	assert_int_equal(answer(&bad, &link_dns, out), DHCP6_DROP_MALFORMED);
	m_start(&bad, 1);
	m_opt(&bad, 1, web_duid, sizeof(web_duid));
	m_opt(&bad, 3, "\0\0\0\7", 4);
	assert_int_equal(answer(&bad, &link_dns, out), DHCP6_DROP_MALFORMED);
	uint8_t ia[12 + 4 + 16] = { 0, 0, 0, 7, [13] = 5, [15] = 16 };
	m_start(&bad, 1);
	m_opt(&bad, 1, web_duid, sizeof(web_duid));
	m_opt(&bad, 3, ia, sizeof(ia));
	assert_int_equal(answer(&bad, &link_dns, out), DHCP6_DROP_MALFORMED);
	/* a client id out of bounds */
	uint8_t duid[131] = { 0, 4 };
	m_start(&bad, 1);
	m_opt(&bad, 1, duid, sizeof(duid));
	assert_int_equal(answer(&bad, &link_dns, out), DHCP6_DROP_CLIENTID);
	m_start(&bad, 1);
	m_opt(&bad, 1, duid, 1);
	assert_int_equal(answer(&bad, &link_dns, out), DHCP6_DROP_CLIENTID);
	/* the largest answer fits: the longest client id, every IA with two
	 * foreign addresses */
	m_start(&bad, 6);
	m_opt(&bad, 1, duid, 130);
	uint8_t full[12 + 3 * 28] = { 0, 0, 0, 7 };
	for (int i = 0; i < 3; i++) {
		full[12 + i * 28 + 1] = 5;
		full[12 + i * 28 + 3] = 24;
		full[12 + i * 28 + 4] = (uint8_t)(0x20 + i);
	}
	for (int i = 0; i < DHCP6_IA_MAX; i++)
		m_opt(&bad, 3, full, sizeof(full));
	assert_true(answer(&bad, &link_dns, out) > 0);
}

static void ra_announces_router_and_dns_not_prefix(void **state)
{
	uint8_t ra[RA6_MAX];
	size_t n = ra6_build(&link_dns, ra, sizeof(ra));
	assert_int_equal(n, 48);
	assert_int_equal(ra[0], 134);
	assert_int_equal(ra[1], 0);
	assert_int_equal(ra[5], 0xc0);                          /* M and O */
	assert_int_equal(ra[6] << 8 | ra[7], RA6_LIFETIME);
	/* options: source link-layer address, RDNSS; no prefix information */
	assert_int_equal(ra[16], 1);
	assert_memory_equal(ra + 18, link_dns.mac, 6);
	assert_int_equal(ra[24], 25);
	assert_int_equal(ra[25], 3);
	assert_memory_equal(ra + 32, link_dns.gw, 16);
	for (size_t at = 16; at < n; at += ra[at + 1] * 8u)
		assert_int_not_equal(ra[at], 3);
	struct dhcp6_link nodns = link_dns;
	nodns.dns = false;
	assert_int_equal(ra6_build(&nodns, ra, sizeof(ra)), 24);
	assert_int_equal(ra6_build(&link_dns, ra, 47), 0);
}

static void router_solicitation_checks(void **state)
{
	uint8_t rs[16] = { 133, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 0x6d, 0x61, 0, 0, 0x0a };
	assert_true(ra6_is_solicitation(rs, 8, 255));
	assert_true(ra6_is_solicitation(rs, 16, 255));
	assert_false(ra6_is_solicitation(rs, 16, 254));   /* not from the link */
	assert_false(ra6_is_solicitation(rs, 7, 255));
	assert_false(ra6_is_solicitation(rs, 15, 255));   /* the option does not fit */
	rs[9] = 0;
	assert_false(ra6_is_solicitation(rs, 16, 255));   /* option length 0 */
	rs[9] = 1;
	rs[1] = 1;
	assert_false(ra6_is_solicitation(rs, 16, 255));
	rs[1] = 0;
	rs[0] = 134;
	assert_false(ra6_is_solicitation(rs, 16, 255));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(solicit_gets_advertise_of_own_address),
		cmocka_unit_test(rapid_commit_gets_reply),
		cmocka_unit_test(another_vms_address_is_never_given),
		cmocka_unit_test(server_id_must_be_ours_where_required),
		cmocka_unit_test(release_and_decline_change_nothing),
		cmocka_unit_test(confirm_says_whether_on_link),
		cmocka_unit_test(information_request),
		cmocka_unit_test(extra_ias_get_nothing),
		cmocka_unit_test(relay_and_server_messages_are_dropped),
		cmocka_unit_test(malformed_is_dropped),
		cmocka_unit_test(ra_announces_router_and_dns_not_prefix),
		cmocka_unit_test(router_solicitation_checks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* moat-netd's table as a dry run: the messages of each batch, counted, and
 * the rules that keep the host out read back as libnftnl prints them; the
 * host's addresses (HOSTADDRS) parsed and refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/udata.h>
#include <stdio.h>
#include <stdlib.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <string.h>

#include "policy/batch.h"
#include "netvm/netd.h"

struct counts { int begin, end, newtable, deltable, newchain, newrule; };

static struct counts count(const struct nl_batch *b)
{
	struct counts c = { 0 };
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)b->buf;
	size_t left = b->len;
	uint32_t last_seq = 0;
	while (left >= sizeof(*nlh) && nlh->nlmsg_len <= left) {
		assert_true(nlh->nlmsg_seq > last_seq);   /* never 0, always growing */
		last_seq = nlh->nlmsg_seq;
		if (nlh->nlmsg_type == NFNL_MSG_BATCH_BEGIN)
			c.begin++;
		else if (nlh->nlmsg_type == NFNL_MSG_BATCH_END)
			c.end++;
		else
			switch (nlh->nlmsg_type & 0xff) {
			case NFT_MSG_NEWTABLE: c.newtable++; break;
			case NFT_MSG_DELTABLE: c.deltable++; break;
			case NFT_MSG_NEWCHAIN: c.newchain++; break;
			case NFT_MSG_NEWRULE: c.newrule++; break;
			}
		left -= NLMSG_ALIGN(nlh->nlmsg_len);
		nlh = (const struct nlmsghdr *)((const char *)nlh + NLMSG_ALIGN(nlh->nlmsg_len));
	}
	assert_int_equal(left, 0);
	return c;
}

/* Each rule of chain forward, in order: its comment, then libnftnl's print
 * of its expressions; and the keys of each set's elements. */
struct readback {
	char rules[64][1024];
	size_t nrules;
	char elems[512];          /* "host4 127.0.0.1;host6 ::1;" */
	char sets[64];            /* "host4,host6," */
};

static int comment_cb(const struct nftnl_udata *attr, void *data)
{
	if (nftnl_udata_type(attr) == NFTNL_UDATA_RULE_COMMENT)
		snprintf(data, 64, "%s", (const char *)nftnl_udata_get(attr));
	return MNL_CB_OK;
}

/* libnftnl 1.2.4 parses only the first element of a message back: the keys
 * are read here with libmnl. "NAME KEY KEY;" */
static void elems_text(const struct nlmsghdr *nlh, char *out, size_t len)
{
	const struct nlattr *a, *elem, *key, *data;
	const char *name = "?";
	char keys[256] = "";
	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
		if (mnl_attr_get_type(a) == NFTA_SET_ELEM_LIST_SET)
			name = mnl_attr_get_str(a);
		if (mnl_attr_get_type(a) != NFTA_SET_ELEM_LIST_ELEMENTS)
			continue;
		mnl_attr_for_each_nested(elem, a) mnl_attr_for_each_nested(key, elem) {
			if (mnl_attr_get_type(key) != NFTA_SET_ELEM_KEY)
				continue;
			mnl_attr_for_each_nested(data, key) {
				char s[INET6_ADDRSTRLEN] = "?";
				uint16_t n = mnl_attr_get_payload_len(data);
				if (n == 4 || n == 16)
					inet_ntop(n == 4 ? AF_INET : AF_INET6, mnl_attr_get_payload(data), s, sizeof(s));
				snprintf(keys + strlen(keys), sizeof(keys) - strlen(keys), " %s", s);
			}
		}
	}
	snprintf(out + strlen(out), len - strlen(out), "%s%s;", name, keys);
}

static void read_back(const struct nl_batch *b, struct readback *rb)
{
	memset(rb, 0, sizeof(*rb));
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)b->buf;
	for (size_t left = b->len; left >= sizeof(*nlh) && nlh->nlmsg_len <= left;) {
		uint16_t type = nlh->nlmsg_type & 0xff;
		if ((nlh->nlmsg_type >> 8) == NFNL_SUBSYS_NFTABLES && type == NFT_MSG_NEWRULE) {
			struct nftnl_rule *r = nftnl_rule_alloc();
			assert_int_equal(nftnl_rule_nlmsg_parse(nlh, r), 0);
			if (strcmp(nftnl_rule_get_str(r, NFTNL_RULE_CHAIN), "forward") == 0) {
				assert_true(rb->nrules < 64);
				char *out = rb->rules[rb->nrules++], comment[64] = "";
				uint32_t ulen = 0;
				const void *u = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &ulen);
				if (u)
					nftnl_udata_parse(u, ulen, comment_cb, comment);
				int n = snprintf(out, 1024, "%s:", comment);
				nftnl_rule_snprintf(out + n, 1024 - (size_t)n, r, NFTNL_OUTPUT_DEFAULT, 0);
			}
			nftnl_rule_free(r);
		} else if ((nlh->nlmsg_type >> 8) == NFNL_SUBSYS_NFTABLES && type == NFT_MSG_NEWSET) {
			struct nftnl_set *s = nftnl_set_alloc();
			assert_int_equal(nftnl_set_nlmsg_parse(nlh, s), 0);
			snprintf(rb->sets + strlen(rb->sets), sizeof(rb->sets) - strlen(rb->sets), "%s,",
				 nftnl_set_get_str(s, NFTNL_SET_NAME));
			nftnl_set_free(s);
		} else if ((nlh->nlmsg_type >> 8) == NFNL_SUBSYS_NFTABLES && type == NFT_MSG_NEWSETELEM) {
			elems_text(nlh, rb->elems, sizeof(rb->elems));
		}
		left -= NLMSG_ALIGN(nlh->nlmsg_len);
		nlh = (const struct nlmsghdr *)((const char *)nlh + NLMSG_ALIGN(nlh->nlmsg_len));
	}
}

static void test_closed(void **state)
{
	struct nl_batch b;
	batch_init(&b, 0);
	netd_batch_closed(&b, NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST);
	struct counts c = count(&b);
	assert_int_equal(c.begin, 1);
	assert_int_equal(c.end, 1);
	/* create, delete, create: one transaction replaces any old table */
	assert_int_equal(c.newtable, 2);
	assert_int_equal(c.deltable, 1);
	assert_int_equal(c.newchain, 3);
	assert_int_equal(c.newrule, 5);   /* loopback in and out, three counted drops */
	struct nft_sock s;
	char err[64];
	assert_int_equal(nft_sock_open(&s, true), 0);
	assert_int_equal(nft_commit(&s, &b, err, sizeof(err)), 0);
	nft_sock_close(&s);
	batch_free(&b);
}

static void test_open(void **state)
{
	struct netd_hosts h;
	char why[128];
	assert_true(hostaddrs_parse("HOSTADDRS 10.0.2.0/24 127.0.0.1 192.0.2.1 ::1 fd00:6d::/64", &h, why,
				    sizeof(why)));
	struct nl_batch b;
	batch_init(&b, 7);
	assert_true(netd_batch_open(&b, "eth0", NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST, &h));
	struct counts c = count(&b);
	assert_int_equal(c.begin + c.end, 2);
	assert_int_equal(c.newtable, 2);
	assert_int_equal(c.newchain, 4);   /* input, forward, output, postrouting (nat) */
	/* input 7, forward 3 + the host's 4 (two sets, two networks), output 6, nat 1 */
	assert_int_equal(c.newrule, 21);
	/* a kernel error names the rule by its comment */
	bool nat = false;
	for (size_t i = 0; i < b.norigins; i++)
		nat |= strcmp(b.origins[i].what, "rule \"nat\" in chain postrouting") == 0;
	assert_true(nat);

	/* the host first in forward, before anything is allowed */
	struct readback rb;
	read_back(&b, &rb);
	assert_int_equal(rb.nrules, 7);
	for (size_t i = 0; i < 4; i++) {
		assert_non_null(strstr(rb.rules[i], "to the host:"));
		assert_non_null(strstr(rb.rules[i], "[ counter pkts 0 bytes 0 ]\n  [ immediate reg 0 drop ]"));
	}
	assert_non_null(strstr(rb.rules[0], "[ cmp eq reg 1 0x00000002 ]\n"          /* ipv4 */
					    "  [ payload load 4b @ network header + 16 => reg 1 ]\n"
					    "  [ lookup reg 1 set host4 ]"));
	assert_non_null(strstr(rb.rules[1], "[ cmp eq reg 1 0x0000000a ]\n"          /* ipv6 */
					    "  [ payload load 16b @ network header + 24 => reg 1 ]\n"
					    "  [ lookup reg 1 set host6 ]"));
	/* QEMU's user network: ip daddr 10.0.2.0/24, as nft loads a prefix of
	 * whole bytes (tests/netns/netd-table compares every rule with nft -f) */
	assert_non_null(strstr(rb.rules[2], "[ cmp eq reg 1 0x00000002 ]\n"
					    "  [ payload load 3b @ network header + 16 => reg 1 ]\n"
					    "  [ cmp eq reg 1 0x0002000a ]"));
	assert_non_null(strstr(rb.rules[3], "[ payload load 8b @ network header + 24 => reg 1 ]\n"
					    "  [ cmp eq reg 1 0x6d0000fd 0x00000000 ]"));
	assert_true(strncmp(rb.rules[4], "forwarded:", 10) == 0);
	assert_true(strncmp(rb.rules[5], "replies forwarded:", 18) == 0);
	assert_true(strncmp(rb.rules[6], "dropped forward:", 16) == 0);
	assert_string_equal(rb.sets, "host4,host6,");
	assert_string_equal(rb.elems, "host4 127.0.0.1 192.0.2.1;host6 ::1;");
	batch_free(&b);
}

/* Before netctl has said what the host's addresses are, nothing passes. */
static void test_open_hosts_unknown(void **state)
{
	struct nl_batch b;
	batch_init(&b, 7);
	assert_true(netd_batch_open(&b, "eth0", 0, NULL));
	struct readback rb;
	read_back(&b, &rb);
	assert_int_equal(rb.nrules, 3);
	assert_non_null(strstr(rb.rules[0], "to the host:"));
	assert_non_null(strstr(rb.rules[1], "to the host:"));
	assert_true(strncmp(rb.rules[2], "dropped forward:", 16) == 0);
	assert_string_equal(rb.elems, "");
	batch_free(&b);
}

static void test_hostaddrs_parse(void **state)
{
	static const char *const good[] = {
		"HOSTADDRS",
		"HOSTADDRS 10.0.2.0/24 127.0.0.1 ::1 fe80::/10 192.0.2.1/32 2001:db8::1 10.0.0.0/8",
		"HOSTADDRS 255.255.255.255 0.0.0.0 128.0.0.0/1 ::ffff:192.0.2.1",
	};
	static const char *const canonical[] = {
		"HOSTADDRS",
		"HOSTADDRS 10.0.2.0/24 127.0.0.1 ::1 fe80::/10 192.0.2.1 2001:db8::1 10.0.0.0/8",
		"HOSTADDRS 255.255.255.255 0.0.0.0 128.0.0.0/1 ::ffff:192.0.2.1",
	};
	struct netd_hosts h;
	char why[160], text[NETD_HOSTADDRS_MAX];
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_true(hostaddrs_parse(good[i], &h, why, sizeof(why)));
		assert_true(hostaddrs_format(&h, text, sizeof(text)));
		assert_string_equal(text, canonical[i]);
	}
	assert_true(hostaddrs_parse(good[1], &h, why, sizeof(why)));
	assert_int_equal(h.n, 7);
	assert_int_equal(h.v[0].family, AF_INET);
	assert_int_equal(h.v[0].prefix, 24);
	assert_int_equal(h.v[3].family, AF_INET6);
	assert_int_equal(h.v[3].prefix, 10);
	assert_false(hostaddrs_format(&h, text, 20));   /* truncation is an error */

	static const char *const bad[] = {
		"", "HOSTADDR", "HOSTADDRSX", "hostaddrs 1.2.3.4", " HOSTADDRS 1.2.3.4",
		"HOSTADDRS ", "HOSTADDRS  1.2.3.4", "HOSTADDRS 1.2.3.4 ", "HOSTADDRS\t1.2.3.4",
		"HOSTADDRS 1.2.3.4\n", "HOSTADDRS 1.2.3", "HOSTADDRS 1.2.3.4.5", "HOSTADDRS 01.2.3.4",
		"HOSTADDRS 1.2.3.4/", "HOSTADDRS 1.2.3.4/33", "HOSTADDRS 1.2.3.4/0", "HOSTADDRS 1.2.3.0/024",
		"HOSTADDRS 1.2.3.0/-24", "HOSTADDRS 1.2.3.0/+24", "HOSTADDRS 1.2.3.0/24/1",
		"HOSTADDRS 10.0.2.1/24", "HOSTADDRS ::1/129", "HOSTADDRS fe80::1/10", "HOSTADDRS fe80::1%eth0",
		"HOSTADDRS 1.2.3.4 1.2.3.4", "HOSTADDRS ::1 0::1", "HOSTADDRS host.example",
		"HOSTADDRS 1.2.3.4,5.6.7.8",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = 0;
		if (hostaddrs_parse(bad[i], &h, why, sizeof(why)))
			fail_msg("accepted: '%s'", bad[i]);
		assert_true(why[0]);
	}

	/* the limits: NETD_MAX_HOSTS items, NETD_MAX_HOST_NETS networks */
	char many[NETD_HOSTADDRS_MAX] = "HOSTADDRS";
	for (int i = 0; i < NETD_MAX_HOSTS; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), " 10.%d.%d.1", i / 256, i % 256);
	assert_true(hostaddrs_parse(many, &h, why, sizeof(why)));
	assert_int_equal(h.n, NETD_MAX_HOSTS);
	strcat(many, " 192.0.2.1");
	assert_false(hostaddrs_parse(many, &h, why, sizeof(why)));
	strcpy(many, "HOSTADDRS");
	for (int i = 0; i < NETD_MAX_HOST_NETS; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), " 10.%d.0.0/16", i);
	assert_true(hostaddrs_parse(many, &h, why, sizeof(why)));
	strcat(many, " 10.200.0.0/16");
	assert_false(hostaddrs_parse(many, &h, why, sizeof(why)));
}

static void test_open_bad_name(void **state)
{
	struct nl_batch b;
	batch_init(&b, 0);
	assert_false(netd_batch_open(&b, "a-name-far-too-long", 0, NULL));
	assert_false(netd_batch_open(&b, "", 0, NULL));
	assert_int_equal(b.len, 0);
	batch_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_closed),
		cmocka_unit_test(test_open),
		cmocka_unit_test(test_open_bad_name),
		cmocka_unit_test(test_open_hosts_unknown),
		cmocka_unit_test(test_hostaddrs_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

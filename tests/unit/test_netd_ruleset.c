/* moat-netd's table as a dry run: the messages of each batch, counted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <string.h>

#include "batch.h"
#include "netd.h"

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
	struct nl_batch b;
	batch_init(&b, 7);
	assert_true(netd_batch_open(&b, "eth0", NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST));
	struct counts c = count(&b);
	assert_int_equal(c.begin + c.end, 2);
	assert_int_equal(c.newtable, 2);
	assert_int_equal(c.newchain, 4);   /* input, forward, output, postrouting (nat) */
	assert_int_equal(c.newrule, 17);   /* input 7, forward 3, output 6, nat 1 */
	/* a kernel error names the rule by its comment */
	bool nat = false;
	for (size_t i = 0; i < b.norigins; i++)
		nat |= strcmp(b.origins[i].what, "rule \"nat\"") == 0;
	assert_true(nat);
	batch_free(&b);
}

static void test_open_bad_name(void **state)
{
	struct nl_batch b;
	batch_init(&b, 0);
	assert_false(netd_batch_open(&b, "a-name-far-too-long", 0));
	assert_false(netd_batch_open(&b, "", 0));
	assert_int_equal(b.len, 0);
	batch_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_closed),
		cmocka_unit_test(test_open),
		cmocka_unit_test(test_open_bad_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* udhcpc's event as moat-netd receives it: from the network, so refused
 * whole at the first odd value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <string.h>

#include "netvm/netd.h"

static bool parse(const char *text, enum netd_event *ev, struct netd_lease *l, char *why)
{
	return lease_parse(text, strlen(text), ev, l, why, 128);
}

static void test_bound(void **state)
{
	enum netd_event ev;
	struct netd_lease l;
	char why[128], text[256];
	assert_true(parse("event=bound\nip=192.0.2.10\nmask=24\nrouter=192.0.2.1 192.0.2.9\n"
			  "dns=1.1.1.1 9.9.9.9\nlease=3600\n", &ev, &l, why));
	assert_int_equal(ev, NE_BOUND);
	lease_format(&l, text, sizeof(text));
	assert_string_equal(text, "192.0.2.10/24 gateway 192.0.2.1 resolvers 1.1.1.1,9.9.9.9");
}

static void test_subnet_and_defaults(void **state)
{
	enum netd_event ev;
	struct netd_lease l;
	char why[128];
	assert_true(parse("event=renew\nip=10.0.0.5\nsubnet=255.255.252.0", &ev, &l, why));
	assert_int_equal(ev, NE_RENEW);
	assert_int_equal(l.addr.prefix, 22);
	assert_int_equal(l.gateway.s_addr, 0);
	assert_true(parse("event=bound\nip=10.0.0.5\n", &ev, &l, why));
	assert_int_equal(l.addr.prefix, 24);
	assert_true(parse("event=deconfig\n", &ev, &l, why));
	assert_int_equal(ev, NE_DECONFIG);
	assert_true(parse("event=something-new\n", &ev, &l, why));
	assert_int_equal(ev, NE_OTHER);
}

static void test_refused(void **state)
{
	static const char *const bad[] = {
		"ip=192.0.2.10\n",                          /* no event */
		"event=bound\n",                            /* a lease with no address */
		"event=bound\nip=192.0.2.300\n",
		"event=bound\nip=192.0.2.1 \n",
		"event=bound\nip=192.0.2.10\nmask=33\n",
		"event=bound\nip=192.0.2.10\nmask=0\n",
		"event=bound\nip=192.0.2.10\nsubnet=255.0.255.0\n",
		"event=bound\nip=192.0.2.10\nrouter=evil\n",
		"event=bound\nip=192.0.2.10\ndns=1.1.1.1;rm\n",
		"event=bound\nip=1.2.3.4\nip=5.6.7.8\n",    /* given twice */
		"event=bound\nip=1.2.3.4\ngarbage\n",
		"event=\nip=1.2.3.4\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum netd_event ev;
		struct netd_lease l;
		char why[128];
		if (parse(bad[i], &ev, &l, why))
			fail_msg("accepted: %s", bad[i]);
	}
	char nul[] = "event=bound\nip=1.2.3.4\0\n";
	enum netd_event ev;
	struct netd_lease l;
	char why[128];
	assert_false(lease_parse(nul, sizeof(nul) - 1, &ev, &l, why, sizeof(why)));
}

static void test_many_dns(void **state)
{
	enum netd_event ev;
	struct netd_lease l;
	char why[128];
	assert_true(parse("event=bound\nip=1.2.3.4\ndns=1.1.1.1 2.2.2.2 3.3.3.3 4.4.4.4 5.5.5.5 6.6.6.6\n",
			  &ev, &l, why));
	assert_int_equal(l.ndns, NETD_MAX_DNS);
}

static void test_nets(void **state)
{
	struct netd_net nets[NETD_MAX_NETS];
	size_t n;
	assert_true(lease_parse_nets("10.137.0.0/16,10.138.0.0/24", nets, &n));
	assert_int_equal(n, 2);
	assert_int_equal(nets[1].prefix, 24);
	assert_false(lease_parse_nets("10.137.0.1/16", nets, &n));   /* host bits */
	assert_false(lease_parse_nets("", nets, &n));
	assert_false(lease_parse_nets("10.0.0.0/8,x", nets, &n));
	struct netd_net h;
	assert_true(lease_parse_net("192.0.2.50/24", true, &h));
	assert_false(lease_parse_net("192.0.2.50", true, &h));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bound),
		cmocka_unit_test(test_subnet_and_defaults),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_many_dns),
		cmocka_unit_test(test_nets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

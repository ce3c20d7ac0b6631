/* test_fw_dnsmasq: the dnsmasq config moat-firewalld writes for a policy. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>

#include "firewallvm/parts.h"
#include "policy/policy.h"

#define NOW 1764000000   /* 2025-11-24T16:00Z */

static struct policy *load(const char *file, const char *text)
{
	struct diags d;
	diags_init(&d, file, text, strlen(text));
	struct policy *p = policy_load(file, text, strlen(text), NOW, &d);
	if (!p)
		fail_msg("did not load:\n%s", d.out);
	diags_free(&d);
	return p;
}

static void config_of_the_example(void **state)
{
	size_t len;
	char *text = policy_read_file("examples/moat.conf", &len);
	assert_non_null(text);
	struct policy *p = load("examples/moat.conf", text);
	char *conf = fw_dnsmasq_config(p, "/run/moat");
	assert_non_null(conf);
	assert_string_equal(conf,
		"# written by moat-firewalld from the policy in force: every start rewrites it\n"
		"no-resolv\n"
		"no-hosts\n"
		"no-poll\n"
		"server=10.139.0.1\n"
		"max-ttl=600\n"
		"max-cache-ttl=600\n"
		"log-facility=-\n"
		"user=\n"
		"group=\n"
		"pid-file=\n"
		"leasefile-ro\n"
		"except-interface=uplink\n"
		"dns-forward-max=750\nmax-tcp-connections=20\n"
		"interface=dev\n"
		"interface=shopping\n"
		"interface=untrusted\n"
		"interface=com\n"
		"interface=personal\n"
		"dhcp-authoritative\n"
		"dhcp-broadcast\n"
		"no-ping\n"
		"dhcp-ignore-clid\n"
		"dhcp-range=10.137.0.0,static,255.255.255.0,1h\n"
		"dhcp-option=option:router,10.137.0.1\n"
		"dhcp-option=option:dns-server,10.137.0.1\n"
		"dhcp-host=*:*:*:*:*:*,tag:dev,10.137.0.10,dev\n"
		"dhcp-host=*:*:*:*:*:*,tag:shopping,10.137.0.11,shopping\n"
		"dhcp-host=*:*:*:*:*:*,tag:untrusted,10.137.0.12,untrusted\n"
		"dhcp-host=*:*:*:*:*:*,tag:com,10.137.0.13,com\n"
		"dhcp-host=*:*:*:*:*:*,tag:personal,10.137.0.14,personal\n");
	free(conf);
	policy_free(p);
	free(text);
}

static void subnet6_no_dhcpv6_nor_ra(void **state)
{
	struct policy *p = load("six.conf",
		"network { subnet 10.1.2.0/23; subnet6 fd00:1::/64 }\n"
		"vm a { address 10.1.3.20; address6 fd00:1::20; mac 02:00:00:00:00:01\n"
		"  allow tcp to a.test, b.test port 443 }\n"
		"vm b { address 10.1.2.7\n"
		"  allow tcp to b.test }\n");
	char *conf = fw_dnsmasq_config(p, "/tmp/x");
	assert_non_null(conf);
	assert_non_null(strstr(conf, "dhcp-range=10.1.2.0,static,255.255.254.0,1h\n"));
	assert_non_null(strstr(conf, "dhcp-option=option:router,10.1.2.1\n"));
	/* IPv6: RA and DHCPv6 are the daemon's (addr6.c), never dnsmasq's,
	 * which would need a raw ICMPv6 socket in this namespace: it keeps
	 * the ids it is started with (nobody, in a user namespace of its own) */
	assert_null(strstr(conf, "enable-ra"));
	assert_null(strstr(conf, "fd00:"));
	assert_null(strstr(conf, "off-link"));
	/* a VM is its link, whatever MAC it claims */
	assert_non_null(strstr(conf, "dhcp-host=*:*:*:*:*:*,tag:a,10.1.3.20,a\n"));
	assert_non_null(strstr(conf, "dhcp-host=*:*:*:*:*:*,tag:b,10.1.2.7,b\n"));
	assert_non_null(strstr(conf, "\nuser=\ngroup=\n"));
	assert_null(strstr(conf, "\ninterface=uplink"));
	free(conf);
	policy_free(p);
}

static void dnsmasq_writes_nothing(void **state)
{
	struct policy *p = load("names.conf",
		"network { subnet 10.137.0.0/24 }\n"
		"vm a { address 10.137.0.2\n"
		"  allow tcp to new.test }\n");
	char *conf = fw_dnsmasq_config(p, "/run/moat");
	/* no set (names.c reads the answers), no lease or pid file */
	assert_null(strstr(conf, "new.test"));
	assert_null(strstr(conf, "nftset"));
	assert_non_null(strstr(conf, "\npid-file=\nleasefile-ro\n"));
	assert_null(strstr(conf, "/run/moat"));
	free(conf);
	policy_free(p);
}

static void no_vms_no_dhcp(void **state)
{
	struct policy *p = load("empty.conf", "network { subnet 10.137.0.0/24 }\n");
	char *conf = fw_dnsmasq_config(p, "/run/moat");
	assert_null(strstr(conf, "dhcp-range"));
	assert_null(strstr(conf, "\ninterface=uplink"));
	assert_non_null(strstr(conf, "except-interface=uplink\n"));
	free(conf);
	policy_free(p);
}

static void run_dir_too_long_is_refused(void **state)
{
	struct policy *p = load("empty.conf", "network { subnet 10.137.0.0/24 }\n");
	char dir[2000];
	memset(dir, 'a', sizeof(dir) - 1);
	dir[sizeof(dir) - 1] = '\0';
	errno = 0;
	assert_null(fw_dnsmasq_config(p, dir));
	assert_int_equal(errno, ENAMETOOLONG);
	errno = 0;
	assert_null(fw_dnsmasq_new(dir, NULL));
	assert_int_equal(errno, ENAMETOOLONG);
	policy_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(config_of_the_example),
		cmocka_unit_test(subnet6_no_dhcpv6_nor_ra),
		cmocka_unit_test(dnsmasq_writes_nothing),
		cmocka_unit_test(no_vms_no_dhcp),
		cmocka_unit_test(run_dir_too_long_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

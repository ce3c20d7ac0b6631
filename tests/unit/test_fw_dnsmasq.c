/* test_fw_dnsmasq: the dnsmasq config moat-firewalld writes for a policy. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>

#include "parts.h"
#include "policy.h"

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
		"pid-file=/run/moat/dnsmasq.pid\n"
		"dhcp-leasefile=/run/moat/dnsmasq.leases\n"
		"except-interface=uplink\n"
		"interface=dev\n"
		"interface=shopping\n"
		"interface=untrusted\n"
		"interface=com\n"
		"interface=personal\n"
		"dhcp-authoritative\n"
		"dhcp-range=10.137.0.0,static,255.255.255.0,1h\n"
		"dhcp-option=option:router,10.137.0.1\n"
		"dhcp-option=option:dns-server,10.137.0.1\n"
		"dhcp-host=02:6d:61:00:00:0a,10.137.0.10,dev\n"
		"dhcp-host=02:6d:61:00:00:0b,10.137.0.11,shopping\n"
		"dhcp-host=02:6d:61:00:00:0c,10.137.0.12,untrusted\n"
		"dhcp-host=02:6d:61:00:00:0d,10.137.0.13,com\n"
		"dhcp-host=02:6d:61:00:00:0e,10.137.0.14,personal\n"
		"nftset=/github.com/4#inet#moat-dns#h4_github.com\n"
		"nftset=/shop.example.com/4#inet#moat-dns#h4_shop.example.com\n"
		"nftset=/imap.example.org/4#inet#moat-dns#h4_imap.example.org\n");
	free(conf);
	policy_free(p);
	free(text);
}

static void subnet6_sets_both_families_once_per_name(void **state)
{
	struct policy *p = load("six.conf",
		"network { subnet 10.1.2.0/23; subnet6 fd00:1::/64 }\n"
		"vm a { address 10.1.3.20; address6 fd00:1::20; mac 02:00:00:00:00:01\n"
		"  allow tcp to a.test, b.test port 443\n"
		"  allow udp to a.test port 53 }\n"
		"vm b { address 10.1.2.7\n"
		"  allow tcp to b.test\n"
		"  allow tcp to this-is-a-rather-long-host-name.example.com }\n");
	char *conf = fw_dnsmasq_config(p, "/tmp/x");
	assert_non_null(conf);
	assert_non_null(strstr(conf, "dhcp-range=10.1.2.0,static,255.255.254.0,1h\n"));
	assert_non_null(strstr(conf, "dhcp-option=option:router,10.1.2.1\n"));
	/* IPv6: a's address6 by DHCPv6 with its IPv4 lease, the router by RA,
	 * the prefix off-link; b has no address6 */
	assert_non_null(strstr(conf, "enable-ra\ndhcp-range=fd00:1::,static,off-link,64,1h\n"));
	assert_non_null(strstr(conf, "dhcp-host=02:00:00:00:00:01,10.1.3.20,[fd00:1::20],a\n"));
	assert_non_null(strstr(conf, "dhcp-host=02:6d:61:00:02:07,10.1.2.7,b\n"));
	assert_non_null(strstr(conf,
		"nftset=/a.test/4#inet#moat-dns#h4_a.test,6#inet#moat-dns#h6_a.test\n"
		"nftset=/b.test/4#inet#moat-dns#h4_b.test,6#inet#moat-dns#h6_b.test\n"));
	/* a long name's set has a hashed name: the same one the compiler uses */
	char s4[RS_NAME_MAX], s6[RS_NAME_MAX], line[600];
	ruleset_host_set_name("this-is-a-rather-long-host-name.example.com", AF_INET, s4, sizeof(s4));
	ruleset_host_set_name("this-is-a-rather-long-host-name.example.com", AF_INET6, s6, sizeof(s6));
	assert_non_null(strchr(s4, '~'));
	snprintf(line, sizeof(line), "nftset=/this-is-a-rather-long-host-name.example.com/4#inet#moat-dns#%s,6#inet#moat-dns#%s\n",
		 s4, s6);
	assert_non_null(strstr(conf, line));
	/* each name once, whichever VMs and rules name it */
	const char *first = strstr(conf, "nftset=/b.test/");
	assert_null(strstr(first + 1, "nftset=/b.test/"));
	assert_null(strstr(conf, "\ninterface=uplink"));
	free(conf);
	policy_free(p);
}

static void expired_rules_have_no_sets(void **state)
{
	struct policy *p = load("until.conf",
		"network { subnet 10.137.0.0/24 }\n"
		"vm a { address 10.137.0.2\n"
		"  allow tcp to old.test until 2020-01-01T00:00Z\n"
		"  allow tcp to new.test until 2030-01-01T00:00Z }\n");
	char *conf = fw_dnsmasq_config(p, "/run/moat");
	assert_null(strstr(conf, "old.test"));
	assert_non_null(strstr(conf, "nftset=/new.test/4#inet#moat-dns#h4_new.test\n"));
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
		cmocka_unit_test(subnet6_sets_both_families_once_per_name),
		cmocka_unit_test(expired_rules_have_no_sets),
		cmocka_unit_test(no_vms_no_dhcp),
		cmocka_unit_test(run_dir_too_long_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

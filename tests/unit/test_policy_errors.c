/* test_policy_errors: every error moat.conf can have, each with its exact
 * message, position, quoted line and caret; then the machinery around
 * them: all errors reported, the cap, hostile input. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "policy.h"

#define NOW 1764000000   /* 2025-11-24T16:00Z */
#define NET "network { subnet 10.137.0.0/24 }\n"
#define X16 "xxxxxxxxxxxxxxxx"
#define X129 X16 X16 X16 X16 X16 X16 X16 X16 "x"

/* Loads LEN bytes from a buffer of exactly that size, so that ASan sees any
 * read past the end (the parser must not need a NUL). */
static struct policy *load_exact(const char *text, size_t len, struct diags *d)
{
	char *copy = malloc(len ? len : 1);
	struct policy *p;

	assert_non_null(copy);
	if (len)
		memcpy(copy, text, len);
	diags_init(d, "moat.conf", copy, len);
	p = policy_load("moat.conf", copy, len, NOW, d);
	d->text = NULL;   /* copy is gone: nothing may quote it from here */
	free(copy);
	return p;
}

static void expect_errors(const char *text, const char *want)
{
	struct diags d;
	struct policy *p = load_exact(text, strlen(text), &d);

	if (p)
		fail_msg("loaded, but should fail with:\n%s", want);
	assert_true(d.nerrors > 0);
	assert_string_equal(d.out, want);
	diags_free(&d);
}

/* A parse error does not hide the checker's errors elsewhere in the file, and
 * a block with a parse error is not blamed for what that error caused. */
static void test_parse_and_check_errors_together(void **state)
{
	expect_errors(
		"network { subnet 10.137.0.0/24 }\n"
		"vm dev {\n"
		"    address 10.137.0.300\n"
		"}\n"
		"vm shop {\n"
		"    address 10.137.0.11\n"
		"    allow tcp to vm nobody port 443\n"
		"}\n"
		"vm shop { address 10.137.0.12 }\n",
		"moat.conf:3:13: error: expected an IPv4 address, got '10.137.0.300'\n"
		"    address 10.137.0.300\n"
		"            ^~~~~~~~~~~~\n"
		"moat.conf:7:21: error: no VM named 'nobody'\n"
		"    allow tcp to vm nobody port 443\n"
		"                    ^~~~~~\n"
		"moat.conf:9:4: error: VM 'shop' is declared twice (first on line 5)\n"
		"vm shop { address 10.137.0.12 }\n"
		"   ^~~~\n");
	(void)state;
}

static void test_unknown_statement(void **state)
{
	expect_errors(
		"netwrk {\n"
		"    subnet 10.137.0.0/24\n"
		"}\n"
		"vm a { address 10.137.0.2 }\n",
		"moat.conf:1:1: error: expected define, network or vm, got 'netwrk'\n"
		"netwrk {\n"
		"^~~~~~\n");
}

static void test_stray_brace(void **state)
{
	expect_errors(NET
		"}\n",
		"moat.conf:2:1: error: '}' without its '{'\n"
		"}\n"
		"^\n");
}

static void test_missing_brace(void **state)
{
	expect_errors(NET
		"vm a\n"
		"    address 10.137.0.2\n",
		"moat.conf:3:5: error: expected '{', got 'address'\n"
		"    address 10.137.0.2\n"
		"    ^~~~~~~\n");
}

static void test_unclosed_block(void **state)
{
	expect_errors(NET
		"vm a {\n"
		"    address 10.137.0.2\n",
		"moat.conf:2:6: error: the '{' of vm a is never closed\n"
		"vm a {\n"
		"     ^\n");
}

static void test_end_of_statement(void **state)
{
	expect_errors(NET
		"vm a {\n"
		"    address 10.137.0.2 10.137.0.3\n"
		"}\n",
		"moat.conf:3:24: error: expected end of statement, got '10.137.0.3'\n"
		"    address 10.137.0.2 10.137.0.3\n"
		"                       ^~~~~~~~~~\n");
}

static void test_unterminated_string(void **state)
{
	expect_errors(NET
		"vm a {\n"
		"    allow dns comment \"no end\n"
		"}\n",
		"moat.conf:3:23: error: string without its closing '\"'\n"
		"    allow dns comment \"no end\n"
		"                      ^~~~~~~\n");
}

static void test_control_in_string(void **state)
{
	expect_errors(NET
		"vm a {\n"
		"    allow dns comment \"a\x01""b\"\n"
		"}\n",
		"moat.conf:3:23: error: control character 0x01 in a string\n"
		"    allow dns comment \"a?b\"\n"
		"                      ^~~~~\n");
}

static void test_string_too_long(void **state)
{
	expect_errors(NET "vm a {\n    allow dns comment \"" X129 "\"\n}\n",
		"moat.conf:3:23: error: string longer than 128 bytes\n"
		"    allow dns comment \"" X129 "\"\n"
		"                      ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n");
}

static void test_bad_byte(void **state)
{
	expect_errors(NET
		"vm a {\n"
		"    allow tcp to \x01""\n"
		"}\n",
		"moat.conf:3:18: error: unexpected byte 0x01\n"
		"    allow tcp to ?\n"
		"                 ^\n");
}

static void test_dollar_alone(void **state)
{
	expect_errors(NET
		"vm a {\n"
		"    deny to $ log\n"
		"}\n",
		"moat.conf:3:13: error: '$' without a name after it\n"
		"    deny to $ log\n"
		"            ^\n");
}

static void test_vm_name_invalid(void **state)
{
	expect_errors(NET
		"vm Dev {\n"
		"    address 10.137.0.2\n"
		"}\n",
		"moat.conf:2:4: error: invalid VM name 'Dev': use a-z, 0-9 and '-', starting with a letter\n"
		"vm Dev {\n"
		"   ^~~\n");
}

static void test_vm_name_too_long(void **state)
{
	expect_errors(NET
		"vm abcdefghijklmnop {\n"
		"    address 10.137.0.2\n"
		"}\n",
		"moat.conf:2:4: error: VM name 'abcdefghijklmnop' is too long: at most 15 characters\n"
		"vm abcdefghijklmnop {\n"
		"   ^~~~~~~~~~~~~~~~\n");
}

static void test_vm_name_reserved(void **state)
{
	expect_errors(NET
		"vm uplink {\n"
		"    address 10.137.0.2\n"
		"}\n",
		"moat.conf:2:4: error: 'uplink' is reserved and cannot be a VM name\n"
		"vm uplink {\n"
		"   ^~~~~~\n");
}

/* dnsmasq sets these tags itself; a VM's link name is its tag there */
static void test_vm_name_dnsmasq_tag(void **state)
{
	expect_errors(NET
		"vm dhcpv6 {\n"
		"    address 10.137.0.2\n"
		"}\n",
		"moat.conf:2:4: error: 'dhcpv6' is reserved and cannot be a VM name\n"
		"vm dhcpv6 {\n"
		"   ^~~~~~\n");
}

static void test_define_name_reserved(void **state)
{
	expect_errors(
		"define any = 10.0.0.0/8\n",
		"moat.conf:1:8: error: 'any' is reserved and cannot be a define name\n"
		"define any = 10.0.0.0/8\n"
		"       ^~~\n");
}

static void test_network_twice(void **state)
{
	expect_errors(NET
		"network { policy drop }\n",
		"moat.conf:2:1: error: 'network' given twice\n"
		"network { policy drop }\n"
		"^~~~~~~\n");
}

static void test_network_setting_twice(void **state)
{
	expect_errors(
		"network {\n"
		"    subnet 10.137.0.0/24\n"
		"    policy drop\n"
		"    policy reject\n"
		"}\n",
		"moat.conf:4:5: error: 'policy' given twice\n"
		"    policy reject\n"
		"    ^~~~~~\n");
}

static void test_uplink_kind(void **state)
{
	expect_errors(
		"network {\n"
		"    uplink vfio\n"
		"}\n",
		"moat.conf:2:12: error: expected pci, user or tap, got 'vfio'\n"
		"    uplink vfio\n"
		"           ^~~~\n");
}

static void test_uplink_bad_pci(void **state)
{
	expect_errors(
		"network {\n"
		"    uplink pci 03:00\n"
		"}\n",
		"moat.conf:2:16: error: invalid PCI address '03:00': expected one like 0000:03:00.0\n"
		"    uplink pci 03:00\n"
		"               ^~~~~\n");
}

static void test_uplink_bad_tap(void **state)
{
	expect_errors(
		"network {\n"
		"    uplink tap this-name-is-too-long\n"
		"}\n",
		"moat.conf:2:16: error: invalid interface name 'this-name-is-too-long': at most 15 of a-z, A-Z, 0-9, '-', '_', '.'\n"
		"    uplink tap this-name-is-too-long\n"
		"               ^~~~~~~~~~~~~~~~~~~~~\n");
}

static void test_subnet_ipv6(void **state)
{
	expect_errors(
		"network {\n"
		"    subnet fd00::/64\n"
		"}\n",
		"moat.conf:2:12: error: expected an IPv4 network like 10.137.0.0/24, got 'fd00::/64'\n"
		"    subnet fd00::/64\n"
		"           ^~~~~~~~~\n");
}

static void test_subnet_too_large(void **state)
{
	expect_errors(
		"network {\n"
		"    subnet 10.0.0.0/8\n"
		"}\n",
		"moat.conf:2:12: error: subnet 10.0.0.0/8 is too large: at most a /16, VM MACs carry the last two address bytes\n"
		"    subnet 10.0.0.0/8\n"
		"           ^~~~~~~~~~\n");
}

static void test_subnet_too_small(void **state)
{
	expect_errors(
		"network {\n"
		"    subnet 10.137.0.0/31\n"
		"}\n",
		"moat.conf:2:12: error: subnet 10.137.0.0/31 is too small: it needs the firewall's address and a VM's\n"
		"    subnet 10.137.0.0/31\n"
		"           ^~~~~~~~~~~~~\n");
}

static void test_subnet6_too_small(void **state)
{
	expect_errors(
		"network {\n"
		"    subnet6 fd00::/127\n"
		"}\n",
		"moat.conf:2:13: error: subnet6 fd00::/127 is too small: it needs the firewall's address and a VM's\n"
		"    subnet6 fd00::/127\n"
		"            ^~~~~~~~~~\n");
}

static void test_dns_network(void **state)
{
	expect_errors(
		"network {\n"
		"    dns 9.9.9.0/24\n"
		"}\n",
		"moat.conf:2:9: error: expected a resolver's address, got a network '9.9.9.0/24'\n"
		"    dns 9.9.9.0/24\n"
		"        ^~~~~~~~~~\n");
}

static void test_policy_value(void **state)
{
	expect_errors(
		"network {\n"
		"    policy accept\n"
		"}\n",
		"moat.conf:2:12: error: expected reject or drop, got 'accept'\n"
		"    policy accept\n"
		"           ^~~~~~\n");
}

static void test_log_value(void **state)
{
	expect_errors(
		"network {\n"
		"    log everything\n"
		"}\n",
		"moat.conf:2:9: error: expected 'denied' after 'log', got 'everything'\n"
		"    log everything\n"
		"        ^~~~~~~~~~\n");
}

static void test_vm_setting_unknown(void **state)
{
	expect_errors(NET
		"vm a {\n"
		"    adress 10.137.0.2\n"
		"}\n",
		"moat.conf:3:5: error: expected address, address6, mac, owner, allow or deny, got 'adress'\n"
		"    adress 10.137.0.2\n"
		"    ^~~~~~\n");
}

static void test_vm_setting_twice(void **state)
{
	expect_errors(NET
		"vm a {\n"
		"    address 10.137.0.2\n"
		"    address 10.137.0.3\n"
		"}\n",
		"moat.conf:4:5: error: 'address' given twice\n"
		"    address 10.137.0.3\n"
		"    ^~~~~~~\n");
}

static void test_address_network(void **state)
{
	expect_errors(NET
		"vm a {\n"
		"    address 10.137.0.0/24\n"
		"}\n",
		"moat.conf:3:13: error: expected an IPv4 address, got a network '10.137.0.0/24'\n"
		"    address 10.137.0.0/24\n"
		"            ^~~~~~~~~~~~~\n");
}

static void test_address_v6(void **state)
{
	expect_errors(NET
		"vm a {\n"
		"    address fd00::2\n"
		"}\n",
		"moat.conf:3:13: error: expected an IPv4 address, got 'fd00::2'\n"
		"    address fd00::2\n"
		"            ^~~~~~~\n");
}

static void test_mac_invalid(void **state)
{
	expect_errors(NET
		"vm a {\n"
		"    address 10.137.0.2\n"
		"    mac 02:6d:61:00:00\n"
		"}\n",
		"moat.conf:4:9: error: expected a MAC address like 02:00:00:00:00:0a, got '02:6d:61:00:00'\n"
		"    mac 02:6d:61:00:00\n"
		"        ^~~~~~~~~~~~~~\n");
}

static void test_mac_multicast(void **state)
{
	expect_errors(NET
		"vm a {\n"
		"    address 10.137.0.2\n"
		"    mac 01:00:5e:00:00:01\n"
		"}\n",
		"moat.conf:4:9: error: mac '01:00:5e:00:00:01' is a multicast address\n"
		"    mac 01:00:5e:00:00:01\n"
		"        ^~~~~~~~~~~~~~~~~\n");
}

static void test_mac_reserved(void **state)
{
	expect_errors(NET
		"vm a {\n"
		"    address 10.137.0.2\n"
		"    mac 02:6d:66:00:00:02\n"
		"}\n",
		"moat.conf:4:9: error: mac '02:6d:66:00:00:02' is in the range moat keeps for the firewall and the netvm\n"
		"    mac 02:6d:66:00:00:02\n"
		"        ^~~~~~~~~~~~~~~~~\n");
}

static void test_owner_twice(void **state)
{
	expect_errors(NET
		"vm a {\n"
		"    address 10.137.0.2\n"
		"    owner alice\n"
		"    owner bob:kvm\n"
		"}\n",
		"moat.conf:5:5: error: 'owner' given twice\n"
		"    owner bob:kvm\n"
		"    ^~~~~\n");
}

/* each part of USER:GROUP is pointed at by itself */
static void test_owner_invalid(void **state)
{
	expect_errors(NET
		"vm a { address 10.137.0.2; owner al!ce }\n"
		"vm b { address 10.137.0.3; owner bob:k/m }\n"
		"vm c { address 10.137.0.4; owner bob: }\n"
		"vm d { address 10.137.0.5; owner :kvm }\n"
		"vm e { address 10.137.0.6; owner a:b:c }\n"
		"vm f { address 10.137.0.7; owner -x }\n"
		"vm g { address 10.137.0.8; owner }\n"
		"vm h { address 10.137.0.9; owner \"bob\" }\n"
		"vm i { address 10.137.0.10; owner " X16 X16 "y }\n"
		"vm j { address 10.137.0.11; owner bob kvm }\n",
		"moat.conf:2:34: error: invalid user 'al!ce': a name or a number (letters, digits, '_', '.', '-')\n"
		"vm a { address 10.137.0.2; owner al!ce }\n"
		"                                 ^~~~~\n"
		"moat.conf:3:38: error: invalid group 'k/m': a name or a number (letters, digits, '_', '.', '-')\n"
		"vm b { address 10.137.0.3; owner bob:k/m }\n"
		"                                     ^~~\n"
		"moat.conf:4:38: error: invalid group '': a name or a number (letters, digits, '_', '.', '-')\n"
		"vm c { address 10.137.0.4; owner bob: }\n"
		"                                     ^\n"
		"moat.conf:5:34: error: invalid user '': a name or a number (letters, digits, '_', '.', '-')\n"
		"vm d { address 10.137.0.5; owner :kvm }\n"
		"                                 ^\n"
		"moat.conf:6:36: error: invalid group 'b:c': a name or a number (letters, digits, '_', '.', '-')\n"
		"vm e { address 10.137.0.6; owner a:b:c }\n"
		"                                   ^~~\n"
		"moat.conf:7:34: error: invalid user '-x': a name or a number (letters, digits, '_', '.', '-')\n"
		"vm f { address 10.137.0.7; owner -x }\n"
		"                                 ^~\n"
		"moat.conf:8:34: error: expected a user or user:group (like libvirt-qemu:kvm), got '}'\n"
		"vm g { address 10.137.0.8; owner }\n"
		"                                 ^\n"
		"moat.conf:9:34: error: expected a user or user:group (like libvirt-qemu:kvm), got \"bob\"\n"
		"vm h { address 10.137.0.9; owner \"bob\" }\n"
		"                                 ^~~~~\n"
		"moat.conf:10:35: error: user '" X16 X16 "y' is too long: at most 32 characters\n"
		"vm i { address 10.137.0.10; owner " X16 X16 "y }\n"
		"                                  ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n"
		"moat.conf:11:39: error: expected end of statement, got 'kvm'\n"
		"vm j { address 10.137.0.11; owner bob kvm }\n"
		"                                      ^~~\n");
}

static void test_define_twice(void **state)
{
	expect_errors(
		"define lan = 10.0.0.0/8\n"
		"define lan = 192.168.0.0/16\n",
		"moat.conf:2:8: error: define 'lan' given twice\n"
		"define lan = 192.168.0.0/16\n"
		"       ^~~\n");
}

static void test_define_any(void **state)
{
	expect_errors(
		"define lan = 10.0.0.0/8, any\n",
		"moat.conf:1:26: error: a define holds addresses, networks and host names, not 'any'\n"
		"define lan = 10.0.0.0/8, any\n"
		"                         ^~~\n");
}

static void test_define_self(void **state)
{
	expect_errors(
		"define lan = 10.0.0.0/8, $lan\n",
		"moat.conf:1:26: error: $lan is not defined (a define comes before its use)\n"
		"define lan = 10.0.0.0/8, $lan\n"
		"                         ^~~~\n");
}

static void test_undefined_var(void **state)
{
	expect_errors(NET
		"vm a {\n"
		"    address 10.137.0.2\n"
		"    deny to $lan\n"
		"}\n",
		"moat.conf:4:13: error: $lan is not defined (a define comes before its use)\n"
		"    deny to $lan\n"
		"            ^~~~\n");
}

static void test_var_before_define(void **state)
{
	expect_errors(NET
		"vm a {\n"
		"    address 10.137.0.2\n"
		"    deny to $lan\n"
		"}\n"
		"define lan = 10.0.0.0/8\n",
		"moat.conf:4:13: error: $lan is not defined (a define comes before its use)\n"
		"    deny to $lan\n"
		"            ^~~~\n");
}

static void test_too_many_dests(void **state)
{
	expect_errors(
		"define a = 1.1.1.1, 2.2.2.2, 3.3.3.3, 4.4.4.4\n"
		"define b = $a, $a, $a, $a\n"
		"define c = $b, $b, $b, $b\n"
		"define d = $c, $c, $c, $c\n"
		"define e = $d, $d, $d, $d\n"
		"define f = $e, $e, $e, $e, $e\n",
		"moat.conf:6:28: error: more than 4096 destinations in one list\n"
		"define f = $e, $e, $e, $e, $e\n"
		"                           ^~\n");
}

static void test_host_bits(void **state)
{
	expect_errors(NET
		"vm a {\n"
		"    address 10.137.0.2\n"
		"    allow tcp to 10.0.0.1/8 port 22\n"
		"}\n",
		"moat.conf:4:18: error: host bits set in '10.0.0.1/8': the network is 10.0.0.0/8\n"
		"    allow tcp to 10.0.0.1/8 port 22\n"
		"                 ^~~~~~~~~~\n");
}

static void test_dest_bare_name(void **state)
{
	expect_errors(NET
		"vm a {\n"
		"    allow tcp to dev port 22\n"
		"}\n",
		"moat.conf:3:18: error: expected a destination, got 'dev': a VM is 'vm dev', a host name has a dot\n"
		"    allow tcp to dev port 22\n"
		"                 ^~~\n");
}

static void test_dest_invalid(void **state)
{
	expect_errors(NET
		"vm a {\n"
		"    allow tcp to @home port 22\n"
		"}\n",
		"moat.conf:3:18: error: expected a destination: any, an address, a network, a host name, vm NAME or $NAME, got '@home'\n"
		"    allow tcp to @home port 22\n"
		"                 ^~~~~\n");
}

static void test_deny_dns(void **state)
{
	expect_errors(NET
		"vm a {\n"
		"    deny dns\n"
		"}\n",
		"moat.conf:3:10: error: 'deny dns' is not a rule: without 'allow dns' a VM has no DNS\n"
		"    deny dns\n"
		"         ^~~\n");
}

static void test_all_with_to(void **state)
{
	expect_errors(NET
		"vm a {\n"
		"    allow all to 10.0.0.0/8\n"
		"}\n",
		"moat.conf:3:15: error: 'to' does not go with 'allow all'\n"
		"    allow all to 10.0.0.0/8\n"
		"              ^~\n");
}

static void test_dns_with_port(void **state)
{
	expect_errors(NET
		"vm a {\n"
		"    allow dns port 53\n"
		"}\n",
		"moat.conf:3:15: error: 'port' does not go with 'allow dns'\n"
		"    allow dns port 53\n"
		"              ^~~~\n");
}

static void test_any_mixed(void **state)
{
	expect_errors(NET
		"vm a {\n"
		"    allow tcp to any, 10.0.0.0/8\n"
		"}\n",
		"moat.conf:3:15: error: 'to any' cannot be mixed with other destinations\n"
		"    allow tcp to any, 10.0.0.0/8\n"
		"              ^~\n");
}

static void test_rule_clause_twice(void **state)
{
	expect_errors(NET
		"vm a {\n"
		"    allow tcp port 22 log port 23\n"
		"}\n",
		"moat.conf:3:27: error: 'port' given twice\n"
		"    allow tcp port 22 log port 23\n"
		"                          ^~~~\n");
}

static void test_port_needs_tcp_udp(void **state)
{
	expect_errors(NET
		"vm a {\n"
		"    allow icmp to any port 22\n"
		"}\n",
		"moat.conf:3:23: error: port needs tcp or udp, not icmp\n"
		"    allow icmp to any port 22\n"
		"                      ^~~~\n");
}

static void test_type_needs_icmp(void **state)
{
	expect_errors(NET
		"vm a {\n"
		"    allow tcp type echo-request\n"
		"}\n",
		"moat.conf:3:15: error: type needs icmp, not tcp\n"
		"    allow tcp type echo-request\n"
		"              ^~~~\n");
}

static void test_type_needs_icmp_no_proto(void **state)
{
	expect_errors(NET
		"vm a {\n"
		"    allow type 8\n"
		"}\n",
		"moat.conf:3:11: error: type needs icmp (write 'allow icmp type ...')\n"
		"    allow type 8\n"
		"          ^~~~\n");
}

static void test_port_zero(void **state)
{
	expect_errors(NET
		"vm a {\n"
		"    allow tcp port 0\n"
		"}\n",
		"moat.conf:3:20: error: port '0' is out of range: ports are 1-65535\n"
		"    allow tcp port 0\n"
		"                   ^\n");
}

static void test_port_too_big(void **state)
{
	expect_errors(NET
		"vm a {\n"
		"    allow tcp port 443, 70000\n"
		"}\n",
		"moat.conf:3:25: error: port '70000' is out of range: ports are 1-65535\n"
		"    allow tcp port 443, 70000\n"
		"                        ^~~~~\n");
}

static void test_port_range_empty(void **state)
{
	expect_errors(NET
		"vm a {\n"
		"    allow tcp port 8080-8000\n"
		"}\n",
		"moat.conf:3:20: error: empty port range '8080-8000': the first port is above the last\n"
		"    allow tcp port 8080-8000\n"
		"                   ^~~~~~~~~\n");
}

static void test_port_range_spaced_empty(void **state)
{
	expect_errors(NET
		"vm a {\n"
		"    allow udp port 9 - 1\n"
		"}\n",
		"moat.conf:3:20: error: empty port range '9 - 1': the first port is above the last\n"
		"    allow udp port 9 - 1\n"
		"                   ^~~~~\n");
}

static void test_icmp_type_range(void **state)
{
	expect_errors(NET
		"vm a {\n"
		"    allow icmp type 256\n"
		"}\n",
		"moat.conf:3:21: error: ICMP type '256' is out of range: types are 0-255\n"
		"    allow icmp type 256\n"
		"                    ^~~\n");
}

static void test_icmp_type_unknown(void **state)
{
	expect_errors(NET
		"vm a {\n"
		"    allow icmp type echo\n"
		"}\n",
		"moat.conf:3:21: error: unknown ICMP type 'echo'\n"
		"    allow icmp type echo\n"
		"                    ^~~~\n");
}

static void test_until_bad_time(void **state)
{
	expect_errors(NET
		"vm a {\n"
		"    allow dns until 2026-02-30T00:00Z\n"
		"}\n",
		"moat.conf:3:21: error: expected a UTC time like 2026-12-01T18:00Z, got '2026-02-30T00:00Z'\n"
		"    allow dns until 2026-02-30T00:00Z\n"
		"                    ^~~~~~~~~~~~~~~~~\n");
}

static void test_comment_not_string(void **state)
{
	expect_errors(NET
		"vm a {\n"
		"    allow dns comment hello\n"
		"}\n",
		"moat.conf:3:23: error: expected a \"quoted\" comment, got 'hello'\n"
		"    allow dns comment hello\n"
		"                      ^~~~~\n");
}

static void test_tab_caret(void **state)
{
	expect_errors(NET
		"vm a {\n"
		"\taddress 10.137.0.2\n"
		"\tallow\ticmp port 22\n"
		"}\n",
		"moat.conf:4:13: error: port needs tcp or udp, not icmp\n"
		"\tallow\ticmp port 22\n"
		"\t     \t     ^~~~\n");
}

static void test_unknown_vm(void **state)
{
	expect_errors(NET
		"vm a {\n"
		"    address 10.137.0.2\n"
		"    allow tcp to vm b port 22\n"
		"}\n",
		"moat.conf:4:21: error: no VM named 'b'\n"
		"    allow tcp to vm b port 22\n"
		"                    ^\n");
}

static void test_self_destination(void **state)
{
	expect_errors(NET
		"vm a {\n"
		"    address 10.137.0.2\n"
		"    allow tcp to vm a port 22\n"
		"}\n",
		"moat.conf:4:21: error: VM 'a' cannot be its own destination\n"
		"    allow tcp to vm a port 22\n"
		"                    ^\n");
}

static void test_vm_twice(void **state)
{
	expect_errors(NET
		"vm a {\n"
		"    address 10.137.0.2\n"
		"}\n"
		"vm a {\n"
		"    address 10.137.0.3\n"
		"}\n",
		"moat.conf:5:4: error: VM 'a' is declared twice (first on line 2)\n"
		"vm a {\n"
		"   ^\n");
}

static void test_no_address(void **state)
{
	expect_errors(NET
		"vm a {\n"
		"    allow dns\n"
		"}\n",
		"moat.conf:2:4: error: VM 'a' has no address\n"
		"vm a {\n"
		"   ^\n");
}

static void test_no_subnet(void **state)
{
	expect_errors(
		"network { policy drop }\n"
		"vm a {\n"
		"    address 10.137.0.2\n"
		"}\n",
		"moat.conf:2:4: error: VMs need an address plan: network { subnet 10.137.0.0/24 }\n"
		"vm a {\n"
		"   ^\n");
}

static void test_address_outside(void **state)
{
	expect_errors(NET
		"vm a {\n"
		"    address 10.138.0.2\n"
		"}\n",
		"moat.conf:3:13: error: address 10.138.0.2 is outside subnet 10.137.0.0/24\n"
		"    address 10.138.0.2\n"
		"            ^~~~~~~~~~\n");
}

static void test_address_network_addr(void **state)
{
	expect_errors(NET
		"vm a {\n"
		"    address 10.137.0.0\n"
		"}\n",
		"moat.conf:3:13: error: address 10.137.0.0 is subnet 10.137.0.0/24's network address\n"
		"    address 10.137.0.0\n"
		"            ^~~~~~~~~~\n");
}

static void test_address_broadcast(void **state)
{
	expect_errors(NET
		"vm a {\n"
		"    address 10.137.0.255\n"
		"}\n",
		"moat.conf:3:13: error: address 10.137.0.255 is subnet 10.137.0.0/24's broadcast address\n"
		"    address 10.137.0.255\n"
		"            ^~~~~~~~~~~~\n");
}

static void test_address_firewall(void **state)
{
	expect_errors(NET
		"vm a {\n"
		"    address 10.137.0.1\n"
		"}\n",
		"moat.conf:3:13: error: address 10.137.0.1 is the firewall VM's own address\n"
		"    address 10.137.0.1\n"
		"            ^~~~~~~~~~\n");
}

static void test_address_duplicate(void **state)
{
	expect_errors(NET
		"vm a {\n"
		"    address 10.137.0.2\n"
		"}\n"
		"vm b {\n"
		"    address 10.137.0.2\n"
		"}\n",
		"moat.conf:6:13: error: address 10.137.0.2 is already VM a's\n"
		"    address 10.137.0.2\n"
		"            ^~~~~~~~~~\n");
}

static void test_address6_no_subnet6(void **state)
{
	expect_errors(NET
		"vm a {\n"
		"    address 10.137.0.2\n"
		"    address6 fd00::2\n"
		"}\n",
		"moat.conf:4:14: error: address6 fd00::2 needs subnet6 in network { }\n"
		"    address6 fd00::2\n"
		"             ^~~~~~~\n");
}

static void test_address6_outside(void **state)
{
	expect_errors(
		"network { subnet 10.137.0.0/24; subnet6 fd00::/64 }\n"
		"vm a {\n"
		"    address 10.137.0.2\n"
		"    address6 fd01::2\n"
		"}\n",
		"moat.conf:4:14: error: address6 fd01::2 is outside subnet6 fd00::/64\n"
		"    address6 fd01::2\n"
		"             ^~~~~~~\n");
}

static void test_address6_duplicate(void **state)
{
	expect_errors(
		"network {\n"
		"    subnet 10.137.0.0/24\n"
		"    subnet6 fd00::/64\n"
		"}\n"
		"vm a { address 10.137.0.2; address6 fd00::2 }\n"
		"vm b { address 10.137.0.3; address6 fd00::2 }\n",
		"moat.conf:6:37: error: address6 fd00::2 is already VM a's\n"
		"vm b { address 10.137.0.3; address6 fd00::2 }\n"
		"                                    ^~~~~~~\n");
}

static void test_mac_duplicate(void **state)
{
	expect_errors(NET
		"vm a {\n"
		"    address 10.137.0.2\n"
		"}\n"
		"vm b {\n"
		"    address 10.137.0.3\n"
		"    mac 02:6d:61:00:00:02\n"
		"}\n",
		"moat.conf:7:9: error: mac 02:6d:61:00:00:02 is already VM a's (derived from its address)\n"
		"    mac 02:6d:61:00:00:02\n"
		"        ^~~~~~~~~~~~~~~~~\n");
}

static void test_all_errors_reported(void **state)
{
	expect_errors(
		"network {\n"
		"    subnet 10.137.0.0/24\n"
		"    policy maybe\n"
		"}\n"
		"vm a {\n"
		"    address 10.137.0.2\n"
		"    allow icmp port 22\n"
		"    allow tcp port 22\n"
		"    allow udp to vm DNS port 53\n"
		"}\n"
		"vm b { allow tcp port 99999 }\n",
		"moat.conf:3:12: error: expected reject or drop, got 'maybe'\n"
		"    policy maybe\n"
		"           ^~~~~\n"
		"moat.conf:7:16: error: port needs tcp or udp, not icmp\n"
		"    allow icmp port 22\n"
		"               ^~~~\n"
		"moat.conf:9:21: error: invalid VM name 'DNS': use a-z, 0-9 and '-', starting with a letter\n"
		"    allow udp to vm DNS port 53\n"
		"                    ^~~\n"
		"moat.conf:11:23: error: port '99999' is out of range: ports are 1-65535\n"
		"vm b { allow tcp port 99999 }\n"
		"                      ^~~~~\n");
}

static void test_checker_errors_all_reported(void **state)
{
	expect_errors(NET
		"vm a { address 10.137.0.2; allow tcp to vm d }\n"
		"vm b { address 10.137.0.2 }\n"
		"vm c { allow dns }\n",
		"moat.conf:2:44: error: no VM named 'd'\n"
		"vm a { address 10.137.0.2; allow tcp to vm d }\n"
		"                                           ^\n"
		"moat.conf:3:16: error: address 10.137.0.2 is already VM a's\n"
		"vm b { address 10.137.0.2 }\n"
		"               ^~~~~~~~~~\n"
		"moat.conf:4:4: error: VM 'c' has no address\n"
		"vm c { allow dns }\n"
		"   ^\n");
}

static void test_error_cap(void **state)
{
	char text[4096] = "vm a {\n";
	const char *out, *last;
	struct diags d;
	int i, n = 0;

	for (i = 0; i < MOAT_MAX_ERRORS + 10; i++)
		strcat(text, "    allow icmp port 1\n");
	strcat(text, "}\n");
	assert_null(load_exact(text, strlen(text), &d));
	assert_true(d.capped);
	for (out = d.out; (out = strstr(out, ": error: ")); out++)
		n++;
	assert_int_equal(n, MOAT_MAX_ERRORS);
	last = strstr(d.out, "moat.conf: too many errors, stopping\n");
	assert_non_null(last);
	assert_string_equal(last, "moat.conf: too many errors, stopping\n");
	diags_free(&d);
}

static void test_warning_is_not_an_error(void **state)
{
	const char *text = NET "vm a { address 10.137.0.2; allow dns until 2025-01-01T00:00Z }\n";
	struct diags d;
	struct policy *p = load_exact(text, strlen(text), &d);

	assert_non_null(p);
	assert_int_equal(d.nerrors, 0);
	assert_int_equal(d.nwarnings, 1);
	assert_string_equal(d.out,
		"moat.conf:2:44: warning: rule expired at 2025-01-01T00:00Z: it is ignored\n"
		"vm a { address 10.137.0.2; allow dns until 2025-01-01T00:00Z }\n"
		"                                           ^~~~~~~~~~~~~~~~~\n");
	policy_free(p);
	diags_free(&d);
}

/* deny to NAME only knows the answers the firewall gave: say so */
static void test_deny_to_a_name_warns(void **state)
{
	const char *text = NET "vm a { address 10.137.0.2; allow dns; deny tcp to ads.example.com; allow all }\n";
	struct diags d;
	struct policy *p = load_exact(text, strlen(text), &d);

	assert_non_null(p);
	assert_int_equal(d.nerrors, 0);
	assert_int_equal(d.nwarnings, 1);
	assert_non_null(strstr(d.out, "moat.conf:2:51: warning: 'deny to ads.example.com' covers only "
				      "the addresses the firewall's DNS has answered for it"));
	policy_free(p);
	diags_free(&d);
	/* allow to NAME is not weakened the same way: no warning */
	text = NET "vm a { address 10.137.0.2; allow tcp to shop.example.com }\n";
	p = load_exact(text, strlen(text), &d);
	assert_non_null(p);
	assert_int_equal(d.nwarnings, 0);
	policy_free(p);
	diags_free(&d);
}

static void test_diag_quoting(void **state)
{
	/* The caret counts characters, not UTF-8 bytes; a token running past
	 * the end of its line is cut there; a line past the end quotes nothing. */
	const char text[] = "# \xc3\xa9t\xc3\xa9\n\tx = 1\r\n";
	struct diags d;

	diags_init(&d, "f.conf", text, sizeof(text) - 1);
	diag_error(&d, (struct src_loc){ 1, 8, 3 }, "a %s", "b");
	diag_warning(&d, (struct src_loc){ 2, 2, 50 }, "c");
	diag_error(&d, (struct src_loc){ 9, 1, 1 }, "d");
	assert_string_equal(d.out,
		"f.conf:1:8: error: a b\n"
		"# \xc3\xa9t\xc3\xa9\n"
		"     ^\n"
		"f.conf:2:2: warning: c\n"
		"\tx = 1\n"
		"\t^~~~~\n"
		"f.conf:9:1: error: d\n");
	assert_int_equal(d.nerrors, 2);
	assert_int_equal(d.nwarnings, 1);
	diags_free(&d);
}

static void check_no_crash(const char *text, size_t len)
{
	struct diags d;
	struct policy *p = load_exact(text, len, &d);

	assert_true((p == NULL) == (d.nerrors > 0));
	assert_int_equal(strlen(d.out), d.out_len);
	policy_free(p);
	diags_free(&d);
}

static void test_garbage(void **state)
{
	static const char valid[] =
		"define lan = 10.0.0.0/8, example.com\n"
		"network { uplink pci 0000:03:00.0; subnet 10.137.0.0/24; subnet6 fd00::/64 }\n"
		"vm a {\n    address 10.137.0.2\n    address6 fd00::2\n    mac 02:00:00:00:00:01\n"
		"    allow tcp to $lan, vm b port 1-2, 3 log until 2099-01-01T00:00Z comment \"c\"\n"
		"    allow icmp type echo-request\n}\n"
		"vm b { address 10.137.0.3; allow all }\n";
	char buf[512];
	unsigned seed = 1;
	size_t i, j;

	/* Every prefix of a valid file: cut in the middle of every token. */
	for (i = 0; i <= sizeof(valid) - 1; i++)
		check_no_crash(valid, i);
	/* Random bytes, and random bytes over a valid file. */
	for (i = 0; i < 300; i++) {
		size_t len = (i * 7) % sizeof(buf);
		for (j = 0; j < len; j++) {
			seed = seed * 1103515245 + 12345;
			buf[j] = (char)(seed >> 16);
		}
		check_no_crash(buf, len);
		memcpy(buf, valid, sizeof(valid) - 1);
		for (j = 0; j < 4; j++) {
			seed = seed * 1103515245 + 12345;
			buf[(seed >> 8) % (sizeof(valid) - 1)] = (char)(seed >> 20);
		}
		check_no_crash(buf, sizeof(valid) - 1);
	}
	memset(buf, 0, sizeof(buf));
	check_no_crash(buf, sizeof(buf));
	memset(buf, '{', sizeof(buf));
	check_no_crash(buf, sizeof(buf));
	memset(buf, '"', sizeof(buf));
	check_no_crash(buf, sizeof(buf));
	check_no_crash("vm a { allow to", 15);
	check_no_crash("define a = $a", 13);
	check_no_crash(NULL, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unknown_statement),
		cmocka_unit_test(test_stray_brace),
		cmocka_unit_test(test_missing_brace),
		cmocka_unit_test(test_unclosed_block),
		cmocka_unit_test(test_end_of_statement),
		cmocka_unit_test(test_unterminated_string),
		cmocka_unit_test(test_control_in_string),
		cmocka_unit_test(test_string_too_long),
		cmocka_unit_test(test_bad_byte),
		cmocka_unit_test(test_dollar_alone),
		cmocka_unit_test(test_vm_name_invalid),
		cmocka_unit_test(test_vm_name_too_long),
		cmocka_unit_test(test_vm_name_reserved),
		cmocka_unit_test(test_vm_name_dnsmasq_tag),
		cmocka_unit_test(test_define_name_reserved),
		cmocka_unit_test(test_network_twice),
		cmocka_unit_test(test_network_setting_twice),
		cmocka_unit_test(test_uplink_kind),
		cmocka_unit_test(test_uplink_bad_pci),
		cmocka_unit_test(test_uplink_bad_tap),
		cmocka_unit_test(test_subnet_ipv6),
		cmocka_unit_test(test_subnet_too_large),
		cmocka_unit_test(test_subnet_too_small),
		cmocka_unit_test(test_subnet6_too_small),
		cmocka_unit_test(test_dns_network),
		cmocka_unit_test(test_policy_value),
		cmocka_unit_test(test_log_value),
		cmocka_unit_test(test_vm_setting_unknown),
		cmocka_unit_test(test_vm_setting_twice),
		cmocka_unit_test(test_address_network),
		cmocka_unit_test(test_address_v6),
		cmocka_unit_test(test_mac_invalid),
		cmocka_unit_test(test_mac_multicast),
		cmocka_unit_test(test_mac_reserved),
		cmocka_unit_test(test_define_twice),
		cmocka_unit_test(test_define_any),
		cmocka_unit_test(test_define_self),
		cmocka_unit_test(test_undefined_var),
		cmocka_unit_test(test_var_before_define),
		cmocka_unit_test(test_too_many_dests),
		cmocka_unit_test(test_host_bits),
		cmocka_unit_test(test_dest_bare_name),
		cmocka_unit_test(test_dest_invalid),
		cmocka_unit_test(test_deny_dns),
		cmocka_unit_test(test_all_with_to),
		cmocka_unit_test(test_dns_with_port),
		cmocka_unit_test(test_any_mixed),
		cmocka_unit_test(test_rule_clause_twice),
		cmocka_unit_test(test_port_needs_tcp_udp),
		cmocka_unit_test(test_type_needs_icmp),
		cmocka_unit_test(test_type_needs_icmp_no_proto),
		cmocka_unit_test(test_port_zero),
		cmocka_unit_test(test_port_too_big),
		cmocka_unit_test(test_port_range_empty),
		cmocka_unit_test(test_port_range_spaced_empty),
		cmocka_unit_test(test_icmp_type_range),
		cmocka_unit_test(test_icmp_type_unknown),
		cmocka_unit_test(test_until_bad_time),
		cmocka_unit_test(test_comment_not_string),
		cmocka_unit_test(test_tab_caret),
		cmocka_unit_test(test_unknown_vm),
		cmocka_unit_test(test_self_destination),
		cmocka_unit_test(test_vm_twice),
		cmocka_unit_test(test_no_address),
		cmocka_unit_test(test_no_subnet),
		cmocka_unit_test(test_address_outside),
		cmocka_unit_test(test_address_network_addr),
		cmocka_unit_test(test_address_broadcast),
		cmocka_unit_test(test_address_firewall),
		cmocka_unit_test(test_address_duplicate),
		cmocka_unit_test(test_address6_no_subnet6),
		cmocka_unit_test(test_address6_outside),
		cmocka_unit_test(test_address6_duplicate),
		cmocka_unit_test(test_mac_duplicate),
		cmocka_unit_test(test_owner_twice),
		cmocka_unit_test(test_owner_invalid),
		cmocka_unit_test(test_all_errors_reported),
		cmocka_unit_test(test_checker_errors_all_reported),
		cmocka_unit_test(test_parse_and_check_errors_together),
		cmocka_unit_test(test_error_cap),
		cmocka_unit_test(test_warning_is_not_an_error),
		cmocka_unit_test(test_deny_to_a_name_warns),
		cmocka_unit_test(test_diag_quoting),
		cmocka_unit_test(test_garbage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

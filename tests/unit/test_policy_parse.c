/* test_policy_parse: moat.conf that is right parses to the policy it says,
 * and what policy_print writes parses back to the same text. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "policy/policy.h"

#define NOW 1764000000   /* 2025-11-24T16:00Z */
#define NET "network { subnet 10.137.0.0/24 }\n"

static struct diags diags;

static struct policy *load(const char *text)
{
	struct policy *p;

	diags_free(&diags);
	diags_init(&diags, "moat.conf", text, strlen(text));
	p = policy_load("moat.conf", text, strlen(text), NOW, &diags);
	if (!p)
		fail_msg("did not load:\n%s", diags.out);
	return p;
}

static char *print(const struct policy *p, const char *only_vm)
{
	char *text = NULL;
	size_t len;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	assert_true(policy_print(f, p, only_vm));
	fclose(f);
	return text;
}

static char *read_file(const char *path)
{
	size_t len;
	char *text = policy_read_file(path, &len);

	if (!text)
		fail_msg("%s: %s", path, strerror(errno));
	assert_int_equal(strlen(text), len);
	return text;
}

static void assert_addr(const struct addr *a, const char *want)
{
	char buf[MOAT_ADDR_STRLEN];

	addr_format(a, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

/* print, parse, print: the same text; and the same shape of policy. */
static void assert_round_trip(const struct policy *p)
{
	char *text = print(p, NULL), *again;
	struct policy *q = load(text);
	size_t i, j;

	again = print(q, NULL);
	assert_string_equal(text, again);
	assert_int_equal(p->nvms, q->nvms);
	assert_int_equal(p->net.has, q->net.has);
	for (i = 0; i < p->nvms; i++) {
		size_t live = 0;
		for (j = 0; j < p->vms[i].nrules; j++)
			live += !p->vms[i].rules[j].expired;
		assert_int_equal(live, q->vms[i].nrules);
		assert_memory_equal(p->vms[i].mac, q->vms[i].mac, 6);
	}
	free(text);
	free(again);
	policy_free(q);
}

static void test_spec_example(void **state)
{
	char *text = read_file("examples/moat.conf");
	struct policy *p = load(text);
	const struct vm *v;
	const struct rule *r;

	assert_string_equal(diags.out, "");
	assert_int_equal(p->net.has, NET_HAS_UPLINK | NET_HAS_SUBNET | NET_HAS_DNS |
			 NET_HAS_POLICY | NET_HAS_LOG);
	assert_int_equal(p->net.uplink, UPLINK_PCI);
	assert_string_equal(p->net.uplink_arg, "0000:03:00.0");
	assert_addr(&p->net.subnet, "10.137.0.0/24");
	assert_int_equal(p->net.ndns, 2);
	assert_addr(&p->net.dns[1], "149.112.112.112");
	assert_int_equal(p->net.deny, DENY_REJECT);
	assert_true(p->net.log_denied);

	assert_int_equal(p->nvms, 5);
	v = &p->vms[0];
	assert_string_equal(v->name, "dev");
	assert_addr(&v->addr, "10.137.0.10");
	assert_int_equal(v->nrules, 5);
	assert_int_equal(v->rules[0].kind, RULE_DNS);
	assert_int_equal(v->rules[1].proto, PROTO_ICMP);
	r = &v->rules[2];
	assert_true(r->to_any);
	assert_int_equal(r->ndests, 0);
	assert_int_equal(r->nports, 2);
	assert_int_equal(r->ports[1].lo, 443);
	assert_int_equal(r->number, 3);
	assert_int_equal(r->loc.line, 16);
	assert_int_equal(r->loc.col, 5);
	assert_int_equal(v->rules[3].dests[0].kind, DEST_HOST);
	assert_string_equal(v->rules[3].dests[0].name, "github.com");

	assert_string_equal(p->vms[1].rules[1].comment, "card number lives here");

	r = &p->vms[2].rules[0];
	assert_int_equal(r->action, ACT_DENY);
	assert_int_equal(r->proto, PROTO_ANY);
	assert_int_equal(r->ndests, 3);
	assert_addr(&r->dests[2].addr, "10.0.0.0/8");
	assert_int_equal(r->dests[2].loc.line, 29);   /* the $lan, not the define */
	assert_int_equal(r->dests[2].loc.col, 13);
	assert_int_equal(r->dests[2].loc.len, 4);
	assert_true(r->log);
	assert_int_equal(p->vms[2].rules[1].kind, RULE_ALL);

	r = &p->vms[3].rules[2];
	assert_int_equal(r->dests[0].kind, DEST_VM);
	assert_int_equal(r->dests[0].vm, 0);
	assert_int_equal(p->vms[4].nrules, 0);

	assert_round_trip(p);
	policy_free(p);
	free(text);
}

static void test_rule_forms(void **state)
{
	struct policy *p = load(NET
		"vm a {\n"
		"    address 10.137.0.2\n"
		"    allow all\n"
		"    deny all log\n"
		"    allow dns comment \"resolver\"\n"
		"    allow tcp\n"
		"    deny udp to 192.0.2.1, 2001:db8::/32\n"
		"    allow port 500, 4500\n"
		"    allow tcp to any port 8000-8080, 22, 1 - 3\n"
		"    allow icmp type echo-request, 3, 255\n"
		"    allow\n"
		"    allow tcp to vm b port 80 log until 2099-01-01T00:00Z comment \"\"\n"
		"    allow udp port 53 to 9.9.9.9\n"
		"}\n"
		"vm b { address 10.137.0.3; allow tcp to WWW.Example.COM port 443; deny all }\n");
	const struct rule *r = p->vms[0].rules;

	assert_int_equal(p->vms[0].nrules, 11);
	assert_int_equal(r[0].kind, RULE_ALL);
	assert_int_equal(r[0].action, ACT_ALLOW);
	assert_int_equal(r[1].kind, RULE_ALL);
	assert_int_equal(r[1].action, ACT_DENY);
	assert_true(r[1].log);
	assert_int_equal(r[2].kind, RULE_DNS);
	assert_string_equal(r[2].comment, "resolver");
	assert_int_equal(r[3].kind, RULE_MATCH);
	assert_int_equal(r[3].proto, PROTO_TCP);
	assert_false(r[3].to_any);
	assert_int_equal(r[3].ndests, 0);
	assert_int_equal(r[4].ndests, 2);
	assert_int_equal(r[4].dests[1].addr.family, AF_INET6);
	assert_int_equal(r[5].proto, PROTO_ANY);   /* the compiler makes it tcp and udp */
	assert_int_equal(r[5].nports, 2);
	assert_int_equal(r[6].nports, 3);
	assert_int_equal(r[6].ports[0].lo, 8000);
	assert_int_equal(r[6].ports[0].hi, 8080);
	assert_int_equal(r[6].ports[2].lo, 1);
	assert_int_equal(r[6].ports[2].hi, 3);
	assert_int_equal(r[7].ntypes, 3);
	assert_int_equal(r[7].types[0], 8);
	assert_int_equal(r[7].types[2], 255);
	assert_int_equal(r[8].kind, RULE_MATCH);
	assert_int_equal(r[8].proto, PROTO_ANY);
	assert_int_equal(r[9].dests[0].vm, 1);
	assert_true(r[9].has_until);
	assert_int_equal(r[9].until, 4070908800);
	assert_false(r[9].expired);
	assert_string_equal(r[9].comment, "");
	assert_int_equal(r[10].nports, 1);
	assert_int_equal(r[10].ndests, 1);
	assert_string_equal(p->vms[1].rules[0].dests[0].name, "www.example.com");
	assert_int_equal(p->vms[1].nrules, 2);
	assert_round_trip(p);
	policy_free(p);
}

/* `owner`: a user, or user:group, names or ids, whatever the lexer takes
 * the atom for; shown with what it means, and read back the same. */
static void test_owner(void **state)
{
	struct policy *p = load(NET
		"vm a { address 10.137.0.2; owner libvirt-qemu:kvm }\n"
		"vm b { address 10.137.0.3; owner alice }\n"
		"vm c { address 10.137.0.4; owner 1000:1000 }\n"
		"vm d { address 10.137.0.5; owner 1000 }\n"
		"vm e { address 10.137.0.6; owner Bob_2.x:Users }\n"
		"vm f { address 10.137.0.7 }\n");

	assert_true(p->vms[0].has_owner);
	assert_string_equal(p->vms[0].owner_user, "libvirt-qemu");
	assert_string_equal(p->vms[0].owner_group, "kvm");
	assert_int_equal(p->vms[0].owner_loc.line, 2);
	assert_int_equal(p->vms[0].owner_loc.col, 34);
	assert_int_equal(p->vms[0].owner_loc.len, 16);
	assert_string_equal(p->vms[1].owner_user, "alice");
	assert_string_equal(p->vms[1].owner_group, "");
	assert_string_equal(p->vms[2].owner_user, "1000");
	assert_string_equal(p->vms[2].owner_group, "1000");
	assert_string_equal(p->vms[3].owner_user, "1000");
	assert_string_equal(p->vms[4].owner_user, "Bob_2.x");
	assert_string_equal(p->vms[4].owner_group, "Users");
	assert_false(p->vms[5].has_owner);
	char *text = print(p, "a");
	assert_non_null(strstr(text, "    owner libvirt-qemu:kvm "));
	assert_non_null(strstr(text, "# only user libvirt-qemu and group kvm reach its link on the host (0660)\n"));
	free(text);
	text = print(p, "b");
	assert_non_null(strstr(text, "# only user alice reaches its link on the host (0600)\n"));
	free(text);
	text = print(p, "f");
	assert_null(strstr(text, "owner"));
	free(text);
	assert_round_trip(p);
	policy_free(p);
}

static void test_network_settings(void **state)
{
	struct policy *p = load(
		"network {\n"
		"    uplink tap moat_up.0\n"
		"    subnet 172.20.0.0/16\n"
		"    subnet6 fd00:6d::/64\n"
		"    dns 2620:fe::fe\n"
		"    policy drop\n"
		"    log denied\n"
		"}\n");

	assert_int_equal(p->net.has, NET_HAS_UPLINK | NET_HAS_SUBNET | NET_HAS_SUBNET6 |
			 NET_HAS_DNS | NET_HAS_POLICY | NET_HAS_LOG);
	assert_int_equal(p->net.uplink, UPLINK_TAP);
	assert_string_equal(p->net.uplink_arg, "moat_up.0");
	assert_addr(&p->net.subnet6, "fd00:6d::/64");
	assert_int_equal(p->net.deny, DENY_DROP);
	assert_int_equal(p->net.loc.line, 1);
	assert_round_trip(p);
	policy_free(p);

	p = load("network { uplink user }\n");
	assert_int_equal(p->net.has, NET_HAS_UPLINK);
	assert_int_equal(p->net.uplink, UPLINK_USER);
	assert_int_equal(p->nvms, 0);
	policy_free(p);

	p = load("");
	assert_int_equal(p->net.has, 0);
	assert_int_equal(p->net.uplink, UPLINK_USER);
	policy_free(p);
}

static void test_vm_settings(void **state)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef };
	static const uint8_t app[6] = { 0x02, 0x6d, 0x61, 0x00, 0x01, 0x0a };
	static const uint8_t fw[6] = { 0x02, 0x6d, 0x66, 0x00, 0x01, 0x0a };
	uint8_t got[6];
	struct policy *p = load(
		"network { subnet 10.137.0.0/16; subnet6 fd00::/64 }\n"
		"vm a {\n    address 10.137.1.10\n    address6 fd00::a\n    mac 52:54:00:AB:cd:ef\n}\n"
		"vm b\n{\n    address 10.137.1.11\n}\n");
	struct addr gw;

	assert_true(p->vms[0].has_mac);
	assert_memory_equal(p->vms[0].mac, mac, 6);
	assert_addr(&p->vms[0].addr6, "fd00::a");
	assert_int_equal(p->vms[0].addr_loc.line, 3);
	assert_int_equal(p->vms[0].addr_loc.col, 13);
	policy_firewall_mac(&p->vms[0], got);
	assert_memory_equal(got, fw, 6);
	policy_default_mac(&p->vms[0].addr, got);
	assert_memory_equal(got, app, 6);
	assert_false(p->vms[1].has_mac);
	assert_int_equal(p->vms[1].mac[5], 11);
	policy_gateway(p, &gw);
	assert_addr(&gw, "10.137.0.1");
	policy_gateway6(p, &gw);
	assert_addr(&gw, "fd00::1");
	assert_int_equal(policy_find_vm(p, "b"), 1);
	assert_int_equal(policy_find_vm(p, "c"), -1);
	assert_round_trip(p);
	policy_free(p);
}

static void test_defines(void **state)
{
	struct policy *p = load(
		"define lan = 10.0.0.0/8, 192.168.0.0/16\n"
		"define all-private = $lan, fc00::/7, Intranet.Example.com\n"
		NET
		"vm a {\n    address 10.137.0.2\n    deny to 203.0.113.9, $all-private\n}\n");
	const struct rule *r = &p->vms[0].rules[0];

	assert_int_equal(r->ndests, 5);
	assert_addr(&r->dests[1].addr, "10.0.0.0/8");
	assert_string_equal(r->dests[4].name, "intranet.example.com");
	assert_int_equal(r->dests[4].loc.line, 6);
	assert_int_equal(r->dests[4].loc.col, 26);
	assert_int_equal(r->dests[4].loc.len, 12);
	assert_round_trip(p);
	policy_free(p);
}

static void test_expired_rule(void **state)
{
	struct policy *p = load(NET
		"vm a {\n    address 10.137.0.2\n"
		"    allow tcp port 22 until 2020-01-01T00:00Z\n"
		"    allow tcp port 443 until 2099-01-01T10:20:30Z\n}\n");
	struct policy *q;
	char *text;

	assert_int_equal(diags.nerrors, 0);
	assert_int_equal(diags.nwarnings, 1);
	assert_string_equal(diags.out,
		"moat.conf:4:29: warning: rule expired at 2020-01-01T00:00Z: it is ignored\n"
		"    allow tcp port 22 until 2020-01-01T00:00Z\n"
		"                            ^~~~~~~~~~~~~~~~~\n");
	assert_true(p->vms[0].rules[0].expired);
	assert_false(p->vms[0].rules[1].expired);
	text = print(p, NULL);
	assert_non_null(strstr(text,
		"    # allow tcp port 22 until 2020-01-01T00:00Z  # expired: no longer in force\n"));
	assert_non_null(strstr(text, "until 2099-01-01T10:20:30Z"));
	q = load(text);   /* the expired rule is gone, the other stays */
	assert_int_equal(q->vms[0].nrules, 1);
	assert_int_equal(q->vms[0].rules[0].ports[0].lo, 443);
	policy_free(q);
	free(text);
	policy_free(p);
}

static void test_print_words(void **state)
{
	struct policy *p = load(NET
		"vm dev {\n    address 10.137.0.10\n    allow dns\n"
		"    allow tcp to any port 22, 443\n}\n"
		"vm com {\n    address 10.137.0.13\n    allow tcp to vm dev port 8080\n}\n"
		"vm personal { address 10.137.0.14 }\n");
	char *text = print(p, NULL);

	assert_string_equal(text,
		"network {\n"
		"    # uplink user                       # the default: user-mode networking\n"
		"    subnet 10.137.0.0/24                # app VM addresses; the firewall VM is 10.137.0.1\n"
		"    # dns                               # the default: the resolvers of the netvm's DHCP lease\n"
		"    # policy reject                     # denied: tcp gets a reset, the rest icmp admin-prohibited\n"
		"}\n"
		"\n"
		"vm dev {                                # 2 rules, first match wins, the rest denied\n"
		"    address 10.137.0.10                 # default MAC 02:6d:61:00:00:0a, firewall side 02:6d:66:00:00:0a\n"
		"    allow dns                           # DNS to the firewall 10.137.0.1\n"
		"    allow tcp to any port 22, 443       # tcp to any outside address, ports 22, 443\n"
		"}\n"
		"\n"
		"vm com {                                # 1 rule, first match wins, the rest denied\n"
		"    address 10.137.0.13                 # default MAC 02:6d:61:00:00:0d, firewall side 02:6d:66:00:00:0d\n"
		"    allow tcp to vm dev port 8080       # may open tcp to VM dev (10.137.0.10) port 8080\n"
		"}\n"
		"\n"
		"vm personal {                           # no rules: this VM has no network at all\n"
		"    address 10.137.0.14                 # default MAC 02:6d:61:00:00:0e, firewall side 02:6d:66:00:00:0e\n"
		"}\n");
	free(text);

	text = print(p, "com");
	assert_string_equal(text,
		"vm com {                                # 1 rule, first match wins, the rest denied\n"
		"    address 10.137.0.13                 # default MAC 02:6d:61:00:00:0d, firewall side 02:6d:66:00:00:0d\n"
		"    allow tcp to vm dev port 8080       # may open tcp to VM dev (10.137.0.10) port 8080\n"
		"}\n");
	free(text);
	assert_false(policy_print(stdout, p, "nosuchvm"));
	policy_free(p);
}

static void test_round_trip_examples(void **state)
{
	DIR *dir = opendir("tests/golden/conf");
	struct dirent *e;
	int n = 0;

	assert_non_null(dir);
	while ((e = readdir(dir))) {
		char path[512], *text;
		struct policy *p;
		size_t len = strlen(e->d_name);

		if (len < 5 || strcmp(e->d_name + len - 5, ".conf") != 0)
			continue;
		assert_true(snprintf(path, sizeof(path), "tests/golden/conf/%s", e->d_name) <
			    (int)sizeof(path));
		text = read_file(path);
		p = load(text);
		if (diags.out[0])
			fail_msg("%s: %s", path, diags.out);
		assert_round_trip(p);
		policy_free(p);
		free(text);
		n++;
	}
	closedir(dir);
	assert_true(n >= 12);
}

static void test_lexical(void **state)
{
	/* Comments, ';' and one-line blocks, CRLF, tabs, no final newline. */
	struct policy *p = load(
		"# top\r\n"
		"network { subnet 10.137.0.0/24 }   # one line\r\n"
		"vm a {\taddress 10.137.0.2 ; allow dns;allow tcp to x-1.example port 1-2#c\n"
		"\n\n  }\n"
		"vm a-2 { address 10.137.0.3 }");

	assert_int_equal(p->nvms, 2);
	assert_int_equal(p->vms[0].nrules, 2);
	assert_string_equal(p->vms[0].rules[1].dests[0].name, "x-1.example");
	assert_string_equal(p->vms[1].name, "a-2");
	policy_free(p);
}

static void test_addr(void **state)
{
	struct addr a, b;
	bool host_bits;
	char buf[MOAT_ADDR_STRLEN];

	assert_true(addr_parse("10.0.0.0/8", &a, &host_bits));
	assert_false(host_bits);
	assert_int_equal(a.prefix, 8);
	assert_true(addr_parse("10.1.2.3", &b, NULL));
	assert_int_equal(b.prefix, 32);
	assert_true(addr_contains(&a, &b));
	assert_false(addr_contains(&b, &a));
	assert_false(addr_parse("10.0.0.1/8", &b, &host_bits));
	assert_true(host_bits);
	assert_false(addr_parse("10.0.0.0/33", &b, &host_bits));
	assert_false(host_bits);
	assert_false(addr_parse("10.0.0", &b, NULL));
	assert_false(addr_parse("10.0.0.0/", &b, NULL));
	assert_false(addr_parse("10.0.0.0/8x", &b, NULL));
	assert_false(addr_parse("", &b, NULL));
	assert_true(addr_parse("2001:DB8::/32", &a, NULL));
	addr_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, "2001:db8::/32");
	assert_true(addr_parse("2001:db8:ffff::1", &b, NULL));
	assert_true(addr_contains(&a, &b));
	assert_true(addr_parse("::/0", &a, NULL));
	assert_true(addr_contains(&a, &b));
	assert_true(addr_parse("0.0.0.0/0", &a, NULL));
	assert_false(addr_contains(&a, &b));
	assert_true(addr_parse("2001:db8:ffff:0::1", &a, NULL));
	assert_true(addr_equal(&a, &b));
	assert_true(addr_parse("2001:db8:ffff::1/128", &a, NULL));
	assert_true(addr_equal(&a, &b));
	assert_false(addr_parse("2001:db8::1/129", &a, NULL));
	addr_format(&b, buf, 8);
	assert_int_equal(strlen(buf), 7);
}

static void test_read_file_missing(void **state)
{
	size_t len;

	assert_null(policy_read_file("/nonexistent/moat.conf", &len));
	assert_int_equal(errno, ENOENT);
	assert_null(policy_read_file("/", &len));
	assert_int_equal(errno, EISDIR);
}

static int teardown(void **state)
{
	diags_free(&diags);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_spec_example, teardown),
		cmocka_unit_test_teardown(test_rule_forms, teardown),
		cmocka_unit_test_teardown(test_network_settings, teardown),
		cmocka_unit_test_teardown(test_vm_settings, teardown),
		cmocka_unit_test_teardown(test_defines, teardown),
		cmocka_unit_test_teardown(test_expired_rule, teardown),
		cmocka_unit_test_teardown(test_print_words, teardown),
		cmocka_unit_test_teardown(test_round_trip_examples, teardown),
		cmocka_unit_test_teardown(test_owner, teardown),
		cmocka_unit_test_teardown(test_lexical, teardown),
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_read_file_missing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

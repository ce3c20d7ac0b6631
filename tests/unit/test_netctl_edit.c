/* test_netctl_edit: netctl's edits of moat.conf as text. Every case states
 * the whole file after the edit (so any other byte that moved is a failure)
 * and loads it with the real parser and checker. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "host/netctl-edit-text.h"

#define NOW 1764000000   /* 2025-11-24T16:00Z */
#define NET "network { subnet 10.137.0.0/24 }\n"

static struct edit_text text_of(const char *s)
{
	struct edit_text t = { strdup(s), strlen(s) };
	assert_non_null(t.s);
	return t;
}

static struct policy *load(const struct edit_text *t)
{
	struct diags d;
	diags_init(&d, "moat.conf", t->s, t->len);
	struct policy *p = policy_load("moat.conf", t->s, t->len, NOW, &d);
	if (!p)
		fail_msg("did not load:\n%s\n---\n%s", d.out, t->s);
	diags_free(&d);
	return p;
}

static void assert_text(struct edit_text *t, const char *want)
{
	assert_string_equal(t->s, want);
	assert_int_equal(t->len, strlen(want));
	policy_free(load(t));
	free(t->s);
}

static void append(const char *before, const char *vm, const char *rule, const char *after)
{
	struct edit_text t = text_of(before);
	char err[EDIT_ERR_MAX] = "";

	if (!edit_append_rule(&t, vm, rule, err))
		fail_msg("append to %s: %s", vm, err);
	assert_text(&t, after);
}

static void test_append_multiline(void **state)
{
	append("# moat.conf\n" NET "\n"
	       "vm dev {\n"
	       "    address 10.137.0.10   # the laptop\n"
	       "    allow dns\n"
	       "}\n"
	       "\n"
	       "# the last one\n"
	       "vm shop {\n"
	       "    address 10.137.0.11\n"
	       "}\n",
	       "dev", "allow tcp to any port 22",
	       "# moat.conf\n" NET "\n"
	       "vm dev {\n"
	       "    address 10.137.0.10   # the laptop\n"
	       "    allow dns\n"
	       "    allow tcp to any port 22\n"
	       "}\n"
	       "\n"
	       "# the last one\n"
	       "vm shop {\n"
	       "    address 10.137.0.11\n"
	       "}\n");
}

static void test_append_one_line(void **state)
{
	append(NET "vm x { address 10.137.0.9 }\nvm y { address 10.137.0.8 }\n",
	       "x", "allow dns",
	       NET "vm x { address 10.137.0.9\n    allow dns\n}\nvm y { address 10.137.0.8 }\n");
	/* a comment after the '}' stays after it; the file's indentation is used */
	append(NET "vm a {\n\taddress 10.137.0.2\n}\nvm x { address 10.137.0.9; allow dns }  # short\n",
	       "x", "deny all",
	       NET "vm a {\n\taddress 10.137.0.2\n}\nvm x { address 10.137.0.9; allow dns\n\tdeny all\n}  # short\n");
}

static void test_append_close_after_text(void **state)
{
	append(NET "vm x {\n  address 10.137.0.9\n  allow dns }\n",
	       "x", "allow icmp",
	       NET "vm x {\n  address 10.137.0.9\n  allow dns\n  allow icmp\n}\n");
	append(NET "  vm x {\n      address 10.137.0.9 }\n",
	       "x", "allow icmp",
	       NET "  vm x {\n      address 10.137.0.9\n      allow icmp\n  }\n");
}

static void test_append_last_without_newline(void **state)
{
	append(NET "vm x {\n    address 10.137.0.9\n}",
	       "x", "allow dns",
	       NET "vm x {\n    address 10.137.0.9\n    allow dns\n}");
	append(NET "vm x { address 10.137.0.9 }",
	       "x", "allow dns",
	       NET "vm x { address 10.137.0.9\n    allow dns\n}");
}

static void test_append_tabs_and_comments(void **state)
{
	append(NET "vm x {\n"
	       "\taddress 10.137.0.9\n"
	       "\tallow dns\n"
	       "    # allow all    (not yet)\n"
	       "\n"
	       "} # end of x\n"
	       "# after x\n",
	       "x", "allow icmp",
	       NET "vm x {\n"
	       "\taddress 10.137.0.9\n"
	       "\tallow dns\n"
	       "    # allow all    (not yet)\n"
	       "\n"
	       "\tallow icmp\n"
	       "} # end of x\n"
	       "# after x\n");
}

static void test_append_crlf(void **state)
{
	append("network {\r\n    subnet 10.137.0.0/24\r\n}\r\n\r\nvm x {\r\n    address 10.137.0.9\r\n}\r\n",
	       "x", "allow dns",
	       "network {\r\n    subnet 10.137.0.0/24\r\n}\r\n\r\nvm x {\r\n    address 10.137.0.9\r\n"
	       "    allow dns\r\n}\r\n");
	append("network {\r\n    subnet 10.137.0.0/24\r\n}\r\nvm x { address 10.137.0.9 }\r\n",
	       "x", "allow dns",
	       "network {\r\n    subnet 10.137.0.0/24\r\n}\r\nvm x { address 10.137.0.9\r\n"
	       "    allow dns\r\n}\r\n");
}

static void test_append_finds_the_right_block(void **state)
{
	/* braces and names in comments and strings are not blocks */
	append(NET "# vm x { is not here }\n"
	       "vm xy {\n    address 10.137.0.2\n    allow tcp to any port 1 comment \"vm x { }\"\n}\n"
	       "vm x-1 {\n    address 10.137.0.3\n}\n"
	       "vm x\n{\n    address 10.137.0.4\n}\n",
	       "x", "allow dns",
	       NET "# vm x { is not here }\n"
	       "vm xy {\n    address 10.137.0.2\n    allow tcp to any port 1 comment \"vm x { }\"\n}\n"
	       "vm x-1 {\n    address 10.137.0.3\n}\n"
	       "vm x\n{\n    address 10.137.0.4\n    allow dns\n}\n");
}

static void test_append_refused(void **state)
{
	struct edit_text t = text_of(NET "vm x { address 10.137.0.9 }\n");
	char err[EDIT_ERR_MAX];

	assert_false(edit_append_rule(&t, "y", "allow dns", err));
	assert_string_equal(err, "no VM 'y' in the file");
	assert_false(edit_append_rule(&t, "x", "allow dns\nvm y {", err));
	assert_string_equal(t.s, NET "vm x { address 10.137.0.9 }\n");
	free(t.s);
}

static void test_remove(void **state)
{
	static const char *three = NET "\n# first\nvm a {\n    address 10.137.0.2\n}\n\n"
		"# second\nvm b {\n    address 10.137.0.3\n} # b ends\n\n"
		"vm c {\n    address 10.137.0.4\n}\n";
	struct {
		const char *vm, *after;
	} cases[] = {
		{ "a", NET "\n# first\n\n"
		       "# second\nvm b {\n    address 10.137.0.3\n} # b ends\n\n"
		       "vm c {\n    address 10.137.0.4\n}\n" },
		{ "b", NET "\n# first\nvm a {\n    address 10.137.0.2\n}\n\n"
		       "# second\n\n"
		       "vm c {\n    address 10.137.0.4\n}\n" },
		{ "c", NET "\n# first\nvm a {\n    address 10.137.0.2\n}\n\n"
		       "# second\nvm b {\n    address 10.137.0.3\n} # b ends\n" },
	};
	char err[EDIT_ERR_MAX];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct edit_text t = text_of(three);
		assert_true(edit_remove_vm(&t, cases[i].vm, err));
		assert_text(&t, cases[i].after);
	}

	struct edit_text t = text_of(NET "vm a { address 10.137.0.2 }\nvm b { address 10.137.0.3 }");
	assert_true(edit_remove_vm(&t, "b", err));
	assert_text(&t, NET "vm a { address 10.137.0.2 }\n");
	t = text_of(NET "vm a { address 10.137.0.2 }; vm b { address 10.137.0.3 }\n");
	assert_true(edit_remove_vm(&t, "a", err));
	assert_text(&t, NET "; vm b { address 10.137.0.3 }\n");
	t = text_of(NET "vm a {\r\n address 10.137.0.2\r\n}\r\n\r\nvm b { address 10.137.0.3 }\r\n");
	assert_true(edit_remove_vm(&t, "a", err));
	assert_text(&t, NET "\r\nvm b { address 10.137.0.3 }\r\n");

	t = text_of(three);
	assert_false(edit_remove_vm(&t, "d", err));
	assert_string_equal(err, "no VM 'd' in the file");
	assert_string_equal(t.s, three);
	free(t.s);
}

static void add(const char *before, const char *vm, const char *addr, const char *after)
{
	struct edit_text t = text_of(before);
	char err[EDIT_ERR_MAX] = "";
	struct addr a;

	assert_true(addr_parse(addr, &a, NULL));
	if (!edit_add_vm(&t, vm, &a, err))
		fail_msg("add %s: %s", vm, err);
	assert_text(&t, after);
}

static void test_add_vm(void **state)
{
	add(NET, "web", "10.137.0.2",
	    NET "\nvm web {\n    address 10.137.0.2\n}\n");
	add(NET "vm a {\n\taddress 10.137.0.3\n}", "web", "10.137.0.2",
	    NET "vm a {\n\taddress 10.137.0.3\n}\n\nvm web {\n\taddress 10.137.0.2\n}\n");
	add(NET "\n", "web", "10.137.0.2",
	    NET "\nvm web {\n    address 10.137.0.2\n}\n");
	add("network {\r\n  subnet 10.137.0.0/24\r\n}\r\n", "web", "10.137.0.2",
	    "network {\r\n  subnet 10.137.0.0/24\r\n}\r\n\r\nvm web {\r\n  address 10.137.0.2\r\n}\r\n");

	struct edit_text t = text_of(NET "vm web { address 10.137.0.2 }\n");
	char err[EDIT_ERR_MAX];
	struct addr a;
	assert_true(addr_parse("10.137.0.3", &a, NULL));
	assert_false(edit_add_vm(&t, "web", &a, err));
	assert_string_equal(err, "VM 'web' is already in the file");
	assert_false(edit_add_vm(&t, "a-name-too-long-1", &a, err));
	assert_string_equal(err, "VM name 'a-name-too-long-1' is longer than 15 characters (it is also an interface name)");
	assert_false(edit_add_vm(&t, "Web", &a, err));
	assert_false(edit_add_vm(&t, "uplink", &a, err));
	assert_string_equal(err, "VM name 'uplink' is reserved");
	assert_string_equal(t.s, NET "vm web { address 10.137.0.2 }\n");
	free(t.s);
}

static void next(const char *conf, const char *want)
{
	struct edit_text t = text_of(conf);
	struct policy *p = load(&t);
	char err[EDIT_ERR_MAX] = "", got[MOAT_ADDR_STRLEN];
	struct addr a;

	if (!want) {
		assert_false(edit_next_address(p, &a, err));
		assert_string_equal(err, "no free address left in subnet 10.137.0.0/30");
	} else {
		if (!edit_next_address(p, &a, err))
			fail_msg("%s", err);
		addr_format(&a, got, sizeof(got));
		assert_string_equal(got, want);
	}
	policy_free(p);
	free(t.s);
}

static void test_next_address(void **state)
{
	next(NET, "10.137.0.2");
	next(NET "vm a { address 10.137.0.14 }\nvm b { address 10.137.0.10 }\n", "10.137.0.15");
	next(NET "vm a { address 10.137.0.254 }\nvm b { address 10.137.0.2 }\n", "10.137.0.3");
	next("network { subnet 10.137.0.0/30 }\nvm a { address 10.137.0.2 }\n", NULL);
	next("network { subnet 10.137.0.0/29 }\nvm a { address 10.137.0.6 }\n", "10.137.0.2");

	struct policy p = { 0 };
	char err[EDIT_ERR_MAX];
	struct addr a;
	assert_false(edit_next_address(&p, &a, err));
	assert_string_equal(err, "no IPv4 subnet in the network block to take an address from");
}

static void test_until(void **state)
{
	char buf[MOAT_TIME_STRLEN], err[EDIT_ERR_MAX];

	assert_true(edit_until("10m", NOW, buf, err));
	assert_string_equal(buf, "2025-11-24T16:10Z");
	assert_true(edit_until("2h", NOW, buf, err));
	assert_string_equal(buf, "2025-11-24T18:00Z");
	assert_true(edit_until("1d", NOW, buf, err));
	assert_string_equal(buf, "2025-11-25T16:00Z");
	assert_true(edit_until("90s", NOW, buf, err));
	assert_string_equal(buf, "2025-11-24T16:01:30Z");
	assert_true(edit_until("3650d", NOW, buf, err));
	static const char *bad[] = { "10", "m", "0m", "-5m", "10x", "10mm", " 10m", "" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(edit_until(bad[i], NOW, buf, err));
		char want[EDIT_ERR_MAX];
		snprintf(want, sizeof(want), "bad duration '%s': a number and s, m, h or d, e.g. 10m or 2h", bad[i]);
		assert_string_equal(err, want);
	}
	assert_false(edit_until("3651d", NOW, buf, err));
	assert_string_equal(err, "duration '3651d' is longer than 3650d");
	assert_false(edit_until("99999999999999999999999d", NOW, buf, err));
}

static void test_rule_text(void **state)
{
	char buf[EDIT_RULE_MAX], err[EDIT_ERR_MAX];
	char *a[] = { "tcp", "to", "shop.example.com", "port", "443", "comment", "card number" };
	char *b[] = { "tcp port 22", "comment", "\"quoted\"" };
	char *c[] = { "dns" };
	char *bad1[] = { "all", "}", "vm", "evil", "{" };
	char *bad2[] = { "all\n" };
	char *bad3[] = { "all", "comment", "say \"hi\"" };

	assert_true(edit_rule_text("allow", 7, a, "2025-11-24T16:10Z", buf, err));
	assert_string_equal(buf, "allow tcp to shop.example.com port 443 until 2025-11-24T16:10Z comment \"card number\"");
	assert_true(edit_rule_text("deny", 3, b, NULL, buf, err));
	assert_string_equal(buf, "deny tcp port 22 comment \"quoted\"");
	assert_true(edit_rule_text("allow", 1, c, "2025-11-24T16:10Z", buf, err));
	assert_string_equal(buf, "allow dns until 2025-11-24T16:10Z");
	assert_false(edit_rule_text("allow", 5, bad1, NULL, buf, err));
	assert_string_equal(err, "'}': a rule is one statement on one line, without '{', '}', ';', '#' or '\"' outside its comment");
	assert_false(edit_rule_text("allow", 1, bad2, NULL, buf, err));
	assert_false(edit_rule_text("allow", 3, bad3, NULL, buf, err));
	assert_string_equal(err, "'say \"hi\"': a comment is one line without '\"'");

	static char longword[EDIT_RULE_MAX];
	memset(longword, 'a', sizeof(longword) - 1);
	char *d[] = { longword };
	assert_false(edit_rule_text("allow", 1, d, NULL, buf, err));
	assert_string_equal(err, "the rule is longer than 4095 bytes");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_multiline),
		cmocka_unit_test(test_append_one_line),
		cmocka_unit_test(test_append_close_after_text),
		cmocka_unit_test(test_append_last_without_newline),
		cmocka_unit_test(test_append_tabs_and_comments),
		cmocka_unit_test(test_append_crlf),
		cmocka_unit_test(test_append_finds_the_right_block),
		cmocka_unit_test(test_append_refused),
		cmocka_unit_test(test_remove),
		cmocka_unit_test(test_add_vm),
		cmocka_unit_test(test_next_address),
		cmocka_unit_test(test_until),
		cmocka_unit_test(test_rule_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

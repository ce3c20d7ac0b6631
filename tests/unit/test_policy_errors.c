/* test_policy_errors: every error moat.conf can have, each with its exact
 * message, position, quoted line and caret, is a pair in tests/golden/errors
 * (NAME.conf and what `netctl check NAME.conf` says, NAME.err; the golden
 * run compares them). Here each of those files is loaded again from a buffer
 * of its exact size, at a fixed time, and must say the same; then the
 * machinery around the errors: the cap, warnings, hostile input, and the
 * owner errors whose netctl output also has the host's checks. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

#define NOW 1764000000   /* 2025-11-24T16:00Z */
#define NET "network { subnet 10.137.0.0/24 }\n"
#define X16 "xxxxxxxxxxxxxxxx"
#define X129 X16 X16 X16 X16 X16 X16 X16 X16 "x"
#define GOLDEN "tests/golden/errors"

/* Loads LEN bytes from a buffer of exactly that size, so that ASan sees any
 * read past the end (the parser must not need a NUL). */
static struct policy *load_named(const char *name, const char *text, size_t len, struct diags *d)
{
	char *copy = malloc(len ? len : 1);
	struct policy *p;

	assert_non_null(copy);
	if (len)
		memcpy(copy, text, len);
	diags_init(d, name, copy, len);
	p = policy_load(name, copy, len, NOW, d);
	d->text = NULL;   /* copy is gone: nothing may quote it from here */
	free(copy);
	return p;
}

static struct policy *load_exact(const char *text, size_t len, struct diags *d)
{
	return load_named("moat.conf", text, len, d);
}

/* the whole of PATH (malloc'd) and its length */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0;

	if (!f)
		fail_msg("%s: cannot open", path);
	*len = 0;
	for (;;) {
		if (*len == cap && !(buf = realloc(buf, cap = cap * 2 + 4096)))
			fail_msg("out of memory");
		size_t n = fread(buf + *len, 1, cap - *len, f);
		if (!n)
			break;
		*len += n;
	}
	fclose(f);
	buf[*len] = 0;   /* cap > *len: it grows before every read */
	return buf;
}

/* Every NAME.conf in the golden errors: refused, and said as NAME.err says
 * it, summary line aside (netctl's). Where netctl also checked the host's
 * users and groups, those errors are not the library's: refused is enough. */
static void test_golden_errors(void **state)
{
	DIR *dir = opendir(GOLDEN);
	struct dirent *e;
	int files = 0;

	if (!dir)
		fail_msg("%s: run from the top of the tree", GOLDEN);
	while ((e = readdir(dir))) {
		size_t n = strlen(e->d_name), textlen, errlen;
		char path[512], *text, *want, *summary;
		struct diags d;
		struct policy *p;

		if (n < 6 || strcmp(e->d_name + n - 5, ".conf"))
			continue;
		snprintf(path, sizeof(path), GOLDEN "/%s", e->d_name);
		text = slurp(path, &textlen);
		snprintf(path, sizeof(path), GOLDEN "/%.*s.err", (int)(n - 5), e->d_name);
		want = slurp(path, &errlen);
		p = load_named(e->d_name, text, textlen, &d);
		if (p)
			fail_msg("%s: loaded, but should fail with:\n%s", e->d_name, want);
		assert_true(d.nerrors > 0);
		/* the last line is netctl's "NAME.conf: N errors, nothing applied" */
		summary = errlen ? want + errlen - 1 : want;
		while (summary > want && summary[-1] != '\n')
			summary--;
		*summary = 0;
		if (!strstr(want, " on this host\n") && strcmp(d.out, want))
			fail_msg("%s: got\n%s\nwant\n%s", e->d_name, d.out, want);
		diags_free(&d);
		free(text);
		free(want);
		files++;
	}
	closedir(dir);
	assert_true(files >= 80);
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
		cmocka_unit_test(test_golden_errors),
		cmocka_unit_test(test_owner_twice),
		cmocka_unit_test(test_owner_invalid),
		cmocka_unit_test(test_error_cap),
		cmocka_unit_test(test_warning_is_not_an_error),
		cmocka_unit_test(test_deny_to_a_name_warns),
		cmocka_unit_test(test_diag_quoting),
		cmocka_unit_test(test_garbage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Control channel framing: messages built and parsed back, and one test per
 * way a peer can send a bad frame. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "ctl.h"

static uint8_t *copy_frame(struct ctl_msg *m, size_t *len)
{
	const uint8_t *f = ctl_msg_frame(m, len);
	assert_non_null(f);
	uint8_t *c = malloc(*len + 64);
	assert_non_null(c);
	memcpy(c, f, *len);
	return c;
}

static void expect_refused(const uint8_t *f, size_t len, const char *reason)
{
	uint16_t type;
	const char *why = NULL;
	assert_false(ctl_parse(f, len, &type, &why));
	assert_non_null(why);
	if (reason && !strstr(why, reason))
		fail_msg("refused for '%s', expected '%s'", why, reason);
}

static void test_round_trip(void **state)
{
	struct ctl_msg m;
	ctl_msg_init(&m, CTL_REQ_APPLY);
	assert_true(ctl_put_str(&m, CTL_A_FILE, "moat.conf"));
	assert_true(ctl_put_str(&m, CTL_A_TEXT, "vm dev {\n}\n"));
	assert_true(ctl_put_u32(&m, CTL_A_GENERATION, 0xdeadbeef));
	size_t len;
	const uint8_t *f = ctl_msg_frame(&m, &len);
	assert_int_equal(len % 4, 0);
	uint16_t type;
	const char *why;
	assert_true(ctl_parse(f, len, &type, &why));
	assert_int_equal(type, CTL_REQ_APPLY);
	assert_string_equal(ctl_get_str(f, len, CTL_A_FILE), "moat.conf");
	assert_string_equal(ctl_get_str(f, len, CTL_A_TEXT), "vm dev {\n}\n");
	uint32_t v;
	assert_true(ctl_get_u32(f, len, CTL_A_GENERATION, &v));
	assert_int_equal(v, 0xdeadbeef);
	assert_false(ctl_get_u32(f, len, CTL_A_STATUS, &v));
	assert_null(ctl_get_str(f, len, CTL_A_VM));
	/* the wrong getter for an attribute's kind finds nothing */
	assert_false(ctl_get_u32(f, len, CTL_A_FILE, &v));
	ctl_msg_free(&m);
}

static void test_empty_message(void **state)
{
	struct ctl_msg m;
	ctl_msg_init(&m, CTL_REQ_STATUS);
	size_t len;
	const uint8_t *f = ctl_msg_frame(&m, &len);
	assert_int_equal(len, CTL_HEADER_SIZE);
	uint16_t type;
	const char *why;
	assert_true(ctl_parse(f, len, &type, &why));
	assert_int_equal(type, CTL_REQ_STATUS);
	assert_int_equal(memcmp(f, "MOAT", 4), 0);
	ctl_msg_free(&m);
}

static void test_empty_string(void **state)
{
	struct ctl_msg m;
	ctl_msg_init(&m, CTL_REPLY);
	assert_true(ctl_put_u32(&m, CTL_A_STATUS, 0));
	assert_true(ctl_put_str(&m, CTL_A_MESSAGE, ""));
	size_t len;
	const uint8_t *f = ctl_msg_frame(&m, &len);
	uint16_t type;
	const char *why;
	assert_true(ctl_parse(f, len, &type, &why));
	assert_string_equal(ctl_get_str(f, len, CTL_A_MESSAGE), "");
	ctl_msg_free(&m);
}

static void test_size_limit(void **state)
{
	struct ctl_msg m;
	ctl_msg_init(&m, CTL_REQ_APPLY);
	size_t big = CTL_MAX_PAYLOAD - 8;
	char *s = malloc(big + 1);
	assert_non_null(s);
	memset(s, 'x', big - 1);
	s[big - 1] = 0;
	assert_true(ctl_put_str(&m, CTL_A_TEXT, s));   /* exactly 1 MiB of payload */
	size_t len;
	const uint8_t *f = ctl_msg_frame(&m, &len);
	assert_int_equal(len, CTL_HEADER_SIZE + CTL_MAX_PAYLOAD);
	uint16_t type;
	const char *why;
	assert_true(ctl_parse(f, len, &type, &why));
	/* one more attribute does not fit, and the message is unchanged */
	assert_false(ctl_put_u32(&m, CTL_A_GENERATION, 1));
	assert_int_equal(m.len, CTL_HEADER_SIZE + CTL_MAX_PAYLOAD);
	ctl_msg_free(&m);

	ctl_msg_init(&m, CTL_REQ_APPLY);
	s[big - 1] = 'x';
	assert_false(ctl_put_bytes(&m, CTL_A_TEXT, s, big + 1));
	free(s);
	ctl_msg_free(&m);
}

static void test_bad_header(void **state)
{
	struct ctl_msg m;
	ctl_msg_init(&m, CTL_REQ_STATUS);
	assert_true(ctl_put_str(&m, CTL_A_VM, "dev"));
	size_t len;
	uint8_t *f = copy_frame(&m, &len);

	expect_refused(f, 0, "shorter");
	expect_refused(f, CTL_HEADER_SIZE - 1, "shorter");
	f[0] ^= 1;
	expect_refused(f, len, "magic");
	f[0] ^= 1;
	f[4] = 2;
	expect_refused(f, len, "version");
	f[4] = 1;
	f[6] = 9;
	expect_refused(f, len, "type");
	f[6] = CTL_REQ_STATUS;
	f[8] += 4;
	expect_refused(f, len, "shorter than its length");
	f[8] -= 8;
	expect_refused(f, len, "bytes after");
	f[8] += 4;
	expect_refused(f, len - 4, "shorter than its length");
	f[8] += 1;
	expect_refused(f, len, "multiple of 4");
	f[8] -= 1;
	/* over 1 MiB: refused from the header alone */
	f[8] = 4; f[9] = 0; f[10] = 0x10; f[11] = 0;
	size_t total;
	const char *why;
	assert_false(ctl_header_check(f, CTL_HEADER_SIZE, &total, &why));
	assert_non_null(strstr(why, "1 MiB"));
	f[8] = 0xff; f[9] = 0xff; f[10] = 0xff; f[11] = 0xff;
	expect_refused(f, len, "1 MiB");
	free(f);
	ctl_msg_free(&m);
}

static void test_bad_attributes(void **state)
{
	struct ctl_msg m;
	ctl_msg_init(&m, CTL_REQ_LOG);
	assert_true(ctl_put_str(&m, CTL_A_VM, "dev"));      /* 8 + 4 */
	assert_true(ctl_put_u32(&m, CTL_A_FOLLOW, 1));      /* 8 + 4 */
	size_t len;
	uint8_t *f = copy_frame(&m, &len);
	uint8_t *a = f + CTL_HEADER_SIZE, *b = a + 12;
	uint16_t type;
	const char *why;
	assert_true(ctl_parse(f, len, &type, &why));

	a[2] = 1;
	expect_refused(f, len, "reserved");
	a[2] = 0;
	a[4] = 200;
	expect_refused(f, len, "past the frame");
	a[4] = 0xff; a[5] = 0xff; a[6] = 0xff; a[7] = 0xff;
	expect_refused(f, len, "past the frame");
	a[4] = 4; a[5] = 0; a[6] = 0; a[7] = 0;
	a[8 + 3] = 'x';                                      /* "devx": no NUL */
	expect_refused(f, len, "NUL");
	a[8 + 3] = 0;
	a[8 + 1] = 0;                                        /* "d\0v\0" */
	expect_refused(f, len, "NUL");
	a[8 + 1] = 'e';
	a[4] = 3;                                            /* "de" + NUL + padding */
	a[8 + 2] = 0;
	assert_true(ctl_parse(f, len, &type, &why));
	a[8 + 3] = 7;
	expect_refused(f, len, "padding");
	a[8 + 3] = 0;
	a[4] = 0;
	expect_refused(f, len, NULL);                        /* empty string, then junk */
	a[4] = 4;
	a[8 + 2] = 'v';
	b[4] = 2;
	expect_refused(f, len, NULL);                        /* integer of 2 bytes */
	b[4] = 4;
	b[0] = 99;
	expect_refused(f, len, "unknown attribute");
	b[0] = CTL_A_VM;
	expect_refused(f, len, NULL);                        /* VM twice, and a u32 as a string */
	b[0] = CTL_A_FOLLOW;
	assert_true(ctl_parse(f, len, &type, &why));
	/* an attribute header cut short */
	f[8] = 16;
	expect_refused(f, CTL_HEADER_SIZE + 16, "truncated");
	free(f);
	ctl_msg_free(&m);
}

static void test_duplicate(void **state)
{
	struct ctl_msg m;
	ctl_msg_init(&m, CTL_REQ_APPLY);
	assert_true(ctl_put_u32(&m, CTL_A_GENERATION, 1));
	assert_true(ctl_put_u32(&m, CTL_A_GENERATION, 2));
	size_t len;
	const uint8_t *f = ctl_msg_frame(&m, &len);
	expect_refused(f, len, "twice");
	ctl_msg_free(&m);
}

static void test_getters_on_garbage(void **state)
{
	uint8_t f[CTL_HEADER_SIZE + 8] = { 0 };
	f[CTL_HEADER_SIZE] = CTL_A_TEXT;
	f[CTL_HEADER_SIZE + 4] = 0xff;   /* length past the end */
	uint32_t v;
	assert_null(ctl_get_str(f, sizeof(f), CTL_A_TEXT));
	assert_false(ctl_get_u32(f, sizeof(f), CTL_A_TEXT, &v));
	assert_null(ctl_get_str(f, 3, CTL_A_TEXT));
}

static void test_socket(void **state)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct ctl_msg m;
	ctl_msg_init(&m, CTL_REPLY);
	assert_true(ctl_put_u32(&m, CTL_A_STATUS, EINVAL));
	assert_true(ctl_put_str(&m, CTL_A_MESSAGE, "moat.conf:3:5: error: no"));
	assert_int_equal(ctl_send(sv[0], &m), 0);
	uint8_t *f;
	size_t len;
	assert_int_equal(ctl_recv(sv[1], &f, &len), 0);
	uint32_t st;
	assert_true(ctl_get_u32(f, len, CTL_A_STATUS, &st));
	assert_int_equal(st, EINVAL);
	assert_string_equal(ctl_get_str(f, len, CTL_A_MESSAGE), "moat.conf:3:5: error: no");
	free(f);

	/* an oversize header is refused without reading on */
	uint8_t h[CTL_HEADER_SIZE] = { 'M', 'O', 'A', 'T', 1, 0, 1, 0, 0, 0, 0x20, 0 };
	assert_int_equal(write(sv[0], h, sizeof(h)), sizeof(h));
	assert_int_equal(ctl_recv(sv[1], &f, &len), -EMSGSIZE);
	assert_null(f);
	/* a frame cut short by the peer hanging up */
	h[10] = 0;
	h[8] = 8;
	assert_int_equal(write(sv[0], h, sizeof(h)), sizeof(h));
	assert_int_equal(write(sv[0], "\1\0", 2), 2);
	close(sv[0]);
	assert_int_equal(ctl_recv(sv[1], &f, &len), -EPROTO);
	assert_int_equal(ctl_recv(sv[1], &f, &len), -ECONNRESET);
	close(sv[1]);
	ctl_msg_free(&m);
}

static void test_connect_errors(void **state)
{
	assert_int_equal(ctl_connect("/nonexistent/moat.ctl"), -ENOENT);
	char longp[200];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = 0;
	assert_int_equal(ctl_connect(longp), -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_empty_message),
		cmocka_unit_test(test_empty_string),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_bad_header),
		cmocka_unit_test(test_bad_attributes),
		cmocka_unit_test(test_duplicate),
		cmocka_unit_test(test_getters_on_garbage),
		cmocka_unit_test(test_socket),
		cmocka_unit_test(test_connect_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

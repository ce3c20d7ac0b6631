/* Control channel framing: messages built and parsed back, and one test per
 * way a peer can send a bad frame. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/ctl.h"

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
	f[4] = CTL_VERSION - 1;   /* netctl and the daemons are built together: no old peers */
	expect_refused(f, len, "version");
	f[4] = CTL_VERSION;
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
	uint8_t h[CTL_HEADER_SIZE] = { 'M', 'O', 'A', 'T', CTL_VERSION, 0, 1, 0, 0, 0, 0x20, 0 };
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

/* A stats reply as moat-firewalld builds it: repeated COUNTER records. */
static void put_counter(struct ctl_msg *m, const char *vm, uint32_t rule, uint64_t packets)
{
	size_t at = ctl_nest_start(m, CTL_A_COUNTER);
	assert_true(at);
	assert_true(ctl_put_str(m, CTL_A_VM, vm) && ctl_put_u32(m, CTL_A_KIND, CTL_C_RULE) &&
		    ctl_put_u32(m, CTL_A_RULE, rule) && ctl_put_u64(m, CTL_A_PACKETS, packets) &&
		    ctl_put_u64(m, CTL_A_BYTES, packets * 60));
	ctl_nest_end(m, at);
}

static void test_records(void **state)
{
	struct ctl_msg m;
	ctl_msg_init(&m, CTL_REPLY);
	assert_true(ctl_put_u32(&m, CTL_A_STATUS, 0));
	put_counter(&m, "dev", 3, 1);
	put_counter(&m, "shop-2", 1, UINT64_MAX / 60);
	size_t len;
	const uint8_t *f = ctl_msg_frame(&m, &len);
	uint16_t type;
	const char *why;
	assert_true(ctl_parse(f, len, &type, &why));
	struct ctl_attrs it = ctl_payload(f, len), r;
	uint32_t rule;
	uint64_t packets;
	assert_true(ctl_next_nest(&it, CTL_A_COUNTER, &r));
	assert_string_equal(ctl_attrs_str(r, CTL_A_VM), "dev");
	assert_true(ctl_attrs_u32(r, CTL_A_RULE, &rule));
	assert_int_equal(rule, 3);
	assert_true(ctl_next_nest(&it, CTL_A_COUNTER, &r));
	assert_string_equal(ctl_attrs_str(r, CTL_A_VM), "shop-2");
	assert_true(ctl_attrs_u64(r, CTL_A_PACKETS, &packets));
	assert_true(packets == UINT64_MAX / 60);
	assert_false(ctl_attrs_u32(r, CTL_A_PACKETS, &rule));   /* a u64 is not a u32 */
	assert_false(ctl_next_nest(&it, CTL_A_COUNTER, &r));
	ctl_msg_free(&m);
}

/* One attribute of ATTR with VALUE (LEN bytes) in a reply, then whether it parses. */
static bool parses_with(uint16_t attr, const void *value, size_t len)
{
	struct ctl_msg m;
	ctl_msg_init(&m, CTL_REPLY);
	assert_true(ctl_put_bytes(&m, attr, value, len));
	size_t flen;
	const uint8_t *f = ctl_msg_frame(&m, &flen);
	uint16_t type;
	const char *why;
	bool ok = ctl_parse(f, flen, &type, &why);
	ctl_msg_free(&m);
	return ok;
}

static void test_record_kinds(void **state)
{
	/* names and address tokens carry only their characters */
	assert_true(parses_with(CTL_A_VM, "dev-2", 6));
	assert_false(parses_with(CTL_A_VM, "dev\033[2J", 8));
	assert_false(parses_with(CTL_A_VM, "Dev", 4));
	assert_false(parses_with(CTL_A_VM, "-dev", 5));
	assert_false(parses_with(CTL_A_VM, "", 1));
	assert_false(parses_with(CTL_A_VM, "a-name-too-long-", 17));
	assert_true(parses_with(CTL_A_PROTO, "proto 47", 9));
	assert_false(parses_with(CTL_A_SRC, "10.0.0.1\033]0;x\007", 15));
	assert_false(parses_with(CTL_A_SRC, "10.0.0.1\x9b", 10));
	/* and a builder does not send what a reader refuses */
	struct ctl_msg b;
	ctl_msg_init(&b, CTL_REPLY);
	assert_false(ctl_put_str(&b, CTL_A_VM, "dev\033[2J"));
	assert_false(ctl_put_str(&b, CTL_A_PROTO, "tcp\n"));
	assert_true(ctl_put_str(&b, CTL_A_VM, "dev"));
	ctl_msg_free(&b);
	/* free text is bounded by its kind, escaped when printed */
	assert_true(parses_with(CTL_A_MESSAGE, "error: \033[2J", 12));
	char file[4098];
	memset(file, 'f', sizeof(file) - 1);
	file[sizeof(file) - 1] = 0;
	assert_false(parses_with(CTL_A_FILE, file, sizeof(file)));
	assert_true(parses_with(CTL_A_FILE, file + 1, sizeof(file) - 1));
	/* integers have their width */
	assert_false(parses_with(CTL_A_PACKETS, "\1\0\0\0", 4));
	assert_true(parses_with(CTL_A_PACKETS, "\1\0\0\0\0\0\0\0", 8));

	/* records: once each inside, no nest in a nest; only records repeat */
	struct ctl_msg m;
	size_t len, at;
	uint16_t type;
	const char *why;
	ctl_msg_init(&m, CTL_REPLY);
	at = ctl_nest_start(&m, CTL_A_COUNTER);
	assert_true(ctl_put_u32(&m, CTL_A_RULE, 1) && ctl_put_u32(&m, CTL_A_RULE, 2));
	ctl_nest_end(&m, at);
	const uint8_t *f = ctl_msg_frame(&m, &len);
	expect_refused(f, len, "twice");
	ctl_msg_free(&m);
	ctl_msg_init(&m, CTL_REPLY);
	at = ctl_nest_start(&m, CTL_A_LOG);
	size_t inner = ctl_nest_start(&m, CTL_A_COUNTER);
	ctl_nest_end(&m, inner);
	ctl_nest_end(&m, at);
	f = ctl_msg_frame(&m, &len);
	expect_refused(f, len, "nest inside a nest");
	ctl_msg_free(&m);
	ctl_msg_init(&m, CTL_REPLY);
	assert_true(ctl_put_str(&m, CTL_A_MESSAGE, "a") && ctl_put_str(&m, CTL_A_MESSAGE, "b"));
	f = ctl_msg_frame(&m, &len);
	expect_refused(f, len, "twice");
	ctl_msg_free(&m);
	/* a nest whose length runs past the frame */
	ctl_msg_init(&m, CTL_REPLY);
	at = ctl_nest_start(&m, CTL_A_COUNTER);
	assert_true(ctl_put_u32(&m, CTL_A_RULE, 1));
	ctl_nest_end(&m, at);
	uint8_t *c = copy_frame(&m, &len);
	c[CTL_HEADER_SIZE + 8 + 4] = 200;
	expect_refused(c, len, "past the frame");
	assert_true(ctl_parse(ctl_msg_frame(&m, &len), len, &type, &why));
	free(c);
	ctl_msg_free(&m);
}

static char *escaped(const char *s, bool json)
{
	char *out = NULL;
	size_t len;
	FILE *f = open_memstream(&out, &len);
	assert_non_null(f);
	if (json)
		ctl_fput_json(f, s);
	else
		ctl_fput_safe(f, s, true);
	fclose(f);
	return out;
}

static void expect_escaped(const char *in, const char *text, const char *json)
{
	char *t = escaped(in, false), *j = escaped(in, true);
	assert_string_equal(t, text);
	assert_string_equal(j, json);
	free(t);
	free(j);
}

static void test_escape(void **state)
{
	expect_escaped("dev rule 3", "dev rule 3", "\"dev rule 3\"");
	expect_escaped("a\nb\tc", "a\nb\tc", "\"a\\nb\\tc\"");
	expect_escaped("\033]0;owned\007\033[2J", "\\x1b]0;owned\\x07\\x1b[2J",
		       "\"\\\\x1b]0;owned\\\\x07\\\\x1b[2J\"");
	expect_escaped("\x7f\r", "\\x7f\\x0d", "\"\\\\x7f\\\\x0d\"");
	/* 8-bit CSI, the same as UTF-8 (a C1 control), a right-to-left override */
	expect_escaped("\x9b" "1m", "\\x9b1m", "\"\\\\x9b1m\"");
	expect_escaped("\xc2\x9b" "1m", "\\u009b1m", "\"\\\\u009b1m\"");
	expect_escaped("a\xe2\x80\xae" "b", "a\\u202eb", "\"a\\\\u202eb\"");
	/* UTF-8 text passes; invalid, overlong, surrogate, cut short do not */
	expect_escaped("caf\xc3\xa9 \xe2\x82\xac", "caf\xc3\xa9 \xe2\x82\xac", "\"caf\xc3\xa9 \xe2\x82\xac\"");
	expect_escaped("\xc0\x80", "\\xc0\\x80", "\"\\\\xc0\\\\x80\"");
	expect_escaped("\xed\xa0\x80", "\\xed\\xa0\\x80", "\"\\\\xed\\\\xa0\\\\x80\"");
	expect_escaped("\xe2\x82", "\\xe2\\x82", "\"\\\\xe2\\\\x82\"");
	expect_escaped("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80", "\"\\\\xf4\\\\x90\\\\x80\\\\x80\"");
	expect_escaped("say \"hi\" \\", "say \"hi\" \\", "\"say \\\"hi\\\" \\\\\"");
	char *one = NULL;
	size_t len;
	FILE *f = open_memstream(&one, &len);
	ctl_fput_safe(f, "a\nb", false);
	fclose(f);
	assert_string_equal(one, "a\\x0ab");
	free(one);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A server on PATH that reads the request, then answers with a whole reply
 * one byte every STEP_MS (or never, for STEP_MS < 0). */
static pid_t slow_server(const char *path, int step_ms)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	unlink(path);
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(l >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(l, 4), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid) {
		close(l);
		return pid;
	}
	int c = accept(l, NULL, NULL);
	uint8_t req[64];
	if (c < 0 || read(c, req, sizeof(req)) <= 0)
		_exit(1);
	struct ctl_msg m;
	ctl_msg_init(&m, CTL_REPLY);
	ctl_put_u32(&m, CTL_A_STATUS, 0);
	size_t len;
	const uint8_t *f = ctl_msg_frame(&m, &len);
	for (size_t i = 0; i < len; i++) {
		if (step_ms < 0)
			pause();
		usleep((useconds_t)step_ms * 1000);
		if (write(c, f + i, 1) != 1)
			_exit(0);
	}
	pause();
	_exit(0);
}

static void call_against(int step_ms, long timeout_ms, int want, int64_t at_most_ms)
{
	char path[64];
	snprintf(path, sizeof(path), "/tmp/moat-test-ctl.%d.sock", (int)getpid());
	pid_t pid = slow_server(path, step_ms);
	struct ctl_msg m;
	ctl_msg_init(&m, CTL_REQ_STATUS);
	uint8_t *reply;
	size_t len;
	int64_t t0 = now_ms();
	int rc = ctl_call_within(path, &m, &reply, &len, timeout_ms);
	int64_t took = now_ms() - t0;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	unlink(path);
	ctl_msg_free(&m);
	free(reply);
	assert_int_equal(rc, want);
	if (took > at_most_ms)
		fail_msg("the call took %lld ms, more than %lld", (long long)took, (long long)at_most_ms);
}

static void test_call_deadline(void **state)
{
	/* a silent peer, and one that trickles a byte every 100 ms (each read
	 * well inside the timeout; the whole reply not) */
	call_against(-1, 300, -ETIMEDOUT, 1500);
	call_against(100, 500, -ETIMEDOUT, 1500);
	/* a peer that answers in time */
	call_against(1, 2000, 0, 2000);
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
		cmocka_unit_test(test_records),
		cmocka_unit_test(test_record_kinds),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_call_deadline),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The control channel's server (lib/ctlserver.c) in one process: a client
 * socket on one side, the server's poll loop run by hand on the other. What
 * a read-only channel lets through to the daemon's handler, and what it
 * refuses. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/ctl.h"
#include "lib/ctlserver.h"

/* What the handler saw: the daemon's side. */
struct seen {
	uint16_t types[16];
	size_t n;
};

static void handler(void *arg, struct ctl_client *cl, uint16_t type, const uint8_t *frame, size_t len)
{
	struct seen *s = arg;
	if (s->n < sizeof(s->types) / sizeof(s->types[0]))
		s->types[s->n++] = type;
	struct ctl_msg m;
	ctl_msg_init(&m, CTL_REPLY);
	bool ok = ctl_put_u32(&m, CTL_A_STATUS, 0) && ctl_put_str(&m, CTL_A_MESSAGE, "done");
	ctl_client_reply(cl, &m, ok);
	ctl_msg_free(&m);
}

static void sock_path(char *buf, size_t len, const char *what)
{
	snprintf(buf, len, "/tmp/moat-test-ctlserver.%d.%s", (int)getpid(), what);
}

static int client(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

/* One turn of a daemon's loop over every server in SRV, all in one pollfd
 * array as the daemons build it. */
static void serve(struct ctl_server **srv, size_t nsrv, int timeout_ms)
{
	struct pollfd fds[4 * (1 + CTL_SERVER_MAX_CLIENTS)];
	size_t n = 0;
	for (size_t i = 0; i < nsrv; i++)
		n += ctl_server_pollfds(srv[i], fds + n);
	assert_true(poll(fds, n, timeout_ms) >= 0);
	for (size_t i = 0; i < nsrv; i++)
		ctl_server_event(srv[i], fds, n);
}

/* Sends a request of TYPE on FD and serves until its reply is there: the
 * reply's status, its message in MSG. */
static uint32_t call(struct ctl_server **srv, size_t nsrv, int fd, uint16_t type, char *msg, size_t msglen)
{
	struct ctl_msg m;
	ctl_msg_init(&m, type);
	if (type == CTL_REQ_APPLY)
		assert_true(ctl_put_str(&m, CTL_A_TEXT, "vm dev { address 10.137.0.10 allow all }\n") &&
			    ctl_put_u32(&m, CTL_A_GENERATION, 7));
	assert_int_equal(ctl_send(fd, &m), 0);
	ctl_msg_free(&m);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	for (int i = 0; i < 50 && poll(&p, 1, 0) == 0; i++)
		serve(srv, nsrv, 20);
	uint8_t *f;
	size_t len;
	assert_int_equal(ctl_recv_within(fd, &f, &len, 1000), 0);
	uint16_t rtype;
	const char *why;
	assert_true(ctl_parse(f, len, &rtype, &why));
	assert_int_equal(rtype, CTL_REPLY);
	uint32_t st = 12345;
	assert_true(ctl_get_u32(f, len, CTL_A_STATUS, &st));
	const char *s = ctl_get_str(f, len, CTL_A_MESSAGE);
	snprintf(msg, msglen, "%s", s ? s : "");
	free(f);
	return st;
}

static void test_read_only_refuses_writes(void **state)
{
	char path[108], msg[512];
	sock_path(path, sizeof(path), "ro");
	struct seen seen = { 0 };
	struct ctl_server *ro = ctl_server_open_read_only(path, "test", handler, &seen);
	assert_non_null(ro);
	int fd = client(path);
	/* every request that changes something (a type no daemon knows is
	 * already a malformed frame) */
	const uint16_t writes[] = { CTL_REQ_APPLY, CTL_REQ_SUBNETS, CTL_REQ_DHCP };
	for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++) {
		assert_int_equal(call(&ro, 1, fd, writes[i], msg, sizeof(msg)), EPERM);
		if (!strstr(msg, "read-only"))
			fail_msg("refusal of request %u says '%s'", writes[i], msg);
	}
	assert_int_equal(seen.n, 0);
	/* the same connection, still in step: what only reads is served */
	const uint16_t reads[] = { CTL_REQ_STATUS, CTL_REQ_STATS, CTL_REQ_LOG };
	for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++)
		assert_int_equal(call(&ro, 1, fd, reads[i], msg, sizeof(msg)), 0);
	assert_int_equal(seen.n, 3);
	assert_int_equal(seen.types[0], CTL_REQ_STATUS);
	assert_int_equal(seen.types[1], CTL_REQ_STATS);
	assert_int_equal(seen.types[2], CTL_REQ_LOG);
	close(fd);
	ctl_server_close(ro);
}

/* A client that sends refusals as fast as it can does not fill the
 * appliance's log: REFUSED_LOG_MAX (10) lines a minute. */
static void test_refusals_logged_bounded(void **state)
{
	char path[108], msg[512], logp[108];
	sock_path(path, sizeof(path), "flood");
	sock_path(logp, sizeof(logp), "log");
	struct seen seen = { 0 };
	struct ctl_server *ro = ctl_server_open_read_only(path, "test", handler, &seen);
	assert_non_null(ro);
	int fd = client(path);
	FILE *log = fopen(logp, "w+");
	assert_non_null(log);
	fflush(stderr);
	int saved = dup(2);
	assert_true(saved >= 0 && dup2(fileno(log), 2) == 2);
	uint32_t st[25];
	for (size_t i = 0; i < 25; i++)
		st[i] = call(&ro, 1, fd, CTL_REQ_APPLY, msg, sizeof(msg));
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	for (size_t i = 0; i < 25; i++)
		assert_int_equal(st[i], EPERM);
	rewind(log);
	char line[512];
	int lines = 0;
	while (fgets(line, sizeof(line), log))
		lines += strstr(line, "refused on the read-only channel") != NULL;
	fclose(log);
	unlink(logp);
	assert_int_equal(lines, 10);
	assert_int_equal(seen.n, 0);
	close(fd);
	ctl_server_close(ro);
}

/* The read-only channel is not trusted more than the other: an oversized
 * frame is refused before its payload is read, and the connection closed. */
static void test_read_only_limits(void **state)
{
	char path[108];
	sock_path(path, sizeof(path), "lim");
	struct seen seen = { 0 };
	struct ctl_server *ro = ctl_server_open_read_only(path, "test", handler, &seen);
	assert_non_null(ro);
	int fd = client(path);
	uint8_t h[CTL_HEADER_SIZE] = { 'M', 'O', 'A', 'T', CTL_VERSION, 0, CTL_REQ_STATUS, 0, 0, 0, 0x20, 0 };
	assert_int_equal(write(fd, h, sizeof(h)), (ssize_t)sizeof(h));
	struct pollfd p = { .fd = fd, .events = POLLIN };
	for (int i = 0; i < 50 && poll(&p, 1, 0) == 0; i++)
		serve(&ro, 1, 20);
	uint8_t *f;
	size_t len;
	assert_int_equal(ctl_recv_within(fd, &f, &len, 1000), 0);
	uint32_t st = 0;
	assert_true(ctl_get_u32(f, len, CTL_A_STATUS, &st));
	assert_int_equal(st, EMSGSIZE);
	free(f);
	for (int i = 0; i < 5; i++)
		serve(&ro, 1, 10);
	assert_int_equal(ctl_recv_within(fd, &f, &len, 500), -ECONNRESET);
	assert_int_equal(seen.n, 0);
	close(fd);
	ctl_server_close(ro);
}

/* A daemon polls both channels in one array: each server serves its own
 * descriptors, and the read-write one still takes everything. */
static void test_two_channels_one_loop(void **state)
{
	char rw_path[108], ro_path[108], msg[512];
	sock_path(rw_path, sizeof(rw_path), "rw2");
	sock_path(ro_path, sizeof(ro_path), "ro2");
	struct seen rw_seen = { 0 }, ro_seen = { 0 };
	struct ctl_server *srv[2] = {
		ctl_server_open(rw_path, "test", handler, &rw_seen),
		ctl_server_open_read_only(ro_path, "test", handler, &ro_seen),
	};
	assert_non_null(srv[0]);
	assert_non_null(srv[1]);
	int rw = client(rw_path), ro = client(ro_path);
	assert_int_equal(call(srv, 2, ro, CTL_REQ_APPLY, msg, sizeof(msg)), EPERM);
	assert_int_equal(call(srv, 2, rw, CTL_REQ_APPLY, msg, sizeof(msg)), 0);
	assert_int_equal(call(srv, 2, ro, CTL_REQ_STATUS, msg, sizeof(msg)), 0);
	assert_int_equal(rw_seen.n, 1);
	assert_int_equal(rw_seen.types[0], CTL_REQ_APPLY);
	assert_int_equal(ro_seen.n, 1);
	assert_int_equal(ro_seen.types[0], CTL_REQ_STATUS);
	close(rw);
	close(ro);
	ctl_server_close(srv[0]);
	ctl_server_close(srv[1]);
}

static void test_read_only_verbs(void **state)
{
	assert_true(ctl_request_read_only(CTL_REQ_STATUS));
	assert_true(ctl_request_read_only(CTL_REQ_STATS));
	assert_true(ctl_request_read_only(CTL_REQ_LOG));
	assert_false(ctl_request_read_only(CTL_REQ_APPLY));
	assert_false(ctl_request_read_only(CTL_REQ_SUBNETS));
	assert_false(ctl_request_read_only(CTL_REQ_DHCP));
	assert_false(ctl_request_read_only(CTL_REPLY));
	assert_false(ctl_request_read_only(CTL_EVENT));
	assert_false(ctl_request_read_only(0));
	assert_false(ctl_request_read_only(0xffff));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_only_verbs),
		cmocka_unit_test(test_read_only_refuses_writes),
		cmocka_unit_test(test_refusals_logged_bounded),
		cmocka_unit_test(test_read_only_limits),
		cmocka_unit_test(test_two_channels_one_loop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* qmp_execute against a fake QEMU on the other end of a socketpair: events
 * are skipped, but they do not stretch the wait for the reply (a
 * compromised firewallvm QEMU that sends one a second must not hold
 * `netctl plug` for ever). */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "qmp.h"

#define EVENT "{\"event\": \"NIC_RX_FILTER_CHANGED\", \"data\": {}}\n"

struct fake {
	struct qmp q;
	pid_t pid;
};

static long ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The fake QEMU: reads the command, sends NEVENTS events EVERY_MS apart,
 * then the return; a client of TIMEOUT_MS. */
static struct fake *fake_start(int nevents, int every_ms, int timeout_ms)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	struct fake *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->pid = fork();
	assert_true(f->pid >= 0);
	if (f->pid == 0) {
		char c;
		close(sv[0]);
		while (read(sv[1], &c, 1) == 1 && c != '\n')
			;
		for (int i = 0; i < nevents; i++) {
			if (write(sv[1], EVENT, strlen(EVENT)) < 0)
				_exit(0);
			usleep((useconds_t)every_ms * 1000);
		}
		if (write(sv[1], "{\"return\": {}}\n", 15) < 0)
			_exit(0);
		pause();
		_exit(0);
	}
	close(sv[1]);
	f->q = (struct qmp){ .fd = sv[0], .timeout_ms = timeout_ms, .buf = malloc(QMP_LINE_MAX) };
	assert_non_null(f->q.buf);
	return f;
}

static void fake_stop(struct fake *f)
{
	kill(f->pid, SIGKILL);
	waitpid(f->pid, NULL, 0);
	qmp_close(&f->q);
	free(f);
}

static void test_events_skipped(void **state)
{
	char err[256];
	struct fake *f = fake_start(3, 10, 2000);
	assert_int_equal(qmp_execute(&f->q, "{\"execute\": \"query-status\"}", err, sizeof(err)), 1);
	fake_stop(f);
}

static void test_events_do_not_stretch_the_deadline(void **state)
{
	char err[256];
	/* an event every 100 ms for 4 s, then the return: too late for 500 ms */
	struct fake *f = fake_start(40, 100, 500);
	long start = ms_now();
	int r = qmp_execute(&f->q, "{\"execute\": \"device_add\"}", err, sizeof(err));
	long took = ms_now() - start;
	fake_stop(f);
	assert_int_equal(r, -1);
	assert_true(took >= 500);
	assert_true(took < 1500);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_events_skipped),
		cmocka_unit_test(test_events_do_not_stretch_the_deadline),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

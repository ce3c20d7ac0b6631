/* qmp_execute against a fake QEMU on the other end of a socketpair: events
 * are skipped, but they do not stretch the wait for the reply (a
 * compromised firewallvm QEMU that sends one a second must not hold
 * `netctl plug` for ever). qmp_link_unplug against a scripted QEMU: it
 * waits for DEVICE_DELETED of its device, then removes the backends. */
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

#include "host/qmp.h"

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

/* A scripted QEMU: for each step, one command containing EXPECT, answered
 * with REPLY (one or more lines), then LATER sent TIMES times, EVERY_MS
 * apart. It exits 0 when the commands came exactly as scripted and nothing
 * after them, else 1. */
struct step {
	const char *expect, *reply, *later;
	int every_ms, times;
};

static struct fake *script_start(const struct step *steps, size_t nsteps)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	struct fake *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->pid = fork();
	assert_true(f->pid >= 0);
	if (f->pid == 0) {
		close(sv[0]);
		for (size_t i = 0;; i++) {
			char line[512];
			size_t n = 0;
			while (n + 1 < sizeof(line) && read(sv[1], &line[n], 1) == 1 && line[n] != '\n')
				n++;
			line[n] = 0;
			if (i == nsteps)
				_exit(n ? 1 : 0);	/* EOF is all that may follow */
			if (!strstr(line, steps[i].expect))
				_exit(1);
			if (send(sv[1], steps[i].reply, strlen(steps[i].reply), MSG_NOSIGNAL) < 0)
				_exit(1);
			/* the client may hang up in the middle of these */
			for (int t = 0; t < steps[i].times; t++) {
				usleep((useconds_t)steps[i].every_ms * 1000);
				if (send(sv[1], steps[i].later, strlen(steps[i].later), MSG_NOSIGNAL) < 0)
					break;
			}
		}
	}
	close(sv[1]);
	f->q = (struct qmp){ .fd = sv[0], .timeout_ms = 2000, .buf = malloc(QMP_LINE_MAX) };
	assert_non_null(f->q.buf);
	return f;
}

/* the client hangs up; did the fake see exactly its script? */
static void script_check(struct fake *f)
{
	int status;
	qmp_close(&f->q);
	assert_int_equal(waitpid(f->pid, &status, 0), f->pid);
	free(f);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

#define RET "{\"return\": {}}\n"
#define DELETED(dev) "{\"event\": \"DEVICE_DELETED\", \"data\": {\"device\": \"" dev "\", \"path\": \"/x\"}}\n"
#define NOT_FOUND "{\"error\": {\"class\": \"DeviceNotFound\", \"desc\": \"Device 'nic-dev' not found\"}}\n"

static void test_unplug_waits_for_device_deleted(void **state)
{
	/* the guest releases the NIC 300 ms after qom-get found it; before
	 * that, another device's DEVICE_DELETED and an unrelated event. No
	 * command goes to QEMU between qom-get and netdev_del. */
	const struct step steps[] = {
		{ "device_del", RET, NULL, 0, 0 },
		{ "qom-get", RET DELETED("nic-web") EVENT, DELETED("nic-dev"), 300, 1 },
		{ "\"netdev_del\", \"arguments\": {\"id\": \"net-dev\"}", RET, NULL, 0, 0 },
		{ "\"chardev-remove\", \"arguments\": {\"id\": \"link-dev\"}", RET, NULL, 0, 0 },
	};
	struct fake *f = script_start(steps, 4);
	long start = ms_now();
	int r = qmp_link_unplug(&f->q, "dev", 5000);
	long took = ms_now() - start;
	script_check(f);
	assert_int_equal(r, 1);
	assert_true(took >= 300);
	assert_true(took < 2000);
}

static void test_unplug_of_a_device_already_gone(void **state)
{
	const struct step steps[] = {
		{ "device_del", RET, NULL, 0, 0 },
		{ "qom-get", NOT_FOUND, NULL, 0, 0 },
		{ "netdev_del", RET, NULL, 0, 0 },
		{ "chardev-remove", RET, NULL, 0, 0 },
	};
	struct fake *f = script_start(steps, 4);
	int r = qmp_link_unplug(&f->q, "dev", 5000);
	script_check(f);
	assert_int_equal(r, 1);
}

static void test_unplug_guest_holds_the_device(void **state)
{
	/* no DEVICE_DELETED for nic-dev, an event every 50 ms: after 300 ms
	 * the device is left to the guest, its netdev and chardev stay */
	const struct step steps[] = {
		{ "device_del", RET, NULL, 0, 0 },
		{ "qom-get", RET, EVENT, 50, 40 },
	};
	struct fake *f = script_start(steps, 2);
	long start = ms_now();
	int r = qmp_link_unplug(&f->q, "dev", 300);
	long took = ms_now() - start;
	script_check(f);
	assert_int_equal(r, 0);
	assert_true(took >= 300);
	assert_true(took < 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_events_skipped),
		cmocka_unit_test(test_events_do_not_stretch_the_deadline),
		cmocka_unit_test(test_unplug_waits_for_device_deleted),
		cmocka_unit_test(test_unplug_of_a_device_already_gone),
		cmocka_unit_test(test_unplug_guest_holds_the_device),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

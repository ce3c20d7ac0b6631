/* test_lib_supervise: lib/supervise.c against real children (/bin/sh): one
 * that exits at once is restarted, and given up on after max_fast fast
 * deaths; one that crashes is restarted after its pause, not before; one that
 * ignores SIGTERM is killed at the deadline; a start that fails is retried or
 * not as the policy says; the config file is on the child's stdin afresh at
 * each start. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/supervise.h"

static char dir[] = "/tmp/moat-supervise-test.XXXXXX";
static char path_a[128], path_b[128];

static int setup(void **state)
{
	if (!mkdtemp(dir))
		return -1;
	snprintf(path_a, sizeof(path_a), "%s/a", dir);
	snprintf(path_b, sizeof(path_b), "%s/b", dir);
	return 0;
}

static int teardown(void **state)
{
	unlink(path_a);
	unlink(path_b);
	return rmdir(dir);
}

/* C running sh -c SCRIPT. */
static void set_sh(struct sv_child *c, const char *script, const char *stdin_file)
{
	const char *argv[] = { "sh", "-c", script, NULL };
	assert_int_equal(sv_set_cmd(c, "/bin/sh", argv, stdin_file, NULL), 0);
}

/* Wait for C's child to exit and hand the status to the supervisor. */
static void reap_one(struct sv_child *c)
{
	int status;
	pid_t pid = c->pid;
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(sv_reaped(c, pid, status));
}

/* Wait (bounded) until PATH exists. */
static void wait_file(const char *path)
{
	for (int i = 0; i < 500 && access(path, F_OK) != 0; i++)
		usleep(10000);
	assert_int_equal(access(path, F_OK), 0);
}

static int n_started;
static pid_t last_started;

static void on_start(pid_t pid, void *arg)
{
	n_started++;
	last_started = pid;
	assert_ptr_equal(arg, &n_started);
}

static void test_exits_at_once_gives_up(void **state)
{
	struct sv_policy p = { .log = "test", .fast_ms = 5000, .max_fast = 3, .stop_ms = 500 };
	struct sv_child c;
	sv_init(&c, "quitter", &p);
	set_sh(&c, "exit 3", NULL);
	c.started = on_start;
	c.started_arg = &n_started;
	n_started = 0;
	assert_int_equal(sv_start(&c), 0);
	assert_int_equal(c.state, SV_RUNNING);
	pid_t first = c.pid;
	assert_int_equal(last_started, first);
	/* restart_ms 0: started again at once, by the reap itself */
	reap_one(&c);
	assert_int_equal(c.state, SV_RUNNING);
	assert_true(c.pid > 0 && c.pid != first);
	assert_int_equal(c.fast_deaths, 1);
	reap_one(&c);
	assert_int_equal(c.state, SV_RUNNING);
	/* the third fast death in a row: no more */
	reap_one(&c);
	assert_int_equal(c.state, SV_GAVE_UP);
	assert_int_equal(c.pid, 0);
	assert_int_equal(c.restart_at, 0);
	assert_int_equal(n_started, 3);
	/* a reap of somebody else's pid is not C's */
	assert_false(sv_reaped(&c, getpid(), 0));
	/* the caller's start is a fresh try */
	assert_int_equal(sv_start(&c), 0);
	assert_int_equal(c.fast_deaths, 0);
	reap_one(&c);
	assert_int_equal(c.state, SV_RUNNING);
	sv_clear(&c);
	assert_int_equal(c.state, SV_STOPPED);
	assert_null(c.argv);
}

static void test_crash_restarts_after_pause(void **state)
{
	struct sv_policy p = { .log = "test", .restart_ms = 300, .stop_ms = 500 };
	struct sv_child c;
	sv_init(&c, "crasher", &p);
	set_sh(&c, "kill -SEGV $$", NULL);
	assert_int_equal(sv_start(&c), 0);
	int64_t t0 = mono_ms();
	reap_one(&c);
	assert_int_equal(c.state, SV_WAITING);
	assert_int_equal(c.pid, 0);
	assert_true(c.restart_at >= t0 + 300 && c.restart_at <= mono_ms() + 300);
	/* not before its time */
	sv_tick(&c, c.restart_at - 1);
	assert_int_equal(c.pid, 0);
	sv_tick(&c, c.restart_at);
	assert_int_equal(c.state, SV_RUNNING);
	assert_true(c.pid > 0);
	/* sv_reap, as a daemon with one child calls it on SIGCHLD */
	for (int i = 0; i < 500 && c.state == SV_RUNNING; i++) {
		usleep(10000);
		sv_reap(&c);
	}
	assert_int_equal(c.state, SV_WAITING);
	sv_clear(&c);
	assert_int_equal(c.restart_at, 0);
}

static void test_ignores_sigterm_killed_at_deadline(void **state)
{
	struct sv_policy p = { .log = "test", .restart_ms = 100, .stop_ms = 400 };
	struct sv_child c;
	sv_init(&c, "stubborn", &p);
	char script[512];
	snprintf(script, sizeof(script), "trap '' TERM; touch %s; exec sleep 60", path_a);
	set_sh(&c, script, NULL);
	assert_int_equal(sv_start(&c), 0);
	pid_t pid = c.pid;
	wait_file(path_a);
	int64_t t0 = mono_ms();
	sv_stop(&c);
	int64_t took = mono_ms() - t0;
	assert_true(took >= 400 && took < 3000);
	assert_int_equal(c.pid, 0);
	assert_int_equal(c.state, SV_STOPPED);
	assert_int_equal(c.restart_at, 0);
	/* killed and reaped: no such child any more */
	assert_int_equal(waitpid(pid, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);

	/* one that heeds SIGTERM goes well before the deadline */
	p.stop_ms = 5000;
	sv_clear(&c);
	sv_init(&c, "polite", &p);
	set_sh(&c, "exec sleep 60", NULL);
	assert_int_equal(sv_start(&c), 0);
	t0 = mono_ms();
	sv_stop(&c);
	assert_true(mono_ms() - t0 < 2500);
	assert_int_equal(c.pid, 0);
	sv_clear(&c);
}

static void test_failed_start(void **state)
{
	const char *argv[] = { "nothing", NULL };
	struct sv_policy retry = { .log = "test", .restart_ms = 200, .stop_ms = 100 };
	struct sv_child c;
	sv_init(&c, "missing", &retry);
	assert_int_equal(sv_start(&c), -EINVAL);    /* no command yet */
	assert_int_equal(sv_set_cmd(&c, "/nonexistent/moat-test", argv, NULL, NULL), 0);
	assert_int_equal(sv_start(&c), -ENOENT);
	assert_int_equal(c.state, SV_WAITING);
	assert_true(c.restart_at > 0);
	sv_tick(&c, c.restart_at);          /* tried again, failed again: due again */
	assert_int_equal(c.state, SV_WAITING);
	assert_int_equal(c.pid, 0);
	sv_clear(&c);

	struct sv_policy once = { .log = "test", .stop_ms = 100 };
	sv_init(&c, "missing", &once);
	assert_int_equal(sv_set_cmd(&c, "/nonexistent/moat-test", argv, NULL, NULL), 0);
	assert_int_equal(sv_start(&c), -ENOENT);
	assert_int_equal(c.state, SV_FAILED);
	assert_int_equal(c.restart_at, 0);
	sv_clear(&c);

	/* a config file that is not there: not started */
	sv_init(&c, "noconf", &once);
	set_sh(&c, "exit 0", path_b);
	unlink(path_b);
	assert_int_equal(sv_start(&c), -ENOENT);
	assert_int_equal(c.pid, 0);
	sv_clear(&c);
}

static void test_stdin_file_each_start(void **state)
{
	/* the second death is the last: no third reader to race with */
	struct sv_policy p = { .log = "test", .fast_ms = 5000, .max_fast = 2, .stop_ms = 500 };
	struct sv_child c;
	sv_init(&c, "reader", &p);
	FILE *f = fopen(path_b, "we");
	assert_non_null(f);
	fputs("first\n", f);
	fclose(f);
	char script[512];
	snprintf(script, sizeof(script), "cat >> %s; exit 1", path_a);
	unlink(path_a);
	set_sh(&c, script, path_b);
	assert_int_equal(sv_start(&c), 0);
	reap_one(&c);     /* restarted at once: reads the file from its start again */
	reap_one(&c);
	assert_int_equal(c.state, SV_GAVE_UP);
	sv_clear(&c);
	f = fopen(path_a, "re");
	assert_non_null(f);
	char text[64] = "";
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = 0;
	assert_string_equal(text, "first\nfirst\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exits_at_once_gives_up),
		cmocka_unit_test(test_crash_restarts_after_pause),
		cmocka_unit_test(test_ignores_sigterm_killed_at_deadline),
		cmocka_unit_test(test_failed_start),
		cmocka_unit_test(test_stdin_file_each_start),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

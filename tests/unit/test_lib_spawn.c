/* test_lib_spawn: what a child of lib/spawn.c gets, read from its own
 * /proc/self/status and fd directory: descriptors 0-2 only, no blocked or
 * ignored signal, the ids and capabilities asked for, and a PID namespace
 * that nothing outlives. Needs root (skipped
 * otherwise). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/nsfs.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/spawn.h"

static char dir[] = "/tmp/moat-spawn-test.XXXXXX";
static char out[64];

/* Run "CMD > OUT" through /bin/sh as O says; OUT's text (static). */
static const char *run(const char *cmd, const struct spawn_opts *o)
{
	static char text[8192];
	char line[512];
	snprintf(line, sizeof(line), "exec %s > %s", cmd, out);
	unlink(out);
	char *argv[] = { "sh", "-c", line, NULL };
	pid_t pid = spawn_child("/bin/sh", argv, o);
	assert_true(pid > 0);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	FILE *f = fopen(out, "re");
	assert_non_null(f);
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = 0;
	fclose(f);
	return text;
}

/* The value of KEY's line, without the tab after the key. */
static const char *field(const char *status, const char *key)
{
	static char v[128];
	const char *p = strstr(status, key);
	assert_non_null(p);
	p += strlen(key);
	p += strspn(p, "\t ");
	size_t n = strcspn(p, "\n");
	assert_true(n < sizeof(v));
	memcpy(v, p, n);
	v[n] = 0;
	return v;
}

static void only_stdio_crosses(void **state)
{
	/* a descriptor and a socket without close-on-exec, as the daemons had */
	int leak = open("/dev/null", O_RDONLY);
	int sock = socket(AF_UNIX, SOCK_DGRAM, 0);
	assert_true(leak > 2 && sock > 2);
	/* ls's own directory is 3 */
	const char *fds = run("ls /proc/self/fd", NULL);
	assert_string_equal(fds, "0\n1\n2\n3\n");
	close(leak);
	close(sock);
}

static void signals_back_to_default(void **state)
{
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, &old);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	const char *st = run("cat /proc/self/status", NULL);
	assert_string_equal(field(st, "SigBlk:"), "0000000000000000");
	assert_string_equal(field(st, "SigIgn:"), "0000000000000000");
	sigprocmask(SIG_SETMASK, &old, NULL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
}

static void ids_and_one_capability(void **state)
{
	struct spawn_opts o = { .set_ids = true, .uid = 65534, .gid = 65534,
				.caps = 1ull << CAP_NET_BIND_SERVICE };
	const char *st = run("cat /proc/self/status", &o);
	assert_string_equal(field(st, "Uid:"), "65534\t65534\t65534\t65534");
	assert_string_equal(field(st, "Gid:"), "65534\t65534\t65534\t65534");
	assert_string_equal(field(st, "Groups:"), "");
	assert_string_equal(field(st, "NoNewPrivs:"), "1");
	assert_string_equal(field(st, "CapEff:"), "0000000000000400");
	assert_string_equal(field(st, "CapPrm:"), "0000000000000400");
	assert_string_equal(field(st, "CapBnd:"), "0000000000000400");
}

static void root_of_its_own_user_namespace(void **state)
{
	struct spawn_opts o = { .set_ids = true, .uid = 65534, .gid = 65534, .userns = true };
	/* read from inside: root there, with the ids outside mapped to 0 */
	const char *st = run("cat /proc/self/status /proc/self/uid_map /proc/self/gid_map", &o);
	assert_string_equal(field(st, "Uid:"), "0\t0\t0\t0");
	assert_string_equal(field(st, "NoNewPrivs:"), "1");
	assert_non_null(strstr(st, "         0      65534          1\n"));
	/* from outside: uid 65534, and the namespace belongs to root, so no
	 * other process of uid 65534 has power in it */
	char *argv[] = { "sleep", "5", NULL };
	pid_t pid = spawn_child("sleep", argv, &o);
	assert_true(pid > 0);
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	uid_t owner = 12345;
	assert_int_equal(ioctl(fd, NS_GET_OWNER_UID, &owner), 0);
	assert_int_equal(owner, 0);
	close(fd);
	struct stat sb;
	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_uid, 65534);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* How many processes are in the PID namespace NS ("pid:[N]"). */
static int in_pid_ns(const char *ns)
{
	int n = 0;
	DIR *d = opendir("/proc");
	assert_non_null(d);
	struct dirent *e;
	while ((e = readdir(d))) {
		char path[300], link[64];
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/ns/pid", e->d_name);
		ssize_t len = readlink(path, link, sizeof(link) - 1);
		if (len > 0 && (link[len] = 0, strcmp(link, ns) == 0))
			n++;
	}
	closedir(d);
	return n;
}

static void nothing_it_starts_outlives_it(void **state)
{
	/* as dnsmasq is started: a process it leaves, in a session of its
	 * own, goes when it exits */
	struct spawn_opts o = { .set_ids = true, .uid = 65534, .gid = 65534, .userns = true,
				.pidns = true, .pdeathsig = SIGKILL };
	const char *text = run("sh -c 'echo $$; readlink /proc/self/ns/pid; "
			       "setsid sleep 1000 </dev/null >/dev/null 2>&1 &'", &o);
	char ns[64];
	assert_int_equal(sscanf(text, "1\n%63s", ns), 1);   /* pid 1 there */
	char mine[64];
	ssize_t len = readlink("/proc/self/ns/pid", mine, sizeof(mine) - 1);
	assert_true(len > 0);
	mine[len] = 0;
	assert_string_not_equal(ns, mine);
	int left = 1;
	for (int i = 0; i < 200 && (left = in_pid_ns(ns)); i++)
		usleep(10000);
	assert_int_equal(left, 0);
}

static void a_failed_exec_is_an_error(void **state)
{
	char *argv[] = { "x", NULL };
	errno = 0;
	assert_int_equal(spawn_child("/nonexistent/x", argv, NULL), -1);
	assert_int_equal(errno, ENOENT);
	struct spawn_opts bad = { .userns = true };   /* userns without set_ids */
	assert_int_equal(spawn_child("/bin/true", argv, &bad), -1);
	assert_int_equal(errno, EINVAL);
}

static int setup(void **state)
{
	if (geteuid() != 0)
		return 0;
	assert_non_null(mkdtemp(dir));
	chmod(dir, 0777);   /* the children write as 65534 */
	snprintf(out, sizeof(out), "%s/out", dir);
	return 0;
}

static int teardown(void **state)
{
	unlink(out);
	rmdir(dir);
	return 0;
}

int main(void)
{
	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root\n");
		return 0;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(only_stdio_crosses),
		cmocka_unit_test(signals_back_to_default),
		cmocka_unit_test(ids_and_one_capability),
		cmocka_unit_test(root_of_its_own_user_namespace),
		cmocka_unit_test(nothing_it_starts_outlives_it),
		cmocka_unit_test(a_failed_exec_is_an_error),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

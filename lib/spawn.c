/* spawn.c: fork and exec a child with nothing inherited by accident. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawn.h"

#define SPAWN_CAP_MAX 64

/* Close every descriptor above 2 but KEEP (the pipe that reports a failure,
 * itself close-on-exec). */
static int close_others(int keep)
{
	if (keep > 3 && syscall(SYS_close_range, 3u, (unsigned)keep - 1, 0u) < 0 && errno != ENOSYS)
		return -1;
	if (syscall(SYS_close_range, (unsigned)keep + 1, ~0u, 0u) == 0)
		return 0;
	if (errno != ENOSYS)
		return -1;
	/* kernels before 5.9 */
	long max = sysconf(_SC_OPEN_MAX);
	for (long fd = 3; fd < (max > 0 ? max : 65536); fd++)
		if (fd != keep)
			close((int)fd);
	return 0;
}

static int write_proc(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, text, strlen(text));
	int err = errno;
	close(fd);
	errno = err;
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

static int caps_set(uint64_t caps)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];
	memset(d, 0, sizeof(d));
	for (int i = 0; i < 2; i++)
		d[i].effective = d[i].permitted = d[i].inheritable = (uint32_t)(caps >> (32 * i));
	return (int)syscall(SYS_capset, &h, d);
}

static int set_ids(const struct spawn_opts *o)
{
	if (o->caps && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return -1;
	/* the bounding set first: dropping needs CAP_SETPCAP, which goes with root */
	for (int c = 0; c < SPAWN_CAP_MAX; c++)
		if (!(o->caps >> c & 1) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			return -1;
	if (setgroups(0, NULL) < 0 || setresgid(o->gid, o->gid, o->gid) < 0 ||
	    setresuid(o->uid, o->uid, o->uid) < 0)
		return -1;
	if (caps_set(o->caps) < 0)
		return -1;
	for (int c = 0; c < SPAWN_CAP_MAX; c++)
		if (o->caps >> c & 1 && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
			return -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	if (!o->userns)
		return 0;
	/* a changed uid makes us undumpable, and /proc/self root's: writing our
	 * own maps needs them ours again */
	char map[64];
	if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0 || unshare(CLONE_NEWUSER) < 0 ||
	    write_proc("/proc/self/setgroups", "deny") < 0)
		return -1;
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)o->uid);
	if (write_proc("/proc/self/uid_map", map) < 0)
		return -1;
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)o->gid);
	return write_proc("/proc/self/gid_map", map);
}

static void child_fail(int errfd)
{
	int err = errno;
	if (write(errfd, &err, sizeof(err)) < 0)
		_exit(126);
	_exit(127);
}

static void child(int errfd, pid_t parent, const char *path, char *const argv[],
		  const struct spawn_opts *o)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (int s = 1; s < NSIG; s++)
		sigaction(s, &sa, NULL);   /* SIGKILL, SIGSTOP and glibc's own refuse: fine */
	sigset_t none;
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		child_fail(errfd);
	if (o->stdin_fd > 0 && dup2(o->stdin_fd, 0) < 0)
		child_fail(errfd);
	if (close_others(errfd) < 0)
		child_fail(errfd);
	if (o->set_ids && set_ids(o) < 0)
		child_fail(errfd);
	if (o->pdeathsig) {
		if (prctl(PR_SET_PDEATHSIG, o->pdeathsig, 0, 0, 0) < 0)
			child_fail(errfd);
		if (getppid() != parent)
			_exit(0);          /* the daemon died before the signal was armed */
	}
	execvp(path, argv);
	child_fail(errfd);
}

pid_t spawn_child(const char *path, char *const argv[], const struct spawn_opts *o)
{
	static const struct spawn_opts plain;
	if (!o)
		o = &plain;
	if (!path || !argv || !argv[0] || (o->userns && (!o->set_ids || o->caps))) {
		errno = EINVAL;
		return -1;
	}
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		int err = errno;
		close(p[0]);
		close(p[1]);
		errno = err;
		return -1;
	}
	if (pid == 0)
		child(p[1], parent, path, argv, o);
	close(p[1]);
	/* EOF: the exec closed the pipe. An int: the child's errno. */
	int err = 0;
	ssize_t n;
	do
		n = read(p[0], &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	close(p[0]);
	if (n == (ssize_t)sizeof(err)) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		errno = err ? err : EIO;
		return -1;
	}
	return pid;
}

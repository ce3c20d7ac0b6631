/* spawn.c: fork and exec a child with nothing inherited by accident. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/spawn.h"

#define SPAWN_CAP_MAX 64

int spawn_close_range(unsigned lo, unsigned hi)
{
	if (lo > hi)
		return 0;
	if (syscall(SYS_close_range, lo, hi, 0u) == 0)
		return 0;
	if (errno != ENOSYS)
		return -1;
	/* kernels before 5.9 */
	long max = sysconf(_SC_OPEN_MAX);
	for (long fd = lo; fd <= (long)hi && fd < (max > 0 ? max : 65536); fd++)
		close((int)fd);
	return 0;
}

/* Close every descriptor above 2 but A and B (A < B: the pipes to the
 * parent, themselves close-on-exec). */
static int close_others(int a, int b)
{
	if (spawn_close_range(3, (unsigned)a - 1) < 0 || spawn_close_range((unsigned)a + 1, (unsigned)b - 1) < 0)
		return -1;
	return spawn_close_range((unsigned)b + 1, ~0u);
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

#define SPAWN_MAP_ME 0   /* on the report pipe: "write my user namespace's maps" */

/* Root of a new user namespace whose maps the parent writes (its 0 is the
 * uid and gid asked for). Made while still root and mapped by the parent (which may: it is root
 * outside), so it needs no unprivileged user namespaces and belongs to
 * root, not to the uid: no other process of that uid has power in it. */
static int enter_userns(int errfd, int gofd)
{
	int ask = SPAWN_MAP_ME;
	char go;
	if (unshare(CLONE_NEWUSER) < 0)
		return -1;
	if (write(errfd, &ask, sizeof(ask)) != (ssize_t)sizeof(ask) || read(gofd, &go, 1) != 1) {
		errno = EIO;
		return -1;
	}
	/* 0 inside is the uid outside: from here on the child is that uid */
	if (setgroups(0, NULL) < 0 || setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		return -1;
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

static int set_ids(const struct spawn_opts *o, int errfd, int gofd)
{
	if (o->userns)
		return enter_userns(errfd, gofd);
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
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

static void child_fail(int errfd)
{
	int err = errno ? errno : EIO;   /* 0 would read as SPAWN_MAP_ME */
	if (write(errfd, &err, sizeof(err)) < 0)
		_exit(126);
	_exit(127);
}

/* Whether the parent's end of GOFD's pipe is closed: in a new PID
 * namespace getppid() is 0 whether the parent lives or not. */
static bool parent_gone(int gofd)
{
	struct pollfd p = { .fd = gofd, .events = POLLIN };
	return poll(&p, 1, 0) > 0 && (p.revents & POLLHUP);
}

static void child(int errfd, int gofd, pid_t parent, const char *path, char *const argv[],
		  const struct spawn_opts *o)
{
	/* the raw call: glibc's sigaction refuses its own two real-time
	 * signals, and an ignored signal stays ignored across exec (a CI
	 * runner passed them on ignored). The kernel's struct: handler,
	 * flags, restorer, mask. SIGKILL and SIGSTOP refuse: fine. */
	struct { void *handler; unsigned long flags; void *restorer; uint64_t mask; } dfl;
	memset(&dfl, 0, sizeof(dfl));   /* SIG_DFL is 0 */
	for (int s = 1; s < NSIG; s++)
		syscall(SYS_rt_sigaction, s, &dfl, NULL, sizeof(dfl.mask));
	/* the raw call: glibc's sigprocmask leaves its own two real-time
	 * signals as they were, and a starter may have them blocked */
	uint64_t none = 0;
	if (syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof(none)) < 0)
		child_fail(errfd);
	if (o->stdin_fd > 0 && dup2(o->stdin_fd, 0) < 0)
		child_fail(errfd);
	if (close_others(errfd < gofd ? errfd : gofd, errfd < gofd ? gofd : errfd) < 0)
		child_fail(errfd);
	if (o->set_ids && set_ids(o, errfd, gofd) < 0)
		child_fail(errfd);
	if (o->pdeathsig) {
		if (prctl(PR_SET_PDEATHSIG, o->pdeathsig, 0, 0, 0) < 0)
			child_fail(errfd);
		if (!o->pidns ? getppid() != parent : parent_gone(gofd))
			_exit(0);          /* the daemon died before the signal was armed */
	}
	execvp(path, argv);
	child_fail(errfd);
}

/* The maps of PID's new user namespace: its 0 is O's uid and gid. */
static int write_maps(pid_t pid, const struct spawn_opts *o)
{
	char path[64], map[64];
	snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)pid);
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)o->uid);
	if (write_proc(path, map) < 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/gid_map", (int)pid);
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)o->gid);
	return write_proc(path, map);
}

/* A close-on-exec pipe above 2: a daemon started with stdio closed would
 * get 0-2, which the child's own stdio (and stdin_fd) take. */
static int pipe_high(int p[2])
{
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		if (p[i] > 2)
			continue;
		int fd = fcntl(p[i], F_DUPFD_CLOEXEC, 3);
		if (fd < 0) {
			int err = errno;
			close(p[0]);
			close(p[1]);
			errno = err;
			return -1;
		}
		close(p[i]);
		p[i] = fd;
	}
	return 0;
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
	/* report: the child's errno, or SPAWN_MAP_ME; EOF once it exec'd.
	 * go: the parent's answer to SPAWN_MAP_ME. */
	int report[2], go[2];
	if (pipe_high(report) < 0)
		return -1;
	if (pipe_high(go) < 0) {
		int err = errno;
		close(report[0]);
		close(report[1]);
		errno = err;
		return -1;
	}
	pid_t parent = getpid();
	/* clone with no new stack is fork, but for the namespace */
	pid_t pid = o->pidns ? (pid_t)syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, NULL, NULL, NULL, NULL)
			     : fork();
	if (pid == 0) {
		close(report[0]);
		close(go[1]);
		child(report[1], go[0], parent, path, argv, o);
	}
	int err = pid < 0 ? errno : 0;
	close(report[1]);
	close(go[0]);
	while (pid > 0) {
		int msg;
		ssize_t n = read(report[0], &msg, sizeof(msg));
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(msg))
			break;             /* EOF: exec'd */
		if (msg == SPAWN_MAP_ME && write_maps(pid, o) == 0 && write(go[1], "", 1) == 1)
			continue;
		err = msg != SPAWN_MAP_ME ? msg : errno ? errno : EIO;
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		pid = -1;
	}
	close(report[0]);
	close(go[1]);
	errno = err;
	return pid;
}

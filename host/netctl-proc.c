/* Processes netctl starts (proc.h): pidfiles and what they mean, spawning
 * with nothing of ours, stopping. */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/daemon.h"
#include "host/logkeep.h"
#include "host/confine.h"
#include "host/proc.h"
#include "lib/spawn.h"
#include "lib/stage.h"

#define STOP_WAIT_MS 5000

bool proc_run_file(const struct netctl *ctx, char *buf, size_t len, const char *name, const char *ext)
{
	return netctl_pathf(buf, len, "%s/run/%s.%s", ctx->state_dir, name, ext);
}

/* PID's start time and real uid, if it is alive and not a zombie. */
static bool proc_id_read(pid_t pid, struct proc_id *p)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	bool ok = fgets(buf, sizeof(buf), f) != NULL;
	fclose(f);
	char *rp = ok ? strrchr(buf, ')') : NULL;
	if (!rp || rp[1] != ' ' || rp[2] == 'Z' || rp[2] == 'X')
		return false;
	/* fields 3 (state) to 21, then 22: the start time */
	char *t = rp + 2;
	for (int field = 3; field < 22 && t; field++)
		t = strchr(t, ' ') ? strchr(t, ' ') + 1 : NULL;
	if (!t || sscanf(t, "%llu", &p->start) != 1)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (!(f = fopen(path, "re")))
		return false;
	unsigned uid;
	ok = false;
	while (!ok && fgets(buf, sizeof(buf), f))
		ok = sscanf(buf, "Uid: %u", &uid) == 1;
	fclose(f);
	p->pid = pid;
	p->uid = uid;
	return ok;
}

/* The process WANT names still runs: the same start time, and the uid it
 * was started as (one started as root may since have dropped to a user of
 * its own, as moat-link does; one started as a user cannot change it). A
 * pid recycled by something else does not count. */
static bool pid_is(const struct proc_id *want)
{
	struct proc_id now;
	return proc_id_read(want->pid, &now) && now.start == want->start &&
	       (now.uid == want->uid || want->uid == 0);
}

/* The user NAME runs as (or, a link, drops to). */
static uid_t proc_user_of(const char *name)
{
	const char *user = strcmp(name, "netvm") == 0 ? PRIV_USER_NET :
			   strcmp(name, "firewallvm") == 0 ? PRIV_USER_FW : PRIV_USER_LINK;
	struct passwd *pw = getpwnam(user);
	return pw ? pw->pw_uid : 0;
}

/* Seconds after boot at which PATH was last written, by CLOCK_BOOTTIME. */
static bool mtime_since_boot(const char *path, double *s)
{
	struct stat st;
	struct timespec real, boot;
	if (stat(path, &st) < 0 || clock_gettime(CLOCK_REALTIME, &real) < 0 ||
	    clock_gettime(CLOCK_BOOTTIME, &boot) < 0)
		return false;
	double booted = (double)real.tv_sec + real.tv_nsec / 1e9 - ((double)boot.tv_sec + boot.tv_nsec / 1e9);
	*s = (double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec / 1e9 - booted;
	return true;
}

/* A pidfile PIDF of an older netctl, without NAME.started (STARTF), whose
 * process P is alive: P is NAME if it runs as root or as NAME's user, has
 * the argument NAME (what that netctl checked), and was started before the
 * pidfile was written, so it held the pid then (a second of slack for the
 * clocks' rounding). Then, as root, NAME.started is written once: from now
 * on P is known as any other. */
static bool proc_legacy_is(const struct netctl *ctx, const char *name, const char *pidf, const char *startf,
			   const struct proc_id *p)
{
	double written;
	long hz = sysconf(_SC_CLK_TCK);
	if ((p->uid != 0 && p->uid != proc_user_of(name)) || !daemon_pid_has_arg(p->pid, name) || hz <= 0 ||
	    !mtime_since_boot(pidf, &written) || (double)p->start / (double)hz > written + 1)
		return false;
	if (geteuid() == 0 && proc_run_write(ctx, name, "started", "%llu %u\n", p->start, (unsigned)p->uid)) {
		gid_t moat;
		if (priv_group(PRIV_GROUP_READ, &moat))
			priv_own(startf, 0, moat, 0640);
		fprintf(stderr, "netctl: %s (pid %d) was started by an older netctl: known by its user, its "
			"arguments and its start time, and recorded in %s\n", name, (int)p->pid, startf);
	}
	return true;
}

int proc_running_id(const struct netctl *ctx, const char *name, struct proc_id *p)
{
	char pidf[4096], startf[4096];
	if (!proc_run_file(ctx, pidf, sizeof(pidf), name, "pid") ||
	    !proc_run_file(ctx, startf, sizeof(startf), name, "started"))
		return 0;
	int pid = 0;
	unsigned uid = 0;
	FILE *f = fopen(pidf, "re");
	bool ok = f && fscanf(f, "%d", &pid) == 1 && pid > 0;
	if (f)
		fclose(f);
	if (!ok)
		return 0;
	f = fopen(startf, "re");
	if (!f && errno == ENOENT) {
		/* an older netctl's pidfile: a process that is gone is gone, and
		 * so is one of another user (that netctl ran NAME as root or as
		 * NAME's user): the pid was used again; it is left alone */
		if (!proc_id_read(pid, p) || (p->uid != 0 && p->uid != proc_user_of(name)))
			return 0;
		if (proc_legacy_is(ctx, name, pidf, startf, p))
			return 1;
		fprintf(stderr, "netctl: %s names pid %d, written by an older netctl (there is no %s), and netctl "
			"cannot tell that process to be %s (it is not root's or its user's, has not the argument "
			"%s, or started after the pidfile was written): netctl neither stops it nor starts "
			"another. If it is %s (see /proc/%d/cmdline), stop it yourself (kill %d); then remove %s\n",
			pidf, pid, startf, name, name, name, pid, pid, pidf);
		return -1;
	}
	ok = f && fscanf(f, "%llu %u", &p->start, &uid) == 2;
	if (f)
		fclose(f);
	p->pid = pid;
	p->uid = uid;
	return ok && pid_is(p);
}

pid_t proc_running(const struct netctl *ctx, const char *name)
{
	struct proc_id p;
	int r = proc_running_id(ctx, name, &p);
	return r > 0 ? p.pid : r;
}

/* All a started process gets of netctl's environment (root's, or a unit's):
 * a PATH for what it may run itself, nothing that steers the dynamic
 * loader, QEMU or a library (LD_*, HOME, TMPDIR, ...). */
static char *const spawn_env[] = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", NULL };

/* In the child: AS's descriptors at 3, 4, ... (moved out of the way first,
 * so that none overwrites another before it is placed); one that is -1
 * leaves its number empty, also of what netctl's caller left there. */
static bool place_fds(const struct proc_as *as)
{
	int tmp[8];
	if (as->nfds > sizeof(tmp) / sizeof(tmp[0]))
		return false;
	for (size_t i = 0; i < as->nfds; i++) {
		tmp[i] = -1;
		if (as->fds[i] >= 0 && (tmp[i] = fcntl(as->fds[i], F_DUPFD_CLOEXEC, 64)) < 0)
			return false;
	}
	for (size_t i = 0; i < as->nfds; i++)
		if (tmp[i] >= 0 ? dup2(tmp[i], 3 + (int)i) < 0 : close(3 + (int)i) < 0 && errno != EBADF)
			return false;   /* dup2 clears close-on-exec */
	return true;
}

/* STATE/run/NAME.EXT holds FMT..., whole or not at all. */
bool proc_run_write(const struct netctl *ctx, const char *name, const char *ext, const char *fmt, ...)
{
	char path[4096];
	if (!proc_run_file(ctx, path, sizeof(path), name, ext))
		return false;
	va_list ap;
	va_start(ap, fmt);
	int err = stage_vprintf(path, &(struct stage_how){ .mode = 0666 }, fmt, ap);
	va_end(ap);
	if (err)
		fprintf(stderr, "netctl: writing %s: %s\n", path, strerror(err));
	return !err;
}

/* ARGV started in its own session as AS says, stdout and stderr through a
 * pipe to the keeper of NAME.log (at most LOGKEEP_MAX bytes), with no other
 * descriptor of ours or our caller's (an inherited one, not close-on-exec,
 * would cross the exec) and spawn_env. Its NAME.started and pidfile are
 * written before we return. */
bool proc_spawn(const struct netctl *ctx, const char *name, char *const *argv, const struct proc_as *as)
{
	char log[4096];
	gid_t moat;
	if (!proc_run_file(ctx, log, sizeof(log), name, "log") || !priv_group(PRIV_GROUP_READ, &moat))
		return false;
	int fd = logkeep_pipe(log, false, moat, as->log_as);
	if (fd < 0)
		return false;
	int ready[2];
	if (pipe2(ready, O_CLOEXEC) < 0) {
		close(fd);
		return false;
	}
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		setsid();
		dup2(null, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		signal(SIGPIPE, SIG_DFL);
		/* up --foreground blocks the signals it waits for */
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		/* out of the way of the descriptors placed at 3, 4, ... */
		int report = fcntl(ready[1], F_DUPFD_CLOEXEC, 64);
		unsigned first = 3 + (unsigned)as->nfds;
		const char *step = "run";
		if (report < 0)
			step = "report on";
		else if (!place_fds(as) || spawn_close_range(first, (unsigned)report - 1) < 0 ||
			 spawn_close_range((unsigned)report + 1, ~0u) < 0)
			step = "pass descriptors to";
		else if (as->netns && unshare(CLONE_NEWNET) < 0)
			step = "make a network namespace for";
		else if (as->confined && !confine_files(as->files, as->nfiles))
			step = "make read-only mounts for";
		else if (as->confined && confine_scope() < 0)
			step = "scope";
		else if (as->id ? !priv_drop(as->id, &as->limits) :
				  !priv_limit(&as->limits) || !priv_bound(as->keep, as->nkeep))
			step = as->id ? "drop privileges for" : "set limits for";
		else
			execvpe(argv[0], argv, spawn_env);
		int e = errno;
		dprintf(2, "netctl: cannot %s %s: %s\n", step, argv[0], strerror(e));
		ssize_t w = write(report < 0 ? ready[1] : report, &e, sizeof(e));
		(void)w;
		_exit(127);
	}
	close(fd);
	close(ready[1]);
	if (pid < 0) {
		close(ready[0]);
		fprintf(stderr, "netctl: fork: %s\n", strerror(errno));
		return false;
	}
	int e = 0;
	ssize_t r = read(ready[0], &e, sizeof(e));   /* EOF: the exec happened */
	close(ready[0]);
	if (r == sizeof(e)) {
		waitpid(pid, NULL, 0);
		fprintf(stderr, "netctl: cannot run %s for %s%s%s: %s (see %s)\n", argv[0], name,
			as->id ? " as user " : "", as->id ? as->id->name : "", strerror(e), log);
		return false;
	}
	/* ours and not reaped: PID cannot be another process's yet */
	struct proc_id id;
	if (!proc_id_read(pid, &id))
		fprintf(stderr, "netctl: %s (pid %d) is gone at once (see %s)\n", name, (int)pid, log);
	else if (proc_run_write(ctx, name, "started", "%llu %u\n", id.start, as->id ? (unsigned)as->id->uid : 0u) &&
		 proc_run_write(ctx, name, "pid", "%d\n", (int)pid))
		return true;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return false;
}

void proc_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

bool proc_stop(const struct netctl *ctx, const char *name, const char *what)
{
	char pidf[4096];
	struct proc_id p;
	int r = proc_running_id(ctx, name, &p);
	if (r < 0)
		return false;   /* not ours to stop, nor to forget */
	if (r) {
		pid_t pid = p.pid;
		kill(pid, SIGTERM);
		for (long t = 0; t < STOP_WAIT_MS && pid_is(&p); t += 50) {
			waitpid(pid, NULL, WNOHANG);   /* ours when up failed half-way */
			proc_sleep_ms(50);
		}
		if (pid_is(&p)) {
			kill(pid, SIGKILL);
			for (int i = 0; i < 40 && pid_is(&p); i++)
				proc_sleep_ms(50);
		}
		if (pid_is(&p)) {
			fprintf(stderr, "netctl: %s %s (pid %d) does not stop\n", what, name, (int)pid);
			return false;
		}
		printf("stopped %s %s\n", what, name);
	}
	if (proc_run_file(ctx, pidf, sizeof(pidf), name, "pid"))
		unlink(pidf);
	if (proc_run_file(ctx, pidf, sizeof(pidf), name, "started"))
		unlink(pidf);
	if (proc_run_file(ctx, pidf, sizeof(pidf), name, "mem-max"))
		unlink(pidf);
	if (proc_run_file(ctx, pidf, sizeof(pidf), name, "owner"))
		unlink(pidf);
	if (proc_run_file(ctx, pidf, sizeof(pidf), name, "guard"))
		unlink(pidf);
	return true;
}

/* What spawn left in run/ for NAME (its log, pidfile and NAME.started, an
 * appliance's console) root:moat 0640 for the read-only commands: netctl's
 * umask (077) made them root's alone. */
bool proc_run_files_own(const struct netctl *ctx, const char *name, gid_t moat)
{
	static const char *const exts[] = { "log", "pid", "started", "console", "mem-max", "owner" };
	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		char path[4096];
		struct stat st;
		if (!proc_run_file(ctx, path, sizeof(path), name, exts[i]))
			return false;
		if (lstat(path, &st) < 0 && errno == ENOENT)
			continue;
		if (!priv_own(path, 0, moat, 0640))
			return false;
	}
	return true;
}

/* The lock of the pieces: one open description of STATE/run/lock, held by
 * this process DEPTH times (a command holding it may call another that
 * takes it: a second flock of the same file from us would wait forever). */
static int lock_fd = -1;
static unsigned lock_depth;

bool proc_lock(const struct netctl *ctx)
{
	if (lock_depth) {
		lock_depth++;
		return true;
	}
	char path[4096];
	if (!netctl_pathf(path, sizeof(path), "%s/run/lock", ctx->state_dir))
		return false;
	int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 && errno == ENOENT) {
		/* no run/ yet: nothing runs yet */
		lock_depth = 1;
		return true;
	}
	if (fd < 0 || flock(fd, LOCK_EX) < 0) {
		fprintf(stderr, "netctl: locking %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return false;
	}
	lock_fd = fd;
	lock_depth = 1;
	return true;
}

void proc_unlock(void)
{
	if (lock_depth && --lock_depth == 0 && lock_fd >= 0) {
		close(lock_fd);   /* and with it the lock */
		lock_fd = -1;
	}
}

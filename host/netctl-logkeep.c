/* Bounded logs and consoles: a pipe and a keeper process per file (logkeep.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host/logkeep.h"
#include "lib/spawn.h"

#define CHUNK 65536
#define JOURNAL_STDOUT "/run/systemd/journal/stdout"
#define KEEPER_GID ((gid_t)65534)   /* nogroup, the overflow gid: a group that gives nothing */

/* OUT's newest KEEP bytes (from the first line that starts in them) moved
 * to its start, after a line that says so; O_APPEND is off meanwhile, as a
 * pwrite on an O_APPEND file appends. False if OUT cannot be written. */
static bool compact(int out, off_t size, off_t keep)
{
	char buf[CHUNK], mark[160];
	int flags = fcntl(out, F_GETFL);
	if (flags < 0 || fcntl(out, F_SETFL, flags & ~O_APPEND) < 0)
		return false;
	off_t from = size > keep ? size - keep : 0;
	/* start on a line of its own, if one begins within a chunk */
	ssize_t n = pread(out, buf, sizeof(buf), from);
	char *nl = n > 0 ? memchr(buf, '\n', (size_t)n) : NULL;
	if (nl)
		from += nl - buf + 1;
	int m = snprintf(mark, sizeof(mark), "[netctl: %lld bytes of older output dropped: this file keeps at most "
			 "%lld]\n", (long long)from, (long long)(keep * 2));
	bool ok = m > 0 && (size_t)m < sizeof(mark) && (off_t)m < from && pwrite(out, mark, (size_t)m, 0) == m;
	off_t to = m;
	/* forward: the destination is always below the source */
	while (ok && from < size) {
		n = pread(out, buf, (size_t)(size - from < CHUNK ? size - from : CHUNK), from);
		ok = n > 0 && pwrite(out, buf, (size_t)n, to) == n;
		from += n;
		to += n;
	}
	ok = ok && ftruncate(out, to) == 0;
	return fcntl(out, F_SETFL, flags) == 0 && ok;
}

void logkeep_run(int in, int out, int journal, off_t max)
{
	char buf[CHUNK];
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		/* non-blocking: a journal that does not keep up loses lines,
		 * never holds up what we keep for */
		if (journal >= 0 && write(journal, buf, (size_t)n) < 0 && errno != EAGAIN && errno != EINTR) {
			close(journal);
			journal = -1;
		}
		struct stat st;
		/* the file's size, not ours to count: a keeper of the process
		 * this one replaces may still be writing its last words */
		if (fstat(out, &st) < 0 || (st.st_size + n > max && !compact(out, st.st_size, max / 2)))
			continue;   /* dropped rather than past the cap */
		for (char *p = buf; n > 0;) {
			ssize_t w = write(out, p, (size_t)n);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				break;
			p += w;
			n -= w;
		}
	}
}

/* The keeper, in the grandchild: nothing of netctl but IN and OUT, as AS,
 * undumpable (AS's other processes, the one it keeps for included, may
 * neither read nor trace it), and a file size limit just above the cap.
 * One byte on READY once it is all that; none if it cannot be. */
static void keeper(int in, int out, int ready, int journal, const struct priv_id *as)
{
	setsid();
	prctl(PR_SET_NAME, "netctl-logkeep", 0, 0, 0);   /* what ps shows, not netctl's name */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGXFSZ, SIG_IGN);
	/* IN at 3, OUT at 4, READY at 5, JOURNAL (if any) at 6, nothing else
	 * (not even 0-2) */
	int hi_in = fcntl(in, F_DUPFD_CLOEXEC, 64), hi_out = fcntl(out, F_DUPFD_CLOEXEC, 64);
	int hi_ready = fcntl(ready, F_DUPFD_CLOEXEC, 64);
	int hi_journal = journal >= 0 ? fcntl(journal, F_DUPFD_CLOEXEC, 64) : -1;
	if (hi_in < 0 || hi_out < 0 || hi_ready < 0 || (journal >= 0 && hi_journal < 0) || dup2(hi_in, 3) < 0 ||
	    dup2(hi_out, 4) < 0 || dup2(hi_ready, 5) < 0 || (hi_journal >= 0 && dup2(hi_journal, 6) < 0) ||
	    spawn_close_range(hi_journal >= 0 ? 7 : 6, ~0u) < 0)
		_exit(1);
	for (int fd = 0; fd < 3; fd++)
		close(fd);
	struct rlimit fsize = { LOGKEEP_MAX + CHUNK + 4096, LOGKEEP_MAX + CHUNK + 4096 };
	struct priv_limits limits = { .nofile = 8 };
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 || setrlimit(RLIMIT_FSIZE, &fsize) < 0 || !priv_drop(as, &limits) ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 || write(5, "", 1) != 1)
		_exit(1);
	close(5);
	logkeep_run(3, 4, hi_journal >= 0 ? 6 : -1, LOGKEEP_MAX);
	_exit(0);
}

/* A stream into the journal, its lines tagged moat/NAME (FILE's name less
 * .log), when netctl's own stderr is the journal's (systemd says which
 * stream that is in $JOURNAL_STREAM): -1 otherwise, or if it cannot be. */
static int journal_stream(const char *file)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(2, &st) < 0 || st.st_dev != dev ||
	    st.st_ino != ino)
		return -1;
	const char *name = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
	size_t len = strlen(name);
	if (len > 4 && strcmp(name + len - 4, ".log") == 0)
		len -= 4;
	struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = JOURNAL_STDOUT };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	/* identifier, unit, priority (info), level prefix, to syslog, kmsg,
	 * console: systemd's stdout stream header */
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || shutdown(fd, SHUT_RD) < 0 ||
	    dprintf(fd, "moat/%.*s\n\n6\n0\n0\n0\n0\n", (int)len, name) < 0 ||
	    fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int logkeep_pipe(const char *file, bool truncate, gid_t gid, const struct priv_id *as)
{
	int out = open(file, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0640);
	struct stat st;
	const char *why = NULL;
	if (out < 0 || fstat(out, &st) < 0)
		why = strerror(errno);
	else if (!S_ISREG(st.st_mode))
		why = "not a regular file";
	else if (fchown(out, 0, gid) < 0 || fchmod(out, 0640) < 0 || (truncate && ftruncate(out, 0) < 0))
		why = strerror(errno);
	int p[2] = { -1, -1 }, ready[2] = { -1, -1 };
	if (!why && (pipe2(p, O_CLOEXEC) < 0 || pipe2(ready, O_CLOEXEC) < 0))
		why = strerror(errno);
	/* twice forked: the keeper is nobody's child of ours to reap, and
	 * outlives netctl as long as what it keeps for */
	pid_t pid = why ? -1 : fork();
	if (pid == 0) {
		close(p[1]);
		close(ready[0]);
		/* AS's uid, for the limits that count per user, but not its
		 * gid: the kernel lets a process change another's limits
		 * (prlimit) only if all their ids are the same, and what it
		 * keeps for must not silence it */
		struct priv_id kid = *as;
		kid.gid = KEEPER_GID;
		kid.ngroups = 0;
		if (fork() == 0)
			keeper(p[0], out, ready[1], journal_stream(file), &kid);
		_exit(0);
	}
	char c;
	if (!why && (pid < 0 || waitpid(pid, NULL, 0) != pid))
		why = strerror(errno);
	close(ready[1]);
	/* EOF: the keeper could not become what it must be */
	if (!why && read(ready[0], &c, 1) != 1)
		why = "the keeper did not start (as its user, without capabilities)";
	if (out >= 0)
		close(out);
	if (p[0] >= 0)
		close(p[0]);
	if (ready[0] >= 0)
		close(ready[0]);
	if (why) {
		fprintf(stderr, "netctl: keeping %s: %s\n", file, why);
		if (p[1] >= 0)
			close(p[1]);
		return -1;
	}
	return p[1];
}

/* Bounded logs and consoles: a pipe and a keeper process per file (logkeep.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "logkeep.h"
#include "spawn.h"

#define CHUNK 65536

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

void logkeep_run(int in, int out, off_t max)
{
	char buf[CHUNK];
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
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
 * neither read nor trace it), and a file size limit just above the cap. */
static void keeper(int in, int out, const struct priv_id *as)
{
	setsid();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGXFSZ, SIG_IGN);
	/* IN at 3, OUT at 4, nothing else (not even 0-2) */
	int hi_in = fcntl(in, F_DUPFD_CLOEXEC, 64), hi_out = fcntl(out, F_DUPFD_CLOEXEC, 64);
	if (hi_in < 0 || hi_out < 0 || dup2(hi_in, 3) < 0 || dup2(hi_out, 4) < 0 || spawn_close_range(5, ~0u) < 0)
		_exit(1);
	for (int fd = 0; fd < 3; fd++)
		close(fd);
	struct rlimit fsize = { LOGKEEP_MAX + CHUNK + 4096, LOGKEEP_MAX + CHUNK + 4096 };
	struct priv_limits limits = { .nofile = 8 };
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 || setrlimit(RLIMIT_FSIZE, &fsize) < 0 || !priv_drop(as, &limits) ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		_exit(1);
	logkeep_run(3, 4, LOGKEEP_MAX);
	_exit(0);
}

int logkeep_pipe(const char *file, bool truncate, gid_t gid, const struct priv_id *as)
{
	int out = open(file, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0640);
	struct stat st;
	if (out < 0 || fstat(out, &st) < 0 || !S_ISREG(st.st_mode) || fchown(out, 0, gid) < 0 ||
	    fchmod(out, 0640) < 0 || (truncate && ftruncate(out, 0) < 0)) {
		fprintf(stderr, "netctl: %s: %s\n", file, out >= 0 && !S_ISREG(st.st_mode) ? "not a regular file" :
			strerror(errno));
		if (out >= 0)
			close(out);
		return -1;
	}
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		fprintf(stderr, "netctl: pipe for %s: %s\n", file, strerror(errno));
		close(out);
		return -1;
	}
	/* twice forked: the keeper is nobody's child of ours to reap, and
	 * outlives netctl as long as what it keeps for */
	pid_t pid = fork();
	if (pid == 0) {
		close(p[1]);
		if (fork() == 0)
			keeper(p[0], out, as);
		_exit(0);
	}
	int st_child;
	close(p[0]);
	close(out);
	if (pid < 0 || waitpid(pid, &st_child, 0) != pid) {
		fprintf(stderr, "netctl: starting the keeper of %s: %s\n", file, strerror(errno));
		close(p[1]);
		return -1;
	}
	return p[1];
}

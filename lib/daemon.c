/* daemon.c: the start-up pieces both appliance daemons share. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/daemon.h"

int daemon_listen_unix(const char *path, int flags)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun.sun_path, path);
	struct stat sb;
	/* a socket left by a daemon that died; never remove anything else */
	if (lstat(path, &sb) == 0 && S_ISSOCK(sb.st_mode))
		unlink(path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
	if (fd < 0)
		return -1;
	mode_t old = umask(0177);
	int rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc < 0 || listen(fd, 16) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int daemon_signals_open(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

/* PID's command line into BUF (NUL-separated, NUL-terminated); its length,
 * 0 when it has none or is gone. */
static ssize_t pid_cmdline(long pid, char *buf, size_t size)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	return n;
}

bool daemon_pid_has_arg(long pid, const char *arg)
{
	char buf[8192];
	ssize_t n = pid_cmdline(pid, buf, sizeof(buf));
	for (const char *a = buf; a < buf + n; a += strlen(a) + 1)
		if (strcmp(a, arg) == 0)
			return true;
	return false;
}

bool daemon_pid_has_args(long pid)
{
	char buf[64];
	return pid_cmdline(pid, buf, sizeof(buf)) > 0;
}

int daemon_stop_leftovers(const char *arg, const char *who)
{
	DIR *d = opendir("/proc");
	if (!d)
		return 0;
	pid_t self = getpid();
	int stopped = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end || pid <= 1 || pid == self || !daemon_pid_has_arg(pid, arg))
			continue;
		fprintf(stderr, "%s: stopping pid %ld (%s), left running by an earlier daemon\n", who, pid,
			arg);
		kill((pid_t)pid, SIGTERM);
		for (int ms = 0; kill((pid_t)pid, 0) == 0 && ms < 4000; ms += 10) {
			if (ms == 2000)
				kill((pid_t)pid, SIGKILL);
			/* our own child (a zombie) answers kill(0) until reaped */
			waitpid((pid_t)pid, NULL, WNOHANG);
			usleep(10000);
		}
		stopped++;
	}
	closedir(d);
	return stopped;
}

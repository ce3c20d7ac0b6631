/* moat-link --name NAME --a SOCK --b SOCK [--stats SOCK] [--poll-us N] [--no-sandbox] */
#include "link.h"
#include "guard.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static void usage(void)
{
	fprintf(stderr, "usage: moat-link --name NAME --a SOCK --b SOCK [--stats SOCK] [--poll-us N] [--no-sandbox]\n");
}

static bool name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(name[i] == '-' || name[i] == '_' || name[i] == '.' ||
		      (name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'z') ||
		      (name[i] >= 'A' && name[i] <= 'Z')))
			return false;
	return true;
}

/* A listening socket at path; a stale socket left there is replaced, any
 * other file is not. */
static int listen_at(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;

	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path) >= (int)sizeof(sa.sun_path)) {
		fprintf(stderr, "moat-link: socket path too long: %s\n", path);
		return -1;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			fprintf(stderr, "moat-link: %s exists and is not a socket\n", path);
			return -1;
		}
		unlink(path);
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0) {
		fprintf(stderr, "moat-link: listen on %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "a", required_argument, NULL, 'a' },
		{ "b", required_argument, NULL, 'b' },
		{ "stats", required_argument, NULL, 's' },
		{ "poll-us", required_argument, NULL, 'p' },
		{ "no-sandbox", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static struct link l = { .stats_fd = -1, .signal_fd = -1, .poll_ns = 50000 };
	const char *stats = NULL;
	bool sandbox = true;
	int c, rc = 1;

	l.side[0] = (struct side){ .label = 'a', .listen_fd = -1, .conn_fd = -1 };
	l.side[1] = (struct side){ .label = 'b', .listen_fd = -1, .conn_fd = -1 };
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n': l.name = optarg; break;
		case 'a': l.side[0].path = optarg; break;
		case 'b': l.side[1].path = optarg; break;
		case 's': stats = optarg; break;
		case 'N': sandbox = false; break;
		case 'p': {
			char *end;
			unsigned long us = strtoul(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || us > 1000000) {
				fprintf(stderr, "moat-link: --poll-us wants 0..1000000, not '%s'\n", optarg);
				return 2;
			}
			l.poll_ns = us * 1000;
			break;
		}
		case 'h': usage(); return 0;
		default: usage(); return 2;
		}
	}
	if (optind != argc || !l.name || !l.side[0].path || !l.side[1].path) {
		usage();
		return 2;
	}
	if (!name_ok(l.name)) {
		fprintf(stderr, "moat-link: bad link name '%s' (letters, digits, '-', '_', '.'; at most 64)\n", l.name);
		return 2;
	}

	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	l.signal_fd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (l.signal_fd < 0)
		goto out;
	for (unsigned si = 0; si < 2; si++)
		if ((l.side[si].listen_fd = listen_at(l.side[si].path)) < 0)
			goto out;
	if (stats && (l.stats_fd = listen_at(stats)) < 0)
		goto out;
	if (!guard_install() || !loop_init(&l))
		goto out;
	if (sandbox && !sandbox_enter())
		goto out;
	fprintf(stderr, "moat-link %s: listening on %s and %s\n", l.name, l.side[0].path, l.side[1].path);
	rc = loop_run(&l);
out:
	return rc;
}

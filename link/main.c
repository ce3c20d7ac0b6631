/* moat-link --name NAME --a SOCK --b SOCK [--stats SOCK] [--poll-us N]
 *           [--user USER] [--a-owner USER[:GROUP]] [--b-owner USER[:GROUP]]
 *           [--a-mem-max BYTES] [--b-mem-max BYTES] [--no-sandbox]
 *
 * --a, --b SOCK       the vhost-user sockets of the two VMs (side a, side b)
 * --stats SOCK        one line of JSON counters to whoever connects
 * --poll-us N         keep looking for frames N us after the last (50)
 * --user USER         after creating the sockets, run as USER (its uid and
 *                     primary gid, no supplementary groups, no capabilities,
 *                     none in the bounding or ambient sets either). As root
 *                     without it, moat-link keeps root and says so once.
 * --a-owner, --b-owner USER[:GROUP]
 *                     the side's VMM: USER, or anyone in GROUP. The socket is
 *                     root's, group GROUP (or USER's own), mode 0660, so the
 *                     VMM cannot open it to others; and a frontend that is
 *                     not USER, in GROUP or root is refused, whatever the
 *                     socket's mode (SO_PEERCRED, SO_PEERGROUPS). Without it
 *                     the socket is root's, by the umask. Either way it has
 *                     its owner and mode before it listens.
 * --a-mem-max, --b-mem-max BYTES (K, M, G, T suffixes: powers of 1024)
 *                     the most guest memory one side may map: the sum of its
 *                     regions, each rounded to whole blocks of its file
 *                     (huge pages on hugetlbfs). A memory table above it is
 *                     refused and that side hung up. Default 64G.
 * --no-sandbox        no seccomp filter and no resource limits (debugging)
 *
 * One frontend a side: while it is connected, another that connects is
 * closed at once and logged with its uid and pid; once it has gone (its end
 * closed, even if we have not read that yet) the next one takes the side.
 *
 * Always undumpable, from the start: every link runs as the same user, and
 * none may open another's /proc/PID/mem or ptrace it.
 * Then, unless --no-sandbox: limits (address space: both caps plus
 * RLIMIT_AS_MARGIN; open files: RLIMIT_NOFILE_LINK; no core dumps, which
 * would hold guest memory), no_new_privs and the seccomp filter. */
#include "link/link.h"
#include "link/guard.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(FILE *f, bool help)
{
	fprintf(f, "usage: moat-link --name NAME --a SOCK --b SOCK [--stats SOCK] [--poll-us N]\n"
		   "                 [--user USER] [--a-owner USER[:GROUP]] [--b-owner USER[:GROUP]]\n"
		   "                 [--a-mem-max BYTES] [--b-mem-max BYTES] [--no-sandbox]\n");
	if (help)
		fprintf(f, "  --a, --b SOCK         vhost-user sockets of the two VMs\n"
			   "  --stats SOCK          JSON counters to whoever connects\n"
			   "  --poll-us N           keep looking for frames N us after the last (50)\n"
			   "  --user USER           run as USER once the sockets exist: no groups, no capabilities\n"
			   "  --a-owner, --b-owner USER[:GROUP]\n"
			   "                        the side's socket is USER's (and GROUP's), mode 0660 (0600)\n"
			   "  --a-mem-max, --b-mem-max BYTES\n"
			   "                        most guest memory a side may map (K, M, G, T; default 64G)\n"
			   "  --no-sandbox          no seccomp and no resource limits (debugging)\n");
}

/* BYTES with an optional K, M, G or T (powers of 1024), at least 1M and at
 * most 1P, so that the address-space limit cannot overflow. */
static bool parse_size(const char *opt, const char *arg, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (end != arg && *end && !end[1]) {
		const char *units = "KMGT", *u = strchr(units, *end);
		if (u) {
			shift = 10 * (unsigned)(u - units + 1);
			end++;
		}
	}
	if (end == arg || *end || errno || *arg == '-' || v > (1ull << 50) >> shift ||
	    (v << shift) < (1ull << 20)) {
		fprintf(stderr, "moat-link: %s wants a size from 1M to 1P (K, M, G, T suffixes), not '%s'\n",
			opt, arg);
		return false;
	}
	*out = v << shift;
	return true;
}

static bool parse_id(const char *s, bool group, unsigned *id)
{
	char *end;
	unsigned long v;

	if (group) {
		struct group *g = getgrnam(s);
		if (g) {
			*id = g->gr_gid;
			return true;
		}
	} else {
		struct passwd *p = getpwnam(s);
		if (p) {
			*id = p->pw_uid;
			return true;
		}
	}
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*s == '\0' || *end || errno || v >= (unsigned)-1)
		return false;
	*id = (unsigned)v;
	return true;
}

/* USER[:GROUP] for a socket's owner. */
static bool parse_owner(const char *opt, const char *arg, struct sock_owner *o)
{
	char buf[256];
	char *colon;

	if (snprintf(buf, sizeof(buf), "%s", arg) >= (int)sizeof(buf))
		goto bad;
	colon = strchr(buf, ':');
	if (colon)
		*colon = '\0';
	if (!parse_id(buf, false, &o->uid) || (colon && !parse_id(colon + 1, true, &o->gid)))
		goto bad;
	o->has_group = colon != NULL;
	o->set = true;
	struct passwd *pw = getpwuid(o->uid);
	o->file_gid = o->has_group ? o->gid : pw ? pw->pw_gid : o->uid;
	return true;
bad:
	fprintf(stderr, "moat-link: %s: no such user or group in '%s'\n", opt, arg);
	return false;
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

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "a", required_argument, NULL, 'a' },
		{ "b", required_argument, NULL, 'b' },
		{ "stats", required_argument, NULL, 's' },
		{ "poll-us", required_argument, NULL, 'p' },
		{ "no-sandbox", no_argument, NULL, 'N' },
		{ "user", required_argument, NULL, 'u' },
		{ "a-owner", required_argument, NULL, 'A' },
		{ "b-owner", required_argument, NULL, 'B' },
		{ "a-mem-max", required_argument, NULL, 'x' },
		{ "b-mem-max", required_argument, NULL, 'y' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static struct link l = { .stats_fd = -1, .signal_fd = -1, .poll_ns = 50000 };
	const char *stats = NULL, *user = NULL;
	struct sock_owner owner[2] = { { 0 }, { 0 } };
	struct passwd *pw = NULL;
	bool sandbox = true;
	int c, rc = 1;

	/* first, before any guest memory: a process of the same user (a
	 * sibling link) could otherwise write into it through /proc/PID/mem */
	if (!sandbox_undumpable())
		return 1;
	/* nothing we make is anyone else's until we say so; without an owner
	 * a socket gets the mode the starter's umask gives */
	const mode_t open_mode = 0777 & ~umask(077);
	l.side[0] = (struct side){ .label = 'a', .listen_fd = -1, .conn_fd = -1, .mem_max = VU_MEM_MAX_DEFAULT };
	l.side[1] = (struct side){ .label = 'b', .listen_fd = -1, .conn_fd = -1, .mem_max = VU_MEM_MAX_DEFAULT };
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n': l.name = optarg; break;
		case 'a': l.side[0].path = optarg; break;
		case 'b': l.side[1].path = optarg; break;
		case 's': stats = optarg; break;
		case 'N': sandbox = false; break;
		case 'u': user = optarg; break;
		case 'A':
		case 'B':
			if (!parse_owner(c == 'A' ? "--a-owner" : "--b-owner", optarg, &owner[c == 'B']))
				return 2;
			break;
		case 'x':
		case 'y':
			if (!parse_size(c == 'x' ? "--a-mem-max" : "--b-mem-max", optarg, &l.side[c == 'y'].mem_max))
				return 2;
			break;
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
		case 'h': usage(stdout, true); return 0;
		default: usage(stderr, false); return 2;
		}
	}
	if (optind != argc || !l.name || !l.side[0].path || !l.side[1].path) {
		usage(stderr, false);
		return 2;
	}
	if (!name_ok(l.name)) {
		fprintf(stderr, "moat-link: bad link name '%s' (letters, digits, '-', '_', '.'; at most 64)\n", l.name);
		return 2;
	}
	if (user && !(pw = getpwnam(user))) {
		fprintf(stderr, "moat-link: --user: no such user '%s'\n", user);
		return 2;
	}
	if (pw && pw->pw_uid == 0) {
		fprintf(stderr, "moat-link: --user wants an unprivileged user, not '%s'\n", user);
		return 2;
	}

	/* nothing the starter had open is ours: a socket of its, kept, would
	 * be one more thing a compromised frontend could reach through us */
	if (close_range(3, ~0U, 0) < 0) {
		fprintf(stderr, "moat-link: closing inherited files: %s\n", strerror(errno));
		return 1;
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
		if ((l.side[si].listen_fd = sock_listen(l.side[si].path, &owner[si], open_mode)) < 0)
			goto out;
	l.side[0].owner = owner[0];
	l.side[1].owner = owner[1];
	if (stats && (l.stats_fd = sock_listen(stats, &(struct sock_owner){ 0 }, open_mode)) < 0)
		goto out;
	if (!guard_install() || !loop_init(&l))
		goto out;
	if (pw && !sandbox_drop_user(pw->pw_uid, pw->pw_gid))
		goto out;
	if (!pw && geteuid() == 0)
		fprintf(stderr, "moat-link %s: running as root (no --user)\n", l.name);
	if (sandbox && (!sandbox_limit(l.side[0].mem_max + l.side[1].mem_max) || !sandbox_enter()))
		goto out;
	fprintf(stderr, "moat-link %s: listening on %s and %s\n", l.name, l.side[0].path, l.side[1].path);
	rc = loop_run(&l);
out:
	return rc;
}

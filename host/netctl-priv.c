/* Users, groups and the privilege drop of what netctl starts (priv.h). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host/priv.h"

/* ARGV run to its end, its output to ours; true if it exited 0. */
static bool run(char *const *argv)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		umask(022);   /* the system tools expect the usual one, not netctl's */
		execvp(argv[0], argv);
		fprintf(stderr, "netctl: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	int st;
	return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

bool priv_accounts_ensure(void)
{
	static const char *const groups[] = { PRIV_GROUP_READ, PRIV_GROUP_VM };
	static const char *const users[] = { PRIV_USER_NET, PRIV_USER_FW, PRIV_USER_LINK };
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		if (getgrnam(groups[i]))
			continue;
		char *argv[] = { "groupadd", "--system", (char *)groups[i], NULL };
		/* a second netctl may have made it meanwhile */
		if (!run(argv) && !getgrnam(groups[i])) {
			fprintf(stderr, "netctl: cannot create the system group %s (groupadd --system %s)\n",
				groups[i], groups[i]);
			return false;
		}
		printf("created the system group %s\n", groups[i]);
	}
	for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
		if (getpwnam(users[i]))
			continue;
		char *argv[] = { "useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
				 "--shell", "/usr/sbin/nologin", "--user-group", (char *)users[i], NULL };
		if (!run(argv) && !getpwnam(users[i])) {
			fprintf(stderr, "netctl: cannot create the system user %s (useradd --system %s)\n",
				users[i], users[i]);
			return false;
		}
		printf("created the system user %s\n", users[i]);
	}
	return true;
}

bool priv_user(const char *name, struct priv_id *id)
{
	errno = 0;
	struct passwd *pw = getpwnam(name);
	if (!pw) {
		fprintf(stderr, "netctl: no user %s%s%s\n", name, errno ? ": " : "", errno ? strerror(errno) : "");
		return false;
	}
	if (pw->pw_uid == 0 || pw->pw_gid == 0) {
		/* the point of the user is not to be root */
		fprintf(stderr, "netctl: user %s is root (uid %u, gid %u): refusing to run a VM's process as it\n",
			name, (unsigned)pw->pw_uid, (unsigned)pw->pw_gid);
		return false;
	}
	*id = (struct priv_id){ .name = name, .uid = pw->pw_uid, .gid = pw->pw_gid };
	return true;
}

bool priv_group(const char *name, gid_t *gid)
{
	errno = 0;
	struct group *gr = getgrnam(name);
	if (!gr) {
		fprintf(stderr, "netctl: no group %s%s%s\n", name, errno ? ": " : "", errno ? strerror(errno) : "");
		return false;
	}
	*gid = gr->gr_gid;
	return true;
}

bool priv_fchmod(int fd, mode_t mode)
{
	/* fchmod refuses an O_PATH descriptor (and a socket can be opened no
	 * other way): its /proc/self/fd link names the inode itself, never
	 * a path that could be swapped meanwhile */
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	return chmod(proc, mode) == 0;
}

bool priv_own(const char *path, uid_t uid, gid_t gid, mode_t mode)
{
	struct stat st = { 0 };
	int fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	bool ok = fd >= 0 && fstat(fd, &st) == 0 && !S_ISLNK(st.st_mode) &&
		  fchownat(fd, "", uid, gid, AT_EMPTY_PATH) == 0 && priv_fchmod(fd, mode);
	if (!ok)
		fprintf(stderr, "netctl: giving %s to %u:%u mode %04o: %s\n", path, (unsigned)uid, (unsigned)gid,
			(unsigned)mode, S_ISLNK(st.st_mode) ? "it is a symbolic link" : strerror(errno));
	if (fd >= 0)
		close(fd);
	return ok;
}

/* Who may change what is at PATH, or put something else there, judging by
 * ST (lstat): root alone, unless ANCESTOR and sticky (as /tmp: only an
 * entry's owner may rename or remove it). NULL if root alone, else why not. */
static const char *unsafe_why(const struct stat *st, bool ancestor, char *buf, size_t len)
{
	if (st->st_uid != 0) {
		snprintf(buf, len, "is owned by uid %u, not root", (unsigned)st->st_uid);
		return buf;
	}
	if (S_ISLNK(st->st_mode) || !(st->st_mode & 022) || (ancestor && (st->st_mode & S_ISVTX)))
		return NULL;
	snprintf(buf, len, "is writable by %s (mode %04o)", st->st_mode & 002 ? "everyone" : "its group",
		 (unsigned)(st->st_mode & 07777));
	return buf;
}

/* Every directory of PATH, from / down, that exists (and PATH itself)
 * owned by root and writable by no one else (unsafe_why); WHAT GIVEN is
 * what the message names (PATH, or where it leads). */
static bool chain_safe(const char *path, const char *what, const char *given)
{
	char buf[4096], why[96];
	if (path[0] != '/' || snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
		fprintf(stderr, "netctl: %s %s: not an absolute path that fits\n", what, path);
		return false;
	}
	size_t n = strlen(buf);
	/* at I = 0, "/" itself; then each name up to a '/' or the end */
	for (size_t i = 0; i <= n; i++) {
		if (i && buf[i] != '/' && buf[i] != 0)
			continue;
		char c = buf[i];
		const char *name = i ? buf : "/";
		buf[i] = 0;
		struct stat st;
		const char *bad = NULL;
		if (lstat(name, &st) == 0)
			bad = unsafe_why(&st, i < n, why, sizeof(why));
		else if (errno != ENOENT)
			bad = strerror(errno);
		if (bad) {
			fprintf(stderr, "netctl: refusing the %s %s: %s %s; netctl gives root's files and sockets "
				"away there, so every directory down to it must be root's and writable by root "
				"alone (as sshd's StrictModes): fix its owner or mode, or choose another\n",
				what, given, name, bad);
			return false;
		}
		buf[i] = c;
	}
	return true;
}

bool priv_path_safe(const char *path, const char *what)
{
	/* the path as given (its symbolic links root's, in root's
	 * directories) and where it leads */
	char real[PATH_MAX], there[4096];
	if (!chain_safe(path, what, path) || snprintf(there, sizeof(there), "%s", path) >= (int)sizeof(there))
		return false;
	/* what of it is not made yet, netctl makes (root's, 0755) */
	while (!realpath(there, real)) {
		char *slash = strrchr(there, '/');
		if (errno != ENOENT || !slash || slash == there) {
			fprintf(stderr, "netctl: %s %s: %s\n", what, path, strerror(errno));
			return false;
		}
		*slash = 0;
	}
	return chain_safe(real, what, path);
}

bool priv_mkdirs(const char *path, mode_t mode)
{
	char buf[4096];
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
		fprintf(stderr, "netctl: path too long: %s\n", path);
		return false;
	}
	for (char *p = buf + 1;; p++) {
		if (*p == '/' || !*p) {
			char c = *p;
			*p = 0;
			/* netctl's umask is 077: what it makes is given its mode */
			bool made = mkdir(buf, 0700) == 0;
			int fd = made ? open(buf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
			bool ok = made ? fd >= 0 && fchmod(fd, c ? 0755 : mode) == 0 : errno == EEXIST;
			if (!ok)
				fprintf(stderr, "netctl: mkdir %s: %s\n", buf, strerror(errno));
			if (fd >= 0)
				close(fd);
			if (!ok)
				return false;
			if (!c)
				return true;
			*p = c;
		}
	}
}

static bool limit(int resource, rlim_t v)
{
	struct rlimit r = { v, v };
	return setrlimit(resource, &r) == 0;
}

bool priv_limit(const struct priv_limits *l)
{
	/* no core dump of a process that maps guests' memory */
	return limit(RLIMIT_CORE, 0) && (!l->nofile || limit(RLIMIT_NOFILE, l->nofile)) &&
	       (!l->memlock || limit(RLIMIT_MEMLOCK, l->memlock)) && (!l->nproc || limit(RLIMIT_NPROC, l->nproc));
}

bool priv_bound(const int *keep, size_t nkeep)
{
	for (int cap = 0;; cap++) {
		bool kept = false;
		for (size_t i = 0; i < nkeep; i++)
			kept |= keep[i] == cap;
		if (!kept && prctl(PR_CAPBSET_DROP, (unsigned long)cap, 0, 0, 0) < 0) {
			if (errno == EINVAL)   /* past the last capability this kernel has */
				break;
			return false;
		}
		if (kept && prctl(PR_CAPBSET_READ, (unsigned long)cap, 0, 0, 0) < 0)
			break;
	}
	return prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == 0 || errno == EINVAL;
}

bool priv_drop(const struct priv_id *id, const struct priv_limits *l)
{
	if (!priv_limit(l) || !priv_bound(NULL, 0))
		return false;
	if (setgroups(id->ngroups, id->groups) < 0 || setresgid(id->gid, id->gid, id->gid) < 0 ||
	    setresuid(id->uid, id->uid, id->uid) < 0)
		return false;
	/* the uid change emptied the permitted and effective sets; the
	 * inheritable one is ours to empty */
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = { 0 };
	if (syscall(SYS_capset, &h, d) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return false;
	if (setuid(0) == 0 || getuid() != id->uid || geteuid() != id->uid || getegid() != id->gid) {
		errno = EPERM;
		return false;
	}
	return true;
}

static bool in_group(gid_t g)
{
	if (getegid() == g)
		return true;
	gid_t v[256];
	int n = getgroups(256, v);
	for (int i = 0; i < n; i++)
		if (v[i] == g)
			return true;
	return false;
}

bool priv_explain(const char *path, int err)
{
	static bool said;
	if (err < 0)
		err = -err;
	if ((err != EACCES && err != EPERM) || geteuid() == 0)
		return false;
	if (said)
		return true;
	said = true;
	struct group *gr = getgrnam(PRIV_GROUP_READ);
	if (!gr)
		fprintf(stderr, "netctl: permission denied on %s: there is no group '%s' yet (netctl up, run by root, "
			"makes it); until then only root may do this\n", path, PRIV_GROUP_READ);
	else if (!in_group(gr->gr_gid))
		fprintf(stderr, "netctl: permission denied on %s: read-only commands need membership in the group "
			"'%s' (as root: usermod -aG %s USER, then log in again); changes need root\n",
			path, PRIV_GROUP_READ, PRIV_GROUP_READ);
	else
		fprintf(stderr, "netctl: permission denied on %s: the group '%s' may read, not change: this needs "
			"root\n", path, PRIV_GROUP_READ);
	return true;
}

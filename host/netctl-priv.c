/* Users, groups and the privilege drop of what netctl starts (priv.h). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
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

#include "priv.h"

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

bool priv_own(const char *path, uid_t uid, gid_t gid, mode_t mode)
{
	struct stat st;
	if (lstat(path, &st) < 0 || S_ISLNK(st.st_mode) ||
	    fchownat(AT_FDCWD, path, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 || chmod(path, mode) < 0) {
		fprintf(stderr, "netctl: giving %s to %u:%u mode %04o: %s\n", path, (unsigned)uid, (unsigned)gid,
			(unsigned)mode, S_ISLNK(st.st_mode) ? "it is a symbolic link" : strerror(errno));
		return false;
	}
	return true;
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
			if (mkdir(buf, 0700) == 0 ? chmod(buf, c ? 0755 : mode) < 0 : errno != EEXIST) {
				fprintf(stderr, "netctl: mkdir %s: %s\n", buf, strerror(errno));
				return false;
			}
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
	       (!l->memlock || limit(RLIMIT_MEMLOCK, l->memlock));
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

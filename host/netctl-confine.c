/* netctl-confine.c: an appliance QEMU's files and scope (confine.h). */
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <sched.h>
#include <stdint.h>
#include <sys/mount.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "host/confine.h"
#include "host/priv.h"

/* Landlock's scopes came in ABI 6 (Linux 6.12): the headers of an older
 * build machine lack them, and its attribute lacks the field. */
#define SCOPE_ABI 6
struct scope_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};
#define SCOPE_ABSTRACT_UNIX (1ull << 0)
#define SCOPE_SIGNAL        (1ull << 1)

static int mount_attr_set(int dfd, const char *path, unsigned flags, uint64_t set, uint64_t clr)
{
	struct mount_attr a = { .attr_set = set, .attr_clr = clr };
	return (int)syscall(SYS_mount_setattr, dfd, path, flags, &a, sizeof(a));
}

/* Where the host keeps sockets anyone may connect to (D-Bus, the journal,
 * X11's and a desktop session's, /dev/log's target): each gets an empty
 * read-only tmpfs. */
static const char *const hidden[] = { "/run", "/tmp", "/var/tmp", "/dev/shm" };

bool confine_files(const struct confine_keep *keep, size_t nkeep)
{
	char real[CONFINE_KEEP_MAX][4096];
	int tree[CONFINE_KEEP_MAX];
	if (nkeep > CONFINE_KEEP_MAX) {
		errno = E2BIG;
		return false;
	}
	/* private first: nothing done here reaches the host's mounts; and
	 * System V IPC of its own, whose segments go with it (the host's
	 * would outlive it, without bound) */
	if (unshare(CLONE_NEWNS | CLONE_NEWIPC) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return false;
	/* a /proc of its own that shows only its user's processes: none of
	 * the host's command lines */
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=2") < 0)
		return false;
	/* what it needs, taken aside before the hiding: copies of those
	 * mounts, attached again at the same place afterwards */
	for (size_t i = 0; i < nkeep; i++) {
		if (!realpath(keep[i].path, real[i]))
			return false;
		tree[i] = (int)syscall(SYS_open_tree, AT_FDCWD, real[i], OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
		if (tree[i] < 0)
			return false;
	}
	if (mount_attr_set(AT_FDCWD, "/", AT_RECURSIVE, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, 0) < 0)
		return false;
	for (size_t i = 0; i < nkeep; i++)
		if (mount_attr_set(tree[i], "", AT_EMPTY_PATH | AT_RECURSIVE,
				   MOUNT_ATTR_NOSUID | (keep[i].writable ? 0 : MOUNT_ATTR_RDONLY),
				   keep[i].writable ? MOUNT_ATTR_RDONLY : 0) < 0)
			return false;
	for (size_t i = 0; i < sizeof(hidden) / sizeof(hidden[0]); i++) {
		struct stat st;
		if (lstat(hidden[i], &st) == 0 && S_ISDIR(st.st_mode) &&
		    mount("moat", hidden[i], "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755,size=64k") < 0)
			return false;
	}
	for (size_t i = 0; i < nkeep; i++) {
		if (!priv_mkdirs(real[i], 0755) ||
		    syscall(SYS_move_mount, tree[i], "", AT_FDCWD, real[i], MOVE_MOUNT_F_EMPTY_PATH) < 0)
			return false;
		close(tree[i]);
	}
	for (size_t i = 0; i < sizeof(hidden) / sizeof(hidden[0]); i++) {
		struct stat st;
		if (lstat(hidden[i], &st) == 0 && S_ISDIR(st.st_mode) &&
		    mount_attr_set(AT_FDCWD, hidden[i], 0, MOUNT_ATTR_RDONLY, 0) < 0)
			return false;
	}
	/* /proc itself (not what is mounted below it) stays writable: what a
	 * process may write there is of itself (a user namespace's maps, say),
	 * the sysctls are root's */
	return mount_attr_set(AT_FDCWD, "/proc", 0, 0, MOUNT_ATTR_RDONLY) == 0;
}

static long landlock_abi(void)
{
	return syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
}

bool confine_scope_supported(void)
{
	return landlock_abi() >= SCOPE_ABI;
}

int confine_scope(void)
{
	long abi = landlock_abi();
	if (abi < SCOPE_ABI) {
		if (abi >= 0)
			errno = EOPNOTSUPP;
		return 0;
	}
	struct scope_attr attr = { .scoped = SCOPE_ABSTRACT_UNIX | SCOPE_SIGNAL };
	int fd = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (fd < 0)
		return -1;
	/* without no_new_privs only CAP_SYS_ADMIN may; it is set anyway by
	 * the drop that follows */
	int r = prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 ? (int)syscall(SYS_landlock_restrict_self, fd, 0) : -1;
	int e = errno;
	close(fd);
	errno = e;
	return r == 0 ? 1 : -1;
}

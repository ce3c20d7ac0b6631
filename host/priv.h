/* priv.h: who runs what on the host. netctl runs as root; what it starts
 * does not:
 *
 *   moat-net    the netvm's QEMU         (owns STATE/links/uplink.net.sock)
 *   moat-fw     the firewallvm's QEMU    (owns every STATE/links/NAME.fw.sock)
 *   moat-link   every moat-link, once its sockets exist (it drops by itself)
 *
 * and two groups: `moat` may run the read-only commands (status, stats, log,
 * appliances, ...): it reads STATE/run and talks to the appliances'
 * read-only control sockets (NAME.status; the read-write NAME.ctl are root's);
 * `moat-vm` is the app VMMs' group: the app side of a link is the VM's
 * `owner` in moat.conf, else root:moat-vm 0660 unless `netctl up
 * --vm-owner` says otherwise.
 *
 * A QEMU is started as its user with no capabilities (bounding set
 * included), no supplementary group but kvm (when it uses KVM),
 * no_new_privs, and limits; everything it needs from root (its control and
 * QMP sockets, its console, the tap) is opened by netctl and passed down,
 * with no other descriptor and no environment but PATH; in a new, empty
 * network namespace unless it is the netvm's with `uplink user`. */
#ifndef MOAT_PRIV_H
#define MOAT_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>

#define PRIV_GROUP_READ "moat"
#define PRIV_GROUP_VM   "moat-vm"
#define PRIV_USER_NET   "moat-net"
#define PRIV_USER_FW    "moat-fw"
#define PRIV_USER_LINK  "moat-link"

struct priv_id {
	const char *name;
	uid_t uid;
	gid_t gid;
	gid_t groups[1];       /* supplementary: kvm for a QEMU under KVM */
	size_t ngroups;
};

/* What a started process may use: 0 leaves a limit as it is. */
struct priv_limits {
	rlim_t nofile;
	rlim_t memlock;
	rlim_t nproc;    /* processes and threads of the user, all of them */
};

/* The groups and users above, made with groupadd/useradd --system (no
 * home, nologin) where missing. False, with a message, if one cannot be. */
bool priv_accounts_ensure(void);

/* NAME's uid and primary gid; false and a message if there is no such user. */
bool priv_user(const char *name, struct priv_id *id);
/* GROUP's gid; false and a message if there is none. */
bool priv_group(const char *name, gid_t *gid);

/* PATH to UID:GID, mode MODE, through a descriptor (O_PATH, O_NOFOLLOW):
 * never what a symbolic link there points to; false and a message. */
bool priv_own(const char *path, uid_t uid, gid_t gid, mode_t mode);
/* FD (any descriptor, O_PATH too) mode MODE; false with errno set. */
bool priv_fchmod(int fd, mode_t mode);

/* Root may give files away at PATH (WHAT names it in the message): PATH
 * and every directory above it, as given and as resolved, are root's and
 * writable by root alone (a sticky directory above it, as /tmp, may be
 * writable by others). False with a message that says which is not. */
bool priv_path_safe(const char *path, const char *what);

/* Every missing directory above PATH made 0755, and PATH MODE, whatever the
 * umask (directories already there are left as they are); false and a
 * message. */
bool priv_mkdirs(const char *path, mode_t mode);

/* LIMITS, and no core dumps, for this process (a child about to exec). */
bool priv_limit(const struct priv_limits *limits);

/* Every capability but KEEP out of the bounding set, and the ambient set
 * emptied: a root process exec'd next has those and no others. */
bool priv_bound(const int *keep, size_t nkeep);

/* In a child about to exec: LIMITS, then no capabilities in any set, ID's
 * groups, gid and uid, no_new_privs. False with errno set; nothing is
 * half-dropped that could then exec. */
bool priv_drop(const struct priv_id *id, const struct priv_limits *limits);

/* ERR (a -errno or errno) is a permission refusal on PATH: say what is
 * missing (the moat group, or root). True if it was one. */
bool priv_explain(const char *path, int err);

#endif

/* moat-link: one process, two vhost-user sockets, frames copied between the
 * two guests. The state of the whole program. */
#ifndef MOAT_LINK_H
#define MOAT_LINK_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "link/copy.h"
#include "link/vhost_user.h"

/* Who a side's VMM is: the socket is root's, group GROUP (or the user's
 * own group), mode 0660, so the VMM cannot change its mode; and a frontend
 * that is not the user (nor in GROUP, if given, nor root) is refused. */
struct sock_owner {
	bool set, has_group;
	unsigned uid, gid;
	unsigned file_gid;       /* the socket file's group: gid, or the user's own */
};

struct side {
	char label;		/* 'a' or 'b' */
	const char *path;
	int listen_fd, conn_fd;
	unsigned conn_gen;
	struct vu_dev dev;
	uint8_t msg[VU_MAX_MSG];
	size_t have;
	int fds[VU_MAX_FDS];
	unsigned nfds;
	bool kick_armed[VU_NQUEUES];
	unsigned kick_armed_gen[VU_NQUEUES];
	uint64_t kick_buf[VU_NQUEUES];
	/* at most one interrupt write in flight per queue; calls meanwhile
	 * are folded into one more after it */
	bool call_busy[VU_NQUEUES], call_again[VU_NQUEUES];
	unsigned call_busy_gen[VU_NQUEUES];
	uint64_t mem_max;	/* --a-mem-max / --b-mem-max */
	struct sock_owner owner;	/* --a-owner / --b-owner: who may be the frontend */
	uint64_t log_since, log_lines, log_unsaid;	/* hang-up lines this minute */
	uint64_t connects, refused_connects, strangers, hangups, kicks, calls, calls_folded;
};

struct link {
	const char *name;
	struct side side[2];
	struct copy_stats dir[2];	/* dir[0] a to b, dir[1] b to a */
	int stats_fd, signal_fd;
	struct io_uring ring;
	uint64_t sleeps, bursts;
	uint64_t poll_ns;	/* keep looking this long after the last frame */
	uint64_t last_work;	/* when the last frame moved */
	bool stop;
};

/* Who may connect to a side's socket: USER[:GROUP] of --a-owner/--b-owner. */

/* A listening socket at path (a stale socket there is replaced, any other
 * file is not), bound under umask 077 and given o's owner and mode 0660
 * (0600 without a group), or open_mode without o->set, before it listens:
 * until then nobody but us can connect. -1 on failure, said on stderr. */
int sock_listen(const char *path, const struct sock_owner *o, mode_t open_mode);

bool loop_init(struct link *l);
int loop_run(struct link *l);

/* One turn: copy both ways, wait for an event if there is nothing to do
 * and may_sleep, handle what completed. False on a ring error. */
bool loop_step(struct link *l, bool may_sleep);

/* One line of JSON with every counter, newline-terminated; false if it
 * does not fit. */
bool stats_json(const struct link *l, char *buf, size_t size);

/* Keeps only what the loop needs: io_uring opcodes, then syscalls. */
bool sandbox_uring_restrict(struct io_uring *ring);
bool sandbox_enter(void);

/* Not dumpable: /proc/PID/mem, /proc/PID/fd and ptrace are root's only,
 * not open to a sibling link running as the same user. */
bool sandbox_undumpable(void);

/* Becomes uid:gid with no supplementary groups and no capabilities, and
 * stays undumpable (a change of uid resets that to fs.suid_dumpable). */
bool sandbox_drop_user(uid_t uid, gid_t gid);

/* Resource limits: address space for mem_max bytes of guest memory plus
 * RLIMIT_AS_MARGIN, RLIMIT_NOFILE_LINK files, no core dumps. */
bool sandbox_limit(uint64_t mem_max);

#endif

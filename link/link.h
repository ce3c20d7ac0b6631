/* moat-link: one process, two vhost-user sockets, frames copied between the
 * two guests. The state of the whole program. */
#ifndef MOAT_LINK_H
#define MOAT_LINK_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "copy.h"
#include "vhost_user.h"

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
	uint64_t connects, hangups, kicks, calls;
};

struct link {
	const char *name;
	struct side side[2];
	struct copy_stats dir[2];	/* dir[0] a to b, dir[1] b to a */
	int stats_fd, signal_fd;
	struct io_uring ring;
	uint64_t sleeps, bursts;
	uint64_t poll_ns;	/* keep looking this long after the last frame */
	bool stop;
};

bool loop_init(struct link *l);
int loop_run(struct link *l);

/* One line of JSON with every counter, newline-terminated; false if it
 * does not fit. */
bool stats_json(const struct link *l, char *buf, size_t size);

/* Keeps only what the loop needs: io_uring opcodes, then syscalls. */
bool sandbox_uring_restrict(struct io_uring *ring);
bool sandbox_enter(void);

#endif

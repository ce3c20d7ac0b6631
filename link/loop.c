/* The event loop: everything the link waits for is an io_uring request, so
 * one io_uring_enter per wake-up both submits (interrupts to guests, new
 * reads) and sleeps. Idle, it sleeps; busy, it copies bursts with guest
 * notifications off and does not sleep until the queues run dry. */
#include "lib/clock.h"
#include "link/link.h"

#include "link/guard.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BURST 64
#define RING_ENTRIES 64
#define MSGS_PER_WAKE 64
#define LOG_WINDOW_NS (60 * 1000000000ull)
#define LOG_LINES 10	/* hang-up lines per side and window */

enum { EV_LISTEN = 1, EV_CONN, EV_KICK, EV_STATS, EV_SIGNAL, EV_CALL, EV_IGNORE };

static uint64_t ev(unsigned kind, unsigned side, unsigned q, unsigned gen)
{
	return (uint64_t)kind << 56 | (uint64_t)side << 48 | (uint64_t)q << 40 | gen;
}

static struct io_uring_sqe *sqe_get(struct link *l)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);

	if (!sqe) {
		io_uring_submit(&l->ring);
		sqe = io_uring_get_sqe(&l->ring);
	}
	return sqe;	/* never NULL after a submit of a ring we keep small */
}

static void arm_poll(struct link *l, int fd, uint64_t data)
{
	struct io_uring_sqe *sqe = sqe_get(l);

	io_uring_prep_poll_add(sqe, fd, POLLIN);
	io_uring_sqe_set_data64(sqe, data);
}

static void cancel(struct link *l, uint64_t data)
{
	struct io_uring_sqe *sqe = sqe_get(l);

	io_uring_prep_cancel64(sqe, data, 0);
	io_uring_sqe_set_data64(sqe, ev(EV_IGNORE, 0, 0, 0));
}

static void call_write(struct link *l, struct side *s, unsigned si, unsigned qi)
{
	static const uint64_t one = 1;
	struct vu_queue *q = &s->dev.q[qi];

	if (q->call_fd < 0)
		return;
	struct io_uring_sqe *sqe = sqe_get(l);
	io_uring_prep_write(sqe, q->call_fd, &one, sizeof(one), 0);
	io_uring_sqe_set_data64(sqe, ev(EV_CALL, si, qi, q->call_gen));
	s->call_busy[qi] = true;
	s->call_busy_gen[qi] = q->call_gen;
}

/* An interrupt to a guest. A write may wait (an eventfd at its maximum
 * count), so one is in flight per queue at most; calls meanwhile become one
 * more write once it is done: the guest looks at its whole ring anyway. */
static void call_guest(struct link *l, unsigned si, unsigned qi)
{
	struct side *s = &l->side[si];

	if (s->dev.q[qi].call_fd < 0)
		return;
	s->calls++;
	if (s->call_busy[qi]) {
		s->call_again[qi] = true;
		s->calls_folded++;
		return;
	}
	call_write(l, s, si, qi);
}

static void on_call_done(struct link *l, unsigned si, unsigned qi, unsigned gen)
{
	struct side *s = &l->side[si];

	if (qi >= VU_NQUEUES || !s->call_busy[qi] || s->call_busy_gen[qi] != gen)
		return;		/* cancelled: its fd is gone */
	s->call_busy[qi] = false;
	if (s->call_again[qi]) {
		s->call_again[qi] = false;
		call_write(l, s, si, qi);
	}
}

/* Keeps one read pending on each current kick fd and none on old ones, and
 * no interrupt write on an old call fd: such a request would hold the file
 * (and its kernel memory) past the frontend's hang-up. */
static void sync_kicks(struct link *l, struct side *s, unsigned si)
{
	for (unsigned qi = 0; qi < VU_NQUEUES; qi++) {
		struct vu_queue *q = &s->dev.q[qi];
		if (s->call_busy[qi] && s->call_busy_gen[qi] != q->call_gen) {
			cancel(l, ev(EV_CALL, si, qi, s->call_busy_gen[qi]));
			s->call_busy[qi] = s->call_again[qi] = false;
			/* a guest swapping call fds loses no interrupt: at
			 * worst it gets one more */
			call_write(l, s, si, qi);
		}
		if (s->kick_armed[qi] && s->kick_armed_gen[qi] != q->kick_gen) {
			cancel(l, ev(EV_KICK, si, qi, s->kick_armed_gen[qi]));
			s->kick_armed[qi] = false;
		}
		if (!s->kick_armed[qi] && q->kick_fd >= 0) {
			struct io_uring_sqe *sqe = sqe_get(l);
			io_uring_prep_read(sqe, q->kick_fd, &s->kick_buf[qi], 8, 0);
			io_uring_sqe_set_data64(sqe, ev(EV_KICK, si, qi, q->kick_gen));
			s->kick_armed[qi] = true;
			s->kick_armed_gen[qi] = q->kick_gen;
		}
	}
	/* bind the new requests to today's fds before a message can close them */
	io_uring_submit(&l->ring);
}

/* A frontend in a reconnect loop, or one knocking on a side in use, must
 * not fill the log: LOG_LINES lines per side a minute, then one line
 * counting the rest. */
static bool log_hang_up(struct link *l, struct side *s)
{
	uint64_t now = (uint64_t)mono_ns();

	if (now - s->log_since >= LOG_WINDOW_NS) {
		if (s->log_unsaid)
			fprintf(stderr, "moat-link %s: side %c: %llu more hang-ups or refusals not logged\n", l->name,
				s->label, (unsigned long long)s->log_unsaid);
		s->log_since = now;
		s->log_lines = s->log_unsaid = 0;
	}
	if (s->log_lines < LOG_LINES) {
		s->log_lines++;
		return true;
	}
	s->log_unsaid++;
	return false;
}

static void hang_up(struct link *l, unsigned si, const char *why)
{
	struct side *s = &l->side[si];

	if (s->conn_fd < 0)
		return;
	if (log_hang_up(l, s))
		fprintf(stderr, "moat-link %s: side %c: %s, hanging up\n", l->name, s->label, why);
	cancel(l, ev(EV_CONN, si, 0, s->conn_gen));
	s->conn_gen++;
	io_uring_submit(&l->ring);	/* no queued request may outlive its fd number */
	close(s->conn_fd);
	s->conn_fd = -1;
	for (unsigned i = 0; i < s->nfds; i++)
		close(s->fds[i]);
	s->nfds = 0;
	s->have = 0;
	if (!vu_reset(&s->dev))
		fprintf(stderr, "moat-link %s: side %c: could not unmap its guest memory\n", l->name, s->label);
	sync_kicks(l, s, si);
	s->hangups++;
}

/* True while the side's frontend is still there: its end of the socket
 * neither closed nor shut down. One that went away (its QEMU exited,
 * crashed or was killed) leaves our end at EOF, which shows as POLLRDHUP
 * or POLLHUP at once, even with bytes of it still unread. Fails closed: a
 * socket we cannot look at counts as in use. */
static bool frontend_here(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLRDHUP };
	const struct timespec now = { 0, 0 };
	int n = ppoll(&p, 1, &now, NULL);

	if (n < 0)
		return true;
	return !(p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

/* A second frontend while the first is connected: any VMM allowed on the
 * socket could otherwise cut the side's VM off and speak as it (its MAC,
 * address and firewall rules). It is closed unheard; the log says WHO
 * (its credentials, read once by frontend_allowed). */
static void refuse(struct link *l, struct side *s, int fd, const struct ucred *who)
{
	close(fd);
	s->refused_connects++;
	if (log_hang_up(l, s))
		fprintf(stderr,
			"moat-link %s: side %c: refused a second frontend (uid %d pid %d): its frontend is connected\n",
			l->name, s->label, (int)who->uid, (int)who->pid);
}

/* Whether the peer on FD is the side's VMM: root, its user, or (with a
 * group) a process in its group, as the kernel recorded at connect. */
static bool frontend_allowed(const struct side *s, int fd, struct ucred *who)
{
	socklen_t len = sizeof(*who);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, who, &len) < 0)
		return false;
	if (!s->owner.set)
		return true;   /* the socket is root's alone (the umask) */
	if (who->uid == 0 || who->uid == s->owner.uid)
		return true;
	if (!s->owner.has_group)
		return false;
	if (who->gid == s->owner.gid)
		return true;
	/* as many as a process may have (a VMM in more than a few hundred
	 * groups is still its side's); one loop, one frontend at a time */
	static gid_t groups[NGROUPS_MAX];
	len = sizeof(groups);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
		return false;
	for (size_t i = 0; i < len / sizeof(groups[0]); i++)
		if (groups[i] == s->owner.gid)
			return true;
	return false;
}

static void on_listen(struct link *l, unsigned si)
{
	struct side *s = &l->side[si];
	int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	struct ucred who = { .pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1 };

	arm_poll(l, s->listen_fd, ev(EV_LISTEN, si, 0, 0));
	if (fd < 0)
		return;
	if (!frontend_allowed(s, fd, &who)) {
		/* not the side's VMM, whatever the socket's mode says */
		close(fd);
		s->strangers++;
		if (log_hang_up(l, s))
			fprintf(stderr, "moat-link %s: side %c: refused uid %d pid %d: not the side's VMM\n", l->name,
				s->label, (int)who.uid, (int)who.pid);
		return;
	}
	if (s->conn_fd >= 0 && frontend_here(s->conn_fd))
		return refuse(l, s, fd, &who);
	/* a frontend that went away, its EOF not read yet: a QEMU started
	 * again (or reconnecting) takes the side at once */
	hang_up(l, si, "its frontend left and a new one connected");
	s->conn_fd = fd;
	s->connects++;
	arm_poll(l, fd, ev(EV_CONN, si, 0, s->conn_gen));
}

/* Reads at most up to the end of the current message, so fds that come
 * with a message stay with it. */
static int read_some(struct side *s, size_t want)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * (VU_MAX_FDS + 1))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { s->msg + s->have, want };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			     .msg_controllen = sizeof(ctl.buf) };
	ssize_t n = recvmsg(s->conn_fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	bool bad = false;

	if (n <= 0)
		return n == 0 ? -1 : (errno == EAGAIN || errno == EINTR ? 0 : -1);
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		unsigned k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (unsigned i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (s->nfds < VU_MAX_FDS)
				s->fds[s->nfds++] = fd;
			else {
				close(fd);
				bad = true;
			}
		}
	}
	if (bad || (mh.msg_flags & MSG_CTRUNC))
		return -1;
	s->have += n;
	return 1;
}

static void on_conn(struct link *l, unsigned si)
{
	static uint8_t reply[VU_MAX_MSG];
	struct side *s = &l->side[si];

	/* a frontend that never stops talking must not starve the frames */
	for (unsigned handled = 0; handled < MSGS_PER_WAKE;) {
		size_t want = VU_HDR_SIZE - s->have;
		int len = 0;
		if (s->have >= VU_HDR_SIZE) {
			len = vu_msg_len(s->msg);
			if (len < 0)
				return hang_up(l, si, "oversize message");
			want = len - s->have;
		}
		if (want > 0) {
			int r = read_some(s, want);
			if (r < 0)
				return hang_up(l, si, "connection closed or bad ancillary data");
			if (r == 0)
				break;
			continue;
		}
		int rlen = vu_handle(&s->dev, s->msg, len, s->fds, s->nfds, reply);
		handled++;
		s->nfds = 0;
		s->have = 0;
		if (rlen < 0)
			return hang_up(l, si, s->dev.why ? s->dev.why : "protocol violation");
		if (rlen > 0 && send(s->conn_fd, reply, rlen, MSG_DONTWAIT | MSG_NOSIGNAL) != rlen)
			return hang_up(l, si, "reply not taken");
		sync_kicks(l, s, si);
	}
	arm_poll(l, s->conn_fd, ev(EV_CONN, si, 0, s->conn_gen));
}

static void on_stats(struct link *l)
{
	char line[2048];
	int fd = accept4(l->stats_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd >= 0) {
		if (stats_json(l, line, sizeof(line)))
			(void)!send(fd, line, strlen(line), MSG_DONTWAIT | MSG_NOSIGNAL);
		close(fd);
	}
	arm_poll(l, l->stats_fd, ev(EV_STATS, 0, 0, 0));
}

static struct signalfd_siginfo sig;

static void arm_signal(struct link *l)
{
	struct io_uring_sqe *sqe = sqe_get(l);

	io_uring_prep_read(sqe, l->signal_fd, &sig, sizeof(sig), 0);
	io_uring_sqe_set_data64(sqe, ev(EV_SIGNAL, 0, 0, 0));
}

static void on_signal(struct link *l)
{
	char line[2048];

	if (sig.ssi_signo == SIGUSR1) {
		if (stats_json(l, line, sizeof(line)))
			fputs(line, stderr);
	} else {
		l->stop = true;
	}
	arm_signal(l);
}

/* Which side's guest memory holds addr, or -1. */
static int side_of(const struct link *l, const void *addr)
{
	for (unsigned si = 0; si < 2; si++) {
		const struct guestmem *gm = &l->side[si].dev.mem;
		for (unsigned i = 0; i < gm->n; i++) {
			const uint8_t *m = gm->r[i].map;
			if ((const uint8_t *)addr >= m && (const uint8_t *)addr < m + gm->r[i].maplen)
				return si;
		}
	}
	return -1;
}

/* After a fault the survivor's queue may hold chains taken and not
 * returned: give them back so its guest loses no buffer, and publish those
 * filled. True if the guest wants an interrupt for them. */
static bool recover_queue(struct virtq *q)
{
	if (!q || q->broken)
		return false;
	vq_unpop(q, (uint16_t)(q->last_avail - q->used_idx));
	return vq_flush(q);
}

/* A SIGBUS while copying from side `from` (q0, q1: the queues of the burst
 * in side order, NULL when none was being copied). */
static void guest_memory_fault(struct link *l, unsigned from, struct virtq *q0, struct virtq *q1)
{
	int si = side_of(l, guard_addr);
	volatile bool call = false;

	if (si < 0)
		abort();	/* a SIGBUS outside guest memory is our bug */
	hang_up(l, si, "its guest memory shrank under us (SIGBUS)");
	/* its guest must hear of frames already given to it */
	const unsigned other = !si, qi = other == from ? VU_TXQ : VU_RXQ;
	struct virtq *volatile survivor = si == 0 ? q1 : q0;
	if (GUARD_TRY()) {
		call = recover_queue(survivor);
		GUARD_END();
	}
	if (call)
		call_guest(l, other, qi);
}

/* Moves one burst of frames one way. */
static enum copy_state run_direction(struct link *l, unsigned from, uint64_t *frames)
{
	struct side *src = &l->side[from], *dst = &l->side[!from];
	struct virtq *tx = src->conn_fd >= 0 ? vu_queue_started(&src->dev, VU_TXQ) : NULL;
	struct virtq *rx = dst->conn_fd >= 0 ? vu_queue_live(&dst->dev, VU_RXQ) : NULL;
	bool call_tx = false, call_rx = false;

	if (!tx)
		return COPY_IDLE;
	if (!vu_queue_live(&src->dev, VU_TXQ))
		rx = NULL;
	struct copy_end t = { tx, copy_hdr_len(src->dev.features), false };
	struct copy_end r = { rx, copy_hdr_len(dst->dev.features),
			      dst->dev.features & (1ull << VIRTIO_NET_F_MRG_RXBUF) };
	uint64_t before = l->dir[from].frames;
	if (!GUARD_TRY()) {
		/* queues listed in side order, a first */
		guest_memory_fault(l, from, from == 0 ? tx : rx, from == 0 ? rx : tx);
		return COPY_IDLE;
	}
	vq_disable_notify(tx);
	if (rx)
		vq_disable_notify(rx);
	enum copy_state st = copy_burst(&t, &r, BURST, &l->dir[from], &call_tx, &call_rx);
	GUARD_END();
	*frames += l->dir[from].frames - before;
	l->bursts++;
	if (call_tx)
		call_guest(l, from, VU_TXQ);
	if (call_rx)
		call_guest(l, !from, VU_RXQ);
	if (st == COPY_TX_BROKEN)
		hang_up(l, from, "guest broke its transmit queue");
	if (st == COPY_RX_BROKEN)
		hang_up(l, !from, "guest broke its receive queue");
	return st;
}

/* Before sleeping: ask for a kick on whatever we wait for. True if work
 * arrived meanwhile. */
static bool arm_notify(struct link *l, unsigned from, enum copy_state st)
{
	struct side *src = &l->side[from], *dst = &l->side[!from];
	struct virtq *volatile q = NULL;

	if (st == COPY_IDLE && src->conn_fd >= 0)
		q = vu_queue_started(&src->dev, VU_TXQ);
	else if (st == COPY_BLOCKED && dst->conn_fd >= 0)
		q = vu_queue_live(&dst->dev, VU_RXQ);
	if (!q)
		return false;
	if (!GUARD_TRY()) {
		guest_memory_fault(l, from, NULL, NULL);
		return true;
	}
	bool more = vq_enable_notify(q);
	GUARD_END();
	return more;
}

bool loop_init(struct link *l)
{
	/* task work (a finished kick read) waits for our next io_uring_enter
	 * instead of interrupting a busy copy loop with an IPI */
	struct io_uring_params p = { .flags = IORING_SETUP_R_DISABLED | IORING_SETUP_COOP_TASKRUN |
						 IORING_SETUP_TASKRUN_FLAG };
	int err = io_uring_queue_init_params(RING_ENTRIES, &l->ring, &p);

	if (err < 0) {
		fprintf(stderr, "moat-link: io_uring: %s\n", strerror(-err));
		return false;
	}
	if (!sandbox_uring_restrict(&l->ring))
		return false;
	for (unsigned si = 0; si < 2; si++) {
		vu_init(&l->side[si].dev);
		l->side[si].dev.mem_max = l->side[si].mem_max;
		arm_poll(l, l->side[si].listen_fd, ev(EV_LISTEN, si, 0, 0));
	}
	if (l->stats_fd >= 0)
		arm_poll(l, l->stats_fd, ev(EV_STATS, 0, 0, 0));
	arm_signal(l);
	return true;
}

bool loop_step(struct link *l, bool may_sleep)
{
	enum copy_state st[2];
	uint64_t frames = 0;
	for (unsigned d = 0; d < 2; d++)
		st[d] = run_direction(l, d, &frames);
	bool more = st[0] == COPY_MORE || st[1] == COPY_MORE;
	/* While frames flow, a wake-up costs more than looking again for a
	 * few microseconds; an idle link still sleeps. */
	uint64_t now = (uint64_t)mono_ns();
	if (frames)
		l->last_work = now;
	if (!more && now - l->last_work < l->poll_ns)
		more = true;
	for (unsigned d = 0; d < 2 && !more; d++)
		more = arm_notify(l, d, st[d]);
	if (!more)
		l->sleeps++;
	int err = io_uring_submit_and_wait(&l->ring, more || !may_sleep ? 0 : 1);
	if (err < 0 && err != -EINTR && err != -EBUSY) {
		fprintf(stderr, "moat-link %s: io_uring_enter: %s\n", l->name, strerror(-err));
		return false;
	}
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;
	io_uring_for_each_cqe(&l->ring, head, cqe) {
		uint64_t d = io_uring_cqe_get_data64(cqe);
		unsigned kind = d >> 56, si = (d >> 48) & 0xff, qi = (d >> 40) & 0xff;
		unsigned gen = (unsigned)d;
		int res = cqe->res;
		struct side *s = &l->side[si & 1];
		seen++;
		switch (kind) {
		case EV_LISTEN:
			on_listen(l, si & 1);
			break;
		case EV_CONN:
			if (gen == s->conn_gen && s->conn_fd >= 0)
				on_conn(l, si & 1);
			break;
		case EV_KICK:
			if (qi < VU_NQUEUES && s->kick_armed[qi] && s->kick_armed_gen[qi] == gen) {
				s->kick_armed[qi] = false;
				s->kicks++;
				if (res > 0 || res == -EINTR || res == -EAGAIN)
					sync_kicks(l, s, si & 1);
			}
			break;
		case EV_CALL:
			on_call_done(l, si & 1, qi, gen);
			break;
		case EV_STATS:
			on_stats(l);
			break;
		case EV_SIGNAL:
			if (res == sizeof(sig))
				on_signal(l);
			else
				arm_signal(l);
			break;
		}
	}
	io_uring_cq_advance(&l->ring, seen);
	return true;
}

int loop_run(struct link *l)
{
	while (!l->stop)
		if (!loop_step(l, true))
			return 1;
	return 0;
}

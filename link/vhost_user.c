#include "link/vhost_user.h"

#include <linux/magic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

struct vu_hdr {
	uint32_t request, flags, size;
};

struct vu_state {
	uint32_t index, num;
};

struct vu_addr {
	uint32_t index, flags;
	uint64_t desc, used, avail, log;
};

struct vu_region {
	uint64_t gpa, size, uva, offset;
};

#define VU_VRING_NOFD (1u << 8)
#define VU_VRING_INDEX 0xffu

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void queue_init(struct vu_queue *q)
{
	memset(q, 0, sizeof(*q));
	q->kick_fd = q->call_fd = -1;
	q->vq.broken = true;
}

void vu_init(struct vu_dev *d)
{
	memset(d, 0, sizeof(*d));
	d->mem_max = VU_MEM_MAX_DEFAULT;
	for (unsigned i = 0; i < VU_NQUEUES; i++)
		queue_init(&d->q[i]);
}

/* fstat by fd only: the sandbox allows no call that takes a path */
static int fd_stat(int fd, struct stat *st)
{
#ifdef SYS_fstat
	return (int)syscall(SYS_fstat, fd, st);
#else
	return fstat(fd, st);
#endif
}

bool vu_is_eventfd(int fd)
{
	static const uint64_t zero = 0;
	struct stat st;

	/* eventfds live on the kernel's anonymous inode, which has no file
	 * type; of the files there (timerfd, signalfd, epoll, ...) only an
	 * eventfd takes an 8-byte write, and adding 0 changes nothing */
	return fd_stat(fd, &st) == 0 && (st.st_mode & S_IFMT) == 0 &&
	       write(fd, &zero, sizeof(zero)) == sizeof(zero);
}

static void queue_reset(struct vu_queue *q)
{
	unsigned gen = q->kick_gen, cgen = q->call_gen;

	close_fd(&q->kick_fd);
	close_fd(&q->call_fd);
	queue_init(q);
	q->kick_gen = gen + 1;
	q->call_gen = cgen + 1;
}

bool vu_reset(struct vu_dev *d)
{
	for (unsigned i = 0; i < VU_NQUEUES; i++)
		queue_reset(&d->q[i]);
	d->features = d->protocol_features = 0;
	return gm_release(&d->mem);
}

int vu_msg_len(const uint8_t *hdr)
{
	struct vu_hdr h;

	memcpy(&h, hdr, sizeof(h));
	return h.size > VU_MAX_PAYLOAD ? -1 : (int)(VU_HDR_SIZE + h.size);
}

struct virtq *vu_queue_live(struct vu_dev *d, unsigned qi)
{
	struct vu_queue *q = &d->q[qi];

	return q->ready && q->enabled && !q->vq.broken ? &q->vq : NULL;
}

struct virtq *vu_queue_started(struct vu_dev *d, unsigned qi)
{
	struct vu_queue *q = &d->q[qi];

	return q->ready && !q->vq.broken ? &q->vq : NULL;
}

/* (Re)points the ring at guest memory, keeping our place in it. */
static bool queue_apply(struct vu_dev *d, struct vu_queue *q)
{
	uint16_t at = q->ready ? q->vq.last_avail : q->base;

	q->ready = false;
	if (!q->started || !q->have_addr || q->num == 0 || d->mem.n == 0)
		return true;	/* not complete yet */
	if (!vq_setup(&q->vq, &d->mem, q->num, q->desc, q->avail, q->used, d->features, at))
		return false;
	q->ready = true;
	return true;
}

/* Guest memory must live in RAM: tmpfs (a memfd, /dev/shm) or hugetlbfs.
 * On any other file system a page fault may wait on a disk, a network or
 * a FUSE server the frontend runs, and the whole loop, the other guest's
 * side with it, would wait too. */
static bool in_ram(int fd)
{
	struct statfs sf;

	return fstatfs(fd, &sf) == 0 &&
	       (sf.f_type == TMPFS_MAGIC || sf.f_type == (typeof(sf.f_type))HUGETLBFS_MAGIC);
}

/* Maps whole blocks of the file (huge pages on hugetlbfs: the kernel
 * rounds such a mapping up to them and munmap of anything less fails),
 * from the block holding the region's start. */
static bool region_span(const struct vu_region *r, const struct stat *st, uint64_t *off, uint64_t *len)
{
	uint64_t blk = st->st_blksize;

	if (blk < 4096 || (blk & (blk - 1)))
		blk = 4096;
	if (r->size == 0 || r->offset + r->size < r->offset || (uint64_t)st->st_size < r->offset + r->size)
		return false;
	*off = r->offset & ~(blk - 1);
	*len = r->offset - *off + r->size;
	if (*len + (blk - 1) < *len)
		return false;
	*len = (*len + blk - 1) & ~(blk - 1);
	return *len <= SIZE_MAX;
}

static bool set_mem_table(struct vu_dev *d, const uint8_t *p, uint32_t size, const int *fds, unsigned nfds)
{
	uint32_t n;
	struct guestmem gm = { 0 };
	struct vu_region r[GM_MAX_REGIONS];
	uint64_t off[GM_MAX_REGIONS], len[GM_MAX_REGIONS], total = 0;

	if (size < 8)
		return false;
	memcpy(&n, p, 4);
	if (n == 0 || n > GM_MAX_REGIONS || n != nfds || size < 8 + 32 * n)
		return false;
	d->why = "bad memory region";
	for (unsigned i = 0; i < n; i++) {
		struct stat st;
		memcpy(&r[i], p + 8 + 32 * i, sizeof(r[i]));
		if (!in_ram(fds[i])) {
			d->why = "guest memory is on neither tmpfs (a memfd, /dev/shm) nor hugetlbfs";
			return false;
		}
		if (fd_stat(fds[i], &st) < 0 || !region_span(&r[i], &st, &off[i], &len[i]))
			return false;
		/* no overflow: len < 2^63 + a block (st_size is an off_t) and
		 * total was at most mem_max (below 2^51) */
		total += len[i];
		if (total > d->mem_max) {
			d->why = "memory table larger than the side's cap";
			return false;
		}
	}
	/* the old table goes first, so a side never holds two (its address
	 * space is limited to one); failing, the side is hung up anyway */
	for (unsigned i = 0; i < VU_NQUEUES; i++) {
		/* keep our place: a running ring re-pointed at the new table
		 * goes on where it was, not back at SET_VRING_BASE's value */
		if (d->q[i].ready)
			d->q[i].base = d->q[i].vq.last_avail;
		d->q[i].ready = false;
	}
	if (!gm_release(&d->mem)) {
		d->why = "could not unmap its old guest memory";
		return false;
	}
	for (unsigned i = 0; i < n; i++) {
		void *map = mmap(NULL, len[i], PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fds[i], off[i]);
		if (map == MAP_FAILED)
			goto fail;
		gm.r[gm.n++] = (struct gm_region){ .gpa = r[i].gpa, .uva = r[i].uva, .size = r[i].size,
						    .host = (uint8_t *)map + (r[i].offset - off[i]),
						    .map = map, .maplen = len[i] };
	}
	if (!gm_valid(&gm))
		goto fail;
	d->mem = gm;
	d->why = NULL;
	for (unsigned i = 0; i < VU_NQUEUES; i++)
		if (!queue_apply(d, &d->q[i]))
			return false;
	return true;
fail:
	if (!gm_release(&gm))
		d->why = "could not unmap a refused memory table";
	return false;
}

/* Which fds a request may carry. */
static unsigned fds_expected(uint32_t req, const uint8_t *p, uint32_t size)
{
	uint64_t u;

	switch (req) {
	case VU_SET_MEM_TABLE:
		if (size < 4)
			return 0;
		memcpy(&u, p, 4);
		return (uint32_t)u;
	case VU_SET_VRING_KICK:
	case VU_SET_VRING_CALL:
	case VU_SET_VRING_ERR:
		if (size != 8)
			return 0;
		memcpy(&u, p, 8);
		return u & VU_VRING_NOFD ? 0 : 1;
	default:
		return 0;
	}
}

static int reply_u64(uint8_t *reply, uint32_t req, uint64_t v)
{
	struct vu_hdr h = { req, VU_FLAG_VERSION | VU_FLAG_REPLY, 8 };

	memcpy(reply, &h, sizeof(h));
	memcpy(reply + VU_HDR_SIZE, &v, 8);
	return VU_HDR_SIZE + 8;
}

static int reply_state(uint8_t *reply, uint32_t req, uint32_t index, uint32_t num)
{
	struct vu_hdr h = { req, VU_FLAG_VERSION | VU_FLAG_REPLY, 8 };
	struct vu_state s = { index, num };

	memcpy(reply, &h, sizeof(h));
	memcpy(reply + VU_HDR_SIZE, &s, 8);
	return VU_HDR_SIZE + 8;
}

enum { OK, FAIL, HANGUP };	/* FAIL: refused, told by REPLY_ACK; HANGUP: protocol broken */

static int handle(struct vu_dev *d, uint32_t req, const uint8_t *p, uint32_t size,
		  const int *fds, unsigned nfds, int *used_fds, uint8_t *reply, int *rlen)
{
	uint64_t u = 0;
	struct vu_state s = { 0 };
	struct vu_addr a;
	struct vu_queue *q;

	if (size >= 8)
		memcpy(&u, p, 8);
	memcpy(&s, &u, 8);
	switch (req) {
	case VU_GET_FEATURES:
		*rlen = reply_u64(reply, req, VU_FEATURES);
		return OK;
	case VU_SET_FEATURES:
		if (size != 8 || (u & ~VU_FEATURES))
			return HANGUP;
		d->features = u;
		if (!(u & (1ull << VU_F_PROTOCOL_FEATURES)))
			for (unsigned i = 0; i < VU_NQUEUES; i++)
				d->q[i].enabled = true;
		for (unsigned i = 0; i < VU_NQUEUES; i++)
			if (d->q[i].ready && !queue_apply(d, &d->q[i]))
				return HANGUP;
		return OK;
	case VU_GET_PROTOCOL_FEATURES:
		*rlen = reply_u64(reply, req, VU_PROTOCOL_FEATURES);
		return OK;
	case VU_SET_PROTOCOL_FEATURES:
		if (size != 8 || (u & ~VU_PROTOCOL_FEATURES))
			return HANGUP;
		d->protocol_features = u;
		return OK;
	case VU_GET_QUEUE_NUM:
		*rlen = reply_u64(reply, req, 1);
		return OK;
	case VU_SET_OWNER:
		return OK;
	case VU_RESET_OWNER:
	case VU_RESET_DEVICE:
		for (unsigned i = 0; i < VU_NQUEUES; i++)
			queue_reset(&d->q[i]);
		return OK;
	case VU_SET_MEM_TABLE:
		*used_fds = nfds;	/* mapped or refused, they are closed below */
		return set_mem_table(d, p, size, fds, nfds) ? OK : HANGUP;
	}

	/* the rest address one ring */
	if (req < VU_SET_VRING_NUM || (req > VU_SET_VRING_ERR && req != VU_SET_VRING_ENABLE))
		goto unknown;
	if (req == VU_SET_VRING_ADDR) {
		if (size != sizeof(a))
			return HANGUP;
		memcpy(&a, p, sizeof(a));
		s.index = a.index;
	} else if (size != 8) {
		return HANGUP;
	}
	unsigned qi = req == VU_SET_VRING_KICK || req == VU_SET_VRING_CALL || req == VU_SET_VRING_ERR
			? (unsigned)(u & VU_VRING_INDEX) : s.index;
	if (qi >= VU_NQUEUES)
		return HANGUP;
	q = &d->q[qi];
	switch (req) {
	case VU_SET_VRING_NUM:
		if (s.num == 0 || s.num > VQ_MAX_SIZE || (s.num & (s.num - 1)))
			return HANGUP;
		q->num = s.num;
		return queue_apply(d, q) ? OK : HANGUP;
	case VU_SET_VRING_ADDR:
		q->desc = a.desc;
		q->avail = a.avail;
		q->used = a.used;
		q->have_addr = true;
		return queue_apply(d, q) ? OK : HANGUP;
	case VU_SET_VRING_BASE:
		if (s.num > 0xffff)
			return HANGUP;
		q->base = (uint16_t)s.num;
		return OK;
	case VU_GET_VRING_BASE:
		*rlen = reply_state(reply, req, qi, q->ready ? q->vq.last_avail : q->base);
		if (q->ready)
			q->base = q->vq.last_avail;
		q->started = q->ready = false;
		close_fd(&q->kick_fd);
		q->kick_gen++;
		return OK;
	case VU_SET_VRING_KICK:
		if (nfds != 1)
			return HANGUP;	/* no polling mode: we sleep until kicked */
		if (!vu_is_eventfd(fds[0])) {
			/* a file or a timer would wake the loop with no work */
			d->why = "kick fd is not an eventfd";
			return HANGUP;
		}
		*used_fds = 1;
		close_fd(&q->kick_fd);
		q->kick_fd = fds[0];
		q->kick_gen++;
		q->started = true;
		return queue_apply(d, q) ? OK : HANGUP;
	case VU_SET_VRING_CALL:
		if (nfds == 1 && !vu_is_eventfd(fds[0])) {
			/* we write to it with our own credentials: only an
			 * eventfd, never a socket or a file of the frontend's */
			d->why = "call fd is not an eventfd";
			return HANGUP;
		}
		close_fd(&q->call_fd);
		q->call_gen++;
		if (nfds == 1) {
			*used_fds = 1;
			q->call_fd = fds[0];
		}
		return OK;
	case VU_SET_VRING_ERR:
		return OK;	/* we never report ring errors; its fd is closed below */
	case VU_SET_VRING_ENABLE:
		if (s.num > 1)
			return HANGUP;
		q->enabled = s.num;
		return OK;
	}
unknown:
	d->refused++;
	return FAIL;
}

int vu_handle(struct vu_dev *d, const uint8_t *msg, size_t len,
	      const int *fds, unsigned nfds, uint8_t *reply)
{
	struct vu_hdr h;
	int used_fds = 0, rlen = 0, res;

	d->why = NULL;
	if (len < VU_HDR_SIZE) {
		res = HANGUP;
		goto out;
	}
	memcpy(&h, msg, sizeof(h));
	if ((h.flags & 0x3) != VU_FLAG_VERSION || h.size > VU_MAX_PAYLOAD || len != VU_HDR_SIZE + h.size ||
	    nfds > VU_MAX_FDS || nfds != fds_expected(h.request, msg + VU_HDR_SIZE, h.size)) {
		res = HANGUP;
		goto out;
	}
	res = handle(d, h.request, msg + VU_HDR_SIZE, h.size, fds, nfds, &used_fds, reply, &rlen);
	if (h.request == VU_SET_MEM_TABLE)
		used_fds = 0;	/* mmap keeps what it needs */
	if (rlen == 0 && res != HANGUP && (h.flags & VU_FLAG_NEED_REPLY) &&
	    (d->protocol_features & (1ull << VU_PROTOCOL_F_REPLY_ACK)))
		rlen = reply_u64(reply, h.request, res == OK ? 0 : 1);
out:
	for (unsigned i = used_fds; i < nfds; i++)
		close(fds[i]);
	return res == HANGUP ? -1 : rlen;
}

/* A split virtqueue seen from the device side, over guest memory that the
 * guest may change at any moment. Every shared value is loaded once into a
 * local, checked, then used; a guest that breaks the rules gets the queue
 * marked broken, never a host fault. */
#ifndef MOAT_VIRTQ_H
#define MOAT_VIRTQ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "link/guestmem.h"

#define VQ_MAX_SIZE 32768
#define VQ_MAX_IOV 128

#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_RING_F_INDIRECT_DESC 28
#define VIRTIO_RING_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32

#define VQ_DESC_F_NEXT 1
#define VQ_DESC_F_WRITE 2
#define VQ_DESC_F_INDIRECT 4
#define VQ_USED_F_NO_NOTIFY 1
#define VQ_AVAIL_F_NO_INTERRUPT 1

struct vq_desc {		/* little-endian, as is every host moat runs on */
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vq_used_elem {
	uint32_t id;
	uint32_t len;
};

struct virtq {
	uint16_t num;
	bool indirect, event_idx;
	struct vq_desc *desc;
	uint16_t *avail;	/* flags, idx, ring[num], used_event */
	uint16_t *used;		/* flags, idx, elems[num], avail_event */
	const struct guestmem *mem;
	uint16_t last_avail;	/* next avail slot we take */
	uint16_t avail_idx;	/* avail->idx as last read */
	uint16_t used_idx;	/* next used slot we fill */
	uint16_t published;	/* used->idx as last written */
	bool notify_on;		/* as far as we told the guest */
	bool broken;
};

struct vq_chain {
	uint16_t head;
	unsigned niov;
	uint64_t len;
	struct iovec iov[VQ_MAX_IOV];
};

enum vq_pop_result {
	VQ_BROKEN = -1,		/* guest broke the rules; queue is dead */
	VQ_EMPTY = 0,
	VQ_OK = 1,
	VQ_TOO_COMPLEX = 2,	/* more than VQ_MAX_IOV pieces: taken, not walked further */
};

/* Points vq at a ring whose parts are given as frontend-virtual addresses.
 * Fails (queue unusable) on a bad size, alignment or address. */
bool vq_setup(struct virtq *vq, const struct guestmem *mem, unsigned num,
	      uint64_t desc, uint64_t avail, uint64_t used, uint64_t features,
	      uint16_t base);

/* Takes the next chain; writable says which kind of buffers the queue holds
 * (device-writable for receive, device-readable for transmit). */
int vq_pop(struct virtq *vq, struct vq_chain *c, bool writable);

/* Gives back the last n chains taken and not yet pushed. */
void vq_unpop(struct virtq *vq, unsigned n);

/* Returns a chain to the guest with len bytes written into it. */
void vq_push(struct virtq *vq, uint16_t head, uint32_t len);

/* Publishes pushed chains in one used->idx store; true if the guest wants
 * an interrupt for them. */
bool vq_flush(struct virtq *vq);

/* Asks the guest for a kick on new buffers. True if some arrived meanwhile:
 * the caller must look again before sleeping. */
bool vq_enable_notify(struct virtq *vq);
void vq_disable_notify(struct virtq *vq);

#endif

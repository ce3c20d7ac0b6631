/* The backend side of the vhost-user protocol for one virtio-net device with
 * one queue pair. vu_handle takes one whole message from the frontend and
 * never trusts it: a message that breaks the protocol makes it return -1 and
 * the caller hangs up. No socket I/O here, so tests and fuzzers drive it. */
#ifndef MOAT_VHOST_USER_H
#define MOAT_VHOST_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "link/guestmem.h"
#include "link/virtq.h"

#define VU_HDR_SIZE 12
#define VU_MAX_PAYLOAD (8 + 32 * GM_MAX_REGIONS)
#define VU_MAX_MSG (VU_HDR_SIZE + VU_MAX_PAYLOAD)
#define VU_MAX_FDS GM_MAX_REGIONS

#define VU_FLAG_VERSION 0x1
#define VU_FLAG_REPLY 0x4
#define VU_FLAG_NEED_REPLY 0x8

#define VU_F_PROTOCOL_FEATURES 30
#define VU_PROTOCOL_F_MQ 0
#define VU_PROTOCOL_F_REPLY_ACK 3

enum vu_request {
	VU_GET_FEATURES = 1,
	VU_SET_FEATURES = 2,
	VU_SET_OWNER = 3,
	VU_RESET_OWNER = 4,
	VU_SET_MEM_TABLE = 5,
	VU_SET_VRING_NUM = 8,
	VU_SET_VRING_ADDR = 9,
	VU_SET_VRING_BASE = 10,
	VU_GET_VRING_BASE = 11,
	VU_SET_VRING_KICK = 12,
	VU_SET_VRING_CALL = 13,
	VU_SET_VRING_ERR = 14,
	VU_GET_PROTOCOL_FEATURES = 15,
	VU_SET_PROTOCOL_FEATURES = 16,
	VU_GET_QUEUE_NUM = 17,
	VU_SET_VRING_ENABLE = 18,
	VU_RESET_DEVICE = 34,
};

#define VU_FEATURES ((1ull << VIRTIO_NET_F_MRG_RXBUF) | (1ull << VIRTIO_RING_F_INDIRECT_DESC) | \
		     (1ull << VIRTIO_RING_F_EVENT_IDX) | (1ull << VIRTIO_F_VERSION_1) | \
		     (1ull << VU_F_PROTOCOL_FEATURES))
#define VU_PROTOCOL_FEATURES ((1ull << VU_PROTOCOL_F_MQ) | (1ull << VU_PROTOCOL_F_REPLY_ACK))

enum { VU_RXQ = 0, VU_TXQ = 1, VU_NQUEUES = 2 };	/* named as the guest sees them */

struct vu_queue {
	unsigned num;
	uint64_t desc, avail, used;
	bool have_addr;
	uint16_t base;
	int kick_fd, call_fd;
	bool started;		/* has a kick fd, not stopped by GET_VRING_BASE */
	bool enabled;
	bool ready;		/* started and vq points at a valid ring */
	unsigned kick_gen;	/* bumped whenever kick_fd changes */
	unsigned call_gen;	/* bumped whenever call_fd changes */
	struct virtq vq;
};

/* Cap of the bytes one side may map (the sum of its regions, each rounded
 * to whole blocks of its file) unless --a-mem-max/--b-mem-max say else. */
#define VU_MEM_MAX_DEFAULT (64ull << 30)

struct vu_dev {
	uint64_t mem_max;	/* a memory table mapping more is refused */
	const char *why;	/* why the last message was refused, or NULL */
	uint64_t features;
	uint64_t protocol_features;
	struct guestmem mem;
	struct vu_queue q[VU_NQUEUES];
	uint64_t refused;	/* requests we do not implement */
};

void vu_init(struct vu_dev *d);

/* Unmaps guest memory and closes every fd: the frontend is gone. False if
 * some memory could not be unmapped. */
bool vu_reset(struct vu_dev *d);

/* True if fd is an eventfd (nothing else may wake us as a kick). */
bool vu_is_eventfd(int fd);

/* Length of the whole message whose header is at hdr, or -1 if its payload
 * is larger than any message we accept. */
int vu_msg_len(const uint8_t *hdr);

/* Handles one message of len bytes with its nfds received fds, which it owns
 * from now on. Puts a reply in reply (VU_MAX_MSG bytes) and returns its
 * length, 0 for none, -1 to hang up. */
int vu_handle(struct vu_dev *d, const uint8_t *msg, size_t len,
	      const int *fds, unsigned nfds, uint8_t *reply);

/* The queue when frames may flow through it, else NULL. */
struct virtq *vu_queue_live(struct vu_dev *d, unsigned qi);

/* The queue when it is started, enabled or not: a started but disabled
 * transmit queue is still emptied, its frames discarded. */
struct virtq *vu_queue_started(struct vu_dev *d, unsigned qi);

#endif

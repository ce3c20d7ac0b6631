/* Moving Ethernet frames from one guest's transmit queue into the other
 * guest's receive queue, a burst at a time. */
#ifndef MOAT_COPY_H
#define MOAT_COPY_H

#include <stdbool.h>
#include <stdint.h>

#include "link/virtq.h"

#define COPY_MAX_FRAME 65550	/* an IPv4/IPv6 datagram plus Ethernet headers */
#define COPY_MIN_FRAME 14
#define COPY_MAX_MERGE 64	/* receive chains one frame may span */

struct copy_stats {
	uint64_t frames, bytes;
	uint64_t drop_no_peer;	/* other side absent or not ready */
	uint64_t drop_bad_header;	/* net header short or asking for offloads */
	uint64_t drop_size;	/* runt or over COPY_MAX_FRAME */
	uint64_t drop_rx_small;	/* receive buffers can never hold it */
	uint64_t drop_complex;	/* chain of more than VQ_MAX_IOV pieces */
};

/* One queue and how its guest frames the net header. */
struct copy_end {
	struct virtq *vq;
	unsigned hdr_len;	/* 12 with VERSION_1 or MRG_RXBUF, else 10 */
	bool mergeable;
};

enum copy_state {
	COPY_IDLE,		/* transmit queue empty */
	COPY_MORE,		/* budget used up, more may wait */
	COPY_BLOCKED,		/* receive queue out of buffers */
	COPY_TX_BROKEN,
	COPY_RX_BROKEN,
};

/* Copies up to budget frames from tx to rx (rx->vq NULL: nobody there, the
 * frames are dropped). One used-index update per queue; *call_tx and *call_rx
 * are set when a guest wants an interrupt. */
enum copy_state copy_burst(const struct copy_end *tx, const struct copy_end *rx,
			   unsigned budget, struct copy_stats *st,
			   bool *call_tx, bool *call_rx);

unsigned copy_hdr_len(uint64_t features);

#endif

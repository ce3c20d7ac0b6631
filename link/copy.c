#include "link/copy.h"

#include <string.h>

#define HDR_F_NEEDS_CSUM 1
#define HDR_GSO_NONE 0
#define HDR_NUM_BUFFERS 10

unsigned copy_hdr_len(uint64_t features)
{
	return features & ((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_NET_F_MRG_RXBUF)) ? 12 : 10;
}

/* A position in a sequence of receive chains. */
struct cursor {
	struct vq_chain *chains;
	unsigned nchains, k, i;
	size_t off;
	uint32_t written[COPY_MAX_MERGE];
};

static void cursor_write(struct cursor *cur, const uint8_t *src, size_t len)
{
	while (len > 0 && cur->k < cur->nchains) {
		struct vq_chain *c = &cur->chains[cur->k];
		if (cur->i >= c->niov) {
			cur->k++;
			cur->i = 0;
			cur->off = 0;
			continue;
		}
		struct iovec *v = &c->iov[cur->i];
		size_t n = v->iov_len - cur->off;
		if (n > len)
			n = len;
		/* one frontend may own both ends and make them overlap */
		memmove((uint8_t *)v->iov_base + cur->off, src, n);
		cur->written[cur->k] += n;
		cur->off += n;
		src += n;
		len -= n;
		if (cur->off == v->iov_len) {
			cur->i++;
			cur->off = 0;
		}
	}
}

/* Reads len bytes at offset off of a chain into dst (the header may be
 * split over descriptors). */
static void chain_read(const struct vq_chain *c, size_t off, uint8_t *dst, size_t len)
{
	for (unsigned i = 0; i < c->niov && len > 0; i++) {
		size_t l = c->iov[i].iov_len;
		if (off >= l) {
			off -= l;
			continue;
		}
		size_t n = l - off < len ? l - off : len;
		memcpy(dst, (uint8_t *)c->iov[i].iov_base + off, n);
		dst += n;
		len -= n;
		off = 0;
	}
}

/* Copies the frame from tx chain (after its header) to the cursor. */
static void copy_payload(const struct vq_chain *t, size_t off, struct cursor *cur)
{
	for (unsigned i = 0; i < t->niov; i++) {
		size_t l = t->iov[i].iov_len;
		if (off >= l) {
			off -= l;
			continue;
		}
		cursor_write(cur, (uint8_t *)t->iov[i].iov_base + off, l - off);
		off = 0;
	}
}

static bool header_ok(const struct vq_chain *t, unsigned hdr_len)
{
	uint8_t h[12];

	chain_read(t, 0, h, hdr_len);
	return !(h[0] & HDR_F_NEEDS_CSUM) && h[1] == HDR_GSO_NONE;
}

enum copy_state copy_burst(const struct copy_end *tx, const struct copy_end *rx,
			   unsigned budget, struct copy_stats *st,
			   bool *call_tx, bool *call_rx)
{
	static struct vq_chain t, r[COPY_MAX_MERGE];
	enum copy_state state = COPY_MORE;
	struct virtq *rq = rx->vq;

	for (unsigned n = 0; n < budget; n++) {
		int res = vq_pop(tx->vq, &t, false);
		if (res == VQ_EMPTY) {
			state = COPY_IDLE;
			break;
		}
		if (res == VQ_BROKEN) {
			state = COPY_TX_BROKEN;
			break;
		}
		if (res == VQ_TOO_COMPLEX) {
			st->drop_complex++;
			goto done_tx;
		}
		if (t.len < tx->hdr_len || !header_ok(&t, tx->hdr_len)) {
			st->drop_bad_header++;
			goto done_tx;
		}
		uint64_t flen = t.len - tx->hdr_len;
		if (flen < COPY_MIN_FRAME || flen > COPY_MAX_FRAME) {
			st->drop_size++;
			goto done_tx;
		}
		if (!rq) {
			st->drop_no_peer++;
			goto done_tx;
		}

		uint64_t need = rx->hdr_len + flen, got = 0;
		unsigned k = 0;
		unsigned max = rx->mergeable ? (rq->num < COPY_MAX_MERGE ? rq->num : COPY_MAX_MERGE) : 1;
		while (got < need && k < max) {
			res = vq_pop(rq, &r[k], true);
			if (res == VQ_EMPTY) {
				vq_unpop(rq, k);
				vq_unpop(tx->vq, 1);
				state = COPY_BLOCKED;
				goto out;
			}
			if (res != VQ_OK) {	/* broken, or a receive chain too odd to fill */
				rq->broken = true;
				vq_unpop(tx->vq, 1);
				state = COPY_RX_BROKEN;
				goto out;
			}
			got += r[k].len;
			k++;
		}
		if (got < need) {
			vq_unpop(rq, k);
			st->drop_rx_small++;
			goto done_tx;
		}

		struct cursor cur = { .chains = r, .nchains = k };
		uint8_t h[12] = { 0 };
		h[HDR_NUM_BUFFERS] = (uint8_t)k;
		h[HDR_NUM_BUFFERS + 1] = (uint8_t)(k >> 8);
		cursor_write(&cur, h, rx->hdr_len);
		copy_payload(&t, tx->hdr_len, &cur);
		for (unsigned j = 0; j < k; j++)
			vq_push(rq, r[j].head, cur.written[j]);
		st->frames++;
		st->bytes += flen;
done_tx:
		vq_push(tx->vq, t.head, 0);
	}
out:
	if (tx->vq->broken)
		state = COPY_TX_BROKEN;
	else if (vq_flush(tx->vq))
		*call_tx = true;
	if (rq && vq_flush(rq))
		*call_rx = true;
	return state;
}

#include "link/virtq.h"

#include <string.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "virtio 1 rings are little-endian");
_Static_assert(sizeof(struct vq_desc) == 16, "descriptor layout");

#define AVAIL_FLAGS 0
#define AVAIL_IDX 1
#define AVAIL_RING 2
#define USED_FLAGS 0
#define USED_IDX 1
#define USED_RING 2		/* in uint16_t units; elements are 4 units */

static uint16_t load16(const uint16_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void store16(uint16_t *p, uint16_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

static uint16_t *used_event(const struct virtq *vq)
{
	return &vq->avail[AVAIL_RING + vq->num];
}

static uint16_t *avail_event(const struct virtq *vq)
{
	return &vq->used[USED_RING + 4 * vq->num];
}

bool vq_setup(struct virtq *vq, const struct guestmem *mem, unsigned num,
	      uint64_t desc, uint64_t avail, uint64_t used, uint64_t features,
	      uint16_t base)
{
	memset(vq, 0, sizeof(*vq));
	vq->broken = true;
	if (num == 0 || num > VQ_MAX_SIZE || (num & (num - 1)))
		return false;
	if (desc % 16 || avail % 2 || used % 4)
		return false;
	vq->desc = (struct vq_desc *)gm_uva(mem, desc, 16ull * num);
	vq->avail = (uint16_t *)gm_uva(mem, avail, 6ull + 2ull * num);
	vq->used = (uint16_t *)gm_uva(mem, used, 6ull + 8ull * num);
	if (!vq->desc || !vq->avail || !vq->used)
		return false;
	if ((uintptr_t)vq->desc % 16 || (uintptr_t)vq->avail % 2 || (uintptr_t)vq->used % 4)
		return false;
	vq->num = num;
	vq->mem = mem;
	vq->indirect = features & (1ull << VIRTIO_RING_F_INDIRECT_DESC);
	vq->event_idx = features & (1ull << VIRTIO_RING_F_EVENT_IDX);
	vq->last_avail = vq->avail_idx = vq->used_idx = vq->published = base;
	vq->notify_on = true;
	vq->broken = false;
	return true;
}

static int vq_break(struct virtq *vq)
{
	vq->broken = true;
	return VQ_BROKEN;
}

static void read_desc(const struct vq_desc *src, struct vq_desc *d)
{
	d->addr = __atomic_load_n(&src->addr, __ATOMIC_RELAXED);
	d->len = __atomic_load_n(&src->len, __ATOMIC_RELAXED);
	d->flags = __atomic_load_n(&src->flags, __ATOMIC_RELAXED);
	d->next = __atomic_load_n(&src->next, __ATOMIC_RELAXED);
}

/* Adds [addr, addr+len) to the chain, split at region ends. */
static int chain_add(const struct virtq *vq, struct vq_chain *c, uint64_t addr, uint32_t len)
{
	if (addr + len < addr)
		return VQ_BROKEN;
	c->len += len;
	while (len > 0) {
		uint64_t avail;
		uint8_t *p = gm_gpa(vq->mem, addr, &avail);
		if (!p)
			return VQ_BROKEN;
		uint32_t n = avail < len ? (uint32_t)avail : len;
		if (c->niov == VQ_MAX_IOV)
			return VQ_TOO_COMPLEX;
		c->iov[c->niov++] = (struct iovec){ p, n };
		addr += n;
		len -= n;
	}
	return VQ_OK;
}

int vq_pop(struct virtq *vq, struct vq_chain *c, bool writable)
{
	if (vq->broken)
		return VQ_BROKEN;
	if (vq->last_avail == vq->avail_idx) {
		uint16_t idx = load16(&vq->avail[AVAIL_IDX]);
		if ((uint16_t)(idx - vq->last_avail) > vq->num)
			return vq_break(vq);
		vq->avail_idx = idx;
		if (idx == vq->last_avail)
			return VQ_EMPTY;
		/* ring entries and descriptors only after the index that covers them */
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
	}
	uint16_t head = load16(&vq->avail[AVAIL_RING + (vq->last_avail & (vq->num - 1))]);
	if (head >= vq->num)
		return vq_break(vq);

	const struct vq_desc *table = vq->desc;
	unsigned size = vq->num, i = head, seen = 0, bufs = 0;
	bool in_indirect = false, complex = false;
	c->head = head;
	c->niov = 0;
	c->len = 0;
	for (;;) {
		struct vq_desc d;
		if (++seen > size)
			return vq_break(vq);	/* a loop, or longer than its table */
		read_desc(&table[i], &d);
		if (d.flags & VQ_DESC_F_INDIRECT) {
			if (!vq->indirect || in_indirect || (d.flags & VQ_DESC_F_NEXT))
				return vq_break(vq);
			if (d.len == 0 || d.len % 16 || d.len / 16 > VQ_MAX_SIZE || d.addr % 8)
				return vq_break(vq);
			table = (const struct vq_desc *)gm_gpa_range(vq->mem, d.addr, d.len);
			if (!table)
				return vq_break(vq);
			size = d.len / 16;
			i = 0;
			seen = 0;
			in_indirect = true;
			continue;
		}
		if (!!(d.flags & VQ_DESC_F_WRITE) != writable)
			return vq_break(vq);
		/* no frame needs more pieces: refuse the rest unread, since a
		 * chain may be tens of thousands long (direct plus indirect) */
		int res = ++bufs > VQ_MAX_IOV ? VQ_TOO_COMPLEX : chain_add(vq, c, d.addr, d.len);
		if (res == VQ_TOO_COMPLEX) {
			complex = true;
			break;
		}
		if (res != VQ_OK)
			return vq_break(vq);
		if (!(d.flags & VQ_DESC_F_NEXT))
			break;
		if (d.next >= size)
			return vq_break(vq);
		i = d.next;
	}
	vq->last_avail++;
	return complex ? VQ_TOO_COMPLEX : VQ_OK;
}

void vq_unpop(struct virtq *vq, unsigned n)
{
	vq->last_avail -= n;
}

void vq_push(struct virtq *vq, uint16_t head, uint32_t len)
{
	struct vq_used_elem *e = (struct vq_used_elem *)&vq->used[USED_RING] + (vq->used_idx & (vq->num - 1));

	__atomic_store_n(&e->id, head, __ATOMIC_RELAXED);
	__atomic_store_n(&e->len, len, __ATOMIC_RELAXED);
	vq->used_idx++;
}

bool vq_flush(struct virtq *vq)
{
	uint16_t old = vq->published, now = vq->used_idx;

	if (vq->broken || old == now)
		return false;
	__atomic_store_n(&vq->used[USED_IDX], now, __ATOMIC_RELEASE);
	vq->published = now;
	/* the guest's used_event/flags must be read after it can see used->idx */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vq->event_idx) {
		uint16_t ev = load16(used_event(vq));
		return (uint16_t)(now - ev - 1) < (uint16_t)(now - old);
	}
	return !(load16(&vq->avail[AVAIL_FLAGS]) & VQ_AVAIL_F_NO_INTERRUPT);
}

bool vq_enable_notify(struct virtq *vq)
{
	if (vq->broken)
		return false;
	vq->notify_on = true;
	if (vq->event_idx)
		store16(avail_event(vq), vq->avail_idx);
	else
		store16(&vq->used[USED_FLAGS], 0);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return load16(&vq->avail[AVAIL_IDX]) != vq->avail_idx;
}

void vq_disable_notify(struct virtq *vq)
{
	if (!vq->notify_on || vq->broken)
		return;
	vq->notify_on = false;
	if (!vq->event_idx)
		store16(&vq->used[USED_FLAGS], VQ_USED_F_NO_NOTIFY);
}

/* Virtqueue and frame copy on synthetic guest memory: the normal paths and
 * one test per way a guest can lie to us. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "link/copy.h"
#include "link/virtq.h"

#define MEM_SIZE (1u << 20)
#define GPA 0x100000ull
#define UVA 0x7f0000000000ull
#define OFF_DESC 0x0
#define OFF_AVAIL 0x4000
#define OFF_USED 0x8000
#define OFF_DATA 0x10000

struct env {
	uint8_t *mem;
	struct guestmem gm;
	struct virtq vq;
	unsigned num;
	uint16_t next_avail;
};

static struct env A, B;

static void env_init(struct env *e, unsigned num, uint64_t features, uint16_t base)
{
	if (!e->mem)
		e->mem = aligned_alloc(4096, MEM_SIZE);
	memset(e->mem, 0, MEM_SIZE);
	e->gm = (struct guestmem){ .n = 1, .r = { { .gpa = GPA, .uva = UVA, .size = MEM_SIZE, .host = e->mem } } };
	e->num = num;
	e->next_avail = base;
	uint16_t *avail = (uint16_t *)(e->mem + OFF_AVAIL);
	uint16_t *used = (uint16_t *)(e->mem + OFF_USED);
	avail[1] = base;
	used[1] = base;
	assert_true(vq_setup(&e->vq, &e->gm, num, UVA + OFF_DESC, UVA + OFF_AVAIL, UVA + OFF_USED, features, base));
}

static int setup(void **state)
{
	(void)state;
	env_init(&A, 256, 0, 0);
	env_init(&B, 256, 0, 0);
	return 0;
}

static int teardown_all(void **state)
{
	(void)state;
	free(A.mem);
	free(B.mem);
	return 0;
}

static struct vq_desc *desc_at(struct env *e, uint64_t gpa_off)
{
	return (struct vq_desc *)(e->mem + gpa_off);
}

static void set_desc(struct env *e, unsigned i, uint64_t gpa, uint32_t len, uint16_t flags, uint16_t next)
{
	*desc_at(e, OFF_DESC + 16 * i) = (struct vq_desc){ gpa, len, flags, next };
}

static void publish(struct env *e, uint16_t head)
{
	uint16_t *avail = (uint16_t *)(e->mem + OFF_AVAIL);
	avail[2 + (e->next_avail % e->num)] = head;
	e->next_avail++;
	avail[1] = e->next_avail;
}

static uint16_t used_idx(struct env *e)
{
	return ((uint16_t *)(e->mem + OFF_USED))[1];
}

static struct vq_used_elem used_elem(struct env *e, uint16_t slot)
{
	return ((struct vq_used_elem *)(e->mem + OFF_USED + 4))[slot % e->num];
}

static struct vq_chain ch;

static void expect_broken(struct env *e, bool writable)
{
	assert_int_equal(vq_pop(&e->vq, &ch, writable), VQ_BROKEN);
	assert_true(e->vq.broken);
	assert_int_equal(vq_pop(&e->vq, &ch, writable), VQ_BROKEN);
}

/* ---- normal paths ---- */

static void test_single(void **state)
{
	set_desc(&A, 0, GPA + OFF_DATA, 100, 0, 0);
	publish(&A, 0);
	assert_int_equal(vq_pop(&A.vq, &ch, false), VQ_OK);
	assert_int_equal(ch.head, 0);
	assert_int_equal(ch.niov, 1);
	assert_int_equal(ch.len, 100);
	assert_ptr_equal(ch.iov[0].iov_base, A.mem + OFF_DATA);
	assert_int_equal(vq_pop(&A.vq, &ch, false), VQ_EMPTY);
	vq_push(&A.vq, 0, 0);
	assert_int_equal(used_idx(&A), 0);
	assert_true(vq_flush(&A.vq));
	assert_int_equal(used_idx(&A), 1);
	assert_int_equal(used_elem(&A, 0).id, 0);
}

static void test_chain(void **state)
{
	set_desc(&A, 5, GPA + OFF_DATA, 10, VQ_DESC_F_NEXT, 9);
	set_desc(&A, 9, GPA + OFF_DATA + 100, 20, VQ_DESC_F_NEXT, 2);
	set_desc(&A, 2, GPA + OFF_DATA + 200, 30, 0, 0);
	publish(&A, 5);
	assert_int_equal(vq_pop(&A.vq, &ch, false), VQ_OK);
	assert_int_equal(ch.head, 5);
	assert_int_equal(ch.niov, 3);
	assert_int_equal(ch.len, 60);
	assert_ptr_equal(ch.iov[2].iov_base, A.mem + OFF_DATA + 200);
}

static void test_indirect(void **state)
{
	env_init(&A, 256, 1ull << VIRTIO_RING_F_INDIRECT_DESC, 0);
	struct vq_desc *t = desc_at(&A, 0x20000);
	t[0] = (struct vq_desc){ GPA + OFF_DATA, 12, VQ_DESC_F_NEXT, 1 };
	t[1] = (struct vq_desc){ GPA + OFF_DATA + 64, 1000, 0, 0 };
	set_desc(&A, 3, GPA + 0x20000, 32, VQ_DESC_F_INDIRECT, 0);
	publish(&A, 3);
	assert_int_equal(vq_pop(&A.vq, &ch, false), VQ_OK);
	assert_int_equal(ch.head, 3);
	assert_int_equal(ch.niov, 2);
	assert_int_equal(ch.len, 1012);
}

static void test_index_wrap(void **state)
{
	env_init(&A, 8, 0, 65530);
	for (unsigned round = 0; round < 20; round++) {
		uint16_t d = round % 8;
		set_desc(&A, d, GPA + OFF_DATA + 64 * d, 64, 0, 0);
		publish(&A, d);
		assert_int_equal(vq_pop(&A.vq, &ch, false), VQ_OK);
		assert_int_equal(ch.head, d);
		vq_push(&A.vq, d, 0);
		vq_flush(&A.vq);
		assert_int_equal(used_idx(&A), (uint16_t)(65530 + round + 1));
		assert_int_equal(used_elem(&A, (uint16_t)(65530 + round)).id, d);
	}
	assert_int_equal(A.vq.last_avail, (uint16_t)(65530 + 20));
}

static void test_event_idx(void **state)
{
	env_init(&A, 16, 1ull << VIRTIO_RING_F_EVENT_IDX, 0);
	uint16_t *used_event = (uint16_t *)(A.mem + OFF_AVAIL) + 2 + 16;
	uint16_t *avail_event = (uint16_t *)(A.mem + OFF_USED) + 2 + 4 * 16;
	*used_event = 2;	/* wants a call once the third buffer is used */
	for (uint16_t d = 0; d < 4; d++) {
		set_desc(&A, d, GPA + OFF_DATA, 64, 0, 0);
		publish(&A, d);
	}
	assert_int_equal(vq_pop(&A.vq, &ch, false), VQ_OK);
	vq_push(&A.vq, ch.head, 0);
	assert_false(vq_flush(&A.vq));
	assert_int_equal(vq_pop(&A.vq, &ch, false), VQ_OK);
	vq_push(&A.vq, ch.head, 0);
	assert_int_equal(vq_pop(&A.vq, &ch, false), VQ_OK);
	vq_push(&A.vq, ch.head, 0);
	assert_true(vq_flush(&A.vq));
	assert_int_equal(vq_pop(&A.vq, &ch, false), VQ_OK);
	assert_int_equal(vq_pop(&A.vq, &ch, false), VQ_EMPTY);
	assert_false(vq_enable_notify(&A.vq));
	assert_int_equal(*avail_event, 4);
	publish(&A, 0);
	assert_true(vq_enable_notify(&A.vq));
}

static void test_no_interrupt_flag(void **state)
{
	uint16_t *avail = (uint16_t *)(A.mem + OFF_AVAIL);
	uint16_t *used = (uint16_t *)(A.mem + OFF_USED);
	avail[0] = VQ_AVAIL_F_NO_INTERRUPT;
	set_desc(&A, 0, GPA + OFF_DATA, 64, 0, 0);
	publish(&A, 0);
	assert_int_equal(vq_pop(&A.vq, &ch, false), VQ_OK);
	vq_push(&A.vq, 0, 0);
	assert_false(vq_flush(&A.vq));
	vq_disable_notify(&A.vq);
	assert_int_equal(used[0], VQ_USED_F_NO_NOTIFY);
	assert_false(vq_enable_notify(&A.vq));
	assert_int_equal(used[0], 0);
}

static void test_region_crossing_split(void **state)
{
	/* two regions adjacent in guest-physical space, apart on the host */
	A.gm.n = 2;
	A.gm.r[0].size = 0x80000;
	A.gm.r[1] = (struct gm_region){ .gpa = GPA + 0x80000, .uva = UVA + 0x100000, .size = 0x80000, .host = A.mem + 0x80000 };
	assert_true(gm_valid(&A.gm));
	set_desc(&A, 0, GPA + 0x80000 - 10, 30, 0, 0);
	publish(&A, 0);
	assert_int_equal(vq_pop(&A.vq, &ch, false), VQ_OK);
	assert_int_equal(ch.niov, 2);
	assert_int_equal(ch.iov[0].iov_len, 10);
	assert_int_equal(ch.iov[1].iov_len, 20);
	assert_ptr_equal(ch.iov[1].iov_base, A.mem + 0x80000);
}

/* ---- attacks on the ring ---- */

static void test_head_out_of_range(void **state)
{
	publish(&A, 256);
	expect_broken(&A, false);
}

static void test_next_out_of_range(void **state)
{
	set_desc(&A, 0, GPA + OFF_DATA, 10, VQ_DESC_F_NEXT, 300);
	publish(&A, 0);
	expect_broken(&A, false);
}

/* A loop in a table longer than a frame's pieces is refused as too
 * complex once it passes them (it is never walked round to the table's
 * size); a loop in a smaller table breaks the queue (below). */
static void test_desc_loop(void **state)
{
	set_desc(&A, 0, GPA + OFF_DATA, 10, VQ_DESC_F_NEXT, 1);
	set_desc(&A, 1, GPA + OFF_DATA, 10, VQ_DESC_F_NEXT, 0);
	publish(&A, 0);
	assert_int_equal(vq_pop(&A.vq, &ch, false), VQ_TOO_COMPLEX);
	assert_int_equal(vq_pop(&A.vq, &ch, false), VQ_EMPTY);
}

static void test_chain_longer_than_queue(void **state)
{
	env_init(&A, 4, 0, 0);
	for (unsigned i = 0; i < 4; i++)
		set_desc(&A, i, GPA + OFF_DATA, 10, VQ_DESC_F_NEXT, (i + 1) % 4);
	publish(&A, 0);
	expect_broken(&A, false);
}

static void test_indirect_loop(void **state)
{
	env_init(&A, 256, 1ull << VIRTIO_RING_F_INDIRECT_DESC, 0);
	struct vq_desc *t = desc_at(&A, 0x20000);
	t[0] = (struct vq_desc){ GPA + OFF_DATA, 10, VQ_DESC_F_NEXT, 1 };
	t[1] = (struct vq_desc){ GPA + OFF_DATA, 10, VQ_DESC_F_NEXT, 0 };
	set_desc(&A, 0, GPA + 0x20000, 32, VQ_DESC_F_INDIRECT, 0);
	publish(&A, 0);
	expect_broken(&A, false);
}

static void test_indirect_bad_len(void **state)
{
	static const uint32_t lens[] = { 0, 17, 16 * 40000 };
	for (unsigned i = 0; i < 3; i++) {
		env_init(&A, 256, 1ull << VIRTIO_RING_F_INDIRECT_DESC, 0);
		set_desc(&A, 0, GPA + 0x20000, lens[i], VQ_DESC_F_INDIRECT, 0);
		publish(&A, 0);
		expect_broken(&A, false);
	}
	/* a table running off the end of guest memory */
	env_init(&A, 256, 1ull << VIRTIO_RING_F_INDIRECT_DESC, 0);
	set_desc(&A, 0, GPA + MEM_SIZE - 16, 32, VQ_DESC_F_INDIRECT, 0);
	publish(&A, 0);
	expect_broken(&A, false);
}

static void test_indirect_nested(void **state)
{
	env_init(&A, 256, 1ull << VIRTIO_RING_F_INDIRECT_DESC, 0);
	struct vq_desc *t = desc_at(&A, 0x20000);
	t[0] = (struct vq_desc){ GPA + 0x20000, 16, VQ_DESC_F_INDIRECT, 0 };
	set_desc(&A, 0, GPA + 0x20000, 16, VQ_DESC_F_INDIRECT, 0);
	publish(&A, 0);
	expect_broken(&A, false);
}

static void test_indirect_not_negotiated(void **state)
{
	struct vq_desc *t = desc_at(&A, 0x20000);
	t[0] = (struct vq_desc){ GPA + OFF_DATA, 10, 0, 0 };
	set_desc(&A, 0, GPA + 0x20000, 16, VQ_DESC_F_INDIRECT, 0);
	publish(&A, 0);
	expect_broken(&A, false);
}

static void test_indirect_with_next(void **state)
{
	env_init(&A, 256, 1ull << VIRTIO_RING_F_INDIRECT_DESC, 0);
	struct vq_desc *t = desc_at(&A, 0x20000);
	t[0] = (struct vq_desc){ GPA + OFF_DATA, 10, 0, 0 };
	set_desc(&A, 0, GPA + 0x20000, 16, VQ_DESC_F_INDIRECT | VQ_DESC_F_NEXT, 1);
	set_desc(&A, 1, GPA + OFF_DATA, 10, 0, 0);
	publish(&A, 0);
	expect_broken(&A, false);
}

static void test_addr_outside_memory(void **state)
{
	set_desc(&A, 0, 0x1000, 10, 0, 0);
	publish(&A, 0);
	expect_broken(&A, false);
}

static void test_addr_crossing_region_end(void **state)
{
	set_desc(&A, 0, GPA + MEM_SIZE - 8, 16, 0, 0);
	publish(&A, 0);
	expect_broken(&A, false);
}

/* A buffer that runs past 2^64 is refused by chain_add itself, even where
 * the regions would let the walk carry on at address 0 (gm_valid never lets
 * a region reach 2^64; this tests the second line of defence alone). */
static void test_len_overflow(void **state)
{
	A.gm.n = 2;
	A.gm.r[1] = (struct gm_region){ .gpa = 0xfffffffffff00000ull, .uva = 0x1000, .size = 0x100000,
					.host = A.mem };
	A.gm.r[0].gpa = 0;	/* where a wrapped address lands */
	set_desc(&A, 0, 0xfffffffffffffff0ull, 0x100, 0, 0);
	publish(&A, 0);
	expect_broken(&A, false);
	assert_false(gm_valid(&A.gm));
}

/* A chain longer than any frame is refused once it is longer than a frame
 * can be, without being walked to its end: the descriptors past the limit
 * here point outside guest memory, and are never looked at. */
static void test_chain_walk_stops(void **state)
{
	for (unsigned i = 0; i < 256; i++)
		set_desc(&A, i, i < VQ_MAX_IOV + 8 ? GPA + OFF_DATA : 0xdead0000ull, 1, i < 255 ? VQ_DESC_F_NEXT : 0, i + 1);
	publish(&A, 0);
	assert_int_equal(vq_pop(&A.vq, &ch, false), VQ_TOO_COMPLEX);
	assert_false(A.vq.broken);

	/* direct descriptors, then an indirect table of 2000 */
	env_init(&A, 256, 1ull << VIRTIO_RING_F_INDIRECT_DESC, 0);
	struct vq_desc *t = desc_at(&A, 0x20000);
	for (unsigned i = 0; i < 2000; i++)
		t[i] = (struct vq_desc){ i < 100 ? GPA + OFF_DATA : 0xdead0000ull, 1, i < 1999 ? VQ_DESC_F_NEXT : 0,
					 (uint16_t)(i + 1) };
	for (unsigned i = 0; i < 100; i++)
		set_desc(&A, i, GPA + OFF_DATA, 1, VQ_DESC_F_NEXT, i + 1);
	set_desc(&A, 100, GPA + 0x20000, 16 * 2000, VQ_DESC_F_INDIRECT, 0);
	publish(&A, 0);
	assert_int_equal(vq_pop(&A.vq, &ch, false), VQ_TOO_COMPLEX);
	assert_false(A.vq.broken);

	/* zero-length descriptors count too: they cost a walk all the same */
	env_init(&A, 256, 0, 0);
	for (unsigned i = 0; i < 256; i++)
		set_desc(&A, i, i < VQ_MAX_IOV + 8 ? GPA + OFF_DATA : 0xdead0000ull, i < VQ_MAX_IOV + 8 ? 0 : 1,
			 i < 255 ? VQ_DESC_F_NEXT : 0, i + 1);
	publish(&A, 0);
	assert_int_equal(vq_pop(&A.vq, &ch, false), VQ_TOO_COMPLEX);
	assert_false(A.vq.broken);
}

static void test_zero_length_buffers(void **state)
{
	bool ct = false, cr = false;
	struct copy_stats st = { 0 };
	struct copy_end tx = { &A.vq, 12, false }, rx = { &B.vq, 12, false };

	set_desc(&A, 0, GPA + OFF_DATA, 0, VQ_DESC_F_NEXT, 1);
	set_desc(&A, 1, GPA + OFF_DATA, 0, 0, 0);
	publish(&A, 0);
	set_desc(&A, 2, GPA + OFF_DATA, 12, VQ_DESC_F_NEXT, 3);
	set_desc(&A, 3, GPA + OFF_DATA + 100, 0, VQ_DESC_F_NEXT, 4);
	set_desc(&A, 4, GPA + OFF_DATA + 200, 60, 0, 0);
	publish(&A, 2);
	set_desc(&B, 0, GPA + OFF_DATA, 2048, VQ_DESC_F_WRITE, 0);
	publish(&B, 0);
	assert_int_equal(copy_burst(&tx, &rx, 64, &st, &ct, &cr), COPY_IDLE);
	assert_int_equal(st.drop_bad_header, 1);
	assert_int_equal(st.frames, 1);
	assert_int_equal(used_elem(&B, 0).len, 72);
	assert_int_equal(used_idx(&A), 2);
}

static void test_avail_idx_jump(void **state)
{
	uint16_t *avail = (uint16_t *)(A.mem + OFF_AVAIL);
	avail[1] = 257;
	expect_broken(&A, false);
	env_init(&A, 256, 0, 0);
	avail[1] = 0xffff;	/* moving backwards */
	expect_broken(&A, false);
}

static void test_wrong_direction(void **state)
{
	set_desc(&A, 0, GPA + OFF_DATA, 10, VQ_DESC_F_WRITE | VQ_DESC_F_NEXT, 1);
	set_desc(&A, 1, GPA + OFF_DATA, 10, 0, 0);
	publish(&A, 0);
	expect_broken(&A, true);	/* receive chain, readable after writable */
	env_init(&A, 256, 0, 0);
	set_desc(&A, 0, GPA + OFF_DATA, 10, VQ_DESC_F_NEXT, 1);
	set_desc(&A, 1, GPA + OFF_DATA, 10, VQ_DESC_F_WRITE, 0);
	publish(&A, 0);
	expect_broken(&A, false);	/* transmit chain with a writable part */
}

static void test_regions_bad(void **state)
{
	struct guestmem gm = { .n = 2, .r = {
		{ .gpa = 0x1000, .uva = 0x10000, .size = 0x2000, .host = A.mem },
		{ .gpa = 0x2000, .uva = 0x90000, .size = 0x1000, .host = A.mem },
	} };
	assert_false(gm_valid(&gm));	/* guest-physical overlap */
	gm.r[1].gpa = 0x8000;
	gm.r[1].uva = 0x11000;
	assert_false(gm_valid(&gm));	/* frontend-virtual overlap */
	gm.r[1].uva = 0x90000;
	assert_true(gm_valid(&gm));
	gm.r[1].gpa = 0xfffffffffffff000ull;
	gm.r[1].size = 0x2000;
	assert_false(gm_valid(&gm));	/* wraps */
	gm.r[1].gpa = 0x8000;
	gm.r[1].size = 0;
	assert_false(gm_valid(&gm));
	gm.n = 9;
	assert_false(gm_valid(&gm));
}

static void test_ring_setup_bad(void **state)
{
	struct virtq vq;
	assert_false(vq_setup(&vq, &A.gm, 0, UVA, UVA + 0x4000, UVA + 0x8000, 0, 0));
	assert_false(vq_setup(&vq, &A.gm, 100, UVA, UVA + 0x4000, UVA + 0x8000, 0, 0));
	assert_false(vq_setup(&vq, &A.gm, 65536, UVA, UVA + 0x4000, UVA + 0x8000, 0, 0));
	assert_false(vq_setup(&vq, &A.gm, 256, UVA + 8, UVA + 0x4000, UVA + 0x8000, 0, 0));
	assert_false(vq_setup(&vq, &A.gm, 256, UVA, UVA + 0x4000, UVA + MEM_SIZE - 64, 0, 0));
	assert_false(vq_setup(&vq, &A.gm, 256, 0x1000, UVA + 0x4000, UVA + 0x8000, 0, 0));
	assert_true(vq.broken);
	assert_int_equal(vq_pop(&vq, &ch, false), VQ_BROKEN);
}

/* ---- copying frames ---- */

static void put_tx_frame(struct env *e, uint16_t d, uint64_t off, uint32_t flen, uint8_t fill)
{
	memset(e->mem + off, 0, 12);
	memset(e->mem + off + 12, fill, flen);
	set_desc(e, d, GPA + off, 12 + flen, 0, 0);
	publish(e, d);
}

static void test_copy_frame(void **state)
{
	bool ct = false, cr = false;
	struct copy_stats st = { 0 };
	struct copy_end tx = { &A.vq, 12, false }, rx = { &B.vq, 12, false };

	put_tx_frame(&A, 0, OFF_DATA, 60, 0xab);
	memset(B.mem + OFF_DATA, 0xee, 2048);
	set_desc(&B, 7, GPA + OFF_DATA, 2048, VQ_DESC_F_WRITE, 0);
	publish(&B, 7);
	assert_int_equal(copy_burst(&tx, &rx, 64, &st, &ct, &cr), COPY_IDLE);
	assert_true(ct);
	assert_true(cr);
	assert_int_equal(st.frames, 1);
	assert_int_equal(st.bytes, 60);
	assert_int_equal(used_idx(&B), 1);
	assert_int_equal(used_elem(&B, 0).id, 7);
	assert_int_equal(used_elem(&B, 0).len, 72);
	assert_int_equal(B.mem[OFF_DATA + 10], 1);	/* num_buffers */
	assert_int_equal(B.mem[OFF_DATA + 0], 0);
	assert_int_equal(B.mem[OFF_DATA + 12], 0xab);
	assert_int_equal(B.mem[OFF_DATA + 71], 0xab);
	assert_int_equal(B.mem[OFF_DATA + 72], 0xee);
	assert_int_equal(used_idx(&A), 1);
}

static void test_copy_mergeable(void **state)
{
	bool ct = false, cr = false;
	struct copy_stats st = { 0 };
	struct copy_end tx = { &A.vq, 12, false }, rx = { &B.vq, 12, true };

	put_tx_frame(&A, 0, OFF_DATA, 1000, 0x5a);
	for (uint16_t d = 0; d < 8; d++) {
		set_desc(&B, d, GPA + OFF_DATA + 4096 * d, 256, VQ_DESC_F_WRITE, 0);
		publish(&B, d);
	}
	assert_int_equal(copy_burst(&tx, &rx, 64, &st, &ct, &cr), COPY_IDLE);
	assert_int_equal(st.frames, 1);
	assert_int_equal(used_idx(&B), 4);
	assert_int_equal(B.mem[OFF_DATA + 10], 4);
	assert_int_equal(used_elem(&B, 0).len, 256);
	assert_int_equal(used_elem(&B, 3).len, 1012 - 768);
	assert_int_equal(B.mem[OFF_DATA + 3 * 4096 + 1012 - 768 - 1], 0x5a);
	assert_int_equal(B.vq.last_avail, 4);
}

static void test_copy_header_split(void **state)
{
	bool ct = false, cr = false;
	struct copy_stats st = { 0 };
	struct copy_end tx = { &A.vq, 12, false }, rx = { &B.vq, 10, false };

	memset(A.mem + OFF_DATA, 0, 5);
	memset(A.mem + OFF_DATA + 100, 0, 7);
	memset(A.mem + OFF_DATA + 107, 0x11, 3);
	memset(A.mem + OFF_DATA + 200, 0x22, 57);
	set_desc(&A, 0, GPA + OFF_DATA, 5, VQ_DESC_F_NEXT, 1);
	set_desc(&A, 1, GPA + OFF_DATA + 100, 10, VQ_DESC_F_NEXT, 2);
	set_desc(&A, 2, GPA + OFF_DATA + 200, 57, 0, 0);
	publish(&A, 0);
	set_desc(&B, 0, GPA + OFF_DATA, 2048, VQ_DESC_F_WRITE, 0);
	publish(&B, 0);
	assert_int_equal(copy_burst(&tx, &rx, 64, &st, &ct, &cr), COPY_IDLE);
	assert_int_equal(st.frames, 1);
	assert_int_equal(used_elem(&B, 0).len, 70);
	assert_int_equal(B.mem[OFF_DATA + 10], 0x11);
	assert_int_equal(B.mem[OFF_DATA + 13], 0x22);
}

static void test_copy_short_header(void **state)
{
	bool ct = false, cr = false;
	struct copy_stats st = { 0 };
	struct copy_end tx = { &A.vq, 12, false }, rx = { &B.vq, 12, false };

	set_desc(&A, 0, GPA + OFF_DATA, 5, 0, 0);
	publish(&A, 0);
	put_tx_frame(&A, 1, OFF_DATA + 4096, 60, 1);
	A.mem[OFF_DATA + 4096 + 1] = 4;	/* gso_type TCPv6: never offered */
	put_tx_frame(&A, 2, OFF_DATA + 8192, 60, 1);
	A.mem[OFF_DATA + 8192] = 1;	/* needs checksum: never offered */
	assert_int_equal(copy_burst(&tx, &rx, 64, &st, &ct, &cr), COPY_IDLE);
	assert_int_equal(st.drop_bad_header, 3);
	assert_int_equal(used_idx(&A), 3);
	assert_int_equal(used_idx(&B), 0);
}

static void test_copy_sizes(void **state)
{
	bool ct = false, cr = false;
	struct copy_stats st = { 0 };
	struct copy_end tx = { &A.vq, 12, false }, rx = { &B.vq, 12, false };

	put_tx_frame(&A, 0, OFF_DATA, 13, 1);
	set_desc(&A, 1, GPA + OFF_DATA, 0x20000, 0, 0);
	publish(&A, 1);
	assert_int_equal(copy_burst(&tx, &rx, 64, &st, &ct, &cr), COPY_IDLE);
	assert_int_equal(st.drop_size, 2);
}

static void test_copy_too_complex(void **state)
{
	bool ct = false, cr = false;
	struct copy_stats st = { 0 };
	struct copy_end tx = { &A.vq, 12, false }, rx = { &B.vq, 12, false };

	for (unsigned i = 0; i < 200; i++)
		set_desc(&A, i, GPA + OFF_DATA + i, 1, i < 199 ? VQ_DESC_F_NEXT : 0, i + 1);
	publish(&A, 0);
	assert_int_equal(copy_burst(&tx, &rx, 64, &st, &ct, &cr), COPY_IDLE);
	assert_int_equal(st.drop_complex, 1);
	assert_false(A.vq.broken);
}

static void test_copy_no_peer(void **state)
{
	bool ct = false, cr = false;
	struct copy_stats st = { 0 };
	struct copy_end tx = { &A.vq, 12, false }, rx = { NULL, 12, false };

	put_tx_frame(&A, 0, OFF_DATA, 60, 1);
	put_tx_frame(&A, 1, OFF_DATA, 60, 1);
	assert_int_equal(copy_burst(&tx, &rx, 64, &st, &ct, &cr), COPY_IDLE);
	assert_int_equal(st.drop_no_peer, 2);
	assert_int_equal(used_idx(&A), 2);
}

static void test_copy_blocked_then_resumes(void **state)
{
	bool ct = false, cr = false;
	struct copy_stats st = { 0 };
	struct copy_end tx = { &A.vq, 12, false }, rx = { &B.vq, 12, true };

	put_tx_frame(&A, 0, OFF_DATA, 60, 1);
	put_tx_frame(&A, 1, OFF_DATA + 4096, 1400, 2);
	set_desc(&B, 0, GPA + OFF_DATA, 1024, VQ_DESC_F_WRITE, 0);
	publish(&B, 0);
	set_desc(&B, 1, GPA + OFF_DATA + 4096, 256, VQ_DESC_F_WRITE, 0);
	publish(&B, 1);
	assert_int_equal(copy_burst(&tx, &rx, 64, &st, &ct, &cr), COPY_BLOCKED);
	assert_int_equal(st.frames, 1);
	assert_int_equal(A.vq.last_avail, 1);	/* second frame waits */
	assert_int_equal(B.vq.last_avail, 1);	/* the 256-byte buffer is not taken */
	assert_false(vq_enable_notify(&B.vq));
	set_desc(&B, 2, GPA + OFF_DATA + 8192, 2048, VQ_DESC_F_WRITE, 0);
	publish(&B, 2);
	assert_true(vq_enable_notify(&B.vq));
	assert_int_equal(copy_burst(&tx, &rx, 64, &st, &ct, &cr), COPY_IDLE);
	assert_int_equal(st.frames, 2);
	assert_int_equal(used_elem(&B, 1).len, 256);
	assert_int_equal(used_elem(&B, 2).len, 1412 - 256);
	assert_int_equal(B.mem[OFF_DATA + 4096 + 10], 2);
}

static void test_copy_rx_too_small(void **state)
{
	bool ct = false, cr = false;
	struct copy_stats st = { 0 };
	struct copy_end tx = { &A.vq, 12, false }, rx = { &B.vq, 12, false };

	put_tx_frame(&A, 0, OFF_DATA, 1400, 1);
	put_tx_frame(&A, 1, OFF_DATA + 4096, 100, 2);
	set_desc(&B, 0, GPA + OFF_DATA, 512, VQ_DESC_F_WRITE, 0);
	publish(&B, 0);
	assert_int_equal(copy_burst(&tx, &rx, 64, &st, &ct, &cr), COPY_IDLE);
	assert_int_equal(st.drop_rx_small, 1);
	assert_int_equal(st.frames, 1);
	assert_int_equal(used_elem(&B, 0).len, 112);
}

static void test_copy_rx_broken_keeps_tx(void **state)
{
	bool ct = false, cr = false;
	struct copy_stats st = { 0 };
	struct copy_end tx = { &A.vq, 12, false }, rx = { &B.vq, 12, false };

	put_tx_frame(&A, 0, OFF_DATA, 60, 1);
	set_desc(&B, 0, GPA + OFF_DATA, 512, 0, 0);	/* readable: wrong for receive */
	publish(&B, 0);
	assert_int_equal(copy_burst(&tx, &rx, 64, &st, &ct, &cr), COPY_RX_BROKEN);
	assert_true(B.vq.broken);
	assert_false(A.vq.broken);
	assert_int_equal(A.vq.last_avail, 0);
}

static void test_copy_budget(void **state)
{
	bool ct = false, cr = false;
	struct copy_stats st = { 0 };
	struct copy_end tx = { &A.vq, 12, false }, rx = { &B.vq, 12, false };

	for (uint16_t d = 0; d < 10; d++) {
		put_tx_frame(&A, d, OFF_DATA + 128 * d, 64, (uint8_t)d);
		set_desc(&B, d, GPA + OFF_DATA + 2048 * d, 2048, VQ_DESC_F_WRITE, 0);
		publish(&B, d);
	}
	assert_int_equal(copy_burst(&tx, &rx, 4, &st, &ct, &cr), COPY_MORE);
	assert_int_equal(used_idx(&B), 4);	/* one used-index update per burst */
	assert_int_equal(copy_burst(&tx, &rx, 64, &st, &ct, &cr), COPY_IDLE);
	assert_int_equal(used_idx(&B), 10);
	assert_int_equal(st.frames, 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_single, setup),
		cmocka_unit_test_setup(test_chain, setup),
		cmocka_unit_test_setup(test_indirect, setup),
		cmocka_unit_test_setup(test_index_wrap, setup),
		cmocka_unit_test_setup(test_event_idx, setup),
		cmocka_unit_test_setup(test_no_interrupt_flag, setup),
		cmocka_unit_test_setup(test_region_crossing_split, setup),
		cmocka_unit_test_setup(test_head_out_of_range, setup),
		cmocka_unit_test_setup(test_next_out_of_range, setup),
		cmocka_unit_test_setup(test_desc_loop, setup),
		cmocka_unit_test_setup(test_chain_longer_than_queue, setup),
		cmocka_unit_test_setup(test_indirect_loop, setup),
		cmocka_unit_test_setup(test_indirect_bad_len, setup),
		cmocka_unit_test_setup(test_indirect_nested, setup),
		cmocka_unit_test_setup(test_indirect_not_negotiated, setup),
		cmocka_unit_test_setup(test_indirect_with_next, setup),
		cmocka_unit_test_setup(test_addr_outside_memory, setup),
		cmocka_unit_test_setup(test_addr_crossing_region_end, setup),
		cmocka_unit_test_setup(test_len_overflow, setup),
		cmocka_unit_test_setup(test_chain_walk_stops, setup),
		cmocka_unit_test_setup(test_zero_length_buffers, setup),
		cmocka_unit_test_setup(test_avail_idx_jump, setup),
		cmocka_unit_test_setup(test_wrong_direction, setup),
		cmocka_unit_test_setup(test_regions_bad, setup),
		cmocka_unit_test_setup(test_ring_setup_bad, setup),
		cmocka_unit_test_setup(test_copy_frame, setup),
		cmocka_unit_test_setup(test_copy_mergeable, setup),
		cmocka_unit_test_setup(test_copy_header_split, setup),
		cmocka_unit_test_setup(test_copy_short_header, setup),
		cmocka_unit_test_setup(test_copy_sizes, setup),
		cmocka_unit_test_setup(test_copy_too_complex, setup),
		cmocka_unit_test_setup(test_copy_no_peer, setup),
		cmocka_unit_test_setup(test_copy_blocked_then_resumes, setup),
		cmocka_unit_test_setup(test_copy_rx_too_small, setup),
		cmocka_unit_test_setup(test_copy_rx_broken_keeps_tx, setup),
		cmocka_unit_test_setup(test_copy_budget, setup),
	};
	int rc = cmocka_run_group_tests(tests, NULL, teardown_all);
	return rc;
}

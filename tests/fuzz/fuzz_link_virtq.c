/* libFuzzer: guest memory with two rings, all of it written by the fuzzer,
 * and the frame copier walking it the way moat-link does. First 8 bytes
 * choose the ring size, features and starting indices; the rest is memory. */
#include <stdint.h>
#include <string.h>

#include "link/copy.h"
#include "link/virtq.h"

#define MEM 0x10000
#define GPA 0x100000ull
#define UVA 0x7f0000000000ull

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t mem[MEM] __attribute__((aligned(4096)));
	static struct virtq txq, rxq;
	struct copy_stats st = { 0 };

	if (size < 8)
		return 0;
	unsigned num = 1u << (data[0] % 7);	/* 1..64: rings fit below 0x3000 */
	uint64_t features = 0;
	if (data[1] & 1)
		features |= 1ull << VIRTIO_RING_F_INDIRECT_DESC;
	if (data[1] & 2)
		features |= 1ull << VIRTIO_RING_F_EVENT_IDX;
	if (data[1] & 4)
		features |= 1ull << VIRTIO_NET_F_MRG_RXBUF;
	if (data[1] & 8)
		features |= 1ull << VIRTIO_F_VERSION_1;
	uint16_t tbase, rbase;
	memcpy(&tbase, data + 2, 2);
	memcpy(&rbase, data + 4, 2);
	memset(mem, 0, sizeof(mem));
	memcpy(mem, data + 8, size - 8 < MEM ? size - 8 : MEM);

	/* two regions, adjacent in guest-physical space, apart in frontend space */
	struct guestmem gm = { .n = 2, .r = {
		{ .gpa = GPA, .uva = UVA, .size = MEM / 2, .host = mem },
		{ .gpa = GPA + MEM / 2, .uva = UVA + 0x100000, .size = MEM / 2, .host = mem + MEM / 2 },
	} };
	if (!vq_setup(&txq, &gm, num, UVA, UVA + 0x1000, UVA + 0x1800, features, tbase) ||
	    !vq_setup(&rxq, &gm, num, UVA + 0x2000, UVA + 0x3000, UVA + 0x3800, features, rbase))
		__builtin_trap();
	struct copy_end t = { &txq, copy_hdr_len(features), false };
	struct copy_end r = { &rxq, copy_hdr_len(features), features & (1ull << VIRTIO_NET_F_MRG_RXBUF) };
	for (unsigned round = 0; round < 4; round++) {
		bool ct = false, cr = false;
		enum copy_state s = copy_burst(&t, data[6] & 1 ? &(struct copy_end){ NULL, 12, false } : &r,
					       1 + data[7] % 64, &st, &ct, &cr);
		if (s == COPY_IDLE || s == COPY_TX_BROKEN || s == COPY_RX_BROKEN)
			break;
		vq_enable_notify(&rxq);
		vq_disable_notify(&txq);
	}
	return 0;
}

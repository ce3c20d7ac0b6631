/* libFuzzer: a stream of vhost-user messages, each with 0-3 fds (memfds or
 * eventfds), fed to the same handler moat-link runs. Record format:
 * 1 byte fd spec, 12-byte header, payload (as much as the header claims and
 * the input has). */
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "link/copy.h"
#include "link/vhost_user.h"

#define FD_MEM_SIZE (64 * 1024)

static int make_fd(int memory)
{
	if (!memory)
		return eventfd(0, EFD_CLOEXEC);
	int fd = memfd_create("fuzz", MFD_CLOEXEC);
	if (fd >= 0 && ftruncate(fd, FD_MEM_SIZE) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vu_dev dev;
	static uint8_t msg[VU_MAX_MSG], reply[VU_MAX_MSG];
	struct copy_stats st = { 0 };

	vu_init(&dev);
	while (size >= 1 + VU_HDR_SIZE) {
		uint8_t spec = data[0];
		int fds[3];
		unsigned nfds = 0;
		memcpy(msg, data + 1, VU_HDR_SIZE);
		data += 1 + VU_HDR_SIZE;
		size -= 1 + VU_HDR_SIZE;
		int want = vu_msg_len(msg);
		if (want < 0) {		/* the reader hangs up on this */
			vu_reset(&dev);
			continue;
		}
		size_t plen = (size_t)want - VU_HDR_SIZE;
		if (plen > size)
			plen = size;
		memcpy(msg + VU_HDR_SIZE, data, plen);
		data += plen;
		size -= plen;
		for (unsigned i = 0; i < (spec & 3u); i++) {
			int fd = make_fd(spec & (4u << i));
			if (fd >= 0)
				fds[nfds++] = fd;
		}
		if (vu_handle(&dev, msg, VU_HDR_SIZE + plen, fds, nfds, reply) < 0) {
			vu_reset(&dev);
			continue;
		}
		struct virtq *tx = vu_queue_live(&dev, VU_TXQ), *rx = vu_queue_live(&dev, VU_RXQ);
		if (tx) {
			struct copy_end t = { tx, copy_hdr_len(dev.features), false };
			struct copy_end r = { rx, copy_hdr_len(dev.features),
					      dev.features & (1ull << VIRTIO_NET_F_MRG_RXBUF) };
			bool ct = false, cr = false;
			copy_burst(&t, &r, 8, &st, &ct, &cr);
		}
	}
	vu_reset(&dev);
	return 0;
}

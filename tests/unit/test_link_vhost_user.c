/* vhost-user message handling: the setup a frontend does, and hostile
 * messages that must be refused without leaking fds or mappings. */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/timerfd.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <cmocka.h>

#include "link/vhost_user.h"

#define MEMSZ (1u << 20)
#define UVA 0x7f0000000000ull
#define GPA 0x40000000ull

static struct vu_dev dev;
static uint8_t reply[VU_MAX_MSG];

static int count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static int count_maps(void)
{
	char line[512];
	int n = 0;
	FILE *f = fopen("/proc/self/maps", "r");
	while (fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	return n;
}

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static int send_msg(uint32_t req, uint32_t flags, const void *payload, uint32_t size, const int *fds, unsigned nfds)
{
	uint8_t msg[VU_MAX_MSG + 64];
	uint32_t h[3] = { req, flags, size };
	memcpy(msg, h, 12);
	if (size)
		memcpy(msg + 12, payload, size);
	return vu_handle(&dev, msg, 12 + size, fds, nfds, reply);
}

static int send_u64(uint32_t req, uint64_t v, const int *fds, unsigned nfds)
{
	return send_msg(req, VU_FLAG_VERSION, &v, 8, fds, nfds);
}

static int send_state(uint32_t req, uint32_t index, uint32_t num)
{
	uint32_t s[2] = { index, num };
	return send_msg(req, VU_FLAG_VERSION, s, 8, NULL, 0);
}

static uint64_t reply_u64(void)
{
	uint64_t v;
	memcpy(&v, reply + 12, 8);
	return v;
}

static int memfd(size_t size)
{
	int fd = memfd_create("guest", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, size), 0);
	return fd;
}

static int mem_table(unsigned n, const uint64_t (*regions)[4], const int *fds, unsigned nfds)
{
	uint8_t p[8 + 32 * 9] = { 0 };
	memcpy(p, &n, 4);
	for (unsigned i = 0; i < n && i < 9; i++)
		memcpy(p + 8 + 32 * i, regions[i], 32);
	return send_msg(VU_SET_MEM_TABLE, VU_FLAG_VERSION, p, 8 + 32 * (n < 9 ? n : 9), fds, nfds);
}

static int one_region(void)
{
	uint64_t r[1][4] = { { GPA, MEMSZ, UVA, 0 } };
	int fd = memfd(MEMSZ);
	return mem_table(1, r, &fd, 1);
}

static int setup(void **state)
{
	vu_init(&dev);
	return 0;
}

static int teardown(void **state)
{
	vu_reset(&dev);
	return 0;
}

static void setup_queue(unsigned qi)
{
	uint64_t a[5] = { qi, UVA + 0x10000 * qi, UVA + 0x10000 * qi + 0x8000, UVA + 0x10000 * qi + 0x4000, 0 };
	/* index and flags share the first u64 */
	assert_int_equal(send_state(VU_SET_VRING_NUM, qi, 256), 0);
	assert_int_equal(send_state(VU_SET_VRING_BASE, qi, 0), 0);
	assert_int_equal(send_msg(VU_SET_VRING_ADDR, VU_FLAG_VERSION, a, 40, NULL, 0), 0);
	int kick = eventfd(0, EFD_CLOEXEC), call = eventfd(0, EFD_CLOEXEC);
	assert_int_equal(send_u64(VU_SET_VRING_CALL, qi, &call, 1), 0);
	assert_int_equal(send_u64(VU_SET_VRING_KICK, qi, &kick, 1), 0);
}

static void test_negotiate(void **state)
{
	assert_int_equal(send_msg(VU_GET_FEATURES, VU_FLAG_VERSION, NULL, 0, NULL, 0), 20);
	assert_int_equal(reply_u64(), VU_FEATURES);
	assert_int_equal(send_msg(VU_GET_PROTOCOL_FEATURES, VU_FLAG_VERSION, NULL, 0, NULL, 0), 20);
	assert_true(reply_u64() & (1ull << VU_PROTOCOL_F_REPLY_ACK));
	assert_int_equal(send_u64(VU_SET_PROTOCOL_FEATURES, 1ull << VU_PROTOCOL_F_REPLY_ACK, NULL, 0), 0);
	assert_int_equal(send_msg(VU_GET_QUEUE_NUM, VU_FLAG_VERSION, NULL, 0, NULL, 0), 20);
	assert_int_equal(reply_u64(), 1);
	assert_int_equal(send_u64(VU_SET_FEATURES, VU_FEATURES, NULL, 0), 0);
	/* a feature we never offered */
	assert_int_equal(send_u64(VU_SET_FEATURES, VU_FEATURES | (1ull << 33), NULL, 0), -1);
}

static void test_full_setup(void **state)
{
	assert_int_equal(send_u64(VU_SET_FEATURES, VU_FEATURES, NULL, 0), 0);
	assert_int_equal(one_region(), 0);
	setup_queue(VU_RXQ);
	setup_queue(VU_TXQ);
	assert_true(dev.q[VU_TXQ].ready);
	assert_null(vu_queue_live(&dev, VU_TXQ));	/* PROTOCOL_FEATURES: starts disabled */
	assert_non_null(vu_queue_started(&dev, VU_TXQ));	/* still emptied, frames discarded */
	assert_int_equal(send_state(VU_SET_VRING_ENABLE, VU_TXQ, 1), 0);
	assert_non_null(vu_queue_live(&dev, VU_TXQ));
	dev.q[VU_TXQ].vq.last_avail = 7;
	dev.q[VU_TXQ].vq.used_idx = 7;
	assert_int_equal(send_state(VU_GET_VRING_BASE, VU_TXQ, 0), 20);
	assert_int_equal(reply_u64() >> 32, 7);
	assert_null(vu_queue_live(&dev, VU_TXQ));
	assert_int_equal(dev.q[VU_TXQ].kick_fd, -1);
}

static void test_legacy_starts_enabled(void **state)
{
	assert_int_equal(send_u64(VU_SET_FEATURES, 1ull << VIRTIO_F_VERSION_1, NULL, 0), 0);
	assert_int_equal(one_region(), 0);
	setup_queue(VU_RXQ);
	assert_non_null(vu_queue_live(&dev, VU_RXQ));
}

static void test_reply_ack(void **state)
{
	uint64_t v = 0;
	assert_int_equal(send_u64(VU_SET_PROTOCOL_FEATURES, 1ull << VU_PROTOCOL_F_REPLY_ACK, NULL, 0), 0);
	assert_int_equal(send_msg(VU_SET_OWNER, VU_FLAG_VERSION | VU_FLAG_NEED_REPLY, NULL, 0, NULL, 0), 20);
	assert_int_equal(reply_u64(), 0);
	/* not implemented: refused, but the connection stays */
	assert_int_equal(send_msg(6, VU_FLAG_VERSION | VU_FLAG_NEED_REPLY, &v, 8, NULL, 0), 20);
	assert_int_equal(reply_u64(), 1);
	assert_int_equal(send_msg(99, VU_FLAG_VERSION, NULL, 0, NULL, 0), 0);
	assert_int_equal(dev.refused, 2);
}

static void test_too_many_fds(void **state)
{
	int fds[9];
	uint64_t r[9][4];
	for (unsigned i = 0; i < 9; i++) {
		fds[i] = memfd(4096);
		r[i][0] = GPA + 0x10000 * i;
		r[i][1] = 4096;
		r[i][2] = UVA + 0x10000 * i;
		r[i][3] = 0;
	}
	assert_int_equal(mem_table(9, r, fds, 9), -1);
	for (unsigned i = 0; i < 9; i++)
		assert_false(fd_open(fds[i]));
	/* fewer fds than regions */
	fds[0] = memfd(4096);
	assert_int_equal(mem_table(2, r, fds, 1), -1);
	assert_false(fd_open(fds[0]));
}

static void test_fds_where_none_belong(void **state)
{
	int fd = eventfd(0, 0);
	assert_int_equal(send_msg(VU_GET_FEATURES, VU_FLAG_VERSION, NULL, 0, &fd, 1), -1);
	assert_false(fd_open(fd));
	fd = eventfd(0, 0);
	/* "no fd" flag with an fd anyway */
	assert_int_equal(send_u64(VU_SET_VRING_CALL, 0 | (1u << 8), &fd, 1), -1);
	assert_false(fd_open(fd));
	/* kick without an fd means polling, which we do not do */
	assert_int_equal(send_u64(VU_SET_VRING_KICK, 0 | (1u << 8), NULL, 0), -1);
}

static void test_oversize(void **state)
{
	uint32_t h[3] = { VU_SET_MEM_TABLE, VU_FLAG_VERSION, 1u << 30 };
	assert_int_equal(vu_msg_len((uint8_t *)h), -1);
	h[2] = VU_MAX_PAYLOAD;
	assert_int_equal(vu_msg_len((uint8_t *)h), VU_MAX_MSG);
	uint8_t big[VU_MAX_MSG + 8] = { 0 };
	h[2] = VU_MAX_PAYLOAD + 8;
	memcpy(big, h, 12);
	assert_int_equal(vu_handle(&dev, big, sizeof(big), NULL, 0, reply), -1);
	/* size field disagreeing with what arrived */
	h[0] = VU_SET_VRING_NUM;
	h[2] = 8;
	memcpy(big, h, 12);
	assert_int_equal(vu_handle(&dev, big, 16, NULL, 0, reply), -1);
	assert_int_equal(vu_handle(&dev, big, 5, NULL, 0, reply), -1);
	/* payload too short for what the request needs */
	assert_int_equal(send_msg(VU_SET_VRING_ADDR, VU_FLAG_VERSION, big, 8, NULL, 0), -1);
	assert_int_equal(send_msg(VU_SET_FEATURES, VU_FLAG_VERSION, big, 4, NULL, 0), -1);
}

static void test_bad_version(void **state)
{
	assert_int_equal(send_msg(VU_GET_FEATURES, 0, NULL, 0, NULL, 0), -1);
	assert_int_equal(send_msg(VU_GET_FEATURES, 2, NULL, 0, NULL, 0), -1);
}

static void test_vring_index_out_of_range(void **state)
{
	uint64_t a[5] = { 2, UVA, UVA, UVA, 0 };
	int fd = eventfd(0, 0);
	assert_int_equal(send_state(VU_SET_VRING_NUM, 2, 256), -1);
	assert_int_equal(send_state(VU_SET_VRING_BASE, 255, 0), -1);
	assert_int_equal(send_state(VU_GET_VRING_BASE, 0xffffffffu, 0), -1);
	assert_int_equal(send_state(VU_SET_VRING_ENABLE, 3, 1), -1);
	assert_int_equal(send_msg(VU_SET_VRING_ADDR, VU_FLAG_VERSION, a, 40, NULL, 0), -1);
	assert_int_equal(send_u64(VU_SET_VRING_KICK, 5, &fd, 1), -1);
	assert_false(fd_open(fd));
}

static void test_bad_vring_values(void **state)
{
	assert_int_equal(send_state(VU_SET_VRING_NUM, 0, 0), -1);
	assert_int_equal(send_state(VU_SET_VRING_NUM, 0, 100), -1);
	assert_int_equal(send_state(VU_SET_VRING_NUM, 0, 65536), -1);
	assert_int_equal(send_state(VU_SET_VRING_BASE, 0, 70000), -1);
	assert_int_equal(send_state(VU_SET_VRING_ENABLE, 0, 2), -1);
	/* a ring outside guest memory */
	assert_int_equal(one_region(), 0);
	assert_int_equal(send_state(VU_SET_VRING_NUM, 0, 256), 0);
	uint64_t a[5] = { 0, UVA + MEMSZ - 16, UVA, UVA + 0x1000, 0 };
	assert_int_equal(send_msg(VU_SET_VRING_ADDR, VU_FLAG_VERSION, a, 40, NULL, 0), 0);
	int fd = eventfd(0, 0);
	assert_int_equal(send_u64(VU_SET_VRING_KICK, 0, &fd, 1), -1);
}

static void test_regions_hostile(void **state)
{
	int maps = count_maps(), fds[2];
	/* overlapping */
	uint64_t r[2][4] = { { GPA, MEMSZ, UVA, 0 }, { GPA + 4096, 4096, UVA + 2 * MEMSZ, 0 } };
	fds[0] = memfd(MEMSZ);
	fds[1] = memfd(MEMSZ);
	assert_int_equal(mem_table(2, r, fds, 2), -1);
	assert_false(fd_open(fds[0]));
	/* wrapping */
	uint64_t w[1][4] = { { 0xfffffffffffff000ull, 0x2000, UVA, 0 } };
	fds[0] = memfd(0x2000);
	assert_int_equal(mem_table(1, w, fds, 1), -1);
	/* bigger than its file, offset overflowing */
	uint64_t b[1][4] = { { GPA, MEMSZ * 2, UVA, 0 } };
	fds[0] = memfd(MEMSZ);
	assert_int_equal(mem_table(1, b, fds, 1), -1);
	uint64_t o[1][4] = { { GPA, 4096, UVA, 0xfffffffffffff800ull } };
	fds[0] = memfd(MEMSZ);
	assert_int_equal(mem_table(1, o, fds, 1), -1);
	/* zero regions, zero size */
	assert_int_equal(mem_table(0, r, NULL, 0), -1);
	uint64_t z[1][4] = { { GPA, 0, UVA, 0 } };
	fds[0] = memfd(MEMSZ);
	assert_int_equal(mem_table(1, z, fds, 1), -1);
	/* not a memory fd */
	fds[0] = eventfd(0, 0);
	assert_int_equal(mem_table(1, r, fds, 1), -1);
	assert_int_equal(count_maps(), maps);
}

static void test_repeated_no_leaks(void **state)
{
	int fds = count_fds(), maps = count_maps();
	assert_int_equal(send_u64(VU_SET_FEATURES, VU_FEATURES, NULL, 0), 0);
	for (unsigned i = 0; i < 50; i++) {
		assert_int_equal(one_region(), 0);
		setup_queue(i % 2);
		assert_int_equal(send_state(VU_SET_VRING_NUM, i % 2, 128), 0);
	}
	assert_true(dev.q[0].ready);
	assert_int_equal(dev.q[0].vq.num, 128);
	assert_int_equal(count_fds(), fds + 4);	/* two queues' kick and call */
	assert_int_equal(count_maps(), maps + 1);
	assert_int_equal(send_msg(VU_RESET_OWNER, VU_FLAG_VERSION, NULL, 0, NULL, 0), 0);
	assert_int_equal(count_fds(), fds);
	vu_reset(&dev);
	assert_int_equal(count_maps(), maps);
}

/* A region is mapped in whole blocks of its file, from the block that
 * holds its start: a mapping shorter than a huge page cannot be unmapped. */
static void test_region_rounded_to_blocks(void **state)
{
	int maps = count_maps();
	uint64_t r[1][4] = { { GPA, 0x1000, UVA, 0x1100 } };
	int fd = memfd(MEMSZ);
	assert_int_equal(mem_table(1, r, &fd, 1), 0);
	assert_int_equal(dev.mem.r[0].maplen, 0x2000);	/* 0x1000..0x3000 */
	assert_ptr_equal(dev.mem.r[0].host, (uint8_t *)dev.mem.r[0].map + 0x100);
	assert_true(vu_reset(&dev));
	assert_int_equal(count_maps(), maps);
}

static void test_hugetlb_region_unmapped(void **state)
{
	int maps = count_maps(), fd = memfd_create("guest", MFD_CLOEXEC | MFD_HUGETLB);
	if (fd < 0 || ftruncate(fd, 2 << 20) < 0) {
		if (fd >= 0)
			close(fd);
		skip();	/* no huge pages here (vm.nr_hugepages) */
	}
	uint64_t r[1][4] = { { GPA, 0x10000, UVA, 0 } };
	assert_int_equal(mem_table(1, r, &fd, 1), 0);
	assert_int_equal(dev.mem.r[0].maplen, 2 << 20);
	assert_true(vu_reset(&dev));
	assert_int_equal(count_maps(), maps);
}

/* One side maps at most mem_max bytes; a table above it is refused before
 * anything is mapped, the side's old table included in the count once. */
static void test_mem_cap(void **state)
{
	int maps = count_maps(), fds[2];
	uint64_t r[2][4] = { { GPA, MEMSZ, UVA, 0 }, { 0, MEMSZ, UVA + 4 * MEMSZ, 0 } };

	dev.mem_max = 2 * MEMSZ;
	fds[0] = memfd(MEMSZ);
	fds[1] = memfd(MEMSZ);
	assert_int_equal(mem_table(2, r, fds, 2), 0);
	assert_int_equal(mem_table(2, r, (int[]){ memfd(MEMSZ), memfd(MEMSZ) }, 2), 0);
	assert_int_equal(count_maps(), maps + 2);
	r[1][1] = MEMSZ + 1;	/* one byte more is a page more */
	fds[0] = memfd(MEMSZ);
	fds[1] = memfd(2 * MEMSZ);
	assert_int_equal(mem_table(2, r, fds, 2), -1);
	assert_non_null(strstr(dev.why, "cap"));
	assert_false(fd_open(fds[0]));
	vu_reset(&dev);
	assert_int_equal(count_maps(), maps);
	/* 64 TiB: refused by the default cap without a mapping */
	vu_init(&dev);
	uint64_t big[1][4] = { { GPA, 1ull << 46, UVA, 0 } };
	fds[0] = memfd(0);
	assert_int_equal(ftruncate(fds[0], 1ll << 46), 0);
	assert_int_equal(mem_table(1, big, fds, 1), -1);
	assert_int_equal(count_maps(), maps);
}

/* Only an eventfd may be a kick fd: a regular file or a timerfd would wake
 * the loop for nothing, forever. */
static void test_kick_must_be_eventfd(void **state)
{
	int fd = memfd(4096);
	assert_int_equal(send_u64(VU_SET_VRING_KICK, 0, &fd, 1), -1);
	assert_false(fd_open(fd));
	fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	assert_int_equal(send_u64(VU_SET_VRING_KICK, 0, &fd, 1), -1);
	int p[2];
	assert_int_equal(pipe(p), 0);
	assert_int_equal(send_u64(VU_SET_VRING_KICK, 0, &p[0], 1), -1);
	close(p[1]);
	fd = eventfd(0, EFD_CLOEXEC);
	assert_int_equal(send_u64(VU_SET_VRING_KICK, 0, &fd, 1), 0);
	assert_int_equal(dev.q[0].kick_fd, fd);
}

/* An unnamed 1 MiB file in dir, or -1 if dir is on a file system of
 * another kind than wanted (tmpfs or not). */
static int file_in(const char *dir, bool tmpfs)
{
	struct statfs sf;
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd < 0)
		return -1;
	if (fstatfs(fd, &sf) < 0 ||
	    (sf.f_type == TMPFS_MAGIC || sf.f_type == (typeof(sf.f_type))HUGETLBFS_MAGIC) != tmpfs ||
	    ftruncate(fd, MEMSZ) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Guest memory on a disk or FUSE file system can stall a page fault, and
 * with it both guests: only tmpfs (memfd, /dev/shm) and hugetlbfs. */
static void test_mem_only_tmpfs_or_hugetlbfs(void **state)
{
	uint64_t r[1][4] = { { GPA, MEMSZ, UVA, 0 } };
	int maps = count_maps(), fd = file_in(".", false);

	if (fd < 0)
		fd = file_in("/var/tmp", false);
	if (fd < 0)
		skip();	/* no disk file system at hand */
	assert_int_equal(mem_table(1, r, &fd, 1), -1);
	assert_non_null(strstr(dev.why, "tmpfs"));
	assert_false(fd_open(fd));
	assert_int_equal(count_maps(), maps);
	assert_int_equal(dev.mem.n, 0);

	fd = file_in("/dev/shm", true);
	assert_true(fd >= 0);
	assert_int_equal(mem_table(1, r, &fd, 1), 0);
	assert_int_equal(one_region(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_negotiate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_setup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_legacy_starts_enabled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_ack, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_many_fds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fds_where_none_belong, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversize, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vring_index_out_of_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_vring_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_regions_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_repeated_no_leaks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_region_rounded_to_blocks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hugetlb_region_unmapped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mem_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kick_must_be_eventfd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mem_only_tmpfs_or_hugetlbfs, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

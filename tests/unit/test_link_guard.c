/* A frontend shrinking guest memory under us: the access faults, the guard
 * brings us back with the address, and the next guarded access works. A
 * SIGBUS another process sends is no fault: ignored, armed or not. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "link/guard.h"

static void test_shrunk_memory(void **state)
{
	int fd = memfd_create("guest", 0);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 8192), 0);
	volatile uint8_t *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(p != MAP_FAILED);
	assert_true(guard_install());
	p[4096] = 1;
	assert_int_equal(ftruncate(fd, 4096), 0);

	volatile int reached = 0;
	if (GUARD_TRY()) {
		p[4096] = 2;
		reached = 1;
		GUARD_END();
	}
	assert_int_equal(reached, 0);
	assert_ptr_equal(guard_addr, (void *)(p + 4096));

	/* and again: SIGBUS is not left blocked */
	reached = 0;
	if (GUARD_TRY()) {
		reached = p[4097];
		GUARD_END();
	}
	assert_int_equal(reached, 0);
	if (GUARD_TRY()) {
		p[0] = 3;
		reached = 1;
		GUARD_END();
	}
	assert_int_equal(reached, 1);
	munmap((void *)p, 8192);
	close(fd);
}

static void test_sent_sigbus_ignored(void **state)
{
	int fd = memfd_create("guest", 0);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 4096), 0);
	volatile uint8_t *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(p != MAP_FAILED);
	assert_true(guard_install());

	/* unarmed, twice: the first must not leave SIGBUS deadly */
	assert_int_equal(kill(getpid(), SIGBUS), 0);
	assert_int_equal(kill(getpid(), SIGBUS), 0);
	assert_int_equal(sigqueue(getpid(), SIGBUS, (union sigval){ 0 }), 0);

	/* armed: the copy goes on, no jump */
	volatile int reached = 0;
	if (GUARD_TRY()) {
		assert_int_equal(kill(getpid(), SIGBUS), 0);
		p[0] = 1;
		reached = 1;
		GUARD_END();
	}
	assert_int_equal(reached, 1);

	/* and a real fault is still caught */
	reached = 0;
	if (GUARD_TRY()) {
		p[4096] = 1;
		reached = 1;
		GUARD_END();
	}
	assert_int_equal(reached, 0);
	assert_ptr_equal(guard_addr, (void *)(p + 4096));
	munmap((void *)p, 8192);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shrunk_memory),
		cmocka_unit_test(test_sent_sigbus_ignored),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

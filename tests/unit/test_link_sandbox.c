/* The seccomp filter moat-link enters: each call in a child of its own,
 * which the filter lets through, refuses, or kills (SIGSYS). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "link/link.h"

enum { LET = 0, REFUSED = 3, KILLED = -1 };

static long page;

/* Runs op in a sandboxed child: LET if it returned >= 0, REFUSED if it
 * failed with EPERM, KILLED if the filter killed the child. */
static int outcome(long (*op)(void))
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		if (!sandbox_enter())
			syscall(SYS_exit_group, 9);
		long r = op();
		syscall(SYS_exit_group, r >= 0 ? LET : errno == EPERM ? REFUSED : 8);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (WIFSIGNALED(st)) {
		assert_int_equal(WTERMSIG(st), SIGSYS);
		return KILLED;
	}
	return WEXITSTATUS(st);
}

static long mmap_rw(void)
{
	return syscall(SYS_mmap, NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == -1 ? -1 : 0;
}

static long mmap_exec(void)
{
	return syscall(SYS_mmap, NULL, page, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == -1 ? -1 : 0;
}

static long mprotect_exec(void)
{
	void *p = mmap(NULL, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return syscall(SYS_mprotect, p, page, PROT_READ | PROT_EXEC);
}

static void *two_pages;

static long mremap_move(void)
{
	return syscall(SYS_mremap, two_pages, page, 2 * page, MREMAP_MAYMOVE) == -1 ? -1 : 0;
}

static long mremap_fixed(void)
{
	return syscall(SYS_mremap, two_pages, page, page, MREMAP_MAYMOVE | MREMAP_FIXED,
		       (char *)two_pages + page) == -1 ? -1 : 0;
}

static long madvise_dontneed(void)
{
	return syscall(SYS_madvise, two_pages, page, MADV_DONTNEED);
}

static long madvise_remove(void)
{
	return syscall(SYS_madvise, two_pages, page, MADV_REMOVE);
}

static long sendmsg_call(void)
{
	struct msghdr mh = { 0 };
	return syscall(SYS_sendmsg, 1, &mh, 0);
}

static long openat_call(void)
{
	return syscall(SYS_openat, AT_FDCWD, "/etc/passwd", O_RDONLY);
}

static long fstatat_path(void)
{
	struct stat st;
	return syscall(SYS_newfstatat, AT_FDCWD, "/etc/passwd", &st, 0);
}

static long fstat_fd(void)
{
	struct stat st;
	return syscall(SYS_fstat, 0, &st);
}

/* by fd, to see what file system guest memory is on */
static long fstatfs_fd(void)
{
	struct statfs sf;
	return syscall(SYS_fstatfs, 0, &sf);
}

static long statfs_path(void)
{
	struct statfs sf;
	return syscall(SYS_statfs, "/", &sf);
}

/* a side in use: is its frontend still there, and who else knocked */
static int pair[2];

static long ppoll_now(void)
{
	struct pollfd p = { .fd = pair[0], .events = POLLRDHUP };
	struct timespec zero = { 0, 0 };
	return syscall(SYS_ppoll, &p, 1, &zero, NULL, sizeof(sigset_t) / 8);
}

static long peercred(void)
{
	struct ucred who;
	socklen_t len = sizeof(who);
	return syscall(SYS_getsockopt, pair[0], SOL_SOCKET, SO_PEERCRED, &who, &len);
}

static long other_option(void)
{
	int type;
	socklen_t len = sizeof(type);
	return syscall(SYS_getsockopt, pair[0], SOL_SOCKET, SO_TYPE, &type, &len);
}

static long other_level(void)
{
	struct ucred who;
	socklen_t len = sizeof(who);
	return syscall(SYS_getsockopt, pair[0], IPPROTO_TCP, SO_PEERCRED, &who, &len);
}

static void test_frontend_checks_only(void **state)
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
	assert_int_equal(outcome(ppoll_now), LET);
	assert_int_equal(outcome(peercred), LET);
	assert_int_equal(outcome(other_option), KILLED);
	assert_int_equal(outcome(other_level), KILLED);
	close(pair[0]);
	close(pair[1]);
}

static void test_memory_never_executable(void **state)
{
	assert_int_equal(outcome(mmap_rw), LET);
	assert_int_equal(outcome(mmap_exec), KILLED);
	assert_int_equal(outcome(mprotect_exec), KILLED);
	assert_int_equal(outcome(mremap_move), LET);
	assert_int_equal(outcome(mremap_fixed), KILLED);
}

static void test_madvise_only_dontneed(void **state)
{
	assert_int_equal(outcome(madvise_dontneed), LET);
	assert_int_equal(outcome(madvise_remove), REFUSED);
}

static void test_no_sendmsg_no_paths(void **state)
{
	assert_int_equal(outcome(sendmsg_call), KILLED);
	assert_int_equal(outcome(openat_call), KILLED);
	assert_int_equal(outcome(fstatat_path), KILLED);
	assert_int_equal(outcome(fstat_fd), LET);
	assert_int_equal(outcome(fstatfs_fd), LET);
	assert_int_equal(outcome(statfs_path), KILLED);
}

int main(void)
{
	page = sysconf(_SC_PAGESIZE);
	two_pages = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_memory_never_executable),
		cmocka_unit_test(test_madvise_only_dontneed),
		cmocka_unit_test(test_no_sendmsg_no_paths),
		cmocka_unit_test(test_frontend_checks_only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

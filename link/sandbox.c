/* After setup the link only moves frames and answers its sockets: the
 * io_uring may only read, write, poll and cancel, and the process may only
 * make the few syscalls of its loop and of vhost-user message handling. */
#include "link.h"

#include <errno.h>
#include <seccomp.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

bool sandbox_uring_restrict(struct io_uring *ring)
{
	static const unsigned char ops[] = {
		IORING_OP_READ, IORING_OP_WRITE, IORING_OP_POLL_ADD, IORING_OP_ASYNC_CANCEL,
	};
	struct io_uring_restriction res[sizeof(ops)];

	memset(res, 0, sizeof(res));
	for (unsigned i = 0; i < sizeof(ops); i++) {
		res[i].opcode = IORING_RESTRICTION_SQE_OP;
		res[i].sqe_op = ops[i];
	}
	/* Debian's liburing 2.3 declares but does not export the wrappers */
	if (syscall(__NR_io_uring_register, ring->ring_fd, IORING_REGISTER_RESTRICTIONS, res, sizeof(ops)) < 0 ||
	    syscall(__NR_io_uring_register, ring->ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0) < 0) {
		fprintf(stderr, "moat-link: io_uring restrictions: %s\n", strerror(errno));
		return false;
	}
	return true;
}

bool sandbox_enter(void)
{
	static const int allowed[] = {
		SCMP_SYS(io_uring_enter), SCMP_SYS(recvmsg), SCMP_SYS(sendto), SCMP_SYS(sendmsg),
		SCMP_SYS(accept4), SCMP_SYS(close), SCMP_SYS(read), SCMP_SYS(write),
		SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(fstat), SCMP_SYS(newfstatat),
		SCMP_SYS(brk), SCMP_SYS(madvise), SCMP_SYS(mremap), SCMP_SYS(exit_group),
		SCMP_SYS(exit), SCMP_SYS(rt_sigreturn), SCMP_SYS(clock_gettime), SCMP_SYS(getpid),
	};
	scmp_filter_ctx ctx;
	int err = 0;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		fprintf(stderr, "moat-link: no_new_privs: %s\n", strerror(errno));
		return false;
	}
	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return false;
	for (unsigned i = 0; i < sizeof(allowed) / sizeof(allowed[0]) && err == 0; i++)
		err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
	if (err == 0)
		err = seccomp_load(ctx);
	seccomp_release(ctx);
	if (err < 0) {
		fprintf(stderr, "moat-link: seccomp: %s\n", strerror(-err));
		return false;
	}
	return true;
}

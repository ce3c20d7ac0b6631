/* After setup the link only moves frames and answers its sockets: it runs
 * as its own user with no capabilities and small limits, undumpable (every
 * link is that same user, and none may reach into another's memory), the
 * io_uring may only read, write, poll and cancel, and the process may only
 * make the few syscalls of its loop and of vhost-user message handling, none
 * that takes a path or makes memory executable. */
#include "link/link.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <seccomp.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Address space beyond guest memory: moat-link itself (libc, the ring,
 * the message buffers) peaks at 3 MiB mapped, measured as VmPeak less the
 * guest memory with both sides connected and frames flowing; ten times
 * that, for a libc that maps more. */
#define RLIMIT_AS_MARGIN (32ull << 20)

/* Measured: 19 fds with both sides set up (stdio, signalfd, ring, three
 * listening sockets, per side its connection and two queues' kick and
 * call). At most 18 more for a moment: per side a second connection
 * replacing the first and 8 fds arriving with a message, and a stats
 * client. A message whose fds would not fit is refused (MSG_CTRUNC). */
#define RLIMIT_NOFILE_LINK 64

bool sandbox_undumpable(void)
{
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 || prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0) {
		fprintf(stderr, "moat-link: cannot make the process undumpable: %s\n", strerror(errno));
		return false;
	}
	return true;
}

bool sandbox_drop_user(uid_t uid, gid_t gid)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3];
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	memset(none, 0, sizeof(none));
	/* the bounding set: every capability this kernel knows */
	for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			goto fail;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 ||
	    prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0 || setgroups(0, NULL) < 0 ||
	    setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0 ||
	    syscall(SYS_capset, &h, none) < 0)
		goto fail;
	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0 || ru != uid || eu != uid ||
	    su != uid || rg != gid || eg != gid || sg != gid || getgroups(0, NULL) != 0) {
		fprintf(stderr, "moat-link: still not uid %u gid %u\n", (unsigned)uid, (unsigned)gid);
		return false;
	}
	return sandbox_undumpable();
fail:
	fprintf(stderr, "moat-link: dropping privileges to uid %u gid %u: %s\n", (unsigned)uid, (unsigned)gid,
		strerror(errno));
	return false;
}

bool sandbox_limit(uint64_t mem_max)
{
	struct rlimit as = { mem_max + RLIMIT_AS_MARGIN, mem_max + RLIMIT_AS_MARGIN };
	struct rlimit nofile = { RLIMIT_NOFILE_LINK, RLIMIT_NOFILE_LINK };
	struct rlimit core = { 0, 0 };

	if (setrlimit(RLIMIT_AS, &as) < 0 || setrlimit(RLIMIT_NOFILE, &nofile) < 0 ||
	    setrlimit(RLIMIT_CORE, &core) < 0) {
		fprintf(stderr, "moat-link: resource limits: %s\n", strerror(errno));
		return false;
	}
	return true;
}

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

static struct scmp_arg_cmp arg(unsigned n, enum scmp_compare op, uint64_t a, uint64_t b)
{
	return (struct scmp_arg_cmp){ .arg = n, .op = op, .datum_a = a, .datum_b = b };
}

bool sandbox_enter(void)
{
	static const int allowed[] = {
		SCMP_SYS(io_uring_enter), SCMP_SYS(recvmsg), SCMP_SYS(sendto), SCMP_SYS(accept4),
		SCMP_SYS(close), SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(munmap),
		SCMP_SYS(fstat), SCMP_SYS(fstatfs), SCMP_SYS(brk), SCMP_SYS(exit_group), SCMP_SYS(exit),
		SCMP_SYS(rt_sigreturn), SCMP_SYS(clock_gettime), SCMP_SYS(getpid),
		/* is a side's frontend still there, when another knocks */
		SCMP_SYS(ppoll),
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
	/* who knocked on a side: its credentials and groups, nothing else */
	if (err == 0)
		err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(getsockopt), 2,
				       arg(1, SCMP_CMP_EQ, SOL_SOCKET, 0), arg(2, SCMP_CMP_EQ, SO_PEERCRED, 0));
	if (err == 0)
		err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(getsockopt), 2,
				       arg(1, SCMP_CMP_EQ, SOL_SOCKET, 0), arg(2, SCMP_CMP_EQ, SO_PEERGROUPS, 0));
	/* guest memory and malloc: never executable */
	if (err == 0)
		err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
				       arg(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	/* realloc of a large block: may move, never onto a chosen address */
	if (err == 0)
		err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mremap), 1,
				       arg(3, SCMP_CMP_MASKED_EQ, ~(uint64_t)MREMAP_MAYMOVE, 0));
	/* free() gives memory back with MADV_DONTNEED; other advice is
	 * refused, not fatal, since malloc copes */
	if (err == 0)
		err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(madvise), 1,
				       arg(2, SCMP_CMP_EQ, MADV_DONTNEED, 0));
	if (err == 0)
		err = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(madvise), 1,
				       arg(2, SCMP_CMP_NE, MADV_DONTNEED, 0));
	if (err == 0)
		err = seccomp_load(ctx);
	seccomp_release(ctx);
	if (err < 0) {
		fprintf(stderr, "moat-link: seccomp: %s\n", strerror(-err));
		return false;
	}
	return true;
}

/* libFuzzer: moat-link's own event loop (link/loop.c) as a frontend sees it.
 * One link, made once, with listening sockets in the abstract namespace;
 * each input connects a frontend to each side, sends it records over the
 * socket (bytes with fds attached: guest memory or eventfds) and turns the
 * loop after each, then hangs up both. So message framing, fds that come
 * with a message, kick and call bookkeeping, copying between the sides
 * and hang-ups all run as in the program.
 *
 * Input: 2 bytes little-endian n, n bytes of guest memory (every memfd
 * starts with them), then records: 1 byte spec (bit 0 side, bits 1-2 the
 * number of fds, bits 3-5 memfd or eventfd for each), 2 bytes length, the
 * bytes. */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "link/guard.h"
#include "link/link.h"

#define FD_MEM_SIZE (64 * 1024)
#define TURNS 4

static struct link l;
static struct sockaddr_un addr[2];

static int listen_abstract(unsigned si, struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	sa->sun_family = AF_UNIX;
	snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1, "moat-fuzz-link-%d-%c", (int)getpid(), 'a' + si);
	if (fd < 0 || bind(fd, (struct sockaddr *)sa, sizeof(*sa)) < 0 || listen(fd, 4) < 0)
		abort();
	return fd;
}

static void setup_once(void)
{
	sigset_t none;

	sigemptyset(&none);
	l = (struct link){ .name = "fuzz", .stats_fd = -1, .poll_ns = 0 };
	l.signal_fd = signalfd(-1, &none, SFD_CLOEXEC);
	for (unsigned si = 0; si < 2; si++) {
		l.side[si] = (struct side){ .label = 'a' + si, .conn_fd = -1, .mem_max = 1 << 20 };
		l.side[si].listen_fd = listen_abstract(si, &addr[si]);
	}
	signal(SIGPIPE, SIG_IGN);
	if (l.signal_fd < 0 || !guard_install() || !loop_init(&l))
		abort();
}

static void turn(unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (!loop_step(&l, false))
			abort();
}

static int make_fd(bool memory, const uint8_t *mem, size_t memlen)
{
	if (!memory)
		return eventfd(0, EFD_CLOEXEC);
	int fd = memfd_create("fuzz", MFD_CLOEXEC);
	if (fd >= 0 && (ftruncate(fd, FD_MEM_SIZE) < 0 || (memlen && write(fd, mem, memlen) < 0))) {
		close(fd);
		return -1;
	}
	return fd;
}

static void send_record(int sock, uint8_t spec, const uint8_t *p, size_t len, const uint8_t *mem, size_t memlen)
{
	union {
		char buf[CMSG_SPACE(3 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	int fds[3];
	unsigned nfds = 0;
	struct iovec iov = { (void *)p, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	for (unsigned i = 0; i < ((spec >> 1) & 3u); i++) {
		int fd = make_fd(spec & (8u << i), mem, memlen);
		if (fd >= 0)
			fds[nfds++] = fd;
	}
	if (nfds) {
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	(void)!sendmsg(sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	int peer[2];

	if (!ready) {
		setup_once();
		ready = true;
	}
	if (size < 2)
		return 0;
	size_t memlen = data[0] | (size_t)data[1] << 8;
	data += 2;
	size -= 2;
	if (memlen > size || memlen > FD_MEM_SIZE)
		memlen = size < FD_MEM_SIZE ? size : FD_MEM_SIZE;
	const uint8_t *mem = data;
	data += memlen;
	size -= memlen;

	for (unsigned si = 0; si < 2; si++) {
		peer[si] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (peer[si] < 0 || connect(peer[si], (struct sockaddr *)&addr[si], sizeof(addr[si])) < 0)
			abort();
	}
	turn(TURNS);
	while (size >= 3) {
		uint8_t spec = data[0];
		size_t len = data[1] | (size_t)data[2] << 8;
		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		send_record(peer[spec & 1], spec, data, len, mem, memlen);
		data += len;
		size -= len;
		turn(TURNS);
	}
	close(peer[0]);
	close(peer[1]);
	for (unsigned i = 0; i < 100 && (l.side[0].conn_fd >= 0 || l.side[1].conn_fd >= 0); i++)
		turn(1);
	if (l.side[0].conn_fd >= 0 || l.side[1].conn_fd >= 0)
		abort();	/* a frontend that left must be seen leaving */
	return 0;
}

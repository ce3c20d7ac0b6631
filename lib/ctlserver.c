/* ctlserver.c: the control channel server (ctlserver.h). Clients are netctl
 * runs on the host, or a DHCP client's script, so every frame is checked
 * (ctl.c) and a bad one costs only its own connection. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/ctlserver.h"
#include "lib/daemon.h"

#define REOPEN_MS 1000
#define REFUSED_LOG_MAX 10         /* refusals logged a minute, then counted */

struct ctl_client {
	int fd;
	uint8_t *in;
	size_t in_len, need;         /* need: the frame's size once its header is in */
	int64_t frame_deadline;      /* monotonic ms; 0 = no partial frame */
	uint8_t *out;
	size_t out_len, out_off, out_cap;
	bool closing;                /* after the queued reply */
	bool follow;
	char tag[CTL_SERVER_TAG_MAX];
};

struct ctl_server {
	char *path, *name;
	bool device;
	bool read_only;              /* only ctl_request_read_only requests */
	int64_t refused_since;       /* monotonic ms: this minute of refusals */
	unsigned long refused, refused_quiet;
	int listen_fd;               /* -1 for a device */
	struct ctl_client clients[CTL_SERVER_MAX_CLIENTS];
	size_t nclients;
	int64_t reopen_at;           /* device closed: monotonic ms to try again, 0 = open */
	ctl_handler handler;
	void *arg;
};

static void client_add(struct ctl_server *s, int fd)
{
	struct ctl_client *cl = &s->clients[s->nclients++];
	memset(cl, 0, sizeof(*cl));
	cl->fd = fd;
}

static void client_drop(struct ctl_server *s, size_t i)
{
	struct ctl_client *cl = &s->clients[i];
	close(cl->fd);
	free(cl->in);
	free(cl->out);
	s->clients[i] = s->clients[--s->nclients];
	if (s->device)
		s->reopen_at = mono_ms() + (cl->closing ? 0 : REOPEN_MS);
}

static bool device_open(struct ctl_server *s)
{
	int fd = open(s->path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		fprintf(stderr, "%s: %s: %s\n", s->name, s->path, strerror(errno));
		s->reopen_at = mono_ms() + REOPEN_MS;
		return false;
	}
	/* a console-type port is a tty: frames are bytes, not lines */
	struct termios t;
	if (tcgetattr(fd, &t) == 0) {
		cfmakeraw(&t);
		tcsetattr(fd, TCSANOW, &t);
	}
	client_add(s, fd);
	s->reopen_at = 0;
	return true;
}

static struct ctl_server *server_open(const char *path, const char *name, ctl_handler handler, void *arg,
				      bool read_only)
{
	struct ctl_server *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->read_only = read_only;
	s->handler = handler;
	s->arg = arg;
	s->listen_fd = -1;
	s->path = strdup(path);
	s->name = strdup(name);
	if (!s->path || !s->name)
		goto fail;
	struct stat sb;
	if (stat(path, &sb) == 0 && S_ISCHR(sb.st_mode)) {
		s->device = true;
		device_open(s);   /* a port with no host side yet is retried */
		return s;
	}
	s->listen_fd = daemon_listen_unix(path, SOCK_NONBLOCK);
	if (s->listen_fd < 0)
		goto fail;
	return s;
fail:;
	int err = errno;
	fprintf(stderr, "%s: control channel %s: %s\n", name, path, strerror(err));
	free(s->path);
	free(s->name);
	free(s);
	errno = err;
	return NULL;
}

struct ctl_server *ctl_server_open(const char *path, const char *name, ctl_handler handler, void *arg)
{
	return server_open(path, name, handler, arg, false);
}

struct ctl_server *ctl_server_open_read_only(const char *path, const char *name, ctl_handler handler,
					     void *arg)
{
	return server_open(path, name, handler, arg, true);
}

void ctl_server_close(struct ctl_server *s)
{
	if (!s)
		return;
	while (s->nclients)
		client_drop(s, s->nclients - 1);
	if (s->listen_fd >= 0) {
		close(s->listen_fd);
		unlink(s->path);
	}
	free(s->path);
	free(s->name);
	free(s);
}

/* ---- output ---- */

static bool queue_frame(struct ctl_client *cl, struct ctl_msg *m)
{
	size_t len;
	const uint8_t *f = ctl_msg_frame(m, &len);
	if (!f)
		return false;
	if (cl->out_off == cl->out_len)
		cl->out_off = cl->out_len = 0;
	if (cl->out_len + len > cl->out_cap) {
		size_t cap = cl->out_cap ? cl->out_cap : 4096;
		while (cap < cl->out_len + len)
			cap *= 2;
		uint8_t *p = realloc(cl->out, cap);
		if (!p)
			return false;
		cl->out = p;
		cl->out_cap = cap;
	}
	memcpy(cl->out + cl->out_len, f, len);
	cl->out_len += len;
	return true;
}

/* false: the client is gone */
static bool client_flush(struct ctl_client *cl)
{
	while (cl->out_off < cl->out_len) {
		ssize_t w = write(cl->fd, cl->out + cl->out_off, cl->out_len - cl->out_off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK;
		}
		cl->out_off += (size_t)w;
	}
	if (cl->out_cap > (1u << 20)) {
		/* do not keep a big reply's buffer for the rest of the connection */
		free(cl->out);
		cl->out = NULL;
		cl->out_cap = 0;
		cl->out_off = cl->out_len = 0;
	}
	return !cl->closing || cl->out_off < cl->out_len;
}

void ctl_client_error(struct ctl_client *cl, int status, const char *msg)
{
	struct ctl_msg m;
	ctl_msg_init(&m, CTL_REPLY);
	if (!ctl_put_u32(&m, CTL_A_STATUS, (uint32_t)status) || !ctl_put_str(&m, CTL_A_MESSAGE, msg) ||
	    !queue_frame(cl, &m))
		cl->closing = true;
	ctl_msg_free(&m);
}

void ctl_client_reply(struct ctl_client *cl, struct ctl_msg *m, bool complete)
{
	if (!complete || !queue_frame(cl, m))
		ctl_client_error(cl, EMSGSIZE, "the reply does not fit in one message");
}

void ctl_client_close(struct ctl_client *cl)
{
	cl->closing = true;
}

void ctl_client_follow(struct ctl_client *cl, const char *tag)
{
	cl->follow = true;
	snprintf(cl->tag, sizeof(cl->tag), "%s", tag ? tag : "");
}

void ctl_server_publish(struct ctl_server *s, struct ctl_msg *m,
			bool (*match)(const char *tag, void *arg), void *arg)
{
	for (size_t i = 0; i < s->nclients; i++) {
		struct ctl_client *cl = &s->clients[i];
		if (!cl->follow || cl->closing || (match && !match(cl->tag, arg)))
			continue;
		if (cl->out_len - cl->out_off > CTL_SERVER_BACKLOG || !queue_frame(cl, m))
			cl->closing = true;   /* it stopped reading: hang up rather than grow */
	}
}

/* ---- input ---- */

/* A client may send refused requests as fast as it likes: the log says
 * REFUSED_LOG_MAX a minute, then how many more. */
static void log_refused(struct ctl_server *s, uint16_t type)
{
	int64_t now = mono_ms();
	if (!s->refused_since || now - s->refused_since >= 60000) {
		if (s->refused_quiet)
			fprintf(stderr, "%s: control: %lu more requests refused on the read-only channel %s\n",
				s->name, s->refused_quiet, s->path);
		s->refused_since = now;
		s->refused = s->refused_quiet = 0;
	}
	if (s->refused++ < REFUSED_LOG_MAX)
		fprintf(stderr, "%s: control: request %u refused on the read-only channel %s\n", s->name,
			(unsigned)type, s->path);
	else
		s->refused_quiet++;
}

static void handle_frame(struct ctl_server *s, struct ctl_client *cl)
{
	uint16_t type;
	const char *why;
	if (!ctl_parse(cl->in, cl->in_len, &type, &why)) {
		char msg[160];
		snprintf(msg, sizeof(msg), "malformed message: %s", why);
		fprintf(stderr, "%s: control: %s\n", s->name, msg);
		ctl_client_error(cl, EPROTO, msg);
		cl->closing = true;
		return;
	}
	if (type == CTL_REPLY || type == CTL_EVENT) {
		ctl_client_error(cl, EPROTO, "malformed message: not a request");
		cl->closing = true;
		return;
	}
	if (s->read_only && !ctl_request_read_only(type)) {
		/* well framed, only not for this channel: refused, and the
		 * stream stays in step for the client's next request */
		log_refused(s, type);
		ctl_client_error(cl, EPERM, "this control channel is read-only (status, stats, log): changes go "
			"through the read-write control channel, which only root on the host may use");
		return;
	}
	s->handler(s->arg, cl, type, cl->in, cl->in_len);
}

/* false: the client is gone */
static bool client_read(struct ctl_server *s, struct ctl_client *cl)
{
	for (;;) {
		if (cl->follow) {
			/* a subscriber only listens: anything it sends is discarded */
			uint8_t junk[512];
			ssize_t r = read(cl->fd, junk, sizeof(junk));
			if (r > 0)
				continue;
			return r < 0 && (errno == EAGAIN || errno == EINTR);
		}
		size_t want = cl->need ? cl->need : CTL_HEADER_SIZE;
		if (!cl->in) {
			cl->in = malloc(CTL_HEADER_SIZE);
			if (!cl->in)
				return false;
		}
		ssize_t r = read(cl->fd, cl->in + cl->in_len, want - cl->in_len);
		if (r < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
		if (r == 0)
			return false;
		if (!cl->in_len)
			cl->frame_deadline = mono_ms() + CTL_SERVER_FRAME_MS;
		cl->in_len += (size_t)r;
		if (cl->in_len < want)
			continue;
		if (!cl->need) {
			const char *why;
			size_t total;
			if (!ctl_header_check(cl->in, cl->in_len, &total, &why)) {
				char msg[160];
				snprintf(msg, sizeof(msg), "malformed message: %s", why);
				fprintf(stderr, "%s: control: %s\n", s->name, msg);
				ctl_client_error(cl, strstr(why, "1 MiB") ? EMSGSIZE : EPROTO, msg);
				cl->closing = true;
				return true;
			}
			cl->need = total;
			if (total > CTL_HEADER_SIZE) {
				uint8_t *p = realloc(cl->in, total);
				if (!p)
					return false;
				cl->in = p;
				continue;
			}
		}
		handle_frame(s, cl);
		free(cl->in);
		cl->in = NULL;
		cl->in_len = cl->need = 0;
		cl->frame_deadline = 0;
		/* one request at a time: the next is read once this reply is out */
		return true;
	}
}

size_t ctl_server_pollfds(const struct ctl_server *s, struct pollfd *fds)
{
	size_t n = 0;
	if (s->listen_fd >= 0)
		fds[n++] = (struct pollfd){ .fd = s->listen_fd,
					    .events = s->nclients < CTL_SERVER_MAX_CLIENTS ? POLLIN : 0 };
	for (size_t i = 0; i < s->nclients; i++) {
		const struct ctl_client *cl = &s->clients[i];
		bool pending = cl->out_off < cl->out_len;
		short ev = pending ? POLLOUT : 0;
		if (!cl->closing && (!pending || cl->follow))
			ev |= POLLIN;
		fds[n++] = (struct pollfd){ .fd = cl->fd, .events = ev };
	}
	return n;
}

int ctl_server_timeout(const struct ctl_server *s)
{
	int64_t next = s->device && s->reopen_at ? s->reopen_at : 0;
	for (size_t i = 0; i < s->nclients; i++) {
		int64_t d = s->clients[i].frame_deadline;
		if (d && (!next || d < next))
			next = d;
	}
	if (!next)
		return -1;
	int64_t left = next - mono_ms();
	return left < 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left;
}

/* A peer that stopped halfway through a frame (a netctl killed mid-send, or
 * one holding a slot) is cut off; on a device this also finds the next frame. */
static void expire_partial(struct ctl_server *s)
{
	int64_t now = mono_ms();
	for (size_t i = 0; i < s->nclients;) {
		struct ctl_client *cl = &s->clients[i];
		if (cl->frame_deadline && now >= cl->frame_deadline && !cl->closing) {
			fprintf(stderr, "%s: control: a frame left unfinished for %d s, hanging up\n",
				s->name, CTL_SERVER_FRAME_MS / 1000);
			cl->frame_deadline = 0;
			ctl_client_error(cl, ETIMEDOUT, "malformed message: unfinished frame");
			cl->closing = true;
			if (!client_flush(cl)) {
				client_drop(s, i);
				continue;
			}
		}
		i++;
	}
}

void ctl_server_event(struct ctl_server *s, const struct pollfd *fds, size_t n)
{
	bool accept_ready = false;
	/* clients dropped below shift the array: walk FDS by descriptor */
	for (size_t at = 0; at < n; at++) {
		if (!fds[at].revents)
			continue;
		if (s->listen_fd >= 0 && fds[at].fd == s->listen_fd) {
			accept_ready = (fds[at].revents & POLLIN) != 0;
			continue;
		}
		size_t i = 0;
		while (i < s->nclients && s->clients[i].fd != fds[at].fd)
			i++;
		if (i == s->nclients)
			continue;
		struct ctl_client *cl = &s->clients[i];
		bool alive = true;
		if (fds[at].revents & (POLLIN | POLLHUP | POLLERR))
			alive = client_read(s, cl);
		/* a reply queued now is written at once, and a closing client
		 * goes as soon as its last reply is out */
		if (alive)
			alive = client_flush(cl);
		if (!alive)
			client_drop(s, i);
	}
	/* after the walk: a new client's descriptor may be one that FDS
	 * reported on for a client (of this or another server) now gone */
	while (accept_ready && s->nclients < CTL_SERVER_MAX_CLIENTS) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			break;
		client_add(s, fd);
	}
	expire_partial(s);
	if (s->device && s->reopen_at && mono_ms() >= s->reopen_at && s->nclients == 0)
		device_open(s);
}

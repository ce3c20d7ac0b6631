/* control.c: the control channel server. Clients are netctl runs on the
 * host, so every frame is checked (lib/ctl.c) and a bad one costs only its
 * own connection. Each client has one request in flight: its next frame is
 * read once the reply is written. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "ctl.h"
#include "firewalld.h"

#define FOLLOW_BACKLOG   (4u << 20)   /* queued events before a slow reader is dropped */
#define REOPEN_MS        1000
#define FRAME_MS         10000        /* a frame started must be whole by then */
#define ERR_MAX          (64 * 1024)

struct client {
	int fd;
	uint8_t *in;
	size_t in_len, need;         /* need: the frame's size once its header is in */
	int64_t frame_deadline;      /* monotonic ms; 0 = no partial frame */
	uint8_t *out;
	size_t out_len, out_off, out_cap;
	bool closing;                /* after the queued reply */
	bool follow;
	char vm[MOAT_NAME_MAX + 1];  /* follow only this VM's lines ("" = all) */
};

struct fw_control {
	char *path;
	bool device;
	int listen_fd;               /* -1 for a device */
	struct client clients[FW_MAX_CLIENTS];
	size_t nclients;
	int64_t reopen_at;           /* device closed: monotonic ms to try again, 0 = open */
	struct fw_state *st;
	struct fw_nflog *nflog;
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void client_add(struct fw_control *c, int fd)
{
	struct client *cl = &c->clients[c->nclients++];
	memset(cl, 0, sizeof(*cl));
	cl->fd = fd;
}

static void client_drop(struct fw_control *c, size_t i)
{
	struct client *cl = &c->clients[i];
	close(cl->fd);
	free(cl->in);
	free(cl->out);
	c->clients[i] = c->clients[--c->nclients];
	if (c->device)
		c->reopen_at = mono_ms() + (cl->closing ? 0 : REOPEN_MS);
}

static bool device_open(struct fw_control *c)
{
	int fd = open(c->path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		fprintf(stderr, "moat-firewalld: %s: %s\n", c->path, strerror(errno));
		c->reopen_at = mono_ms() + REOPEN_MS;
		return false;
	}
	/* a console-type port is a tty: frames are bytes, not lines */
	struct termios t;
	if (tcgetattr(fd, &t) == 0) {
		cfmakeraw(&t);
		tcsetattr(fd, TCSANOW, &t);
	}
	client_add(c, fd);
	c->reopen_at = 0;
	return true;
}

struct fw_control *fw_control_open(const char *path, struct fw_state *st, struct fw_nflog *nflog)
{
	struct fw_control *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->st = st;
	c->nflog = nflog;
	c->listen_fd = -1;
	c->path = strdup(path);
	if (!c->path)
		goto fail;
	struct stat sb;
	if (stat(path, &sb) == 0 && S_ISCHR(sb.st_mode)) {
		c->device = true;
		device_open(c);   /* a port with no host side yet is retried */
		return c;
	}
	c->listen_fd = daemon_listen_unix(path, SOCK_NONBLOCK);
	if (c->listen_fd < 0)
		goto fail;
	return c;
fail:
	fprintf(stderr, "moat-firewalld: control channel %s: %s\n", path, strerror(errno));
	free(c->path);
	free(c);
	return NULL;
}

void fw_control_close(struct fw_control *c)
{
	if (!c)
		return;
	while (c->nclients)
		client_drop(c, c->nclients - 1);
	if (c->listen_fd >= 0) {
		close(c->listen_fd);
		unlink(c->path);
	}
	free(c->path);
	free(c);
}

/* ---- output ---- */

static bool queue_frame(struct client *cl, struct ctl_msg *m)
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
static bool client_flush(struct client *cl)
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

static void reply_error(struct client *cl, int status, const char *msg)
{
	struct ctl_msg m;
	ctl_msg_init(&m, CTL_REPLY);
	if (!ctl_put_u32(&m, CTL_A_STATUS, (uint32_t)status) || !ctl_put_str(&m, CTL_A_MESSAGE, msg) ||
	    !queue_frame(cl, &m))
		cl->closing = true;
	ctl_msg_free(&m);
}

/* A reply that did not fit (or no memory) becomes an error reply. */
static void reply_send(struct client *cl, struct ctl_msg *m, bool complete)
{
	if (!complete || !queue_frame(cl, m))
		reply_error(cl, EMSGSIZE, "the reply does not fit in one message");
}

/* ---- requests ---- */

static void summary(const struct fw_state *st, char *buf, size_t len)
{
	if (!st->policy) {
		snprintf(buf, len, "no policy loaded: the firewall drops everything");
		return;
	}
	size_t rules = 0, expiring = 0;
	for (size_t i = 0; i < st->policy->nvms; i++)
		for (size_t j = 0; j < st->policy->vms[i].nrules; j++) {
			const struct rule *r = &st->policy->vms[i].rules[j];
			rules += !r->expired;
			expiring += r->has_until && !r->expired;
		}
	int n = snprintf(buf, len, "generation %u from %s: %zu VM%s, %zu rule%s", st->generation,
			 st->file, st->policy->nvms, st->policy->nvms == 1 ? "" : "s", rules,
			 rules == 1 ? "" : "s");
	if (expiring && n > 0 && (size_t)n < len) {
		char when[MOAT_TIME_STRLEN];
		policy_format_time(st->next_expiry, when, sizeof(when));
		snprintf(buf + n, len - n, " (%zu with until; next at %s)", expiring, when);
	}
}

static void do_apply(struct fw_control *c, struct client *cl, const uint8_t *f, size_t len)
{
	const char *text = ctl_get_str(f, len, CTL_A_TEXT);
	const char *file = ctl_get_str(f, len, CTL_A_FILE);
	uint32_t gen;
	if (!text || !ctl_get_u32(f, len, CTL_A_GENERATION, &gen)) {
		reply_error(cl, EINVAL, "apply needs the policy text and a generation");
		return;
	}
	char *err = malloc(ERR_MAX);
	if (!err) {
		reply_error(cl, ENOMEM, "out of memory");
		return;
	}
	int rc = fw_apply(c->st, file && *file ? file : "moat.conf", text, gen, err, ERR_MAX);
	struct ctl_msg m;
	ctl_msg_init(&m, CTL_REPLY);
	bool ok = ctl_put_u32(&m, CTL_A_STATUS, (uint32_t)rc);
	if (!rc) {
		char sum[512];
		summary(c->st, sum, sizeof(sum));
		size_t n = strlen(err);
		/* warnings first, then the one line that says what is in force */
		snprintf(err + n, ERR_MAX - n, "%s", sum);
		ok = ok && ctl_put_u32(&m, CTL_A_GENERATION, gen);
		fprintf(stderr, "moat-firewalld: applied %s (ms: check %.1f, compile %.1f, "
			"kernel %.1f, save %.1f, interfaces and dnsmasq %.1f)\n", sum, c->st->ms_check,
			c->st->ms_compile, c->st->ms_kernel, c->st->ms_save, c->st->ms_sync);
	} else {
		fprintf(stderr, "moat-firewalld: refused generation %u from %s: %s\n", gen,
			file ? file : "moat.conf", strerror(rc));
	}
	ok = ok && ctl_put_str(&m, CTL_A_MESSAGE, err);
	reply_send(cl, &m, ok);
	ctl_msg_free(&m);
	free(err);
}

static void do_status(struct fw_control *c, struct client *cl)
{
	char sum[512];
	summary(c->st, sum, sizeof(sum));
	struct ctl_msg m;
	ctl_msg_init(&m, CTL_REPLY);
	bool ok = ctl_put_u32(&m, CTL_A_STATUS, 0) && ctl_put_str(&m, CTL_A_MESSAGE, sum) &&
		  ctl_put_u32(&m, CTL_A_GENERATION, c->st->generation);
	if (c->st->policy)
		ok = ok && ctl_put_str(&m, CTL_A_FILE, c->st->file) &&
		     ctl_put_str(&m, CTL_A_TEXT, c->st->text);
	reply_send(cl, &m, ok);
	ctl_msg_free(&m);
}

static void do_stats(struct client *cl, const uint8_t *f, size_t len)
{
	const char *vm = ctl_get_str(f, len, CTL_A_VM);
	char *text = fw_counters_text(vm && *vm ? vm : NULL);
	if (!text) {
		int e = errno ? errno : EIO;
		char msg[256];
		snprintf(msg, sizeof(msg), "reading the counters: %s", strerror(e));
		reply_error(cl, e, msg);
		return;
	}
	struct ctl_msg m;
	ctl_msg_init(&m, CTL_REPLY);
	bool ok = ctl_put_u32(&m, CTL_A_STATUS, 0) && ctl_put_str(&m, CTL_A_MESSAGE, "") &&
		  ctl_put_str(&m, CTL_A_TEXT, text);
	reply_send(cl, &m, ok);
	ctl_msg_free(&m);
	free(text);
}

/* "TIME VM ..." */
static bool line_is_vm(const char *line, const char *vm)
{
	if (!*vm)
		return true;
	const char *sp = strchr(line, ' ');
	if (!sp)
		return false;
	size_t n = strlen(vm);
	return strncmp(sp + 1, vm, n) == 0 && (sp[1 + n] == ' ' || sp[1 + n] == 0);
}

struct ring_text {
	char *buf;
	size_t len, cap;
	bool failed;
};

static void ring_append(const char *line, void *arg)
{
	struct ring_text *t = arg;
	size_t n = strlen(line);
	if (t->failed)
		return;
	if (t->len + n + 2 > t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 4096;
		while (cap < t->len + n + 2)
			cap *= 2;
		char *p = realloc(t->buf, cap);
		if (!p) {
			t->failed = true;
			return;
		}
		t->buf = p;
		t->cap = cap;
	}
	memcpy(t->buf + t->len, line, n);
	t->len += n;
	t->buf[t->len++] = '\n';
	t->buf[t->len] = 0;
}

static void do_log(struct fw_control *c, struct client *cl, const uint8_t *f, size_t len)
{
	const char *vm = ctl_get_str(f, len, CTL_A_VM);
	uint32_t follow = 0;
	ctl_get_u32(f, len, CTL_A_FOLLOW, &follow);
	if (vm && strlen(vm) > MOAT_NAME_MAX) {
		reply_error(cl, EINVAL, "no such VM: the name is too long");
		return;
	}
	if (follow && !c->nflog) {
		reply_error(cl, ENOTSUP, "the packet log is not running");
		return;
	}
	struct ring_text t = { 0 };
	if (c->nflog)
		fw_nflog_each(c->nflog, vm && *vm ? vm : NULL, ring_append, &t);
	const char *text = t.buf ? t.buf : "";
	/* the ring is bounded, but keep the newest lines if it ever outgrows a frame */
	size_t room = CTL_MAX_PAYLOAD - 4096;
	if (t.len > room) {
		text = t.buf + t.len - room;
		const char *nl = strchr(text, '\n');
		text = nl ? nl + 1 : text;
	}
	struct ctl_msg m;
	ctl_msg_init(&m, CTL_REPLY);
	bool ok = !t.failed && ctl_put_u32(&m, CTL_A_STATUS, 0) &&
		  ctl_put_str(&m, CTL_A_MESSAGE, follow ? "following" : "") &&
		  ctl_put_str(&m, CTL_A_TEXT, text);
	reply_send(cl, &m, ok);
	ctl_msg_free(&m);
	free(t.buf);
	if (follow && ok) {
		cl->follow = true;
		snprintf(cl->vm, sizeof(cl->vm), "%s", vm ? vm : "");
	}
}

void fw_control_log_line(const char *line, void *control)
{
	struct fw_control *c = control;
	struct ctl_msg m;
	ctl_msg_init(&m, CTL_EVENT);
	if (!ctl_put_str(&m, CTL_A_TEXT, line)) {
		ctl_msg_free(&m);
		return;
	}
	for (size_t i = 0; i < c->nclients; i++) {
		struct client *cl = &c->clients[i];
		if (!cl->follow || cl->closing || !line_is_vm(line, cl->vm))
			continue;
		if (cl->out_len - cl->out_off > FOLLOW_BACKLOG || !queue_frame(cl, &m))
			cl->closing = true;   /* it stopped reading: hang up rather than grow */
	}
	ctl_msg_free(&m);
}

static void handle_frame(struct fw_control *c, struct client *cl)
{
	uint16_t type;
	const char *why;
	if (!ctl_parse(cl->in, cl->in_len, &type, &why)) {
		char msg[160];
		snprintf(msg, sizeof(msg), "malformed message: %s", why);
		fprintf(stderr, "moat-firewalld: control: %s\n", msg);
		reply_error(cl, EPROTO, msg);
		cl->closing = true;
		return;
	}
	switch (type) {
	case CTL_REQ_APPLY: do_apply(c, cl, cl->in, cl->in_len); break;
	case CTL_REQ_STATUS: do_status(c, cl); break;
	case CTL_REQ_STATS: do_stats(cl, cl->in, cl->in_len); break;
	case CTL_REQ_LOG: do_log(c, cl, cl->in, cl->in_len); break;
	default:
		reply_error(cl, EPROTO, "malformed message: not a request");
		cl->closing = true;
	}
}

/* ---- input ---- */

/* false: the client is gone */
static bool client_read(struct fw_control *c, struct client *cl)
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
			cl->frame_deadline = mono_ms() + FRAME_MS;
		cl->in_len += (size_t)r;
		if (cl->in_len < want)
			continue;
		if (!cl->need) {
			const char *why;
			size_t total;
			if (!ctl_header_check(cl->in, cl->in_len, &total, &why)) {
				char msg[160];
				snprintf(msg, sizeof(msg), "malformed message: %s", why);
				fprintf(stderr, "moat-firewalld: control: %s\n", msg);
				reply_error(cl, strstr(why, "1 MiB") ? EMSGSIZE : EPROTO, msg);
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
		handle_frame(c, cl);
		free(cl->in);
		cl->in = NULL;
		cl->in_len = cl->need = 0;
		cl->frame_deadline = 0;
		/* one request at a time: the next is read once this reply is out */
		return true;
	}
}

size_t fw_control_pollfds(const struct fw_control *c, struct pollfd *fds)
{
	size_t n = 0;
	if (c->listen_fd >= 0)
		fds[n++] = (struct pollfd){ .fd = c->listen_fd,
					    .events = c->nclients < FW_MAX_CLIENTS ? POLLIN : 0 };
	for (size_t i = 0; i < c->nclients; i++) {
		const struct client *cl = &c->clients[i];
		bool pending = cl->out_off < cl->out_len;
		short ev = pending ? POLLOUT : 0;
		if (!cl->closing && (!pending || cl->follow))
			ev |= POLLIN;
		fds[n++] = (struct pollfd){ .fd = cl->fd, .events = ev };
	}
	return n;
}

int fw_control_timeout(const struct fw_control *c)
{
	int64_t next = c->device && c->reopen_at ? c->reopen_at : 0;
	for (size_t i = 0; i < c->nclients; i++) {
		int64_t d = c->clients[i].frame_deadline;
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
static void expire_partial(struct fw_control *c)
{
	int64_t now = mono_ms();
	for (size_t i = 0; i < c->nclients;) {
		struct client *cl = &c->clients[i];
		if (cl->frame_deadline && now >= cl->frame_deadline && !cl->closing) {
			fprintf(stderr, "moat-firewalld: control: a frame left unfinished for %d s, hanging up\n",
				FRAME_MS / 1000);
			cl->frame_deadline = 0;
			reply_error(cl, ETIMEDOUT, "malformed message: unfinished frame");
			cl->closing = true;
			if (!client_flush(cl)) {
				client_drop(c, i);
				continue;
			}
		}
		i++;
	}
}

void fw_control_event(struct fw_control *c, const struct pollfd *fds, size_t n)
{
	size_t at = 0;
	/* clients dropped below shift the array: walk FDS by descriptor */
	if (c->listen_fd >= 0 && n && fds[0].fd == c->listen_fd) {
		at = 1;
		if (fds[0].revents & POLLIN) {
			while (c->nclients < FW_MAX_CLIENTS) {
				int fd = accept4(c->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
				if (fd < 0)
					break;
				client_add(c, fd);
			}
		}
	}
	for (; at < n; at++) {
		if (!fds[at].revents)
			continue;
		size_t i = 0;
		while (i < c->nclients && c->clients[i].fd != fds[at].fd)
			i++;
		if (i == c->nclients)
			continue;
		struct client *cl = &c->clients[i];
		bool alive = true;
		if (fds[at].revents & (POLLIN | POLLHUP | POLLERR))
			alive = client_read(c, cl);
		/* a reply queued now is written at once, and a closing client
		 * goes as soon as its last reply is out */
		if (alive)
			alive = client_flush(cl);
		if (!alive)
			client_drop(c, i);
	}
	expire_partial(c);
	if (c->device && c->reopen_at && mono_ms() >= c->reopen_at && c->nclients == 0)
		device_open(c);
}

/* QMP client (qmp.h). Only what hot-plugging a link needs: no general JSON,
 * just the top-level keys of QEMU's replies. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "host/qmp.h"

/* ---- building ---- */

struct out {
	char *buf;
	size_t len, used;
	bool full;
};

static void out_add(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_add(struct out *o, const char *fmt, ...)
{
	if (o->full)
		return;
	va_list ap;
	va_start(ap, fmt);
	int r = vsnprintf(o->buf + o->used, o->len - o->used, fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= o->len - o->used)
		o->full = true;
	else
		o->used += (size_t)r;
}

static void out_str(struct out *o, const char *s)
{
	out_add(o, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			out_add(o, "\\%c", c);
		else if (c < 0x20)
			out_add(o, "\\u%04x", c);
		else
			out_add(o, "%c", c);
	}
	out_add(o, "\"");
}

static bool out_done(struct out *o)
{
	return o->len > 0 && !o->full;
}

bool qmp_build_chardev_add(char *buf, size_t len, const char *id, const char *sock)
{
	struct out o = { buf, len, 0, false };
	out_add(&o, "{\"execute\": \"chardev-add\", \"arguments\": {\"id\": ");
	out_str(&o, id);
	out_add(&o, ", \"backend\": {\"type\": \"socket\", \"data\": {\"addr\": {\"type\": \"unix\", "
		    "\"data\": {\"path\": ");
	out_str(&o, sock);
	out_add(&o, "}}, \"server\": false, \"reconnect\": 1}}}}");
	return out_done(&o);
}

bool qmp_build_netdev_add(char *buf, size_t len, const char *id, const char *chardev)
{
	struct out o = { buf, len, 0, false };
	out_add(&o, "{\"execute\": \"netdev_add\", \"arguments\": {\"type\": \"vhost-user\", \"id\": ");
	out_str(&o, id);
	out_add(&o, ", \"chardev\": ");
	out_str(&o, chardev);
	out_add(&o, "}}");
	return out_done(&o);
}

/* vectors=0 for the same reason as on the command line (qemu.h) */
bool qmp_build_device_add(char *buf, size_t len, const char *id, const char *netdev, const uint8_t mac[6],
			  const char *bus)
{
	struct out o = { buf, len, 0, false };
	out_add(&o, "{\"execute\": \"device_add\", \"arguments\": {\"driver\": \"virtio-net-pci\", \"id\": ");
	out_str(&o, id);
	out_add(&o, ", \"netdev\": ");
	out_str(&o, netdev);
	out_add(&o, ", \"mac\": \"%02x:%02x:%02x:%02x:%02x:%02x\", \"vectors\": 0, \"bus\": ", mac[0], mac[1],
		mac[2], mac[3], mac[4], mac[5]);
	out_str(&o, bus);
	/* slot 0: a root port has no other; given no address, QEMU would put
	 * the NIC beside the port's NIC, where no guest ever sees it */
	out_add(&o, ", \"addr\": \"0\"}}");
	return out_done(&o);
}

bool qmp_build_by_id(char *buf, size_t len, const char *cmd, const char *id)
{
	struct out o = { buf, len, 0, false };
	out_add(&o, "{\"execute\": ");
	out_str(&o, cmd);
	out_add(&o, ", \"arguments\": {\"id\": ");
	out_str(&o, id);
	out_add(&o, "}}");
	return out_done(&o);
}

/* ---- parsing ---- */

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	return p;
}

/* P at a '"': the string decoded into OUT (cut to fit; NULL to skip);
 * returns what follows it, or NULL if it never ends. */
static const char *read_string(const char *p, char *out, size_t outlen)
{
	size_t n = 0;
	for (p++; *p && *p != '"'; p++) {
		char c = *p;
		if (c == '\\') {
			p++;
			switch (*p) {
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case 'u':
				for (int i = 1; i <= 4; i++)
					if (!p[i])
						return NULL;
				p += 4;
				c = '?';
				break;
			case 0: return NULL;
			default: c = *p; break;
			}
		}
		if (out && n + 1 < outlen)
			out[n++] = c;
	}
	if (out && outlen)
		out[n] = 0;
	return *p == '"' ? p + 1 : NULL;
}

static const char *skip_value(const char *p)
{
	p = skip_ws(p);
	if (*p == '"')
		return read_string(p, NULL, 0);
	if (*p == '{' || *p == '[') {
		int depth = 0;
		while (*p) {
			if (*p == '"') {
				if (!(p = read_string(p, NULL, 0)))
					return NULL;
				continue;
			}
			if (*p == '{' || *p == '[')
				depth++;
			else if ((*p == '}' || *p == ']') && --depth == 0)
				return p + 1;
			p++;
		}
		return NULL;
	}
	while (*p && *p != ',' && *p != '}' && *p != ']')
		p++;
	return *p ? p : NULL;
}

/* The value of KEY in the object at OBJ, top level only; NULL if absent or
 * the object is malformed. */
static const char *find_key(const char *obj, const char *key)
{
	const char *p = skip_ws(obj);
	if (*p != '{')
		return NULL;
	p = skip_ws(p + 1);
	while (*p == '"') {
		char k[64];
		if (!(p = read_string(p, k, sizeof(k))))
			return NULL;
		p = skip_ws(p);
		if (*p != ':')
			return NULL;
		p = skip_ws(p + 1);
		if (strcmp(k, key) == 0)
			return p;
		if (!(p = skip_value(p)))
			return NULL;
		p = skip_ws(p);
		if (*p == ',')
			p = skip_ws(p + 1);
	}
	return NULL;
}

enum qmp_kind qmp_parse(const char *line, char *desc, size_t desclen)
{
	const char *v;
	if (desclen)
		desc[0] = 0;
	if (!skip_value(line))
		return QMP_BAD;
	if (find_key(line, "QMP"))
		return QMP_GREETING;
	if (find_key(line, "return"))
		return QMP_RETURN;
	if ((v = find_key(line, "error"))) {
		const char *d = find_key(v, "desc");
		if (d && *d == '"')
			read_string(d, desc, desclen);
		else
			snprintf(desc, desclen, "error without a description");
		return QMP_ERROR;
	}
	if ((v = find_key(line, "event")) && *v == '"') {
		read_string(v, desc, desclen);
		return QMP_EVENT;
	}
	return QMP_BAD;
}

/* ---- the connection ---- */

/* One line into q->buf (NUL-terminated, newline dropped) before DEADLINE
 * (mono_ms); the rest stays buffered. -1 on EOF or a line too long (said on
 * stderr), -2 when DEADLINE passed first (left to the caller to say). */
static int qmp_read_line(struct qmp *q, size_t *linelen, long deadline)
{
	for (;;) {
		char *nl = memchr(q->buf, '\n', q->len);
		if (nl) {
			*nl = 0;
			*linelen = (size_t)(nl - q->buf) + 1;
			return 0;
		}
		if (q->len >= QMP_LINE_MAX - 1) {
			fprintf(stderr, "netctl: qmp: a reply longer than %d bytes\n", QMP_LINE_MAX);
			return -1;
		}
		long left = deadline - mono_ms();
		struct pollfd pfd = { .fd = q->fd, .events = POLLIN };
		int r = left > 0 ? poll(&pfd, 1, (int)left) : 0;
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			return -2;
		if (r < 0) {
			fprintf(stderr, "netctl: qmp: poll: %s\n", strerror(errno));
			return -1;
		}
		ssize_t n = read(q->fd, q->buf + q->len, QMP_LINE_MAX - 1 - q->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "netctl: qmp: QEMU closed the connection\n");
			return -1;
		}
		q->len += (size_t)n;
	}
}

/* qmp_read_line for a reply due within q->timeout_ms */
static int read_reply_line(struct qmp *q, size_t *linelen, long deadline)
{
	int r = qmp_read_line(q, linelen, deadline);
	if (r == -2)
		fprintf(stderr, "netctl: qmp: no reply from QEMU within %d ms\n", q->timeout_ms);
	return r < 0 ? -1 : 0;
}

static void consume(struct qmp *q, size_t n)
{
	memmove(q->buf, q->buf + n, q->len - n);
	q->len -= n;
}

static bool send_all(int fd, const char *s, size_t len)
{
	while (len) {
		ssize_t w = send(fd, s, len, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		s += w;
		len -= (size_t)w;
	}
	return true;
}

int qmp_execute(struct qmp *q, const char *cmd, char *err, size_t errlen)
{
	/* one deadline for the reply, however many events come first: a QEMU
	 * that sends them without end must not hold netctl */
	long deadline = mono_ms() + q->timeout_ms;
	if (!send_all(q->fd, cmd, strlen(cmd)) || !send_all(q->fd, "\n", 1)) {
		fprintf(stderr, "netctl: qmp: sending: %s\n", strerror(errno));
		return -1;
	}
	for (;;) {
		size_t n;
		char desc[256];
		if (read_reply_line(q, &n, deadline) < 0)
			return -1;
		enum qmp_kind k = qmp_parse(q->buf, desc, sizeof(desc));
		consume(q, n);
		if (k == QMP_RETURN)
			return 1;
		if (k == QMP_ERROR) {
			snprintf(err, errlen, "%s", desc);
			return 0;
		}
		if (k == QMP_BAD) {
			fprintf(stderr, "netctl: qmp: a reply that is not QMP\n");
			return -1;
		}
	}
}

void qmp_close(struct qmp *q)
{
	if (q->fd >= 0)
		close(q->fd);
	free(q->buf);
	q->fd = -1;
	q->buf = NULL;
}

bool qmp_connect(struct qmp *q, const char *path, int timeout_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	*q = (struct qmp){ .fd = -1, .timeout_ms = timeout_ms };
	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path) >= (int)sizeof(sa.sun_path)) {
		fprintf(stderr, "netctl: qmp: socket path too long: %s\n", path);
		return false;
	}
	q->buf = malloc(QMP_LINE_MAX);
	q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!q->buf || q->fd < 0 || connect(q->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "netctl: qmp: %s: %s\n", path, strerror(errno));
		qmp_close(q);
		return false;
	}
	size_t n;
	char err[256];
	if (read_reply_line(q, &n, mono_ms() + q->timeout_ms) < 0 || qmp_parse(q->buf, err, sizeof(err)) != QMP_GREETING) {
		fprintf(stderr, "netctl: qmp: %s: no QMP greeting\n", path);
		qmp_close(q);
		return false;
	}
	consume(q, n);
	if (qmp_execute(q, "{\"execute\": \"qmp_capabilities\"}", err, sizeof(err)) != 1) {
		fprintf(stderr, "netctl: qmp: %s: capabilities refused: %s\n", path, err);
		qmp_close(q);
		return false;
	}
	return true;
}

/* ---- links ---- */

static bool ids_of(const char *name, char chardev[64], char netdev[64], char dev[64])
{
	if (snprintf(chardev, 64, "link-%s", name) >= 64 || snprintf(netdev, 64, "net-%s", name) >= 64 ||
	    snprintf(dev, 64, "nic-%s", name) >= 64) {
		fprintf(stderr, "netctl: qmp: link name too long: %s\n", name);
		return false;
	}
	return true;
}

static bool run(struct qmp *q, const char *cmd, const char *what)
{
	char err[256];
	int r = qmp_execute(q, cmd, err, sizeof(err));
	if (r == 0)
		fprintf(stderr, "netctl: qmp: %s: %s\n", what, err);
	return r == 1;
}

static bool gone(const char *err)
{
	return strstr(err, "not found") || strstr(err, "No such") || strstr(err, "does not exist");
}

/* 1: device ID is still in QEMU, 0: it is not, -1: QEMU did not answer */
static int device_present(struct qmp *q, const char *id)
{
	char cmd[256], err[256], path[128];
	if (snprintf(path, sizeof(path), "/machine/peripheral/%s", id) >= (int)sizeof(path))
		return -1;
	struct out o = { cmd, sizeof(cmd), 0, false };
	out_add(&o, "{\"execute\": \"qom-get\", \"arguments\": {\"path\": ");
	out_str(&o, path);
	out_add(&o, ", \"property\": \"type\"}}");
	if (!out_done(&o))
		return -1;
	int r = qmp_execute(q, cmd, err, sizeof(err));
	return r < 0 ? -1 : r == 1 ? 1 : gone(err) ? 0 : -1;
}

/* QEMU's DEVICE_DELETED for device ID within WAIT_MS: 1 when it came, 0 when
 * not (the guest still holds the device), -1 when the connection failed.
 * Other events, also DEVICE_DELETED of other devices, do not end the wait
 * and do not stretch it. */
static int device_deleted(struct qmp *q, const char *id, int wait_ms)
{
	long deadline = mono_ms() + wait_ms;
	for (;;) {
		size_t n;
		char name[64], device[64] = "";
		int r = qmp_read_line(q, &n, deadline);
		if (r == -2)
			return 0;
		if (r < 0)
			return -1;
		enum qmp_kind k = qmp_parse(q->buf, name, sizeof(name));
		const char *data = find_key(q->buf, "data"), *dev = data ? find_key(data, "device") : NULL;
		if (dev && *dev == '"')
			read_string(dev, device, sizeof(device));
		consume(q, n);
		if (k != QMP_EVENT) {
			fprintf(stderr, "netctl: qmp: waiting for DEVICE_DELETED of %s: not an event\n", id);
			return -1;
		}
		if (strcmp(name, "DEVICE_DELETED") == 0 && strcmp(device, id) == 0)
			return 1;
	}
}

/* netdev and chardev of a link whose device is gone; each may be gone too */
static bool remove_backends(struct qmp *q, const char *netdev, const char *chardev)
{
	const char *steps[][2] = { { "netdev_del", netdev }, { "chardev-remove", chardev } };
	char cmd[256], err[256];
	for (size_t i = 0; i < 2; i++) {
		if (!qmp_build_by_id(cmd, sizeof(cmd), steps[i][0], steps[i][1]))
			return false;
		int r = qmp_execute(q, cmd, err, sizeof(err));
		if (r < 0)
			return false;
		if (r == 0 && !gone(err)) {
			fprintf(stderr, "netctl: qmp: %s %s: %s\n", steps[i][0], steps[i][1], err);
			return false;
		}
	}
	return true;
}

bool qmp_link_plug(struct qmp *q, const char *name, const char *sock, const uint8_t mac[6], unsigned nports)
{
	char chardev[64], netdev[64], dev[64], cmd[1024], err[256];
	if (!ids_of(name, chardev, netdev, dev))
		return false;
	/* what an earlier unplug left while the guest had not released it */
	int present = device_present(q, dev);
	if (present != 0) {
		if (present > 0)
			fprintf(stderr, "netctl: qmp: %s is still in the firewallvm: it never released it\n", dev);
		return false;
	}
	if (!remove_backends(q, netdev, chardev))
		return false;
	if (!qmp_build_chardev_add(cmd, sizeof(cmd), chardev, sock) || !run(q, cmd, "chardev-add"))
		return false;
	if (!qmp_build_netdev_add(cmd, sizeof(cmd), netdev, chardev) || !run(q, cmd, "netdev_add"))
		goto undo_chardev;
	/* the first port that takes it: an occupied port refuses slot 0 */
	for (unsigned i = 0; i < nports; i++) {
		char bus[32];
		snprintf(bus, sizeof(bus), "port%u", i);
		if (!qmp_build_device_add(cmd, sizeof(cmd), dev, netdev, mac, bus))
			break;
		int r = qmp_execute(q, cmd, err, sizeof(err));
		if (r == 1)
			return true;
		if (r < 0 || strstr(err, "Duplicate") || strstr(err, "already"))
			break;
	}
	fprintf(stderr, "netctl: qmp: no free hot-plug port for %s among %u (%s)\n", name, nports,
		*err ? err : "none tried");
	if (qmp_build_by_id(cmd, sizeof(cmd), "netdev_del", netdev))
		qmp_execute(q, cmd, err, sizeof(err));
undo_chardev:
	if (qmp_build_by_id(cmd, sizeof(cmd), "chardev-remove", chardev))
		qmp_execute(q, cmd, err, sizeof(err));
	return false;
}

int qmp_link_unplug(struct qmp *q, const char *name, int release_wait_ms)
{
	char chardev[64], netdev[64], dev[64], cmd[256], err[256];
	if (!ids_of(name, chardev, netdev, dev))
		return -1;
	if (!qmp_build_by_id(cmd, sizeof(cmd), "device_del", dev))
		return -1;
	int r = qmp_execute(q, cmd, err, sizeof(err));
	if (r < 0)
		return -1;
	if (r == 0 && !gone(err)) {
		fprintf(stderr, "netctl: qmp: device_del %s: %s\n", dev, err);
		return -1;
	}
	/* device_del only asks the guest; QEMU says DEVICE_DELETED once the
	 * guest has released it. Its netdev must outlive the device: QEMU 7.2
	 * aborts (get_vhost_net) when a guest releases a vhost-user NIC whose
	 * netdev is already deleted. No event is missed: one that came before
	 * the answer to qom-get means that answer says the device is gone;
	 * one after it is still to be read. */
	int present = device_present(q, dev);
	if (present < 0)
		return -1;
	if (present) {
		int deleted = device_deleted(q, dev, release_wait_ms);
		if (deleted <= 0)
			return deleted;
	}
	return remove_backends(q, netdev, chardev) ? 1 : -1;
}

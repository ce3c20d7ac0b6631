/* ctl.c: framing of the control channel (see ctl.h). Frames come from the
 * other side of a VM boundary: every length is checked before it is used. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"

#define ATTR_HEADER 8

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = v;
	p[1] = v >> 8;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

static uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static size_t align4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

void ctl_msg_init(struct ctl_msg *m, uint16_t type)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
}

void ctl_msg_free(struct ctl_msg *m)
{
	free(m->buf);
	memset(m, 0, sizeof(*m));
}

static void write_header(uint8_t *h, uint16_t type, size_t payload)
{
	put_le32(h, CTL_MAGIC);
	put_le16(h + 4, CTL_VERSION);
	put_le16(h + 6, type);
	put_le32(h + 8, (uint32_t)payload);
}

/* Room for N more bytes; the header is kept current so buf is always a frame. */
static bool reserve(struct ctl_msg *m, size_t n)
{
	size_t len = m->len ? m->len : CTL_HEADER_SIZE;
	if (n > CTL_MAX_PAYLOAD || len - CTL_HEADER_SIZE + n > CTL_MAX_PAYLOAD)
		return false;
	if (len + n > m->cap) {
		size_t cap = m->cap ? m->cap : 256;
		while (cap < len + n)
			cap *= 2;
		uint8_t *p = realloc(m->buf, cap);
		if (!p)
			return false;
		m->buf = p;
		m->cap = cap;
	}
	if (!m->len) {
		m->len = CTL_HEADER_SIZE;
		write_header(m->buf, m->type, 0);
	}
	return true;
}

bool ctl_put_bytes(struct ctl_msg *m, uint16_t attr, const void *p, size_t len)
{
	if (len > CTL_MAX_PAYLOAD || !reserve(m, ATTR_HEADER + align4(len)))
		return false;
	uint8_t *a = m->buf + m->len;
	put_le16(a, attr);
	put_le16(a + 2, 0);
	put_le32(a + 4, (uint32_t)len);
	if (len)
		memcpy(a + ATTR_HEADER, p, len);
	memset(a + ATTR_HEADER + len, 0, align4(len) - len);
	m->len += ATTR_HEADER + align4(len);
	write_header(m->buf, m->type, m->len - CTL_HEADER_SIZE);
	return true;
}

bool ctl_put_u32(struct ctl_msg *m, uint16_t attr, uint32_t v)
{
	uint8_t b[4];
	put_le32(b, v);
	return ctl_put_bytes(m, attr, b, sizeof(b));
}

bool ctl_put_str(struct ctl_msg *m, uint16_t attr, const char *s)
{
	return ctl_put_bytes(m, attr, s, strlen(s) + 1);
}

const uint8_t *ctl_msg_frame(struct ctl_msg *m, size_t *len)
{
	if (!m->len && !reserve(m, 0))
		return NULL;
	*len = m->len;
	return m->buf;
}

/* ---- reading ---- */

enum attr_kind { AK_UNKNOWN, AK_U32, AK_STR };

static enum attr_kind attr_kind(uint16_t attr)
{
	switch (attr) {
	case CTL_A_STATUS:
	case CTL_A_GENERATION:
	case CTL_A_FOLLOW:
		return AK_U32;
	case CTL_A_MESSAGE:
	case CTL_A_FILE:
	case CTL_A_TEXT:
	case CTL_A_VM:
		return AK_STR;
	}
	return AK_UNKNOWN;
}

static bool type_known(uint16_t type)
{
	return (type >= CTL_REQ_APPLY && type <= CTL_REQ_DHCP) || type == CTL_REPLY ||
	       type == CTL_EVENT;
}

bool ctl_header_check(const uint8_t *h, size_t len, size_t *frame_len, const char **why)
{
	if (len < CTL_HEADER_SIZE) {
		*why = "frame shorter than its header";
		return false;
	}
	if (get_le32(h) != CTL_MAGIC) {
		*why = "bad magic";
		return false;
	}
	if (get_le16(h + 4) != CTL_VERSION) {
		*why = "unsupported protocol version";
		return false;
	}
	if (!type_known(get_le16(h + 6))) {
		*why = "unknown message type";
		return false;
	}
	uint32_t payload = get_le32(h + 8);
	if (payload > CTL_MAX_PAYLOAD) {
		*why = "message larger than 1 MiB";
		return false;
	}
	if (payload % 4) {
		*why = "payload length not a multiple of 4";
		return false;
	}
	*frame_len = CTL_HEADER_SIZE + (size_t)payload;
	return true;
}

bool ctl_parse(const uint8_t *frame, size_t len, uint16_t *type, const char **why)
{
	size_t want;
	if (!ctl_header_check(frame, len, &want, why))
		return false;
	if (len != want) {
		*why = len < want ? "frame shorter than its length" : "bytes after the frame";
		return false;
	}
	uint32_t seen = 0;   /* attribute types below 32 given so far */
	size_t off = CTL_HEADER_SIZE;
	while (off < len) {
		size_t rem = len - off;
		if (rem < ATTR_HEADER) {
			*why = "truncated attribute header";
			return false;
		}
		const uint8_t *a = frame + off;
		uint16_t attr = get_le16(a);
		uint32_t alen = get_le32(a + 4);
		if (get_le16(a + 2) != 0) {
			*why = "reserved attribute bits set";
			return false;
		}
		if (alen > rem - ATTR_HEADER || align4(alen) > rem - ATTR_HEADER) {
			*why = "attribute runs past the frame";
			return false;
		}
		const uint8_t *v = a + ATTR_HEADER;
		for (size_t i = alen; i < align4(alen); i++)
			if (v[i]) {
				*why = "attribute padding not zero";
				return false;
			}
		switch (attr_kind(attr)) {
		case AK_U32:
			if (alen != 4) {
				*why = "integer attribute not 4 bytes";
				return false;
			}
			break;
		case AK_STR:
			if (alen == 0 || v[alen - 1] != 0 || memchr(v, 0, alen - 1)) {
				*why = "string attribute not one NUL-terminated string";
				return false;
			}
			break;
		case AK_UNKNOWN:
			*why = "unknown attribute";
			return false;
		}
		if (seen & (1u << attr)) {
			*why = "attribute given twice";
			return false;
		}
		seen |= 1u << attr;
		off += ATTR_HEADER + align4(alen);
	}
	*type = get_le16(frame + 6);
	return true;
}

/* The value of ATTR, bounds-checked again so a getter is safe on any buffer. */
static const uint8_t *find_attr(const uint8_t *frame, size_t len, uint16_t attr, uint32_t *alen)
{
	size_t off = CTL_HEADER_SIZE;
	while (off <= len && len - off >= ATTR_HEADER) {
		const uint8_t *a = frame + off;
		uint32_t n = get_le32(a + 4);
		if (n > len - off - ATTR_HEADER)
			return NULL;
		if (get_le16(a) == attr) {
			*alen = n;
			return a + ATTR_HEADER;
		}
		off += ATTR_HEADER + align4(n);
	}
	return NULL;
}

bool ctl_get_u32(const uint8_t *frame, size_t len, uint16_t attr, uint32_t *v)
{
	uint32_t alen;
	const uint8_t *p = find_attr(frame, len, attr, &alen);
	if (!p || alen != 4)
		return false;
	*v = get_le32(p);
	return true;
}

const char *ctl_get_str(const uint8_t *frame, size_t len, uint16_t attr)
{
	uint32_t alen;
	const uint8_t *p = find_attr(frame, len, attr, &alen);
	if (!p || alen == 0 || p[alen - 1] != 0)
		return NULL;
	return (const char *)p;
}

/* ---- blocking I/O ---- */

int ctl_connect(const char *path)
{
	struct stat st;
	if (stat(path, &st) == 0 && S_ISCHR(st.st_mode)) {
		int fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);
		return fd < 0 ? -errno : fd;
	}
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int ctl_send(int fd, const struct ctl_msg *m)
{
	uint8_t h[CTL_HEADER_SIZE];
	size_t payload = m->len ? m->len - CTL_HEADER_SIZE : 0;
	write_header(h, m->type, payload);
	struct iovec iov[2] = {
		{ h, sizeof(h) },
		{ m->len ? m->buf + CTL_HEADER_SIZE : NULL, payload },
	};
	size_t total = sizeof(h) + payload, done = 0;
	while (done < total) {
		/* skip what is already written */
		struct iovec v[2];
		int n = 0;
		size_t skip = done;
		for (int i = 0; i < 2; i++) {
			if (skip >= iov[i].iov_len) {
				skip -= iov[i].iov_len;
				continue;
			}
			v[n].iov_base = (uint8_t *)iov[i].iov_base + skip;
			v[n++].iov_len = iov[i].iov_len - skip;
			skip = 0;
		}
		ssize_t w = writev(fd, v, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += (size_t)w;
	}
	return 0;
}

/* 0, -ECONNRESET at EOF before the first byte, -EPROTO at EOF after it. */
static int read_full(int fd, uint8_t *buf, size_t len)
{
	size_t done = 0;
	while (done < len) {
		ssize_t r = read(fd, buf + done, len - done);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return done ? -EPROTO : -ECONNRESET;
		done += (size_t)r;
	}
	return 0;
}

int ctl_recv(int fd, uint8_t **frame, size_t *len)
{
	uint8_t h[CTL_HEADER_SIZE];
	const char *why;
	size_t total;
	*frame = NULL;
	*len = 0;
	int err = read_full(fd, h, sizeof(h));
	if (err)
		return err;
	if (!ctl_header_check(h, sizeof(h), &total, &why))
		return get_le32(h + 8) > CTL_MAX_PAYLOAD ? -EMSGSIZE : -EPROTO;
	uint8_t *buf = malloc(total);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, h, sizeof(h));
	err = read_full(fd, buf + sizeof(h), total - sizeof(h));
	if (err) {
		free(buf);
		return err == -ECONNRESET ? -EPROTO : err;
	}
	uint16_t type;
	if (!ctl_parse(buf, total, &type, &why)) {
		free(buf);
		return -EPROTO;
	}
	*frame = buf;
	*len = total;
	return 0;
}

int ctl_call(const char *path, const struct ctl_msg *req, uint8_t **reply, size_t *len)
{
	return ctl_call_within(path, req, reply, len, 0);
}

int ctl_call_within(const char *path, const struct ctl_msg *req, uint8_t **reply, size_t *len,
		    long timeout_ms)
{
	*reply = NULL;
	*len = 0;
	int fd = ctl_connect(path);
	if (fd < 0)
		return fd;
	if (timeout_ms > 0) {
		struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	int err = ctl_send(fd, req);
	if (!err)
		err = ctl_recv(fd, reply, len);
	if (!err && get_le16(*reply + 6) != CTL_REPLY) {
		free(*reply);
		*reply = NULL;
		*len = 0;
		err = -EPROTO;
	}
	close(fd);
	return err;
}

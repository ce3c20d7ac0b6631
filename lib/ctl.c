/* ctl.c: framing of the control channel (see ctl.h). Frames come from the
 * other side of a VM boundary: every length is checked before it is used. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/ctl.h"

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

struct attr_spec;
static const struct attr_spec *attr_spec(uint16_t attr);
static bool str_ok(const uint8_t *v, uint32_t len, const struct attr_spec *s, const char **why);

bool ctl_request_read_only(uint16_t type)
{
	return type == CTL_REQ_STATUS || type == CTL_REQ_STATS || type == CTL_REQ_LOG;
}

bool ctl_str_allowed(uint16_t attr, const char *s)
{
	const struct attr_spec *spec = attr_spec(attr);
	const char *why;
	size_t len = strlen(s) + 1;
	return spec && len <= UINT32_MAX && str_ok((const uint8_t *)s, (uint32_t)len, spec, &why);
}

bool ctl_put_str(struct ctl_msg *m, uint16_t attr, const char *s)
{
	/* what a reader would refuse is not sent: a frame built here parses */
	return ctl_str_allowed(attr, s) && ctl_put_bytes(m, attr, s, strlen(s) + 1);
}

bool ctl_put_u64(struct ctl_msg *m, uint16_t attr, uint64_t v)
{
	uint8_t b[8];
	put_le32(b, (uint32_t)v);
	put_le32(b + 4, (uint32_t)(v >> 32));
	return ctl_put_bytes(m, attr, b, sizeof(b));
}

size_t ctl_nest_start(struct ctl_msg *m, uint16_t attr)
{
	size_t at = m->len ? m->len : CTL_HEADER_SIZE;
	return ctl_put_bytes(m, attr, NULL, 0) ? at : 0;
}

void ctl_nest_end(struct ctl_msg *m, size_t start)
{
	/* its attributes are padded: the nest needs no padding of its own */
	put_le32(m->buf + start + 4, (uint32_t)(m->len - start - ATTR_HEADER));
}

const uint8_t *ctl_msg_frame(struct ctl_msg *m, size_t *len)
{
	if (!m->len && !reserve(m, 0))
		return NULL;
	*len = m->len;
	return m->buf;
}

/* ---- reading ---- */

enum attr_kind { AK_UNKNOWN, AK_U32, AK_U64, AK_STR, AK_NAME, AK_PRINT, AK_NEST };

struct attr_spec {
	uint8_t kind;
	bool repeats;          /* a record a reply lists: COUNTER, LOG */
	uint32_t max;          /* strings: characters at most */
};

static const struct attr_spec attr_specs[] = {
	[CTL_A_STATUS] = { .kind = AK_U32 },
	[CTL_A_MESSAGE] = { .kind = AK_STR, .max = CTL_MAX_PAYLOAD },
	[CTL_A_FILE] = { .kind = AK_STR, .max = 4096 },
	[CTL_A_TEXT] = { .kind = AK_STR, .max = CTL_MAX_PAYLOAD },
	[CTL_A_GENERATION] = { .kind = AK_U32 },
	[CTL_A_VM] = { .kind = AK_NAME, .max = CTL_NAME_MAX },
	[CTL_A_FOLLOW] = { .kind = AK_U32 },
	[CTL_A_VMS] = { .kind = AK_U32 },
	[CTL_A_RULES] = { .kind = AK_U32 },
	[CTL_A_EXPIRING] = { .kind = AK_U32 },
	[CTL_A_NEXT_EXPIRY] = { .kind = AK_U64 },
	[CTL_A_COUNTER] = { .kind = AK_NEST, .repeats = true },
	[CTL_A_KIND] = { .kind = AK_U32 },
	[CTL_A_RULE] = { .kind = AK_U32 },
	[CTL_A_PACKETS] = { .kind = AK_U64 },
	[CTL_A_BYTES] = { .kind = AK_U64 },
	[CTL_A_LOG] = { .kind = AK_NEST, .repeats = true },
	[CTL_A_TIME] = { .kind = AK_U64 },
	[CTL_A_ACTION] = { .kind = AK_U32 },
	[CTL_A_PROTO] = { .kind = AK_PRINT, .max = 15 },
	[CTL_A_SRC] = { .kind = AK_PRINT, .max = 63 },
	[CTL_A_DST] = { .kind = AK_PRINT, .max = 63 },
	[CTL_A_ICMP_TYPE] = { .kind = AK_U32 },
};
_Static_assert(CTL_A_MAX_ <= 32, "attribute types index a 32-bit set");
_Static_assert(sizeof(attr_specs) / sizeof(attr_specs[0]) == CTL_A_MAX_, "every attribute has a kind");

static const struct attr_spec *attr_spec(uint16_t attr)
{
	return attr < CTL_A_MAX_ && attr_specs[attr].kind != AK_UNKNOWN ? &attr_specs[attr] : NULL;
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

/* A string value of LEN bytes, its NUL included, of kind KIND. */
static bool str_ok(const uint8_t *v, uint32_t len, const struct attr_spec *s, const char **why)
{
	if (len == 0 || v[len - 1] != 0 || memchr(v, 0, len - 1)) {
		*why = "string attribute not one NUL-terminated string";
		return false;
	}
	if (len - 1 > s->max) {
		*why = "string attribute longer than its kind allows";
		return false;
	}
	for (uint32_t i = 0; i + 1 < len; i++) {
		uint8_t c = v[i];
		bool ok = s->kind == AK_STR ||
			  (s->kind == AK_PRINT && c >= 0x20 && c < 0x7f) ||
			  (s->kind == AK_NAME && ((c >= 'a' && c <= 'z') ||
						  (i > 0 && ((c >= '0' && c <= '9') || c == '-'))));
		if (!ok) {
			*why = s->kind == AK_NAME ? "VM name attribute not a name" :
						    "attribute has characters its kind does not allow";
			return false;
		}
	}
	if (len == 1 && s->kind != AK_STR) {
		*why = "empty name attribute";
		return false;
	}
	return true;
}

/* The attributes P[0..LEN) (LEN a multiple of 4), checked; NESTED: inside a
 * nest, where nests and repeats are not allowed. */
static bool attrs_check(const uint8_t *p, size_t len, bool nested, const char **why)
{
	uint32_t seen = 0;   /* attribute types given so far */
	size_t off = 0;
	while (off < len) {
		size_t rem = len - off;
		if (rem < ATTR_HEADER) {
			*why = "truncated attribute header";
			return false;
		}
		const uint8_t *a = p + off;
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
		const struct attr_spec *s = attr_spec(attr);
		if (!s) {
			*why = "unknown attribute";
			return false;
		}
		switch (s->kind) {
		case AK_U32:
		case AK_U64:
			if (alen != (s->kind == AK_U32 ? 4u : 8u)) {
				*why = "integer attribute not of its width";
				return false;
			}
			break;
		case AK_STR:
		case AK_NAME:
		case AK_PRINT:
			if (!str_ok(v, alen, s, why))
				return false;
			break;
		case AK_NEST:
			if (nested) {
				*why = "nest inside a nest";
				return false;
			}
			if (!attrs_check(v, alen, true, why))
				return false;
			break;
		}
		if ((seen & (1u << attr)) && (nested || !s->repeats)) {
			*why = "attribute given twice";
			return false;
		}
		seen |= 1u << attr;
		off += ATTR_HEADER + align4(alen);
	}
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
	if (!attrs_check(frame + CTL_HEADER_SIZE, len - CTL_HEADER_SIZE, false, why))
		return false;
	*type = get_le16(frame + 6);
	return true;
}

struct ctl_attrs ctl_payload(const uint8_t *frame, size_t len)
{
	if (len < CTL_HEADER_SIZE)
		return (struct ctl_attrs){ NULL, 0 };
	return (struct ctl_attrs){ frame + CTL_HEADER_SIZE, len - CTL_HEADER_SIZE };
}

/* Bounds-checked again so that it is safe on any buffer. */
bool ctl_attr_next(struct ctl_attrs *a, uint16_t *attr, struct ctl_attrs *value)
{
	if (a->len < ATTR_HEADER)
		return false;
	uint32_t n = get_le32(a->p + 4);
	if (n > a->len - ATTR_HEADER)
		return false;
	*attr = get_le16(a->p);
	*value = (struct ctl_attrs){ a->p + ATTR_HEADER, n };
	size_t step = ATTR_HEADER + align4(n);
	if (step > a->len)
		step = a->len;
	a->p += step;
	a->len -= step;
	return true;
}

bool ctl_next_nest(struct ctl_attrs *a, uint16_t attr, struct ctl_attrs *nest)
{
	uint16_t t;
	while (ctl_attr_next(a, &t, nest))
		if (t == attr)
			return true;
	return false;
}

static bool find_attr(struct ctl_attrs a, uint16_t attr, struct ctl_attrs *v)
{
	return ctl_next_nest(&a, attr, v);
}

bool ctl_attrs_u32(struct ctl_attrs a, uint16_t attr, uint32_t *v)
{
	struct ctl_attrs val;
	if (!find_attr(a, attr, &val) || val.len != 4)
		return false;
	*v = get_le32(val.p);
	return true;
}

bool ctl_attrs_u64(struct ctl_attrs a, uint16_t attr, uint64_t *v)
{
	struct ctl_attrs val;
	if (!find_attr(a, attr, &val) || val.len != 8)
		return false;
	*v = get_le32(val.p) | (uint64_t)get_le32(val.p + 4) << 32;
	return true;
}

const char *ctl_attrs_str(struct ctl_attrs a, uint16_t attr)
{
	struct ctl_attrs val;
	if (!find_attr(a, attr, &val) || val.len == 0 || val.p[val.len - 1] != 0)
		return NULL;
	return (const char *)val.p;
}

bool ctl_get_u32(const uint8_t *frame, size_t len, uint16_t attr, uint32_t *v)
{
	return ctl_attrs_u32(ctl_payload(frame, len), attr, v);
}

const char *ctl_get_str(const uint8_t *frame, size_t len, uint16_t attr)
{
	return ctl_attrs_str(ctl_payload(frame, len), attr);
}

/* ---- printing what the other side sent ---- */

/* The code point of the UTF-8 sequence at S (*N bytes), or -1 if it is not
 * one (overlong, surrogate, beyond U+10FFFF, cut short). */
static long utf8_char(const unsigned char *s, size_t *n)
{
	unsigned char c = s[0];
	long cp, min;
	size_t len;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07, min = 0x10000;
	else
		return -1;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)   /* also stops at the NUL */
			return -1;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*n = len;
	return cp;
}

/* Characters a terminal acts on or that reorder what is shown: C1 controls,
 * bidirectional embeddings, overrides and isolates, line separators. */
static bool cp_unsafe(long cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || (cp >= 0x200e && cp <= 0x200f) ||
	       (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

static void put_safe(FILE *out, const char *str, bool lines, bool json)
{
	const unsigned char *s = (const unsigned char *)str;
	while (*s) {
		unsigned char c = *s;
		size_t n = 1;
		long cp;
		if (c >= 0x20 && c < 0x7f) {
			if (json && (c == '"' || c == '\\'))
				fputc('\\', out);
			fputc(c, out);
		} else if (lines && (c == '\n' || c == '\t')) {
			fputs(!json ? (c == '\n' ? "\n" : "\t") : c == '\n' ? "\\n" : "\\t", out);
		} else if (c >= 0x80 && (cp = utf8_char(s, &n)) >= 0) {
			if (cp_unsafe(cp))
				fprintf(out, json ? "\\\\u%04lx" : "\\u%04lx", cp);
			else
				fwrite(s, 1, n, out);
		} else {
			fprintf(out, json ? "\\\\x%02x" : "\\x%02x", c);
		}
		s += n;
	}
}

void ctl_fput_safe(FILE *out, const char *s, bool lines)
{
	put_safe(out, s, lines, false);
}

void ctl_fput_json(FILE *out, const char *s)
{
	fputc('"', out);
	put_safe(out, s, true, true);
	fputc('"', out);
}

/* ---- blocking I/O ---- */

/* Until FD is ready for EVENTS or DEADLINE (monotonic ms; 0: none) has passed. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline ? deadline - mono_ms() : -1;
		if (deadline && left <= 0)
			return -ETIMEDOUT;
		struct pollfd p = { .fd = fd, .events = events };
		int r = poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

/* TIMEOUT_MS (> 0) bounds a blocking connect to a socket whose queue is full. */
static int connect_path(const char *path, long timeout_ms)
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
	if (timeout_ms > 0) {
		struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int err = errno == EAGAIN ? -ETIMEDOUT : -errno;
		close(fd);
		return err;
	}
	return fd;
}

int ctl_connect(const char *path)
{
	return connect_path(path, 0);
}

int ctl_connect_within(const char *path, long timeout_ms)
{
	return connect_path(path, timeout_ms > 0 ? timeout_ms : CTL_CALL_MS);
}

static int send_until(int fd, const struct ctl_msg *m, int64_t deadline)
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
		int err = deadline ? wait_fd(fd, POLLOUT, deadline) : 0;
		if (err)
			return err;
		ssize_t w = writev(fd, v, n);
		if (w < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		done += (size_t)w;
	}
	return 0;
}

int ctl_send(int fd, const struct ctl_msg *m)
{
	return send_until(fd, m, 0);
}

/* 0, -ECONNRESET at EOF before the first byte, -EPROTO at EOF after it. */
static int read_full(int fd, uint8_t *buf, size_t len, int64_t deadline)
{
	size_t done = 0;
	while (done < len) {
		int err = deadline ? wait_fd(fd, POLLIN, deadline) : 0;
		if (err)
			return err;
		ssize_t r = read(fd, buf + done, len - done);
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		if (r == 0)
			return done ? -EPROTO : -ECONNRESET;
		done += (size_t)r;
	}
	return 0;
}

static int recv_until(int fd, uint8_t **frame, size_t *len, int64_t deadline)
{
	uint8_t h[CTL_HEADER_SIZE];
	const char *why;
	size_t total;
	*frame = NULL;
	*len = 0;
	int err = read_full(fd, h, sizeof(h), deadline);
	if (err)
		return err;
	if (!ctl_header_check(h, sizeof(h), &total, &why))
		return get_le32(h + 8) > CTL_MAX_PAYLOAD ? -EMSGSIZE : -EPROTO;
	uint8_t *buf = malloc(total);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, h, sizeof(h));
	err = read_full(fd, buf + sizeof(h), total - sizeof(h), deadline);
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

int ctl_recv(int fd, uint8_t **frame, size_t *len)
{
	return recv_until(fd, frame, len, 0);
}

int ctl_recv_within(int fd, uint8_t **frame, size_t *len, long timeout_ms)
{
	return recv_until(fd, frame, len, mono_ms() + (timeout_ms > 0 ? timeout_ms : CTL_CALL_MS));
}

int ctl_call(const char *path, const struct ctl_msg *req, uint8_t **reply, size_t *len)
{
	return ctl_call_within(path, req, reply, len, CTL_CALL_MS);
}

int ctl_call_within(const char *path, const struct ctl_msg *req, uint8_t **reply, size_t *len,
		    long timeout_ms)
{
	*reply = NULL;
	*len = 0;
	if (timeout_ms <= 0)
		timeout_ms = CTL_CALL_MS;
	/* one deadline for the whole call: a peer that trickles a byte at a
	 * time cannot stretch it */
	int64_t deadline = mono_ms() + timeout_ms;
	int fd = connect_path(path, timeout_ms);
	if (fd < 0)
		return fd;
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	int err = send_until(fd, req, deadline);
	if (!err)
		err = recv_until(fd, reply, len, deadline);
	if (!err && get_le16(*reply + 6) != CTL_REPLY) {
		free(*reply);
		*reply = NULL;
		*len = 0;
		err = -EPROTO;
	}
	close(fd);
	return err;
}

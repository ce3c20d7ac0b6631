/* ctl.h: the control channel between netctl and the appliances' daemons
 * (moat-firewalld, moat-netd). A byte stream (unix socket, or virtio-serial
 * port in a VM) carrying framed messages:
 *
 *   u32 magic "MOAT" | u16 version | u16 type | u32 length | payload[length]
 *
 * all little-endian; length <= CTL_MAX_PAYLOAD (1 MiB). The payload is a list of
 * attributes: u16 attr | u16 0 | u32 len | value[len] | zero padding to 4.
 * Every request gets one reply: CTL_REPLY with CTL_A_STATUS (0 or a positive
 * errno) and CTL_A_MESSAGE (text), plus what the request asked for. A LOG
 * subscription is answered, then CTL_EVENT messages follow until the client
 * hangs up. A malformed frame gets an error reply and the connection closes.
 */
#ifndef MOAT_CTL_H
#define MOAT_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTL_MAGIC        0x54414f4du   /* "MOAT" as bytes on the wire */
#define CTL_VERSION      1
#define CTL_HEADER_SIZE  12
#define CTL_MAX_PAYLOAD  (1u << 20)

enum ctl_type {
	CTL_REQ_APPLY = 1,     /* FILE, TEXT, GENERATION -> STATUS, MESSAGE */
	CTL_REQ_STATUS,        /* -> GENERATION, TEXT (the policy in force), MESSAGE (summary) */
	CTL_REQ_STATS,         /* [VM] -> TEXT: one line per counter, see firewalld.h */
	CTL_REQ_LOG,           /* [VM], [FOLLOW] -> TEXT (the ring), then EVENTs if FOLLOW */
	CTL_REQ_SUBNETS = 5,   /* moat-netd: TEXT "CIDR,..." routed to the firewall -> STATUS */
	CTL_REQ_DHCP = 6,      /* moat-netd: TEXT udhcpc's event as key=value lines -> STATUS */
	CTL_REPLY = 64,
	CTL_EVENT,             /* TEXT: one log line */
};

enum ctl_attr {
	CTL_A_STATUS = 1,      /* u32: 0 ok, else an errno */
	CTL_A_MESSAGE,         /* string: one line for the user, or errors (file:line:col) */
	CTL_A_FILE,            /* string: the name errors should use */
	CTL_A_TEXT,            /* string */
	CTL_A_GENERATION,      /* u32 */
	CTL_A_VM,              /* string */
	CTL_A_FOLLOW,          /* u32: 1 = stream events */
};

/* A message being built or read. Strings are stored NUL-terminated. */
struct ctl_msg {
	uint16_t type;
	uint8_t *buf;          /* header + payload */
	size_t len, cap;
};

void ctl_msg_init(struct ctl_msg *m, uint16_t type);
void ctl_msg_free(struct ctl_msg *m);
bool ctl_put_u32(struct ctl_msg *m, uint16_t attr, uint32_t v);
bool ctl_put_str(struct ctl_msg *m, uint16_t attr, const char *s);
bool ctl_put_bytes(struct ctl_msg *m, uint16_t attr, const void *p, size_t len);
/* The message as one frame (header current), for a sender's own queue. */
const uint8_t *ctl_msg_frame(struct ctl_msg *m, size_t *len);

/* Checks a whole received frame (header + payload): magic, version, length,
 * every attribute inside the payload, strings NUL-terminated. false + a reason
 * in WHY on anything malformed; never reads past LEN. */
bool ctl_parse(const uint8_t *frame, size_t len, uint16_t *type, const char **why);
/* Checks the first CTL_HEADER_SIZE bytes of a frame still arriving, so an
 * oversized one is refused before its payload is read; *FRAME_LEN = its size. */
bool ctl_header_check(const uint8_t *h, size_t len, size_t *frame_len, const char **why);
/* Looks up an attribute of a frame that ctl_parse accepted. */
bool ctl_get_u32(const uint8_t *frame, size_t len, uint16_t attr, uint32_t *v);
const char *ctl_get_str(const uint8_t *frame, size_t len, uint16_t attr);

/* Blocking helpers for clients (netctl) and the simple server paths. */
int ctl_connect(const char *path);                 /* unix socket or device; fd or -errno */
int ctl_send(int fd, const struct ctl_msg *m);     /* 0 or -errno */
/* Reads one frame into *frame (malloc'd); its length in *len. 0 or -errno
 * (-EPROTO for a malformed frame, -ECONNRESET at EOF). */
int ctl_recv(int fd, uint8_t **frame, size_t *len);
/* connect + send REQ + receive the reply (must be CTL_REPLY): 0 or -errno. */
int ctl_call(const char *path, const struct ctl_msg *req, uint8_t **reply, size_t *len);
/* The same, each send and read bounded by TIMEOUT_MS (0: none) on a socket:
 * -EAGAIN when the other side does not answer in time. */
int ctl_call_within(const char *path, const struct ctl_msg *req, uint8_t **reply, size_t *len,
		    long timeout_ms);

#endif

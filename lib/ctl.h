/* ctl.h: the control channel between netctl and the appliances' daemons
 * (moat-firewalld, moat-netd). A byte stream (unix socket, or virtio-serial
 * port in a VM) carrying framed messages:
 *
 *   u32 magic "MOAT" | u16 version | u16 type | u32 length | payload[length]
 *
 * all little-endian; length <= CTL_MAX_PAYLOAD (1 MiB). The payload is a list of
 * attributes: u16 attr | u16 0 | u32 len | value[len] | zero padding to 4.
 * Each attribute has one kind (ctl.c's table): a fixed-width integer, a
 * length-bounded string (NUL-terminated; names and address tokens limited to
 * their characters), or a nest: a list of attributes itself (one level).
 * An attribute appears once in a list, except the records a reply repeats
 * (COUNTER, LOG). Every request gets one reply: CTL_REPLY with CTL_A_STATUS (0
 * or a positive errno) and CTL_A_MESSAGE (text), plus what the request asked
 * for. A LOG subscription is answered, then CTL_EVENT messages (one LOG record
 * each) follow until the client hangs up. A malformed frame gets an error
 * reply and the connection closes.
 *
 * Netctl trusts no appliance: what it prints of a reply goes through
 * ctl_fput_safe / ctl_fput_json, and every call has a deadline.
 */
#ifndef MOAT_CTL_H
#define MOAT_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CTL_MAGIC        0x54414f4du   /* "MOAT" as bytes on the wire */
#define CTL_VERSION      2
#define CTL_HEADER_SIZE  12
#define CTL_MAX_PAYLOAD  (1u << 20)
#define CTL_NAME_MAX     15            /* a VM name: MOAT_NAME_MAX (policy.h) */
#define CTL_CALL_MS      10000         /* ctl_call's deadline for the whole reply */

enum ctl_type {
	CTL_REQ_APPLY = 1,     /* FILE, TEXT, GENERATION -> GENERATION, VMS, RULES, [EXPIRING,
				  NEXT_EXPIRY], MESSAGE (warnings, then a summary line) */
	CTL_REQ_STATUS,        /* -> GENERATION, [FILE, TEXT (the policy in force), VMS, RULES,
				  EXPIRING, NEXT_EXPIRY], MESSAGE (summary) */
	CTL_REQ_STATS,         /* [VM] -> COUNTER... */
	CTL_REQ_LOG,           /* [VM], [FOLLOW] -> LOG... (the ring), then EVENTs if FOLLOW */
	CTL_REQ_SUBNETS = 5,   /* moat-netd: TEXT "CIDR,..." routed to the firewall -> STATUS */
	CTL_REQ_DHCP = 6,      /* moat-netd: TEXT udhcpc's event as key=value lines -> STATUS */
	CTL_REPLY = 64,
	CTL_EVENT,             /* LOG: one new log record */
};

/* Whether a request of TYPE only reads (STATUS, STATS, LOG): the one kind
 * a read-only channel (ctl_server_open_read_only) serves. Anything else,
 * an unknown type included, may change something. */
bool ctl_request_read_only(uint16_t type);

enum ctl_attr {
	CTL_A_STATUS = 1,       /* u32: 0 ok, else an errno */
	CTL_A_MESSAGE = 2,      /* string: for the user, or errors (file:line:col) */
	CTL_A_FILE = 3,         /* string: the name errors should use */
	CTL_A_TEXT = 4,         /* string */
	CTL_A_GENERATION = 5,   /* u32 */
	CTL_A_VM = 6,           /* name: [a-z][a-z0-9-]*, at most CTL_NAME_MAX */
	CTL_A_FOLLOW = 7,       /* u32: 1 = stream events */
	CTL_A_VMS = 8,          /* u32: VMs in the policy in force */
	CTL_A_RULES = 9,        /* u32: its rules, expired ones not counted */
	CTL_A_EXPIRING = 10,    /* u32: of those, how many have an until */
	CTL_A_NEXT_EXPIRY = 11, /* u64: unix time of the next until */
	CTL_A_COUNTER = 12,     /* nest, repeated: VM, KIND, [RULE], PACKETS, BYTES */
	CTL_A_KIND = 13,        /* u32: enum ctl_counter */
	CTL_A_RULE = 14,        /* u32: a rule's number in its VM block, from 1; 0 = default */
	CTL_A_PACKETS = 15,     /* u64 */
	CTL_A_BYTES = 16,       /* u64 */
	CTL_A_LOG = 17,         /* nest, repeated: TIME, VM, ACTION, PROTO, SRC, DST, [ICMP_TYPE], RULE */
	CTL_A_TIME = 18,        /* u64: unix time */
	CTL_A_ACTION = 19,      /* u32: enum ctl_action */
	CTL_A_PROTO = 20,       /* printable ASCII: "tcp", "proto 47" */
	CTL_A_SRC = 21,         /* printable ASCII: "10.137.0.10:40000", "[2001:db8::1]:53" */
	CTL_A_DST = 22,
	CTL_A_ICMP_TYPE = 23,   /* u32 */
	CTL_A_MAX_             /* attribute types stay below 32 */
};

/* What a COUNTER counts (CTL_A_KIND). */
enum ctl_counter {
	CTL_C_RULE,            /* the VM's rule RULE */
	CTL_C_DNS,             /* what `allow dns` let through to the resolver */
	CTL_C_DEFAULT,         /* the default deny */
	CTL_C_SPOOF,           /* anti-spoofing drops */
	CTL_C_IPV6,            /* IPv6 from a VM when there is no subnet6 */
	CTL_C_COUNT_
};

enum ctl_action { CTL_ACT_ALLOW, CTL_ACT_DENY };

/* A message being built or read. Strings are stored NUL-terminated. */
struct ctl_msg {
	uint16_t type;
	uint8_t *buf;          /* header + payload */
	size_t len, cap;
};

void ctl_msg_init(struct ctl_msg *m, uint16_t type);
void ctl_msg_free(struct ctl_msg *m);
bool ctl_put_u32(struct ctl_msg *m, uint16_t attr, uint32_t v);
bool ctl_put_u64(struct ctl_msg *m, uint16_t attr, uint64_t v);
/* false also for a string its attribute's kind does not allow */
bool ctl_put_str(struct ctl_msg *m, uint16_t attr, const char *s);
/* Whether S may be sent as ATTR (a VM name only as a name, ...). */
bool ctl_str_allowed(uint16_t attr, const char *s);
bool ctl_put_bytes(struct ctl_msg *m, uint16_t attr, const void *p, size_t len);
/* A nest: its attributes are put between start and end. Start returns where
 * it begins (0: no room); end with that. */
size_t ctl_nest_start(struct ctl_msg *m, uint16_t attr);
void ctl_nest_end(struct ctl_msg *m, size_t start);
/* The message as one frame (header current), for a sender's own queue. */
const uint8_t *ctl_msg_frame(struct ctl_msg *m, size_t *len);

/* Checks a whole received frame (header + payload): magic, version, length,
 * every attribute inside the payload and its nests against its kind. false +
 * a reason in WHY on anything malformed; never reads past LEN. */
bool ctl_parse(const uint8_t *frame, size_t len, uint16_t *type, const char **why);
/* Checks the first CTL_HEADER_SIZE bytes of a frame still arriving, so an
 * oversized one is refused before its payload is read; *FRAME_LEN = its size. */
bool ctl_header_check(const uint8_t *h, size_t len, size_t *frame_len, const char **why);
/* Looks up an attribute of a frame that ctl_parse accepted. */
bool ctl_get_u32(const uint8_t *frame, size_t len, uint16_t attr, uint32_t *v);
const char *ctl_get_str(const uint8_t *frame, size_t len, uint16_t attr);

/* A list of attributes: a frame's payload or a nest's value. Lookups stay
 * inside it whatever it holds. */
struct ctl_attrs {
	const uint8_t *p;
	size_t len;
};
struct ctl_attrs ctl_payload(const uint8_t *frame, size_t len);
/* The next attribute of *A (which moves past it): false at the end. */
bool ctl_attr_next(struct ctl_attrs *a, uint16_t *attr, struct ctl_attrs *value);
/* The next nest ATTR in *A (a repeated record), as a list. */
bool ctl_next_nest(struct ctl_attrs *a, uint16_t attr, struct ctl_attrs *nest);
bool ctl_attrs_u32(struct ctl_attrs a, uint16_t attr, uint32_t *v);
bool ctl_attrs_u64(struct ctl_attrs a, uint16_t attr, uint64_t *v);
const char *ctl_attrs_str(struct ctl_attrs a, uint16_t attr);

/* S, a string from the other side, printed so that no byte of it can drive
 * a terminal: printable ASCII and UTF-8 characters pass; other control
 * characters, DEL, C1, bidirectional overrides and invalid UTF-8 become
 * \xNN or \uNNNN. LINES keeps newlines and tabs. */
void ctl_fput_safe(FILE *out, const char *s, bool lines);
/* The same, as a JSON string with its quotes (newlines as \n). */
void ctl_fput_json(FILE *out, const char *s);

/* Blocking helpers for clients (netctl) and the simple server paths. */
int ctl_connect(const char *path);                 /* unix socket or device; fd or -errno */
/* The same, a socket whose queue is full given up on after TIMEOUT_MS (-ETIMEDOUT). */
int ctl_connect_within(const char *path, long timeout_ms);
int ctl_send(int fd, const struct ctl_msg *m);     /* 0 or -errno */
/* Reads one frame into *frame (malloc'd); its length in *len. 0 or -errno
 * (-EPROTO for a malformed frame, -ECONNRESET at EOF). */
int ctl_recv(int fd, uint8_t **frame, size_t *len);
/* The same, the whole frame in by TIMEOUT_MS: -ETIMEDOUT otherwise. */
int ctl_recv_within(int fd, uint8_t **frame, size_t *len, long timeout_ms);
/* connect + send REQ + receive the reply (must be CTL_REPLY), all within
 * CTL_CALL_MS: 0 or -errno (-ETIMEDOUT when the other side does not answer). */
int ctl_call(const char *path, const struct ctl_msg *req, uint8_t **reply, size_t *len);
/* The same within TIMEOUT_MS (<= 0: CTL_CALL_MS); no call waits forever. */
int ctl_call_within(const char *path, const struct ctl_msg *req, uint8_t **reply, size_t *len,
		    long timeout_ms);

#endif

/* ctlserver.h: the server side of the control channel (ctl.h framing), for
 * both appliance daemons. PATH is a character device (a virtio-serial port in
 * the VM: one peer, reopened when the host side goes away) or a unix socket
 * listened on (up to CTL_SERVER_MAX_CLIENTS at once). Every frame is checked;
 * a malformed one gets an error reply and costs its connection only. Each
 * client has one request in flight: its next frame is read once the reply is
 * written. Nothing blocks: a client that stalls mid-frame is cut off after
 * CTL_SERVER_FRAME_MS.
 */
#ifndef MOAT_CTLSERVER_H
#define MOAT_CTLSERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/ctl.h"

#define CTL_SERVER_MAX_CLIENTS 32
#define CTL_SERVER_FRAME_MS    10000      /* a frame started must be whole by then */
#define CTL_SERVER_BACKLOG     (4u << 20) /* events queued before a slow follower is dropped */
#define CTL_SERVER_TAG_MAX     64

struct pollfd;
struct ctl_server;
struct ctl_client;

/* A checked request of TYPE: the handler answers with ctl_client_reply() or
 * ctl_client_error() (or marks the client a follower). */
typedef void (*ctl_handler)(void *arg, struct ctl_client *cl, uint16_t type, const uint8_t *frame,
			    size_t len);

/* NAME prefixes the daemon's log lines ("moat-firewalld"). NULL + errno. */
struct ctl_server *ctl_server_open(const char *path, const char *name, ctl_handler handler, void *arg);
/* The same for a read-only channel: only requests ctl_request_read_only
 * accepts reach HANDLER; any other gets an EPERM reply naming the read-write
 * channel, and the connection stays as it was. Framing, size limits and
 * deadlines are those of any channel. */
struct ctl_server *ctl_server_open_read_only(const char *path, const char *name, ctl_handler handler,
					     void *arg);
void ctl_server_close(struct ctl_server *s);
/* The descriptors to poll: at most 1 + CTL_SERVER_MAX_CLIENTS. */
size_t ctl_server_pollfds(const struct ctl_server *s, struct pollfd *fds);
/* After poll: FDS as filled by ctl_server_pollfds, with revents. FDS may
 * hold other descriptors too (another server's): only S's are served. */
void ctl_server_event(struct ctl_server *s, const struct pollfd *fds, size_t n);
/* Milliseconds until the server needs the loop again without I/O, or -1. */
int ctl_server_timeout(const struct ctl_server *s);

/* Queue M as the reply; a reply that did not fit (COMPLETE false) or no
 * memory becomes an EMSGSIZE error reply. */
void ctl_client_reply(struct ctl_client *cl, struct ctl_msg *m, bool complete);
void ctl_client_error(struct ctl_client *cl, int status, const char *msg);
/* Hang up once the queued reply is written. */
void ctl_client_close(struct ctl_client *cl);
/* From now on CL only listens: it gets what ctl_server_publish sends to TAG. */
void ctl_client_follow(struct ctl_client *cl, const char *tag);
/* M to every follower whose tag MATCH accepts (NULL: all). A follower that
 * stopped reading is hung up on rather than let the queue grow. */
void ctl_server_publish(struct ctl_server *s, struct ctl_msg *m,
			bool (*match)(const char *tag, void *arg), void *arg);

#endif

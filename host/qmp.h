/* qmp.h: a small QMP client, enough to hot-plug a VM's link into the running
 * firewallvm and unplug it again. QEMU sends one JSON object per line. */
#ifndef MOAT_QMP_H
#define MOAT_QMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QMP_LINE_MAX (256 * 1024)

struct qmp {
	int fd;
	int timeout_ms;        /* per reply, events before it included */
	char *buf;             /* QMP_LINE_MAX */
	size_t len;
};

/* ---- messages (pure) ---- */

/* Each writes one command into BUF; false if it does not fit. */
bool qmp_build_chardev_add(char *buf, size_t len, const char *id, const char *sock);
bool qmp_build_netdev_add(char *buf, size_t len, const char *id, const char *chardev);
bool qmp_build_device_add(char *buf, size_t len, const char *id, const char *netdev, const uint8_t mac[6],
			  const char *bus);
/* {"execute": CMD, "arguments": {"id": ID}}: device_del, netdev_del, chardev-remove */
bool qmp_build_by_id(char *buf, size_t len, const char *cmd, const char *id);

enum qmp_kind { QMP_BAD, QMP_GREETING, QMP_RETURN, QMP_ERROR, QMP_EVENT };
/* What a line from QEMU is. For QMP_ERROR the error's desc goes to DESC;
 * for QMP_EVENT its name. */
enum qmp_kind qmp_parse(const char *line, char *desc, size_t desclen);

/* ---- the connection ---- */

/* Connects, reads the greeting, negotiates capabilities. Prints why not. */
bool qmp_connect(struct qmp *q, const char *path, int timeout_ms);
void qmp_close(struct qmp *q);
/* Sends CMD, returns its reply line (in q->buf) skipping events: 1 for a
 * return, 0 for an error (desc in ERR), -1 when the connection failed. */
int qmp_execute(struct qmp *q, const char *cmd, char *err, size_t errlen);

/* The link of VM NAME hot-plugged: chardev link-NAME to SOCK, netdev
 * net-NAME, device nic-NAME with MAC on the first free portN of NPORTS. */
bool qmp_link_plug(struct qmp *q, const char *name, const char *sock, const uint8_t mac[6], unsigned nports);
/* The reverse; objects already gone are fine. The device goes only when the
 * guest releases it, and its netdev and chardev only after that: 1 when all
 * went within RELEASE_WAIT_MS, 0 when the guest still holds the device (its
 * netdev stays; the next plug of NAME clears it once the device is gone),
 * -1 on error (said on stderr). */
int qmp_link_unplug(struct qmp *q, const char *name, int release_wait_ms);

#endif

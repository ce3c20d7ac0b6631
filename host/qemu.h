/* qemu.h: QEMU command lines for the appliances (netvm, firewallvm) and for
 * an app VM's attachment to its link. Pure functions: they build an argv and
 * touch nothing, so tests compare them word for word.
 *
 * Every link is one moat-link named after its VM ("uplink" for the netvm's):
 * side a is the app VM (or the netvm), side b the firewall, with sockets
 * STATE/links/NAME.{app,fw}.sock ("uplink.net.sock" for the netvm's side). */
#ifndef MOAT_QEMU_H
#define MOAT_QEMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"

#define QEMU_DEFAULT_BINARY  "qemu-system-x86_64"
#define QEMU_APPLIANCE_MB    128
#define QEMU_APP_DEFAULT_MB  1024
#define QEMU_SPARE_PORTS     8     /* hot-plug slots the firewallvm keeps free */
#define QEMU_PATH_MAX        108   /* a unix socket path, with its NUL */
/* `uplink user`: QEMU's user network (its default, said outright because
 * the netvm is told never to forward into it) */
#define QEMU_USER_NET        "10.0.2.0/24"

/* seccomp: no obsolete syscalls, no setuid & co, no fork/exec, no
 * priorities, affinities or limits (QEMU 7.2's -sandbox) */
#define QEMU_SANDBOX "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"

/* The descriptors an appliance's QEMU inherits when netctl opens for it what
 * its user may not open (qemu_appliance.fds); without a tap, nothing is at
 * QEMU_FD_TAP. */
enum { QEMU_FD_CONTROL = 3, QEMU_FD_QMP, QEMU_FD_CONSOLE, QEMU_FD_TAP, QEMU_FD_STATUS };

/* The uplink link's fixed MACs (DESIGN.md), and the netvm's outside NIC when
 * it is a virtio NIC (tap, user) rather than a passed-through one. */
extern const uint8_t qemu_uplink_fw_mac[6], qemu_uplink_net_mac[6], qemu_outside_mac[6];

struct qemu_args {
	char **v;              /* NULL-terminated */
	size_t n, cap;
	bool failed;           /* out of memory: every later add is ignored */
};

void qemu_args_init(struct qemu_args *a);
void qemu_args_free(struct qemu_args *a);
bool qemu_args_add(struct qemu_args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One vhost-user NIC on a link. ID names its QEMU objects: chardev link-ID,
 * netdev net-ID, device nic-ID. */
struct qemu_nic {
	const char *id;
	const char *sock;
	uint8_t mac[6];
};

struct qemu_appliance {
	const char *binary;    /* NULL: QEMU_DEFAULT_BINARY */
	const char *name;      /* "netvm" or "firewallvm" */
	const char *accel;     /* "kvm" or "tcg" */
	const char *kernel, *initrd;
	const char *control;   /* unix socket behind the org.moat.control port */
	const char *status;    /* ... the org.moat.status port (read-only); NULL: none */
	const char *qmp;       /* QMP unix socket */
	const char *console;   /* file the serial console goes to */
	const struct qemu_nic *nics;
	size_t nnics;
	unsigned spare_ports;  /* empty hot-plug ports beyond one per NIC */
	bool outside;          /* the netvm: its NIC to the world */
	enum uplink_kind uplink;
	const char *uplink_arg; /* PCI BDF or tap name */
	/* The control, status and QMP sockets (listening), the console (a pipe or a file open for
	 * writing) and a tap uplink are the inherited descriptors QEMU_FD_*
	 * rather than paths QEMU opens: its user needs no access to them. */
	bool fds;
};

/* The whole command line of an appliance, argv[0] included, always under
 * -sandbox QEMU_SANDBOX. */
bool qemu_appliance_args(struct qemu_args *a, const struct qemu_appliance *q);

/* What attaches app VM V to its link (no argv[0]): chardev, netdev, device
 * with the VM's MAC and vectors=0, and the shared memory backend. */
bool qemu_app_args(struct qemu_args *a, const char *state_dir, const struct vm *v, unsigned memory_mb);

/* STATE/links/LINK.SIDE.sock; false (and a message) if it does not fit a
 * unix socket address. SIDE is "app", "fw" or "net". */
bool qemu_link_path(char *buf, size_t len, const char *state_dir, const char *link, const char *side);

/* "kvm" or "tcg": OVERRIDE when given ("kvm", "tcg"; NULL if it is neither),
 * else kvm when KVM_WORKS. */
const char *qemu_accel_pick(const char *override, bool kvm_works);
/* DEV (/dev/kvm) opens, speaks API 12 and creates a VM. */
bool qemu_kvm_works(const char *dev);
/* "1024", "1024M", "2G" -> MiB; false if not a size from 64 MiB to 1 TiB. */
bool qemu_parse_memory(const char *s, unsigned *mb);

#endif

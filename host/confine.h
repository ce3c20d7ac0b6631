/* confine.h: what an appliance's QEMU may reach of the host's files and
 * sockets beyond what its user may (priv.h). Both run in the child netctl
 * forked, before it drops root.
 *
 * Files: a mount namespace of its own in which every mount is read-only
 * and nosuid (the kernel and initrd are read, devices such as /dev/kvm and
 * /dev/vfio/N still open read-write: a read-only mount does not stop a
 * device), so a compromised QEMU cannot fill /var/tmp, /tmp, /dev/shm or
 * the state directory's file system, nor leave files for others. It needs
 * no file of its own: netctl passes every socket and its console. Its
 * /proc shows only its own user's processes (hidepid=2), and its System V
 * IPC is its own (a segment it makes goes with it).
 *
 * Scope: a Landlock domain (kernel 6.12 and later) that keeps it from the
 * abstract unix sockets (X11, D-Bus, ...) and signals of processes outside
 * it. Abstract sockets belong to a network namespace, so this matters for
 * the netvm's QEMU under `uplink user`, the one that shares the host's. */
#ifndef MOAT_CONFINE_H
#define MOAT_CONFINE_H

#include <stdbool.h>

/* A new mount namespace, every mount read-only and nosuid, but /proc and WRITABLE (a
 * directory; NULL for none: a stand-in QEMU of the tests writes there,
 * a real one needs nothing). false with errno. */
bool confine_files(const char *writable);

/* Enter a Landlock domain that scopes abstract unix sockets and signals.
 * 1 done, 0 the kernel cannot (errno says why), -1 it failed. */
int confine_scope(void);

/* Whether confine_scope can work on this kernel (asked by the parent, to
 * warn before it matters). */
bool confine_scope_supported(void);

#endif

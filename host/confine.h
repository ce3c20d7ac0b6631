/* confine.h: what an appliance's QEMU may reach of the host's files and
 * sockets beyond what its user may (priv.h). Both run in the child netctl
 * forked, before it drops root.
 *
 * Files: a mount namespace of its own in which every mount is read-only
 * and nosuid (the kernel and initrd are read, devices such as /dev/kvm and
 * /dev/vfio/N still open read-write: a read-only mount does not stop a
 * device), so a compromised QEMU cannot fill /var/tmp, /tmp, /dev/shm or
 * the state directory's file system, nor leave files for others; and
 * where the host keeps sockets any user may connect to (/run: D-Bus, the
 * journal, a desktop session's; /tmp: X11's), it finds nothing. It needs
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
#include <stddef.h>

/* What it needs of the host's files where they are hidden: a directory
 * (the links' sockets, its images), read-only or WRITABLE (a stand-in QEMU
 * of the tests writes there; a real one needs nothing). */
struct confine_keep {
	const char *path;
	bool writable;
};
#define CONFINE_KEEP_MAX 4

/* A new mount and IPC namespace: every mount read-only and nosuid but
 * /proc (its own, hidepid=2); /run, /tmp, /var/tmp and /dev/shm empty
 * but for KEEP (NKEEP of them, at most CONFINE_KEEP_MAX). false with
 * errno. */
bool confine_files(const struct confine_keep *keep, size_t nkeep);

/* Enter a Landlock domain that scopes abstract unix sockets and signals.
 * 1 done, 0 the kernel cannot (errno says why), -1 it failed. */
int confine_scope(void);

/* Whether confine_scope can work on this kernel (asked by the parent, to
 * warn before it matters). */
bool confine_scope_supported(void);

#endif

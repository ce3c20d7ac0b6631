/* up.h: what netctl-up.c (the appliances, up and down) and netctl-links.c
 * (app VMs' links, vm-args, plug, unplug) share. */
#ifndef MOAT_UP_H
#define MOAT_UP_H

#include <stdbool.h>
#include <sys/types.h>

#include "host/netctl.h"

#define UPLINK          "uplink"   /* the netvm's link's name */
#define RELEASE_WAIT_MS 10000   /* a guest's PCIe hot-plug takes up to 5 s */
#define MIB             (1024ull * 1024)

struct up_opts {
	const char *images, *accel, *qemu, *link, *sysfs;
	const char *vm_owner;      /* USER[:GROUP] of every app VM's side of its link */
	const char *appliance_dir; /* a stand-in --qemu may write there (confine.h) */
	unsigned vm_memory_max_mb; /* the most guest memory an app VM may share with its link */
	unsigned timeout;
	bool notify;
	bool foreground;           /* stay and start again what dies (netctl-supervise.c) */
};

/* up's work, once, under the lock of the pieces: start what does not run
 * under *ACCEL (which becomes "tcg" if KVM failed) until the firewall
 * enforces the policy. NETCTL_OK or NETCTL_FAILED. */
int up_once(struct netctl *ctx, const struct up_opts *o, const char **accel);
/* down's work (the caller holds the lock): false if something would not stop. */
bool up_down_all(const struct netctl *ctx);
/* sd_notify: STATUS (and READY=1) to $NOTIFY_SOCKET, if there is one. */
bool up_notify(bool ready, const char *status);
/* up --foreground once up: start again what dies, until a signal (then
 * down) or `netctl down`; give up (down, NETCTL_FAILED) when pieces keep
 * dying. */
int up_supervise(struct netctl *ctx, const struct up_opts *o, const char *accel);
/* No other up --foreground watches this state directory (else a message). */
bool up_unwatched(const struct netctl *ctx);

/* netctl-appliance.c: IMAGES/VM/vmlinuz and initrd.img into KERNEL and
 * INITRD (LEN each), if both are there (else a message). */
bool appliance_images(const char *images, const char *vm, char *kernel, char *initrd, size_t len);
/* Appliance NAME (netvm or firewallvm) started under ACCEL for policy P,
 * unless it runs. */
bool appliance_start(const struct netctl *ctx, const struct up_opts *o, const struct policy *p,
		     const char *accel, const char *name);
/* What netctl made for NAME's QEMU and a stopped one leaves: its sockets. */
bool appliance_socks_remove(const struct netctl *ctx, const char *name);

/* What every command that starts links uses unless told otherwise. */
void up_opts_defaults(struct up_opts *o);
/* Only root starts and stops what runs as the moat users, and only in a
 * state directory no one else may change under it; false after a message. */
bool up_need_root(const struct netctl *ctx, const char *cmd);

/* ---- netctl-links.c ---- */

/* What up was told for app VMs' links, kept for plug (STATE/run/app-links). */
bool app_links_save(const struct netctl *ctx, const struct up_opts *o, gid_t moat);
void app_links_load(const struct netctl *ctx, struct up_opts *o);
/* VM NAME's link (VM NULL: the uplink), as its own user; true if it runs. */
bool link_start(const struct netctl *ctx, const struct up_opts *o, const char *name, const struct vm *vm);
bool link_stop(const struct netctl *ctx, const char *name);
/* The most guest memory (MiB) VM's running link lets its app side map: the
 * --a-mem-max netctl started it with, as netctl recorded it (NAME.mem-max,
 * root's to write). 0 if no link runs or nothing was recorded. */
unsigned long long link_mem_max_mb(const struct netctl *ctx, const char *vm);
/* NAME's link has an older netctl's pidfile and its process is not known. */
bool link_unknown(const struct netctl *ctx, const char *name);

#endif

/* up.h: what netctl-up.c (the appliances, up and down) and netctl-links.c
 * (app VMs' links, vm-args, plug, unplug) share. */
#ifndef MOAT_UP_H
#define MOAT_UP_H

#include <stdbool.h>
#include <sys/types.h>

#include "host/netctl.h"

#define RELEASE_WAIT_MS 10000   /* a guest's PCIe hot-plug takes up to 5 s */
#define MIB             (1024ull * 1024)

struct up_opts {
	const char *images, *accel, *qemu, *link, *sysfs;
	const char *vm_owner;      /* USER[:GROUP] of every app VM's side of its link */
	const char *appliance_dir; /* a stand-in --qemu may write there (confine.h) */
	unsigned vm_memory_max_mb; /* the most guest memory an app VM may share with its link */
	unsigned timeout;
	bool notify;
};

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
/* NAME's link has an older netctl's pidfile and its process is not known. */
bool link_unknown(const struct netctl *ctx, const char *name);

#endif

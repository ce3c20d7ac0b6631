/* netctl-appliance.c: starting an appliance's QEMU (the netvm's, the
 * firewallvm's) as its own user, confined (confine.h), with what netctl
 * opens for it passed as descriptors; and what its stop leaves behind. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "host/confine.h"
#include "host/logkeep.h"
#include "host/netctl.h"
#include "host/netctl-reply.h"
#include "host/priv.h"
#include "host/proc.h"
#include "host/qemu.h"
#include "host/up.h"

#define QEMU_APPLIANCE_NPROC 256   /* processes and threads of an appliance's user */

bool appliance_images(const char *images, const char *vm, char *kernel, char *initrd, size_t len)
{
	if (!netctl_pathf(kernel, len, "%s/%s/vmlinuz", images, vm) || !netctl_pathf(initrd, len, "%s/%s/initrd.img", images, vm))
		return false;
	const char *missing = access(kernel, R_OK) ? kernel : access(initrd, R_OK) ? initrd : NULL;
	if (missing) {
		fprintf(stderr, "netctl: no %s image: %s is missing (build the images with `make images`, "
			"or give --images DIR)\n", vm, missing);
		return false;
	}
	return true;
}

/* A listening unix socket at PATH (a stale socket there is replaced, any
 * other file is not), UID:GID mode MODE before anyone can connect. */
static int listen_at(const char *path, uid_t uid, gid_t gid, mode_t mode)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path) >= (int)sizeof(sa.sun_path)) {
		fprintf(stderr, "netctl: socket path too long: %s\n", path);
		return -1;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			fprintf(stderr, "netctl: %s exists and is not a socket\n", path);
			return -1;
		}
		unlink(path);
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "netctl: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!priv_own(path, uid, gid, mode) || listen(fd, 16) < 0) {
		unlink(path);
		close(fd);
		return -1;
	}
	return fd;
}

/* The tap NAME of this network namespace, opened the way QEMU would. */
static int tap_open(const char *name)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	if (snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name) >= (int)sizeof(ifr.ifr_name)) {
		fprintf(stderr, "netctl: tap name too long: %s\n", name);
		return -1;
	}
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	/* EBUSY: a netvm just stopped (a KVM start given up for TCG) may not
	 * have let go of it yet; a few seconds, then it is someone else's */
	int rc = fd < 0 ? -1 : ioctl(fd, TUNSETIFF, &ifr);
	for (int i = 0; fd >= 0 && rc < 0 && errno == EBUSY && i < 50; i++) {
		proc_sleep_ms(100);
		rc = ioctl(fd, TUNSETIFF, &ifr);
	}
	if (fd < 0 || rc < 0) {
		fprintf(stderr, "netctl: opening the tap %s: %s\n", name, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* An appliance's two control sockets: CONTROL, the read-write channel
 * (root's; the firewall's is --control), and STATUS, the read-only one next
 * to it (root:moat). */
static bool control_paths(const struct netctl *ctx, const char *name, char *control, char *status, size_t len)
{
	if (strcmp(name, "firewallvm") == 0 ? !netctl_pathf(control, len, "%s", ctx->control)
					    : !proc_run_file(ctx, control, len, name, "ctl"))
		return false;
	if (!netctl_status_path(control, status, len)) {
		fprintf(stderr, "netctl: path too long: %s.status\n", control);
		return false;
	}
	return true;
}

/* The user an appliance's QEMU runs as: moat-fw or moat-net, with the group
 * kvm when it uses KVM. */
static bool appliance_user(const char *name, const char *accel, struct priv_id *id)
{
	if (!priv_user(strcmp(name, "firewallvm") == 0 ? PRIV_USER_FW : PRIV_USER_NET, id))
		return false;
	struct group *kvm = strcmp(accel, "kvm") == 0 ? getgrnam("kvm") : NULL;
	if (kvm) {
		id->groups[0] = kvm->gr_gid;
		id->ngroups = 1;
	}
	return true;
}

/* An appliance's QEMU, as its own user under -sandbox: netctl opens what that
 * user may not (the control and QMP sockets, the console, the tap) and
 * passes the descriptors. A VFIO uplink's group device was given to the
 * netvm's user by up. */
bool appliance_start(const struct netctl *ctx, const struct up_opts *o, const struct policy *p,
			    const char *accel, const char *name)
{
	struct priv_id id;
	gid_t moat;
	if (!appliance_user(name, accel, &id) || !priv_group(PRIV_GROUP_READ, &moat))
		return false;
	bool fw = strcmp(name, "firewallvm") == 0;
	/* the host's addresses, also those it gains later (netctl-hostguard.c),
	 * loaded by every up, the netvm running or not: a reload of the host's
	 * own firewall (nft flush ruleset) removes it */
	if (!fw && p->net.uplink == UPLINK_USER &&
	    (!netctl_host_guard(id.uid) || !proc_run_write(ctx, name, "guard", "inet moat_host\n")))
		return false;
	pid_t there = proc_running(ctx, name);
	if (there)
		return there > 0;
	/* the Landlock scope keeps it from connecting to them, nothing from
	 * binding a name first (red team rt13: an X11 display's) */
	if (!fw && p->net.uplink == UPLINK_USER)
		fprintf(stderr, "netctl: warning: with `uplink user` the netvm's QEMU shares the host's network "
				"namespace: a compromised one could take the name of an abstract unix socket (an X "
				"server's) before its owner%s; on a desktop prefer `uplink tap` or `uplink pci`\n",
			confine_scope_supported() ? "" : ", and this kernel (before 6.12) has no Landlock scope to "
							 "keep it from connecting to them");
	char kernel[4096], initrd[4096], qmp[4096], console[4096], control[4096], status[4096];
	if (!appliance_images(o->images, name, kernel, initrd, sizeof(kernel)) ||
	    !proc_run_file(ctx, qmp, sizeof(qmp), name, "qmp") || !proc_run_file(ctx, console, sizeof(console), name, "console") ||
	    !control_paths(ctx, name, control, status, sizeof(control)))
		return false;
	size_t nnics = fw ? p->nvms + 1 : 1;
	struct qemu_nic *nics = calloc(nnics, sizeof(*nics));
	char (*socks)[QEMU_PATH_MAX] = calloc(nnics, QEMU_PATH_MAX);
	bool ok = nics && socks;
	if (ok) {
		nics[0].id = UPLINK;
		nics[0].sock = socks[0];
		memcpy(nics[0].mac, fw ? qemu_uplink_fw_mac : qemu_uplink_net_mac, 6);
		ok = qemu_link_path(socks[0], QEMU_PATH_MAX, ctx->state_dir, UPLINK, fw ? "fw" : "net");
	}
	for (size_t i = 1; ok && i < nnics; i++) {
		const struct vm *v = &p->vms[i - 1];
		nics[i].id = v->name;
		nics[i].sock = socks[i];
		policy_firewall_mac(v, nics[i].mac);
		ok = qemu_link_path(socks[i], QEMU_PATH_MAX, ctx->state_dir, v->name, "fw");
	}
	struct qemu_appliance q = {
		.binary = o->qemu, .name = name, .accel = accel, .kernel = kernel, .initrd = initrd,
		.control = control, .status = status, .qmp = qmp, .console = console, .nics = nics, .nnics = nnics,
		.spare_ports = fw ? QEMU_SPARE_PORTS : 0, .outside = !fw, .uplink = p->net.uplink,
		.uplink_arg = p->net.uplink_arg, .fds = true,
	};
	/* in the order of QEMU_FD_*: control, QMP, console, tap (or none), status */
	int fds[5] = { -1, -1, -1, -1, -1 };
	size_t nfds = 5;
	bool tap = !fw && p->net.uplink == UPLINK_TAP;
	if (ok) {
		/* the read-only commands ask the read-only channels (the group
		 * moat); only root changes anything, and speaks QMP */
		fds[0] = listen_at(control, 0, 0, 0600);
		fds[4] = fds[0] < 0 ? -1 : listen_at(status, 0, moat, 0660);
		fds[1] = fds[4] < 0 ? -1 : listen_at(qmp, 0, 0, 0600);
		/* the guest writes what it likes to its console: through a pipe
		 * to a keeper, which bounds the file */
		fds[2] = fds[1] < 0 ? -1 : logkeep_pipe(console, true, moat, &id);
		if (fds[2] >= 0 && tap)
			fds[3] = tap_open(p->net.uplink_arg);
		ok = fds[2] >= 0 && (!tap || fds[3] >= 0);
	}
	struct qemu_args a;
	qemu_args_init(&a);
	if (ok && !qemu_appliance_args(&a, &q)) {
		fprintf(stderr, "netctl: building %s's command line failed\n", name);
		ok = false;
	}
	/* of the host's files it needs its images and the links' sockets (and
	 * a stand-in QEMU of the tests its directory) */
	char links[4096];
	struct confine_keep keep[3] = { { .path = o->images }, { .path = links } };
	size_t nkeep = 2;
	ok = ok && netctl_pathf(links, sizeof(links), "%s/links", ctx->state_dir);
	if (o->appliance_dir)
		keep[nkeep++] = (struct confine_keep){ .path = o->appliance_dir, .writable = true };
	/* a vhost-user NIC takes a socket and an eventfd per queue and side;
	 * VFIO pins all of the guest's memory */
	struct proc_as as = {
		.id = &id, .log_as = &id, .fds = fds, .nfds = nfds,
		/* threads: QEMU's own few, its vCPU, and a worker pool of
		 * up to 64; each appliance is its own user */
		.limits = { .nofile = 1024 + 32 * (nnics + q.spare_ports), .nproc = QEMU_APPLIANCE_NPROC,
			    .memlock = !fw && p->net.uplink == UPLINK_PCI ? (QEMU_APPLIANCE_MB + 1024) * MIB : 0 },
		/* none of the host's network (its loopback services, abstract
		 * sockets, the LAN) but through its links and descriptors:
		 * only the netvm's user network (slirp) needs the host's */
		.netns = fw || p->net.uplink != UPLINK_USER,
		.confined = true, .files = keep, .nfiles = nkeep,
	};
	ok = ok && proc_spawn(ctx, name, a.v, &as);
	if (ok)
		printf("started %s (%s) as %s\n", name, accel, id.name);
	for (size_t i = 0; i < nfds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	qemu_args_free(&a);
	free(nics);
	free(socks);
	return ok;
}

/* The sockets netctl made for a stopped appliance's QEMU (QEMU did not make
 * them, so it does not remove them): a command that finds none knows at once
 * that nothing answers. */
bool appliance_socks_remove(const struct netctl *ctx, const char *name)
{
	char qmp[4096], control[4096], status[4096];
	if (!proc_run_file(ctx, qmp, sizeof(qmp), name, "qmp") || !control_paths(ctx, name, control, status, sizeof(control)))
		return false;
	const char *paths[] = { qmp, control, status };
	for (size_t i = 0; i < 3; i++) {
		struct stat st;
		if (lstat(paths[i], &st) == 0 && S_ISSOCK(st.st_mode))
			unlink(paths[i]);
	}
	return true;
}


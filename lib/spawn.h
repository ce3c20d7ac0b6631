/* spawn.h: the one way the appliance daemons start a child.
 *
 * A child gets nothing by accident: only file descriptors 0, 1 and 2 cross
 * the exec (the daemon's netlink sockets own the firewall's tables), every
 * signal is back to its default and unblocked (the daemon blocks some for its
 * signalfd and ignores SIGPIPE), and it runs with the credentials asked for
 * here, whatever the daemon holds. */
#ifndef MOAT_SPAWN_H
#define MOAT_SPAWN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct spawn_opts {
	/* Run as UID:GID with no supplementary groups, an empty bounding set
	 * but for CAPS, and no_new_privs. Without it the child keeps the
	 * daemon's credentials. */
	bool set_ids;
	uid_t uid;
	gid_t gid;
	/* With set_ids: capabilities (bits 1 << CAP_*) the child keeps as
	 * ambient capabilities, so they survive the exec. */
	uint64_t caps;
	/* With set_ids: the child is root of a new user namespace that maps
	 * only its 0 to UID:GID (made while root and mapped by the parent: no
	 * unprivileged user namespaces needed, and the namespace belongs to
	 * root, so no other process of UID has power in it). A program that insists on holding
	 * capabilities (dnsmasq 2.90 checks for NET_ADMIN when it serves DHCP)
	 * holds them there, where they give nothing over the network
	 * namespace, its tables or conntrack: those belong to the initial
	 * user namespace. caps must be 0. */
	bool userns;
	/* The child is pid 1 of a new PID namespace: when it exits, however
	 * it exits, the kernel kills everything it started, so no process
	 * of it (a helper, or what a compromised child forks and renames)
	 * outlives it. As pid 1 it gets only the signals it has a handler
	 * for, but SIGKILL from outside: give pdeathsig SIGKILL. */
	bool pidns;
	/* Signal the child gets when the daemon dies (0: none). Set after the
	 * credentials change, which would clear it. */
	int pdeathsig;
	/* > 0: this descriptor (a config file, say) becomes the child's stdin */
	int stdin_fd;
};

/* Start PATH (searched in $PATH when it has no '/') with ARGV as O says (O
 * may be NULL: only the descriptors and signals are reset). ARGV[0] is free:
 * a name that tells whose child it is. Returns the child's pid once the exec
 * succeeded, or -1 with errno (a failed exec or credential change included). */
pid_t spawn_child(const char *path, char *const argv[], const struct spawn_opts *o);

/* Close the descriptors from LO to HI (inclusive; ~0u: all above LO), also
 * on kernels without close_range(2). 0, or -1 with errno. */
int spawn_close_range(unsigned lo, unsigned hi);

#endif

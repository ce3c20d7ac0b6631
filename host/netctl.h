/* netctl.h: what every netctl command gets, and the command table entry. */
#ifndef MOAT_NETCTL_H
#define MOAT_NETCTL_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include "policy/policy.h"

#define NETCTL_DEFAULT_CONF    "/etc/moat/moat.conf"
#define NETCTL_DEFAULT_CONTROL "/run/moat/firewall.ctl"
#define NETCTL_DEFAULT_STATE   "/var/lib/moat"

struct netctl {
	const char *conf;
	const char *control;
	const char *state_dir;
	time_t now;
	long call_ms;           /* a firewall call's deadline; 0: the default */
};

/* A command: its function gets argv from the command's name on. */
struct command {
	const char *name;
	int (*fn)(struct netctl *ctx, int argc, char **argv);
	const char *args;
	const char *help;
};

/* Every command, in the order `netctl help` lists them (netctl.c): dispatch,
 * usage and help come from this one table. */
extern const struct command netctl_commands[];
/* The command called NAME, or NULL. */
const struct command *netctl_command(const char *name);

/* Each netctl-*.c defines the commands of its job. */
int up_main(struct netctl *ctx, int argc, char **argv);
int down_main(struct netctl *ctx, int argc, char **argv);
int appliances_main(struct netctl *ctx, int argc, char **argv);
int vm_args_main(struct netctl *ctx, int argc, char **argv);
int plug_main(struct netctl *ctx, int argc, char **argv);
int unplug_main(struct netctl *ctx, int argc, char **argv);
int check_main(struct netctl *ctx, int argc, char **argv);
int show_main(struct netctl *ctx, int argc, char **argv);
int apply_main(struct netctl *ctx, int argc, char **argv);
int status_main(struct netctl *ctx, int argc, char **argv);
int diff_main(struct netctl *ctx, int argc, char **argv);
int generations_main(struct netctl *ctx, int argc, char **argv);
int rollback_main(struct netctl *ctx, int argc, char **argv);
int stats_main(struct netctl *ctx, int argc, char **argv);
int log_main(struct netctl *ctx, int argc, char **argv);
int allow_main(struct netctl *ctx, int argc, char **argv);
int deny_main(struct netctl *ctx, int argc, char **argv);
int add_vm_main(struct netctl *ctx, int argc, char **argv);
int remove_vm_main(struct netctl *ctx, int argc, char **argv);
int edit_main(struct netctl *ctx, int argc, char **argv);
int libvirt_main(struct netctl *ctx, int argc, char **argv);
int help_main(struct netctl *ctx, int argc, char **argv);

/* Exit codes of every command. */
enum { NETCTL_OK = 0, NETCTL_FAILED = 1, NETCTL_USAGE = 2 };

/* A path from FMT... into BUF; false (and a message) if it does not fit. */
bool netctl_pathf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* S as a JSON string, quotes and escapes included (every --json listing). */
void netctl_json_str(FILE *out, const char *s);

/* netctl status's per-VM lines: each link's moat-link counters and, when the
 * firewall answers, what it counted for each VM (netctl-status.c). */
void netctl_status_vms(const struct netctl *ctx, bool firewall_up);
/* netctl status: the netvm as moat-netd reports it (nothing when not up). */
void netctl_status_netvm(const struct netctl *ctx);

/* moat-netd's HOSTADDRS text: the host's own addresses (and, for UPLINK,
 * QEMU's user network), never forwarded to (netctl-hostaddrs.c). false and
 * a message when they cannot all be read or sent. */
bool netctl_host_addrs(enum uplink_kind uplink, char *buf, size_t len);

/* With `uplink user`: table inet moat_host, which rejects what sockets of
 * NETVM_UID (the netvm's QEMU) send to any of the host's own addresses, now
 * or later, but DNS to its resolvers (netctl-hostguard.c). Loaded before the
 * netvm starts; removed by netctl down. false and a message on failure. */
/* A nameserver of /etc/resolv.conf. */
struct netctl_resolver {
	int family;
	uint8_t addr[16];
};
size_t netctl_host_resolvers(struct netctl_resolver *out, size_t max);
struct ruleset;
/* Table inet moat_host for the netvm's user NETVM_UID, DNS to RES allowed
 * (netctl-hostguard.c); free with ruleset_free. */
struct ruleset *netctl_host_guard_ruleset(uid_t netvm_uid, const struct netctl_resolver *res, size_t nres);
bool netctl_host_guard(uid_t netvm_uid);
bool netctl_host_guard_remove(void);

/* Read and check FILE, and that every VM's owner is a user (and group) of
 * this host; print every diagnostic to stderr. NULL on error. */
struct policy *netctl_load_policy(const struct netctl *ctx, const char *file);
/* policy_host_check: every VM's owner is a user (and group) of this host. */
void netctl_owners_check(const struct policy *p, struct diags *d);
/* OWNER "USER[:GROUP]" (names or ids) as ids, *GID 0 without a group (as
 * moat-link leaves it); false if one does not exist here. */
bool netctl_owner_ids(const char *owner, uid_t *uid, gid_t *gid, bool *has_group);

#endif

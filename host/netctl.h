/* netctl.h: what every netctl command gets, and the command table entry. */
#ifndef MOAT_NETCTL_H
#define MOAT_NETCTL_H

#include <stdbool.h>
#include <time.h>

#include "policy.h"

#define NETCTL_DEFAULT_CONF    "/etc/moat/moat.conf"
#define NETCTL_DEFAULT_CONTROL "/run/moat/firewall.ctl"
#define NETCTL_DEFAULT_STATE   "/var/lib/moat"

struct netctl {
	const char *conf;
	const char *control;
	const char *state_dir;
	time_t now;
};

struct command {
	const char *name;
	int (*fn)(struct netctl *ctx, int argc, char **argv);
	const char *args;
	const char *help;
};

/* Exit codes of every command. */
enum { NETCTL_OK = 0, NETCTL_FAILED = 1, NETCTL_USAGE = 2 };

int check_main(struct netctl *ctx, int argc, char **argv);
int show_main(struct netctl *ctx, int argc, char **argv);
int help_main(struct netctl *ctx, int argc, char **argv);

/* Read and check FILE; print every diagnostic to stderr. NULL on error. */
struct policy *netctl_load_policy(const struct netctl *ctx, const char *file);

#endif

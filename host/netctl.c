/* netctl: the one command a user types. One table gives dispatch, usage and
 * `netctl help COMMAND`. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "netctl.h"
#include "netctl-reply.h"
#include "priv.h"

NETCTL_COMMAND(help_main, "help", "[COMMAND]", "Say what a command does.", 99);

extern const struct command __start_netctl_cmds[], __stop_netctl_cmds[];

bool netctl_pathf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= len) {
		fprintf(stderr, "netctl: path too long: %s...\n", buf);
		return false;
	}
	return true;
}

static const struct command *find_command(const char *name)
{
	for (const struct command *c = __start_netctl_cmds; c < __stop_netctl_cmds; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: netctl [-c FILE] [--control PATH] [--state-dir DIR] COMMAND [ARGS]\n\n");
	/* in rank order: the section holds them in link order */
	for (int rank = 0; rank < 100; rank++)
		for (const struct command *c = __start_netctl_cmds; c < __stop_netctl_cmds; c++)
			if (c->rank == rank)
				fprintf(out, "  %-12s %-22s %s\n", c->name, c->args, c->help);
	fprintf(out, "\n  -c FILE          policy file (default $MOAT_CONF or %s)\n"
		"  --control PATH   firewall control channel, root's (default $MOAT_CONTROL or %s);\n"
		"                   the read-only one is next to it (NAME.ctl -> NAME.status)\n"
		"  --state-dir DIR  generations and state (default $MOAT_STATE_DIR or %s)\n",
		NETCTL_DEFAULT_CONF, NETCTL_DEFAULT_CONTROL, NETCTL_DEFAULT_STATE);
}

int help_main(struct netctl *ctx, int argc, char **argv)
{
	if (argc < 2) {
		usage(stdout);
		return 0;
	}
	const struct command *c = find_command(argv[1]);
	if (!c) {
		fprintf(stderr, "netctl: no command '%s'\n", argv[1]);
		return 2;
	}
	printf("netctl %s %s\n    %s\n", c->name, c->args, c->help);
	return 0;
}

void netctl_json_str(FILE *out, const char *s)
{
	ctl_fput_json(out, s);   /* no control character, even decoded */
}

/* A command failed for a user who is not root: if what the read-only
 * commands read is closed to them, say which and what would open it (the
 * firewall's read-write socket is root's: not theirs to reach). */
static void explain_failure(const struct netctl *ctx)
{
	char run[4096], ro[4096];
	snprintf(run, sizeof(run), "%s/run", ctx->state_dir);
	const char *paths[] = { ctx->conf, ctx->state_dir, run,
				netctl_channel(ctx->control, CTL_REQ_STATUS, ro, sizeof(ro)) };
	int modes[] = { R_OK, R_OK | X_OK, R_OK | X_OK, R_OK | W_OK };
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (access(paths[i], modes[i]) < 0 && priv_explain(paths[i], errno))
			return;
}

static const char *env_or(const char *name, const char *def)
{
	const char *v = getenv(name);
	return v && *v ? v : def;
}

int main(int argc, char **argv)
{
	/* nothing netctl makes is ever, even for a moment, open to more than
	 * the mode it then gives it (generations, pidfiles, logs, sockets) */
	umask(077);
	struct netctl ctx = {
		.conf = env_or("MOAT_CONF", NETCTL_DEFAULT_CONF),
		.control = env_or("MOAT_CONTROL", NETCTL_DEFAULT_CONTROL),
		.state_dir = env_or("MOAT_STATE_DIR", NETCTL_DEFAULT_STATE),
		.now = time(NULL),
	};
	static const struct option opts[] = {
		{ "control", required_argument, NULL, 'C' },
		{ "state-dir", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;
	/* '+': options after the command belong to the command */
	while ((c = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': ctx.conf = optarg; break;
		case 'C': ctx.control = optarg; break;
		case 'S': ctx.state_dir = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	const struct command *cmd = find_command(argv[optind]);
	if (!cmd) {
		fprintf(stderr, "netctl: unknown command '%s' (netctl help)\n", argv[optind]);
		return 2;
	}
	int cargc = argc - optind;
	char **cargv = argv + optind;
	optind = 0;   /* the command runs getopt afresh on its own arguments */
	int rc = cmd->fn(&ctx, cargc, cargv);
	if (rc == NETCTL_FAILED && geteuid() != 0)
		explain_failure(&ctx);
	return rc;
}

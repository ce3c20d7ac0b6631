/* netctl: the one command a user types. One table gives dispatch, usage and
 * `netctl help COMMAND`. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "netctl.h"

static const struct command commands[] = {
	{ "check", check_main, "[FILE]",
	  "Compile the policy file, print every error with file:line:col, change nothing." },
	{ "show", show_main, "[VM] [--nft]",
	  "The policy in words (it parses back as moat.conf); --nft: the exact nftables ruleset." },
	{ "help", help_main, "[COMMAND]", "Say what a command does." },
};

static void usage(FILE *out)
{
	fprintf(out, "usage: netctl [-c FILE] [--control PATH] [--state-dir DIR] COMMAND [ARGS]\n\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-8s %-16s %s\n", commands[i].name, commands[i].args, commands[i].help);
	fprintf(out, "\n  -c FILE          policy file (default $MOAT_CONF or %s)\n"
		"  --control PATH   firewall control channel (default $MOAT_CONTROL or %s)\n"
		"  --state-dir DIR  generations and state (default $MOAT_STATE_DIR or %s)\n",
		NETCTL_DEFAULT_CONF, NETCTL_DEFAULT_CONTROL, NETCTL_DEFAULT_STATE);
}

int help_main(struct netctl *ctx, int argc, char **argv)
{
	if (argc < 2) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, argv[1]) == 0) {
			printf("netctl %s %s\n    %s\n", commands[i].name, commands[i].args,
			       commands[i].help);
			return 0;
		}
	fprintf(stderr, "netctl: no command '%s'\n", argv[1]);
	return 2;
}

static const char *env_or(const char *name, const char *def)
{
	const char *v = getenv(name);
	return v && *v ? v : def;
}

int main(int argc, char **argv)
{
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
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, argv[optind]) == 0) {
			int cargc = argc - optind;
			char **cargv = argv + optind;
			optind = 0;   /* the command runs getopt afresh on its own arguments */
			return commands[i].fn(&ctx, cargc, cargv);
		}
	fprintf(stderr, "netctl: unknown command '%s' (netctl help)\n", argv[optind]);
	return 2;
}

/* netctl: the one command a user types. One table (netctl_commands) gives
 * dispatch, usage and `netctl help COMMAND`. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/ctl.h"
#include "host/netctl.h"
#include "host/netctl-reply.h"
#include "host/priv.h"

const struct command netctl_commands[] = {
	{ "up", up_main, "[--images DIR] [--accel kvm|tcg] [--vm-owner U[:G]] [--notify] [--foreground]",
	  "Start the links, the netvm and the firewallvm, apply the policy; return once it is loaded." },
	{ "down", down_main, "",
	  "Stop the app VMs' links, the firewallvm, the netvm and the uplink link." },
	{ "appliances", appliances_main, "[--json]",
	  "Which appliances and links are running." },
	{ "vm-args", vm_args_main, "VM [--memory SIZE]",
	  "The QEMU arguments that attach app VM VM to its link." },
	{ "libvirt", libvirt_main, "xml VM | attach|detach [-c URI] DOMAIN VM | hook ...",
	  "libvirt's XML for VM's link; put it into (take it out of) a defined domain; the libvirt hook." },
	{ "plug", plug_main, "[--if-running] VM",
	  "Start VM's link and hot-plug it into the running firewallvm." },
	{ "unplug", unplug_main, "[--if-running] VM",
	  "Unplug VM's link from the firewallvm and stop the link." },

	{ "check", check_main, "[FILE]",
	  "Compile the policy file, print every error with file:line:col, change nothing." },
	{ "show", show_main, "[VM] [--nft]",
	  "The policy in words (it parses back as moat.conf); --nft: the exact nftables ruleset." },

	{ "apply", apply_main, "",
	  "Check the policy file, then load it into the firewall in one transaction; records a new generation." },
	{ "status", status_main, "[--json]",
	  "The policy generation the firewall has loaded, and the last one recorded here." },
	{ "diff", diff_main, "",
	  "What apply would change against what the firewall has loaded, in words." },
	{ "generations", generations_main, "[--json]",
	  "Applied generations: number, time, who, summary." },
	{ "rollback", rollback_main, "[N]",
	  "Apply generation N's file again as a new generation (default: the one before the last)." },

	{ "stats", stats_main, "[--json] [VM]",
	  "Per-rule packet and byte counters, default-deny and spoofing drops." },
	{ "log", log_main, "[-f] [--json] [VM]",
	  "Denied (and log-marked) packets: time, VM, proto, src, dst, rule; -f follows." },

	{ "allow", allow_main, "VM RULE... [--for DUR]",
	  "Append 'allow RULE' to VM's block (comments and layout kept), check, apply; --for 10m|2h|1d adds until." },
	{ "deny", deny_main, "VM RULE... [--for DUR]",
	  "Append 'deny RULE' to VM's block, check, apply; --for adds until." },
	{ "add-vm", add_vm_main, "NAME [--address A]",
	  "Append a block for a new VM with the next free address (or A), check, apply." },
	{ "remove-vm", remove_vm_main, "NAME",
	  "Remove VM's block (only the block: comments above it stay), check, apply." },
	{ "edit", edit_main, "",
	  "Open $EDITOR (default vi) on a copy; on save check it (re-edit on error), replace the file, apply." },

	{ "help", help_main, "[COMMAND]",
	  "Say what a command does." },
	{ 0 },
};

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

const struct command *netctl_command(const char *name)
{
	for (const struct command *c = netctl_commands; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: netctl [-c FILE] [--control PATH] [--state-dir DIR] COMMAND [ARGS]\n\n");
	for (const struct command *c = netctl_commands; c->name; c++)
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
	const struct command *c = netctl_command(argv[1]);
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
	const struct command *cmd = netctl_command(argv[optind]);
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

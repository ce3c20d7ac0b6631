/* netctl check / show: the policy file, read and explained, nothing sent. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netctl.h"
#include "priv.h"
#include "ruleset.h"

struct policy *netctl_load_policy(const struct netctl *ctx, const char *file)
{
	struct policy *p = policy_load_file(file, ctx->now, stderr);
	if (!p && access(file, R_OK) < 0)
		priv_explain(file, errno);
	return p;
}

static size_t count_rules(const struct policy *p)
{
	size_t n = 0;
	for (size_t i = 0; i < p->nvms; i++)
		n += p->vms[i].nrules;
	return n;
}

NETCTL_COMMAND(check_main, "check", "[FILE]",
	       "Compile the policy file, print every error with file:line:col, change nothing.", 10);
NETCTL_COMMAND(show_main, "show", "[VM] [--nft]",
	       "The policy in words (it parses back as moat.conf); --nft: the exact nftables ruleset.", 11);

int check_main(struct netctl *ctx, int argc, char **argv)
{
	if (argc > 2) {
		fprintf(stderr, "usage: netctl check [FILE]\n");
		return NETCTL_USAGE;
	}
	const char *file = argc == 2 ? argv[1] : ctx->conf;
	struct policy *p = netctl_load_policy(ctx, file);
	if (!p)
		return NETCTL_FAILED;
	printf("%s: ok, %zu VM%s, %zu rule%s\n", file, p->nvms, p->nvms == 1 ? "" : "s",
	       count_rules(p), count_rules(p) == 1 ? "" : "s");
	policy_free(p);
	return NETCTL_OK;
}

int show_main(struct netctl *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "nft", no_argument, NULL, 'n' }, { 0 } };
	bool nft = false;
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'n') {
			fprintf(stderr, "usage: netctl show [VM] [--nft]\n");
			return NETCTL_USAGE;
		}
		nft = true;
	}
	if (argc - optind > 1) {
		fprintf(stderr, "usage: netctl show [VM] [--nft]\n");
		return NETCTL_USAGE;
	}
	const char *vm = optind < argc ? argv[optind] : NULL;
	struct policy *p = netctl_load_policy(ctx, ctx->conf);
	if (!p)
		return NETCTL_FAILED;
	int rc = NETCTL_OK;
	if (vm && policy_find_vm(p, vm) < 0) {
		fprintf(stderr, "netctl: no VM '%s' in %s\n", vm, ctx->conf);
		rc = NETCTL_FAILED;
	} else if (nft) {
		struct ruleset *rs = ruleset_compile(p, NULL, 1, NULL);
		if (!rs) {
			fprintf(stderr, "netctl: out of memory\n");
			rc = NETCTL_FAILED;
		} else {
			ruleset_render(stdout, rs, vm ? policy_find_vm(p, vm) : -1);
			ruleset_free(rs);
		}
	} else {
		policy_print(stdout, p, vm);
	}
	policy_free(p);
	return rc;
}

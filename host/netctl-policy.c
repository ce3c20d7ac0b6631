/* netctl check / show: the policy file, read and explained, nothing sent. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host/netctl.h"
#include "host/priv.h"
#include "policy/ruleset.h"

/* NAME, or else the number NAME is, as moat-link reads --a-owner. */
static bool owner_id(const char *name, bool group, unsigned *id)
{
	struct passwd *pw = group ? NULL : getpwnam(name);
	struct group *gr = group ? getgrnam(name) : NULL;
	if (pw || gr) {
		*id = pw ? pw->pw_uid : gr->gr_gid;
		return true;
	}
	char *end;
	errno = 0;
	unsigned long v = strtoul(name, &end, 10);
	if (!*name || *end || errno || v >= (unsigned)-1)
		return false;
	*id = (unsigned)v;
	return group ? getgrgid((gid_t)v) != NULL : getpwuid((uid_t)v) != NULL;
}

bool netctl_owner_ids(const char *owner, uid_t *uid, gid_t *gid, bool *has_group)
{
	char user[256];
	unsigned u, g = 0;
	if (snprintf(user, sizeof(user), "%s", owner) >= (int)sizeof(user))
		return false;
	char *colon = strchr(user, ':');
	if (colon)
		*colon++ = 0;
	if (!owner_id(user, false, &u) || (colon && !owner_id(colon, true, &g)))
		return false;
	*uid = u;
	*gid = g;
	*has_group = colon != NULL;
	return true;
}

/* Each VM's owner is a user (and group) of this host. */
void netctl_owners_check(const struct policy *p, struct diags *d)
{
	for (size_t i = 0; i < p->nvms; i++) {
		const struct vm *v = &p->vms[i];
		unsigned id;
		if (!v->has_owner)
			continue;
		struct src_loc loc = v->owner_loc;
		loc.len = (int)strlen(v->owner_user);
		if (!owner_id(v->owner_user, false, &id))
			diag_error(d, loc, "no user '%s' on this host", v->owner_user);
		loc.col += loc.len + 1;
		loc.len = (int)strlen(v->owner_group);
		if (v->owner_group[0] && !owner_id(v->owner_group, true, &id))
			diag_error(d, loc, "no group '%s' on this host", v->owner_group);
	}
}

struct policy *netctl_load_policy(const struct netctl *ctx, const char *file)
{
	struct policy *p = policy_load_file_host(file, ctx->now, stderr, netctl_owners_check);
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

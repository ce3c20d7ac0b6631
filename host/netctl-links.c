/* netctl vm-args / plug / unplug and the app VMs' links up starts: one
 * moat-link per VM, its app side owned by the VM's `owner` (or up's
 * --vm-owner), its firewall side by moat-fw, started through netctl-proc.c. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/netctl.h"
#include "host/priv.h"
#include "host/proc.h"
#include "host/qemu.h"
#include "host/qmp.h"
#include "lib/spawn.h"
#include "lib/stage.h"
#include "host/up.h"

/* What up was told for app VMs' links, STATE/run/app-links, so that plug
 * (add-vm) starts a link the same way: "owner USER[:GROUP]" and
 * "memory-max-mb N" lines. */
#define APP_LINKS "app-links"

/* root:MOAT 0640, given before it is written */
static bool links_own(int fd, void *arg)
{
	return fchown(fd, 0, *(const gid_t *)arg) == 0 && fchmod(fd, 0640) == 0;
}

bool app_links_save(const struct netctl *ctx, const struct up_opts *o, gid_t moat)
{
	char path[4096];
	if (!netctl_pathf(path, sizeof(path), "%s/run/" APP_LINKS, ctx->state_dir))
		return false;
	int err = stage_printf(path, &(struct stage_how){ .mode = 0600, .own = links_own, .own_arg = &moat },
			       "owner %s\nmemory-max-mb %u\n", o->vm_owner, o->vm_memory_max_mb);
	if (err)
		fprintf(stderr, "netctl: writing %s: %s\n", path, strerror(err));
	return !err;
}

/* What app_links_save wrote, into O, if up wrote it. */
void app_links_load(const struct netctl *ctx, struct up_opts *o)
{
	static char owner[256];
	char path[4096], line[300];
	if (!netctl_pathf(path, sizeof(path), "%s/run/" APP_LINKS, ctx->state_dir))
		return;
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	unsigned mb;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "owner %255[A-Za-z0-9_.:-]", owner) == 1)
			o->vm_owner = owner;
		else if (sscanf(line, "memory-max-mb %u", &mb) == 1 && mb >= 64)
			o->vm_memory_max_mb = mb;
	}
	fclose(f);
}

/* ---- links ---- */

static const char *link_binary(const struct up_opts *o)
{
	static char sibling[4200];
	if (o->link)
		return o->link;
	const char *env = getenv("MOAT_LINK");
	if (env && *env)
		return env;
	/* next to netctl (build/, or PREFIX/bin), else from PATH */
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = 0;
		char *slash = strrchr(self, '/');
		if (slash) {
			*slash = 0;
			if (snprintf(sibling, sizeof(sibling), "%s/moat-link", self) < (int)sizeof(sibling) &&
			    access(sibling, X_OK) == 0)
				return sibling;
		}
	}
	return "moat-link";
}


/* Who may connect to VM's side of its link: its `owner` in moat.conf, else
 * what up was told for every app VM (--vm-owner, root:moat-vm). */
static const char *link_owner(const struct up_opts *o, const struct vm *vm, char *buf, size_t len)
{
	if (!vm->has_owner)
		return o->vm_owner;
	snprintf(buf, len, "%s%s%s", vm->owner_user, vm->owner_group[0] ? ":" : "", vm->owner_group);
	return buf;
}

/* OWNER (USER[:GROUP], as moat-link reads it: a name, else a number; no
 * GROUP: USER's own) as "UID:GID" into BUF: what moat-link is given and
 * netctl records, so that a user deleted and made again with another uid
 * is another owner. false (and a message) for no such user or group. */
static bool owner_ids(const char *owner, char *buf, size_t len)
{
	char user[MOAT_OWNER_MAX + 1];
	const char *colon = strchr(owner, ':');
	size_t n = colon ? (size_t)(colon - owner) : strlen(owner);
	if (n >= sizeof(user))
		goto bad;
	memcpy(user, owner, n);
	user[n] = 0;
	struct passwd *pw = getpwnam(user);
	char *end;
	unsigned long uid = pw ? pw->pw_uid : strtoul(user, &end, 10), gid;
	if (!pw && (!*user || *end || uid >= (uid_t)-1))
		goto bad;
	if (colon) {
		struct group *gr = getgrnam(colon + 1);
		gid = gr ? gr->gr_gid : strtoul(colon + 1, &end, 10);
		if (!gr && (!colon[1] || *end || gid >= (gid_t)-1))
			goto bad;
	} else {
		if (!pw)
			pw = getpwuid((uid_t)uid);
		gid = pw ? pw->pw_gid : uid;
	}
	return snprintf(buf, len, "%lu:%lu", uid, gid) < (int)len;
bad:
	fprintf(stderr, "netctl: a link's owner: no such user or group in '%s'\n", owner);
	return false;
}

/* Whether link LNAME, already running, was started for OWNER (netctl's
 * record, run/LNAME.owner). moat-link lets no one but its side's VMM be
 * the frontend, and it knows that VMM from its arguments: an owner changed
 * in moat.conf takes a new link, which also hangs up whoever holds the side
 * (a frontend that is not the new owner would keep it). */
static bool link_owner_same(const struct netctl *ctx, const char *lname, const char *owner)
{
	char path[4096], had[2 * MOAT_OWNER_MAX + 4] = "";
	if (!proc_run_file(ctx, path, sizeof(path), lname, "owner"))
		return false;
	FILE *f = fopen(path, "re");
	if (f) {
		if (!fgets(had, sizeof(had), f))
			had[0] = 0;
		fclose(f);
	}
	had[strcspn(had, "\n")] = 0;
	return strcmp(had, owner) == 0;
}

/* Link NAME between VM's side a (or the netvm's for the uplink, VM NULL)
 * and the firewall's side b. moat-link makes its sockets as root, root's
 * with each side's VMM's group, 0660, lets no one else be a side's frontend,
 * and becomes PRIV_USER_LINK before it serves; its stats socket is the moat
 * group's. Each side maps no more guest memory than its VM has. */
bool link_start(const struct netctl *ctx, const struct up_opts *o, const char *name, const struct vm *vm)
{
	char a[QEMU_PATH_MAX], b[QEMU_PATH_MAX], stats[4096], lname[64];
	char a_max[32], b_max[32], owner_buf[2 * MOAT_OWNER_MAX + 2], owner[64];
	bool uplink = vm == NULL;
	const char *who = uplink ? PRIV_USER_NET ":" PRIV_USER_NET : link_owner(o, vm, owner_buf, sizeof(owner_buf));
	gid_t moat;
	if (!owner_ids(who, owner, sizeof(owner)) ||
	    !netctl_pathf(lname, sizeof(lname), "%s.link", name) || !priv_group(PRIV_GROUP_READ, &moat) ||
	    !qemu_link_path(a, sizeof(a), ctx->state_dir, name, uplink ? "net" : "app"))
		return false;
	pid_t there = proc_running(ctx, lname);
	if (there < 0)
		return false;
	if (there > 0 && (uplink || link_owner_same(ctx, lname, owner)))
		return true;
	if (there > 0) {
		/* both QEMUs reconnect to the new link by themselves */
		printf("restarting link %s: its VM's owner is now %s (%s)\n", name, who, owner);
		if (!proc_stop(ctx, lname, "link"))
			return false;
	}
	if (!qemu_link_path(b, sizeof(b), ctx->state_dir, name, "fw") ||
	    !proc_run_file(ctx, stats, sizeof(stats), lname, "stats"))
		return false;
	if (strlen(stats) >= QEMU_PATH_MAX) {
		fprintf(stderr, "netctl: stats socket path too long: %s\n", stats);
		return false;
	}
	unlink(stats);
	snprintf(a_max, sizeof(a_max), "%llu", (uplink ? QEMU_APPLIANCE_MB : o->vm_memory_max_mb) * MIB);
	snprintf(b_max, sizeof(b_max), "%llu", QEMU_APPLIANCE_MB * MIB);
	char *argv[] = { (char *)link_binary(o), "--name", lname, "--a", a, "--b", b, "--stats", stats,
			 "--user", PRIV_USER_LINK,
			 "--a-owner", (char *)owner,
			 "--a-mem-max", a_max,
			 "--b-owner", PRIV_USER_FW ":" PRIV_USER_FW, "--b-mem-max", b_max, NULL };
	/* root until it has made, given away and bound its sockets, and then
	 * dropped to PRIV_USER_LINK: no capability beyond what that takes (it
	 * sets its own limits) */
	static const int keep[] = { CAP_CHOWN, CAP_FOWNER, CAP_SETGID, CAP_SETUID, CAP_SETPCAP };
	struct priv_id link_id;
	if (!priv_user(PRIV_USER_LINK, &link_id))
		return false;
	struct proc_as as = { .keep = keep, .nkeep = sizeof(keep) / sizeof(keep[0]), .log_as = &link_id };
	if (!proc_spawn(ctx, lname, argv, &as))
		return false;
	/* what vm-args tells a VMM, from netctl's state: the link's own
	 * /proc/PID/cmdline is its memory, which it may rewrite */
	if (!proc_run_write(ctx, lname, "mem-max", "%u\n", uplink ? QEMU_APPLIANCE_MB : o->vm_memory_max_mb) ||
	    !proc_run_write(ctx, lname, "owner", "%s\n", owner) || !proc_run_files_own(ctx, lname, moat)) {
		proc_stop(ctx, lname, "link");
		return false;
	}
	/* the stats socket is the last thing it creates before serving */
	for (int i = 0; i < 100; i++) {
		struct stat st;
		if (stat(stats, &st) == 0 && S_ISSOCK(st.st_mode)) {
			if (!priv_own(stats, 0, moat, 0660))
				break;
			printf("started link %s\n", name);
			return true;
		}
		if (proc_running(ctx, lname) <= 0)
			break;
		proc_sleep_ms(50);
	}
	fprintf(stderr, "netctl: link %s did not come up (see %s/run/%s.log)\n", name, ctx->state_dir, lname);
	proc_stop(ctx, lname, "link");
	return false;
}

/* LINK's pidfile is an older netctl's, its process not known (proc.h). */
bool link_unknown(const struct netctl *ctx, const char *name)
{
	char lname[64];
	return netctl_pathf(lname, sizeof(lname), "%s.link", name) && proc_running(ctx, lname) < 0;
}

bool link_stop(const struct netctl *ctx, const char *name)
{
	char lname[64];
	return netctl_pathf(lname, sizeof(lname), "%s.link", name) && proc_stop(ctx, lname, "link");
}

unsigned long long link_mem_max_mb(const struct netctl *ctx, const char *vm)
{
	char lname[64], path[4096];
	unsigned long long mb = 0;
	if (snprintf(lname, sizeof(lname), "%s.link", vm) >= (int)sizeof(lname) || proc_running(ctx, lname) <= 0 ||
	    !proc_run_file(ctx, path, sizeof(path), lname, "mem-max"))
		return 0;
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	if (fscanf(f, "%llu", &mb) != 1)
		mb = 0;
	fclose(f);
	return mb;
}

int vm_args_main(struct netctl *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "memory", required_argument, NULL, 'm' }, { 0 } };
	unsigned mb = QEMU_APP_DEFAULT_MB;
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'm' || !qemu_parse_memory(optarg, &mb)) {
			if (c == 'm')
				fprintf(stderr, "netctl vm-args: --memory wants a size like 1024M or 2G, not '%s'\n", optarg);
			else
				fprintf(stderr, "usage: netctl vm-args VM [--memory SIZE]\n");
			return NETCTL_USAGE;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "usage: netctl vm-args VM [--memory SIZE]\n");
		return NETCTL_USAGE;
	}
	struct policy *p = netctl_load_policy(ctx, ctx->conf);
	if (!p)
		return NETCTL_FAILED;
	int rc = NETCTL_FAILED, i = policy_find_vm(p, argv[optind]);
	struct qemu_args a;
	qemu_args_init(&a);
	unsigned long long max = i < 0 ? 0 : link_mem_max_mb(ctx, argv[optind]);
	if (i < 0)
		fprintf(stderr, "netctl vm-args: no VM '%s' in %s\n", argv[optind], ctx->conf);
	else if (max && mb > max)
		fprintf(stderr, "netctl vm-args: %s's link maps at most %llu MiB of the VM's memory (netctl up "
			"--vm-memory-max): it would refuse a VM of %u MiB\n", argv[optind], max, mb);
	else if (qemu_app_args(&a, ctx->state_dir, &p->vms[i], mb)) {
		for (size_t k = 0; k < a.n; k++)
			printf("%s%s", k ? " " : "", a.v[k]);
		printf("\n");
		rc = NETCTL_OK;
	}
	qemu_args_free(&a);
	policy_free(p);
	return rc;
}

/* --if-running: nothing to do (and no error) when no firewallvm runs; what
 * add-vm and remove-vm ask for after their apply. */
static int plug_common(struct netctl *ctx, int argc, char **argv, bool plug)
{
	bool if_running = argc == 3 && strcmp(argv[1], "--if-running") == 0;
	if (if_running) {
		argv[1] = argv[2];
		argc = 2;
		if (proc_running(ctx, "firewallvm") == 0)
			return NETCTL_OK;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: netctl %s [--if-running] VM\n", plug ? "plug" : "unplug");
		return NETCTL_USAGE;
	}
	if (!up_need_root(ctx, argv[0]))
		return NETCTL_FAILED;
	struct policy *p = netctl_load_policy(ctx, ctx->conf);
	if (!p)
		return NETCTL_FAILED;
	if (!proc_lock(ctx)) {
		policy_free(p);
		return NETCTL_FAILED;
	}
	int rc = NETCTL_FAILED, i = policy_find_vm(p, argv[1]);
	char qmp_path[4096], sock[QEMU_PATH_MAX];
	struct qmp q = { .fd = -1 };
	struct up_opts o;
	up_opts_defaults(&o);
	app_links_load(ctx, &o);
	if (plug && i < 0) {
		fprintf(stderr, "netctl plug: no VM '%s' in %s\n", argv[1], ctx->conf);
		goto out;
	}
	if (proc_running(ctx, "firewallvm") <= 0) {
		fprintf(stderr, "netctl %s: the firewallvm is not running (netctl up)\n", argv[0]);
		goto out;
	}
	if (!proc_run_file(ctx, qmp_path, sizeof(qmp_path), "firewallvm", "qmp") || !qmp_connect(&q, qmp_path, 10000))
		goto out;
	if (plug) {
		uint8_t mac[6];
		policy_firewall_mac(&p->vms[i], mac);
		if (!link_start(ctx, &o, argv[1], &p->vms[i]) ||
		    !qemu_link_path(sock, sizeof(sock), ctx->state_dir, argv[1], "fw") ||
		    !qmp_link_plug(&q, argv[1], sock, mac, (unsigned)(p->nvms + 1 + QEMU_SPARE_PORTS)))
			goto out;
		printf("plugged %s's link into the firewallvm\n", argv[1]);
	} else {
		int r = qmp_link_unplug(&q, argv[1], RELEASE_WAIT_MS);
		if (r < 0 || !link_stop(ctx, argv[1]))
			goto out;
		if (r)
			printf("unplugged %s's link\n", argv[1]);
		else
			printf("stopped %s's link; the firewallvm has not released its NIC yet (it goes when the "
			       "guest lets it go)\n", argv[1]);
	}
	rc = NETCTL_OK;
out:
	proc_unlock();
	qmp_close(&q);
	policy_free(p);
	return rc;
}

int plug_main(struct netctl *ctx, int argc, char **argv)
{
	return plug_common(ctx, argc, argv, true);
}

int unplug_main(struct netctl *ctx, int argc, char **argv)
{
	return plug_common(ctx, argc, argv, false);
}

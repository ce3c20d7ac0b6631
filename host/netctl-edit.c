/* netctl allow / deny / add-vm / remove-vm / edit: change the policy file,
 * refuse anything that does not check (the file stays as it was), replace it
 * atomically, then hand over to `netctl apply`. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host/netctl.h"
#include "host/netctl-edit-text.h"
#include "lib/stage.h"
#include "lib/xalloc.h"


static bool edit_read(const char *path, struct edit_text *t)
{
	t->s = policy_read_file(path, &t->len);
	if (!t->s) {
		fprintf(stderr, "netctl: %s: %s\n", path, strerror(errno));
		return false;
	}
	return true;
}

/* Checks TEXT as if it were FILE; prints every diagnostic. *LOADED gets the
 * policy when the caller wants it. */
static bool edit_check(const struct netctl *ctx, const struct edit_text *t, struct policy **loaded)
{
	struct diags d;
	diags_init(&d, ctx->conf, t->s, t->len);
	struct policy *p = policy_load_host(ctx->conf, t->s, t->len, ctx->now, &d, netctl_owners_check);
	if (d.out_len)
		fputs(d.out, stderr);
	if (!p)
		fprintf(stderr, "%s: %d error%s, the file is unchanged\n", ctx->conf, d.nerrors,
			d.nerrors == 1 ? "" : "s");
	diags_free(&d);
	if (p && loaded)
		*loaded = p;
	else
		policy_free(p);
	return p != NULL;
}

/* Replaces PATH (through a symlink, its target) by NEW with PATH's mode and
 * owner: temp file in the same folder, fsync, rename, fsync of the folder.
 * Refused when PATH no longer holds OLD (someone else changed it meanwhile). */
static bool edit_replace(const char *path, const struct edit_text *old, const struct edit_text *new)
{
	char real[PATH_MAX], dir[PATH_MAX], tmp[PATH_MAX + 16];
	const char *base;
	struct edit_text now;
	struct stat st;
	int fd = -1, dfd;

	if (!realpath(path, real) || stat(real, &st) < 0) {
		fprintf(stderr, "netctl: %s: %s\n", path, strerror(errno));
		return false;
	}
	base = strrchr(real, '/') + 1;   /* realpath: absolute */
	snprintf(dir, sizeof(dir), "%.*s", (int)(base - real), real);
	if (snprintf(tmp, sizeof(tmp), "%s.%s.XXXXXX", dir, base) >= (int)sizeof(tmp)) {
		fprintf(stderr, "netctl: %s: path too long for a temporary file\n", real);
		return false;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		fprintf(stderr, "netctl: %s: %s\n", tmp, strerror(errno));
		return false;
	}
	int werr = stage_write_all(fd, new->s, new->len);
	if (werr)
		errno = werr;
	if (werr || fchmod(fd, st.st_mode & 07777) < 0 || fsync(fd) < 0) {
		fprintf(stderr, "netctl: %s: %s\n", tmp, strerror(errno));
		goto fail;
	}
	if (fchown(fd, st.st_uid, st.st_gid) < 0 && errno != EPERM) {
		fprintf(stderr, "netctl: %s: %s\n", tmp, strerror(errno));
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		fprintf(stderr, "netctl: %s: %s\n", tmp, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (!edit_read(real, &now))
		goto fail;
	bool same = now.len == old->len && memcmp(now.s, old->s, old->len) == 0;
	free(now.s);
	if (!same) {
		fprintf(stderr, "netctl: %s changed while this edit was made; nothing written\n", path);
		goto fail;
	}
	if (rename(tmp, real) < 0) {
		fprintf(stderr, "netctl: %s: %s\n", real, strerror(errno));
		goto fail;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return true;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return false;
}

/* apply, as if typed after the edit. */
static int edit_apply(struct netctl *ctx)
{
	char *argv[] = { (char *)"apply", NULL };
	optind = 0;
	fflush(stdout);
	int rc = apply_main(ctx, 1, argv);
	if (rc != NETCTL_OK)
		fprintf(stderr, "netctl: %s written; apply failed (netctl apply to retry)\n", ctx->conf);
	return rc == NETCTL_OK ? NETCTL_OK : NETCTL_FAILED;
}

/* After add-vm or remove-vm is applied: the VM's link into a running
 * firewallvm, or out of it (netctl plug/unplug --if-running). */
static int edit_link(struct netctl *ctx, const char *cmd, const char *vm)
{
	char *argv[] = { (char *)cmd, (char *)"--if-running", (char *)vm, NULL };
	optind = 0;
	fflush(stdout);
	int rc = strcmp(cmd, "plug") == 0 ? plug_main(ctx, 3, argv) : unplug_main(ctx, 3, argv);
	if (rc == NETCTL_OK)
		return NETCTL_OK;
	fprintf(stderr, "netctl: the policy is applied; netctl %s %s to retry the link\n", cmd, vm);
	return NETCTL_FAILED;
}

/* Check NEW, replace the file that held OLD, apply. Frees NEW. */
static int edit_commit(struct netctl *ctx, const struct edit_text *old, struct edit_text *new,
		       struct policy **loaded)
{
	bool ok = edit_check(ctx, new, loaded) && edit_replace(ctx->conf, old, new);
	free(new->s);
	new->s = NULL;
	if (!ok) {
		if (loaded) {
			policy_free(*loaded);
			*loaded = NULL;
		}
		return NETCTL_FAILED;
	}
	return NETCTL_OK;
}

static int rule_main(struct netctl *ctx, int argc, char **argv, const char *action)
{
	static const struct option opts[] = { { "for", required_argument, NULL, 'f' }, { 0 } };
	const char *dur = NULL;
	char until[MOAT_TIME_STRLEN], rule[EDIT_RULE_MAX], err[EDIT_ERR_MAX];
	struct edit_text old, new;
	struct policy *p = NULL;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'f')
			goto usage;
		dur = optarg;
	}
	if (argc - optind < 2)
		goto usage;
	const char *vm = argv[optind];
	for (int i = optind + 1; i < argc; i++)
		if (dur && strcmp(argv[i], "until") == 0) {
			fprintf(stderr, "netctl: --for and until both given\n");
			return NETCTL_USAGE;
		}
	if (!edit_check_name(vm, err) || (dur && !edit_until(dur, ctx->now, until, err)) ||
	    !edit_rule_text(action, argc - optind - 1, argv + optind + 1, dur ? until : NULL, rule, err)) {
		fprintf(stderr, "netctl: %s\n", err);
		return NETCTL_FAILED;
	}
	if (!edit_read(ctx->conf, &old))
		return NETCTL_FAILED;
	new.s = xstrndup(old.s, old.len);
	new.len = old.len;
	if (!edit_append_rule(&new, vm, rule, err)) {
		fprintf(stderr, "netctl: %s: %s\n", ctx->conf, err);
		free(new.s);
		free(old.s);
		return NETCTL_FAILED;
	}
	rc = edit_commit(ctx, &old, &new, &p);
	free(old.s);
	if (rc != NETCTL_OK)
		return rc;
	const struct vm *v = &p->vms[policy_find_vm(p, vm)];
	printf("%s:%d: vm %s: %s\n", ctx->conf, v->rules[v->nrules - 1].loc.line, vm, rule);
	policy_free(p);
	return edit_apply(ctx);
usage:
	fprintf(stderr, "usage: netctl %s VM RULE... [--for DURATION]\n", action);
	return NETCTL_USAGE;
}

int allow_main(struct netctl *ctx, int argc, char **argv)
{
	return rule_main(ctx, argc, argv, "allow");
}

int deny_main(struct netctl *ctx, int argc, char **argv)
{
	return rule_main(ctx, argc, argv, "deny");
}

int add_vm_main(struct netctl *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "address", required_argument, NULL, 'a' }, { 0 } };
	const char *given = NULL;
	char err[EDIT_ERR_MAX], buf[MOAT_ADDR_STRLEN];
	struct edit_text old, new;
	struct policy *p;
	struct addr a;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'a')
			goto usage;
		given = optarg;
	}
	if (argc - optind != 1)
		goto usage;
	const char *name = argv[optind];
	if (!edit_check_name(name, err)) {
		fprintf(stderr, "netctl: %s\n", err);
		return NETCTL_FAILED;
	}
	if (given && (!addr_parse(given, &a, NULL) || a.family != AF_INET || a.prefix != 32)) {
		fprintf(stderr, "netctl: bad address '%s': an IPv4 address, e.g. 10.137.0.20\n", given);
		return NETCTL_FAILED;
	}
	if (!edit_read(ctx->conf, &old))
		return NETCTL_FAILED;
	p = netctl_load_policy(ctx, ctx->conf);
	if (!p) {
		free(old.s);
		return NETCTL_FAILED;
	}
	if (!given && !edit_next_address(p, &a, err)) {
		fprintf(stderr, "netctl: %s: %s\n", ctx->conf, err);
		policy_free(p);
		free(old.s);
		return NETCTL_FAILED;
	}
	policy_free(p);
	p = NULL;
	new.s = xstrndup(old.s, old.len);
	new.len = old.len;
	if (!edit_add_vm(&new, name, &a, err)) {
		fprintf(stderr, "netctl: %s: %s\n", ctx->conf, err);
		free(new.s);
		free(old.s);
		return NETCTL_FAILED;
	}
	rc = edit_commit(ctx, &old, &new, &p);
	free(old.s);
	if (rc != NETCTL_OK)
		return rc;
	const struct vm *v = &p->vms[policy_find_vm(p, name)];
	addr_format(&a, buf, sizeof(buf));
	printf("%s:%d: vm %s, address %s\n", ctx->conf, v->loc.line, name, buf);
	policy_free(p);
	/* rules first, then the link: the VM's first frame meets its policy */
	rc = edit_apply(ctx);
	return rc == NETCTL_OK ? edit_link(ctx, "plug", name) : rc;
usage:
	fprintf(stderr, "usage: netctl add-vm NAME [--address A]\n");
	return NETCTL_USAGE;
}

int remove_vm_main(struct netctl *ctx, int argc, char **argv)
{
	char err[EDIT_ERR_MAX];
	struct edit_text old, new;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: netctl remove-vm NAME\n");
		return NETCTL_USAGE;
	}
	if (!edit_check_name(argv[1], err)) {
		fprintf(stderr, "netctl: %s\n", err);
		return NETCTL_FAILED;
	}
	if (!edit_read(ctx->conf, &old))
		return NETCTL_FAILED;
	new.s = xstrndup(old.s, old.len);
	new.len = old.len;
	if (!edit_remove_vm(&new, argv[1], err)) {
		fprintf(stderr, "netctl: %s: %s\n", ctx->conf, err);
		free(new.s);
		free(old.s);
		return NETCTL_FAILED;
	}
	rc = edit_commit(ctx, &old, &new, NULL);
	free(old.s);
	if (rc != NETCTL_OK)
		return rc;
	printf("%s: vm %s removed\n", ctx->conf, argv[1]);
	/* its rules are gone first: a frame that still comes in is dropped */
	rc = edit_apply(ctx);
	return rc == NETCTL_OK ? edit_link(ctx, "unplug", argv[1]) : rc;
}

/* ---- netctl edit ---- */

static bool edit_run_editor(const char *path)
{
	const char *editor = getenv("VISUAL");
	char cmd[1024];

	if (!editor || !*editor)
		editor = getenv("EDITOR");
	if (!editor || !*editor)
		editor = "vi";
	/* through sh: EDITOR may carry arguments ("emacs -nw") */
	if (snprintf(cmd, sizeof(cmd), "%s \"$1\"", editor) >= (int)sizeof(cmd)) {
		fprintf(stderr, "netctl: editor command too long: '%s'\n", editor);
		return false;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "netctl: fork: %s\n", strerror(errno));
		return false;
	}
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, "sh", path, (char *)NULL);
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			fprintf(stderr, "netctl: waitpid: %s\n", strerror(errno));
			return false;
		}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "netctl: editor '%s' failed (status %d)\n", editor,
			WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
		return false;
	}
	return true;
}

/* visudo's question; false = discard. Only asked on a terminal. */
static bool edit_again(void)
{
	char *line = NULL;
	size_t cap = 0;
	bool again = false;

	if (!isatty(STDIN_FILENO))
		return false;
	for (;;) {
		fprintf(stderr, "What now? (e)dit again, e(x)it without saving: ");
		if (getline(&line, &cap, stdin) < 0)
			break;
		if (line[0] == 'e' || line[0] == 'x') {
			again = line[0] == 'e';
			break;
		}
	}
	free(line);
	return again;
}

int edit_main(struct netctl *ctx, int argc, char **argv)
{
	const char *tmpdir = getenv("TMPDIR");
	char tmp[PATH_MAX];
	struct edit_text old, new = { 0 };
	int fd, rc = NETCTL_FAILED;

	if (argc != 1) {
		fprintf(stderr, "usage: netctl edit\n");
		return NETCTL_USAGE;
	}
	if (!edit_read(ctx->conf, &old))
		return NETCTL_FAILED;
	if (snprintf(tmp, sizeof(tmp), "%s/netctl-edit.XXXXXX.conf",
		     tmpdir && *tmpdir ? tmpdir : "/tmp") >= (int)sizeof(tmp)) {
		fprintf(stderr, "netctl: TMPDIR too long: '%s'\n", tmpdir);
		free(old.s);
		return NETCTL_FAILED;
	}
	fd = mkstemps(tmp, 5);
	if (fd < 0 || stage_write_all(fd, old.s, old.len) || close(fd) < 0) {
		fprintf(stderr, "netctl: %s: %s\n", tmp, strerror(errno));
		if (fd >= 0)
			unlink(tmp);
		free(old.s);
		return NETCTL_FAILED;
	}
	for (;;) {
		if (!edit_run_editor(tmp) || !edit_read(tmp, &new))
			goto out;
		if (new.len == old.len && memcmp(new.s, old.s, old.len) == 0) {
			printf("%s: no changes\n", ctx->conf);
			rc = NETCTL_OK;
			goto out;
		}
		if (edit_check(ctx, &new, NULL))
			break;
		free(new.s);
		new.s = NULL;
		if (!edit_again()) {
			fprintf(stderr, "netctl: edit discarded, %s unchanged\n", ctx->conf);
			goto out;
		}
	}
	if (!edit_replace(ctx->conf, &old, &new)) {
		fprintf(stderr, "netctl: your version is kept in %s\n", tmp);
		free(new.s);
		free(old.s);
		return NETCTL_FAILED;
	}
	unlink(tmp);
	free(new.s);
	free(old.s);
	return edit_apply(ctx);
out:
	unlink(tmp);
	free(new.s);
	free(old.s);
	return rc;
}

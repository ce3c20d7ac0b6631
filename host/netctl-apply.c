/* netctl apply / status / generations / rollback: the policy file and the
 * firewall's control channel (netctl diff: netctl-diff.c). Every applied file is kept whole as
 * STATE/generations/N.conf with a one-line N.meta (time, user, summary), so a
 * rollback needs nothing from the firewall. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/ctl.h"
#include "lib/stage.h"
#include "host/netctl.h"
#include "host/netctl-reply.h"
#include "host/priv.h"

#define META_MAX 512

/* ---- the generations directory ---- */

static bool gen_path(const struct netctl *ctx, char *buf, size_t len, uint32_t n, const char *ext)
{
	int r = n ? snprintf(buf, len, "%s/generations/%u.%s", ctx->state_dir, n, ext)
		  : snprintf(buf, len, "%s/generations", ctx->state_dir);
	if (r < 0 || (size_t)r >= len) {
		fprintf(stderr, "netctl: state directory path too long: %s\n", ctx->state_dir);
		return false;
	}
	return true;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Generation numbers recorded, ascending; *N of them. NULL + *N = 0 when
 * there are none (no directory is not an error). */
static uint32_t *gen_list(const struct netctl *ctx, size_t *n)
{
	char dir[4096];
	*n = 0;
	if (!gen_path(ctx, dir, sizeof(dir), 0, NULL))
		return NULL;
	DIR *d = opendir(dir);
	if (!d)
		return NULL;
	uint32_t *v = NULL;
	size_t cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		char *end;
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		unsigned long g = strtoul(e->d_name, &end, 10);
		if (strcmp(end, ".conf") != 0 || g > UINT32_MAX)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 32;
			uint32_t *p = realloc(v, cap * sizeof(*v));
			if (!p)
				break;
			v = p;
		}
		v[(*n)++] = (uint32_t)g;
	}
	closedir(d);
	if (v)
		qsort(v, *n, sizeof(*v), cmp_u32);
	return v;
}

static uint32_t gen_latest(const struct netctl *ctx)
{
	size_t n;
	uint32_t *v = gen_list(ctx, &n);
	uint32_t last = n ? v[n - 1] : 0;
	free(v);
	return last;
}

/* generations/ and its files: root:moat 0750 and 0640, for root and the
 * read-only commands alone (they hold every policy ever applied); root's
 * group while there is no group moat. Only root gives them away. */
static bool gen_own(int fd, mode_t mode)
{
	struct group *gr = getgrnam(PRIV_GROUP_READ);
	return (geteuid() != 0 || fchown(fd, 0, gr ? gr->gr_gid : 0) == 0) && fchmod(fd, mode) == 0;
}

/* STATE/generations made if missing, and given its owner and mode. */
static bool gen_dir(const char *dir)
{
	if (!priv_mkdirs(dir, 0700))
		return false;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	bool ok = fd >= 0 && gen_own(fd, 0750);
	if (!ok)
		fprintf(stderr, "netctl: %s: %s\n", dir, strerror(errno));
	if (fd >= 0)
		close(fd);
	return ok;
}

static bool gen_own_file(int fd, void *arg)
{
	return gen_own(fd, 0640);
}

/* PATH replaced whole by DATA, root:moat 0640. Not flushed: it serves the
 * one-line N.meta, which a power cut may leave empty (generations then shows
 * "?"), while N.conf, the copy a rollback needs, is flushed before it is
 * renamed. The flush was a millisecond on every apply's reply path. */
static bool write_file(const char *path, const char *data, size_t len)
{
	int err = stage_write_file(path, &(struct stage_how){ .mode = 0600, .own = gen_own_file }, data, len);
	if (err)
		errno = err;
	return !err;
}

static const char *user_name(void)
{
	const char *u = getenv("SUDO_USER");
	if (u && *u)
		return u;
	struct passwd *pw = getpwuid(getuid());
	return pw ? pw->pw_name : "?";
}

/* The copy of generation N is written and flushed to disk by a thread while
 * the firewall applies it (the user does not wait for two things one after
 * the other), which also looks up who applies it. It becomes N.conf only if
 * the firewall took it. */
struct gen_stage {
	char tmp[4200], conf[4200];
	char user[64];
	struct stage st;
	bool staged;
};

static void gen_user(void *arg)
{
	struct gen_stage *g = arg;
	snprintf(g->user, sizeof(g->user), "%s", user_name());
}

static void gen_stage_start(const struct netctl *ctx, uint32_t gen, const char *text, struct gen_stage *g)
{
	char dir[4096];
	memset(g, 0, sizeof(*g));
	if (!gen_path(ctx, dir, sizeof(dir), 0, NULL) ||
	    (geteuid() == 0 && !priv_path_safe(ctx->state_dir, "state directory")) || !gen_dir(dir) ||
	    !gen_path(ctx, g->conf, sizeof(g->conf), gen, "conf") ||
	    (size_t)snprintf(g->tmp, sizeof(g->tmp), "%s.tmp", g->conf) >= sizeof(g->tmp))
		return;
	stage_start(&g->st, g->conf, g->tmp, 0600, text, strlen(text), true, gen_user, g);
	/* given away while the thread writes: it is renamed only after */
	if (g->st.fd >= 0 && !gen_own(g->st.fd, 0640)) {
		int err = errno;
		stage_finish(&g->st, false);
		errno = err;
		return;
	}
	g->staged = true;
}

/* KEEP: the firewall took it. True when N.conf is there, flushed. */
static bool gen_stage_finish(struct gen_stage *g, bool keep)
{
	if (!g->staged) {
		if (!errno)
			errno = EIO;
		return false;
	}
	g->staged = false;
	int err = stage_finish(&g->st, keep);
	if (err)
		errno = err;
	return keep && !err;
}

/* N.conf (staged while the firewall applied it), then N.meta:
 * "TIME\tUSER\tSUMMARY" */
static bool gen_record(const struct netctl *ctx, uint32_t gen, struct gen_stage *g, const char *summary)
{
	char dir[4096], meta[4200], line[META_MAX], when[MOAT_TIME_STRLEN];
	if (!gen_path(ctx, dir, sizeof(dir), 0, NULL) || !gen_path(ctx, meta, sizeof(meta), gen, "meta")) {
		gen_stage_finish(g, false);
		return false;
	}
	struct tm tm;
	gmtime_r(&ctx->now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	errno = 0;
	bool staged = gen_stage_finish(g, true);
	int n = snprintf(line, sizeof(line), "%s\t%s\t%s\n", when, g->user[0] ? g->user : "?", summary);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		n = (int)sizeof(line) - 1;   /* a summary is ours: cut at a line is fine here */
		line[n - 1] = '\n';
	}
	if (!staged || !write_file(meta, line, (size_t)n)) {
		fprintf(stderr, "netctl: recording generation %u in %s: %s\n", gen, dir, strerror(errno));
		return false;
	}
	return true;
}

/* ---- talking to the firewall ---- */

/* One request, one reply. Prints why on failure; NULL then. */
static uint8_t *firewall_call(const struct netctl *ctx, struct ctl_msg *req, size_t *len)
{
	return netctl_call("firewall", ctx->control, req, len, ctx->call_ms);
}

static const char *reply_message(const uint8_t *f, size_t len)
{
	const char *m = ctl_get_str(f, len, CTL_A_MESSAGE);
	return m ? m : "";
}

/* Check TEXT locally (every diagnostic printed), send it as generation
 * next, record it. SUMMARY_PREFIX goes in front of the recorded summary. */
static int apply_text(struct netctl *ctx, const char *file, const char *text, size_t len,
		      const char *summary_prefix)
{
	int rc = NETCTL_FAILED;
	uint8_t *reply = NULL;
	size_t rlen;
	struct ctl_msg m;
	ctl_msg_init(&m, CTL_REQ_APPLY);
	if (strlen(text) != len) {
		fprintf(stderr, "%s: contains a NUL byte, nothing applied\n", file);
		goto cleanup;
	}
	/* the firewall checks it (every error comes back as file:line:col);
	 * checking here as well would parse a big policy twice per apply */
	uint32_t gen = gen_latest(ctx) + 1;
	if (!ctl_put_str(&m, CTL_A_FILE, file) || !ctl_put_str(&m, CTL_A_TEXT, text) ||
	    !ctl_put_u32(&m, CTL_A_GENERATION, gen)) {
		fprintf(stderr, "%s: too large for one control message (1 MiB), nothing applied\n", file);
		goto cleanup;
	}
	struct gen_stage stage;
	gen_stage_start(ctx, gen, text, &stage);
	reply = firewall_call(ctx, &m, &rlen);
	uint32_t st = reply ? netctl_reply_status(reply, rlen, false) : EIO;
	if (st)
		gen_stage_finish(&stage, false);
	if (!reply)
		goto cleanup;
	if (st) {
		netctl_print_lines(stderr, reply_message(reply, rlen));
		fprintf(stderr, "netctl: the firewall refused %s (%s); the policy in force is unchanged\n",
			file, strerror((int)st));
		goto cleanup;
	}
	netctl_print_lines(stdout, reply_message(reply, rlen));
	/* the summary recorded is made here from the numbers in the reply */
	struct netctl_counts counts;
	char said[META_MAX / 2], summary[META_MAX];
	netctl_counts_decode(reply, rlen, &counts);
	netctl_counts_format(&counts, said, sizeof(said));
	snprintf(summary, sizeof(summary), "%s%s", summary_prefix, counts.has ? said : "");
	rc = gen_record(ctx, gen, &stage, summary) ? NETCTL_OK : NETCTL_FAILED;

cleanup:
	free(reply);
	ctl_msg_free(&m);
	return rc;
}

int apply_main(struct netctl *ctx, int argc, char **argv)
{
	if (argc != 1) {
		fprintf(stderr, "usage: netctl apply\n");
		return NETCTL_USAGE;
	}
	size_t len;
	char *text = policy_read_file(ctx->conf, &len);
	if (!text) {
		fprintf(stderr, "netctl: %s: %s\n", ctx->conf, strerror(errno));
		return NETCTL_FAILED;
	}
	int rc = apply_text(ctx, ctx->conf, text, len, "");
	free(text);
	return rc;
}

int rollback_main(struct netctl *ctx, int argc, char **argv)
{
	if (argc > 2) {
		fprintf(stderr, "usage: netctl rollback [N]\n");
		return NETCTL_USAGE;
	}
	size_t n;
	uint32_t *gens = gen_list(ctx, &n), target = 0;
	if (argc == 2) {
		char *end;
		errno = 0;
		unsigned long g = strtoul(argv[1], &end, 10);
		if (errno || *end || end == argv[1] || g == 0 || g > UINT32_MAX) {
			fprintf(stderr, "netctl: rollback: '%s' is not a generation number\n", argv[1]);
			free(gens);
			return NETCTL_USAGE;
		}
		target = (uint32_t)g;
	} else if (n >= 2) {
		target = gens[n - 2];
	}
	free(gens);
	if (!target) {
		fprintf(stderr, "netctl: rollback: no generation before the last in %s/generations\n",
			ctx->state_dir);
		return NETCTL_FAILED;
	}
	char path[4200];
	if (!gen_path(ctx, path, sizeof(path), target, "conf"))
		return NETCTL_FAILED;
	size_t len;
	char *text = policy_read_file(path, &len);
	if (!text) {
		fprintf(stderr, "netctl: generation %u: %s: %s\n", target, path, strerror(errno));
		return NETCTL_FAILED;
	}
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "rollback to %u: ", target);
	int rc = apply_text(ctx, path, text, len, prefix);
	if (rc == NETCTL_OK)
		printf("generation %u is in force again as generation %u (%s unchanged)\n", target,
		       gen_latest(ctx), ctx->conf);
	free(text);
	return rc;
}

/* ---- listings ---- */

static int parse_json_flag(int argc, char **argv, const char *usage, bool *json)
{
	static const struct option opts[] = { { "json", no_argument, NULL, 'j' }, { 0 } };
	int c;
	*json = false;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'j') {
			fprintf(stderr, "usage: %s\n", usage);
			return NETCTL_USAGE;
		}
		*json = true;
	}
	if (optind != argc) {
		fprintf(stderr, "usage: %s\n", usage);
		return NETCTL_USAGE;
	}
	return NETCTL_OK;
}

int generations_main(struct netctl *ctx, int argc, char **argv)
{
	bool json;
	int rc = parse_json_flag(argc, argv, "netctl generations [--json]", &json);
	if (rc)
		return rc;
	size_t n;
	uint32_t *gens = gen_list(ctx, &n);
	if (json)
		printf("[");
	else if (!n)
		printf("no generations recorded in %s/generations\n", ctx->state_dir);
	for (size_t i = 0; i < n; i++) {
		char path[4200], *meta = NULL;
		size_t len;
		if (gen_path(ctx, path, sizeof(path), gens[i], "meta"))
			meta = policy_read_file(path, &len);
		char *when = "?", *user = "?", *summary = "";
		if (meta) {
			meta[strcspn(meta, "\n")] = 0;
			char *t1 = strchr(meta, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
			if (t1 && t2) {
				*t1 = *t2 = 0;
				when = meta;
				user = t1 + 1;
				summary = t2 + 1;
			}
		}
		if (json) {
			printf("%s\n  {\"generation\": %u, \"time\": ", i ? "," : "", gens[i]);
			netctl_json_str(stdout, when);
			printf(", \"user\": ");
			netctl_json_str(stdout, user);
			printf(", \"summary\": ");
			netctl_json_str(stdout, summary);
			printf("}");
		} else {
			printf("%6u  %-20s  %-10s  ", gens[i], when, user);
			ctl_fput_safe(stdout, summary, false);
			putchar('\n');
		}
		free(meta);
	}
	if (json)
		printf("%s]\n", n ? "\n" : "");
	free(gens);
	return NETCTL_OK;
}

int status_main(struct netctl *ctx, int argc, char **argv)
{
	bool json;
	int rc = parse_json_flag(argc, argv, "netctl status [--json]", &json);
	if (rc)
		return rc;
	struct ctl_msg m;
	ctl_msg_init(&m, CTL_REQ_STATUS);
	size_t len;
	uint8_t *reply = firewall_call(ctx, &m, &len);
	ctl_msg_free(&m);
	uint32_t recorded = gen_latest(ctx), gen = 0;
	if (reply && netctl_reply_status(reply, len, true)) {
		free(reply);
		reply = NULL;
	}
	if (reply)
		ctl_get_u32(reply, len, CTL_A_GENERATION, &gen);
	const char *msg = reply ? reply_message(reply, len) : "";
	struct netctl_counts counts;
	netctl_counts_decode(reply, reply ? len : 0, &counts);
	if (json) {
		printf("{\"firewall\": {\"reachable\": %s, \"generation\": %u, ", reply ? "true" : "false", gen);
		if (counts.has)
			printf("\"vms\": %u, \"rules\": %u, ", counts.vms, counts.rules);
		printf("\"summary\": ");
		ctl_fput_json(stdout, msg);
		printf("}, \"recorded_generation\": %u}\n", recorded);
	} else {
		if (reply) {
			printf("firewall: ");
			netctl_print_lines(stdout, msg);
		}
		printf("last recorded generation: %u%s\n", recorded,
		       reply && recorded && gen != recorded ? " (not the one the firewall has)" : "");
		netctl_status_netvm(ctx);
		netctl_status_vms(ctx, reply != NULL);
	}
	free(reply);
	return reply ? NETCTL_OK : NETCTL_FAILED;
}

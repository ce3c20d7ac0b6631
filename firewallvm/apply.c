/* apply.c: policy text -> checked policy -> ruleset -> one nftables
 * transaction. What is in force changes only after the kernel took all of it;
 * then the text is saved so a restarted daemon loads the same policy. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/batch.h"
#include "lib/clock.h"
#include "firewallvm/firewalld.h"
#include "lib/stage.h"

static uint32_t next_seq;

static struct nl_batch *batch_start(struct nl_batch *b)
{
	if (!next_seq)
		next_seq = (uint32_t)time(NULL);
	batch_init(b, next_seq);
	return b;
}

static void batch_done(struct nl_batch *b)
{
	next_seq = b->seq ? b->seq : 1;
	batch_free(b);
}

/* What is in force becomes what was: freed once the reply is out
 * (fw_apply_release), since a 500-VM policy takes a millisecond or two to
 * free. The caller puts the new state in place. */
static void retire(struct fw_state *st)
{
	fw_apply_release(st);
	st->old_rs = st->rs;
	st->old_policy = st->policy;
	st->old_text = st->text;
	st->old_file = st->file;
}

/* ---- the fail-closed table ---- */

static void closed_chain(struct rs_chain *c, const char *name, int hook, struct rs_rule *lo,
			 enum rs_key ifkey)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->base = true;
	c->hook = hook;
	c->policy_drop = true;
	c->vm = -1;
	if (!lo)
		return;
	memset(lo, 0, sizeof(*lo));
	lo->m[0].key = ifkey;
	lo->m[0].op = RO_EQ;
	memcpy(lo->m[0].val, "lo", 2);
	lo->nm = 1;
	lo->verdict = RV_ACCEPT;
	lo->what = "loopback only: no policy loaded yet";
	c->rules = lo;
	c->nrules = 1;
}

int fw_load_closed(struct fw_state *st, char *err, size_t errlen)
{
	struct rs_rule lo_in, lo_out;
	struct rs_chain chains[3];
	closed_chain(&chains[0], "input", NF_INET_LOCAL_IN, &lo_in, RK_IIFNAME);
	closed_chain(&chains[1], "forward", NF_INET_FORWARD, NULL, RK_IIFNAME);
	closed_chain(&chains[2], "output", NF_INET_LOCAL_OUT, &lo_out, RK_OIFNAME);
	struct ruleset rs = { .chains = chains, .nchains = 3 };

	struct nl_batch b;
	batch_ruleset_full(batch_start(&b), &rs, st->table_flags);
	fw_names_pause(st->names);
	int rc = nft_commit(st->nft, &b, err, errlen);
	batch_done(&b);
	if (rc) {
		fw_names_resume(st->names);
		return -rc;
	}
	retire(st);
	st->rs = NULL;
	st->policy = NULL;
	st->text = st->file = NULL;
	st->generation = 0;
	st->next_expiry = 0;
	if (st->names)
		fw_names_sync(st->names);
	return 0;
}

/* ---- the state directory ---- */

static int state_paths(const char *dir, const char *name, char path[4096], char tmp[4096])
{
	if ((size_t)snprintf(path, 4096, "%s/%s", dir, name) >= 4096 ||
	    (size_t)snprintf(tmp, 4096, "%s/.%s.tmp", dir, name) >= 4096)
		return ENAMETOOLONG;
	return 0;
}

/* NAME of the state directory DIR, read whole into a string (its path in
 * PATH, for messages). NULL with errno: none, unreadable, too long a path. */
static char *state_read(const char *dir, const char *name, char path[4096], size_t *len)
{
	if ((size_t)snprintf(path, 4096, "%s/%s", dir, name) >= 4096) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	return policy_read_file(path, len);
}

/* NAME of the state directory DIR (made if missing) replaced by DATA. */
static int write_atomic(const char *dir, const char *name, const char *data, size_t len)
{
	char path[4096], tmp[4096];
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return errno;
	int rc = state_paths(dir, name, path, tmp);
	/* No fsync: the state directory is what a restarted daemon takes back
	 * after it died, and the page cache outlives a process; the rename
	 * alone makes the switch atomic. A machine that loses power loses
	 * the table too (the appliance keeps this on tmpfs), and netctl up
	 * applies the host's durable copy again. An fsync here was a tenth of
	 * an apply at 500 VMs. */
	return rc ? rc : stage_write_now(path, tmp, 0600, data, len);
}

/* current.conf is written by a thread while the kernel commits (writing
 * half a MB was a tenth of a one-VM change at 500 VMs); it replaces the old
 * one only once the commit went through. Not flushed, as write_atomic. */
struct text_save {
	char path[4096], tmp[4096];
	struct stage st;
	bool staged;
	int err;
};

static void text_save_start(const struct fw_state *st, const char *text, struct text_save *s)
{
	memset(s, 0, sizeof(*s));
	if (!st->state_dir)
		return;
	if (mkdir(st->state_dir, 0700) < 0 && errno != EEXIST) {
		s->err = errno;
		return;
	}
	if ((s->err = state_paths(st->state_dir, "current.conf", s->path, s->tmp)))
		return;
	stage_start(&s->st, s->path, s->tmp, 0600, text, strlen(text), false, NULL, NULL);
	s->staged = true;
}

/* KEEP: the commit went through. 0 or an errno. */
static int text_save_finish(struct text_save *s, bool keep)
{
	if (!s->staged)
		return s->err;
	s->staged = false;
	return stage_finish(&s->st, keep);
}

/* After current.conf: a generation file never names text that is not there. */
static int state_save_generation(const struct fw_state *st)
{
	if (!st->state_dir)
		return 0;
	char gen[4200];
	int n = snprintf(gen, sizeof(gen), "%u\n%s\n", st->generation, st->file);
	if (n < 0 || (size_t)n >= sizeof(gen))
		return ENAMETOOLONG;
	return write_atomic(st->state_dir, "generation", gen, (size_t)n);
}

/* Marks are reserved in the state directory before the kernel sees them:
 * a daemon that dies after a commit and starts again begins past every mark
 * the dead one may have used. Reserved a block at a time, so an apply
 * rarely writes this file. */
#define MARK_BLOCK 4096u

/* The first mark to hand out after a start: past the marks file, past every
 * mark a connection in conntrack still carries (the file may be missing or
 * damaged, and a mark handed out again would bring a cut connection back)
 * and past every birth on record (see births_load: call it first). Without
 * a usable file, conntrack must be readable or nothing is applied: ERRNO. */
static int marks_load(struct fw_state *st)
{
	if (st->mark_floor == 0)
		st->mark_floor = 1;
	for (size_t i = 0; i < st->nbirths; i++)
		if (st->births[i].birth > st->mark_floor)
			st->mark_floor = st->births[i].birth;
	bool file_ok = false;
	if (st->state_dir) {
		char path[4096];
		size_t len;
		char *text = state_read(st->state_dir, "marks", path, &len);
		char *end = text;
		errno = 0;
		unsigned long v = text ? strtoul(text, &end, 10) : 0;
		file_ok = text && !errno && end != text && *end == '\n' && end[1] == 0 && v <= UINT32_MAX;
		if (file_ok && v > st->mark_floor)
			st->mark_floor = st->mark_reserved = (uint32_t)v;
		else if (text && !file_ok)
			fprintf(stderr, "moat-firewalld: %s: not a mark count, conntrack decides\n", path);
		free(text);
	}
	if (st->nft->dry_run)
		return 0;
	uint32_t ct;
	int rc = fw_ct_mark_max(&ct);
	if (rc < 0) {
		fprintf(stderr, "moat-firewalld: reading the marks in conntrack: %s%s\n", strerror(-rc),
			file_ok ? " (the marks file decides)" : "");
		return file_ok ? 0 : -rc;
	}
	if (ct >= st->mark_floor)
		st->mark_floor = ct == UINT32_MAX ? ct : ct + 1;
	return 0;
}

static int marks_reserve(struct fw_state *st, uint32_t upto)
{
	if (!st->state_dir || upto <= st->mark_reserved)
		return 0;
	uint32_t r = upto + MARK_BLOCK;
	if (r < upto)
		r = UINT32_MAX;
	char buf[16];
	int n = snprintf(buf, sizeof(buf), "%u\n", r);
	int rc = write_atomic(st->state_dir, "marks", buf, (size_t)n);
	if (!rc)
		st->mark_reserved = r;
	return rc;
}

/* Births: one line per VM, "NAME BIRTH IPV4 IPV6". Written before the
 * commit, like the marks: a birth on record that the kernel never saw only
 * makes a restarted daemon cut connections, never keep one it should not. */
static void births_load(struct fw_state *st)
{
	if (!st->state_dir || st->births)
		return;
	char path[4096];
	size_t len;
	char *text = state_read(st->state_dir, "births", path, &len);
	if (!text)
		return;
	size_t n = 0, cap = 0;
	struct rs_vm *vms = NULL;
	bool bad = false;
	for (char *line = text, *next; *line && !bad; line = next) {
		next = strchr(line, '\n');
		if (!next) {
			bad = true;
			break;
		}
		*next++ = 0;
		struct rs_vm v = { 0 };
		char a4[16], a6[40], tail;
		unsigned long birth;
		if (sscanf(line, "%15s %lu %15s %39s %c", v.name, &birth, a4, a6, &tail) != 4 ||
		    birth == 0 || birth > UINT32_MAX || inet_pton(AF_INET, a4, v.addr) != 1 ||
		    inet_pton(AF_INET6, a6, v.addr6) != 1) {
			bad = true;
			break;
		}
		v.birth = (uint32_t)birth;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			struct rs_vm *more = realloc(vms, cap * sizeof(*vms));
			if (!more) {
				bad = true;
				break;
			}
			vms = more;
		}
		vms[n++] = v;
	}
	free(text);
	if (bad) {
		/* every VM gets a new birth: its connections from before are cut */
		fprintf(stderr, "moat-firewalld: %s: not a list of births, ignored\n", path);
		free(vms);
		return;
	}
	st->births = vms;
	st->nbirths = n;
}

static bool births_recorded(const struct fw_state *st, const struct ruleset *rs)
{
	if (!st->births || st->nbirths != rs->nvms)
		return false;
	for (size_t i = 0; i < rs->nvms; i++) {
		const struct rs_vm *a = &st->births[i], *b = &rs->vms[i];
		if (a->birth != b->birth || strcmp(a->name, b->name) != 0 ||
		    memcmp(a->addr, b->addr, sizeof(a->addr)) != 0 ||
		    memcmp(a->addr6, b->addr6, sizeof(a->addr6)) != 0)
			return false;
	}
	return true;
}

static int births_record(struct fw_state *st, const struct ruleset *rs)
{
	if (!st->state_dir || births_recorded(st, rs))
		return 0;
	struct rs_vm *vms = calloc(rs->nvms ? rs->nvms : 1, sizeof(*vms));
	size_t cap = 96 * (rs->nvms + 1), n = 0;   /* a line is at most 83 bytes */
	char *buf = malloc(cap);
	int rc = ENOMEM;
	if (!vms || !buf)
		goto out;
	for (size_t i = 0; i < rs->nvms; i++) {
		const struct rs_vm *v = &rs->vms[i];
		char a4[INET_ADDRSTRLEN], a6[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET, v->addr, a4, sizeof(a4));
		inet_ntop(AF_INET6, v->addr6, a6, sizeof(a6));
		n += (size_t)snprintf(buf + n, cap - n, "%s %u %s %s\n", v->name, v->birth, a4, a6);
		snprintf(vms[i].name, sizeof(vms[i].name), "%s", v->name);
		vms[i].birth = v->birth;
		memcpy(vms[i].addr, v->addr, sizeof(v->addr));
		memcpy(vms[i].addr6, v->addr6, sizeof(v->addr6));
	}
	if ((rc = write_atomic(st->state_dir, "births", buf, n)))
		goto out;
	free(st->births);
	st->births = vms;
	st->nbirths = rs->nvms;
	vms = NULL;
out:
	free(vms);
	free(buf);
	return rc;
}

/* ---- apply ---- */

static time_t earliest_expiry(const struct policy *p)
{
	time_t t = 0;
	for (size_t i = 0; i < p->nvms; i++)
		for (size_t j = 0; j < p->vms[i].nrules; j++) {
			const struct rule *r = &p->vms[i].rules[j];
			if (r->has_until && !r->expired && (!t || r->until < t))
				t = r->until;
		}
	return t;
}

/* A message too long for ERR keeps its first part whole and says so. */
static void copy_message(char *err, size_t errlen, const char *msg)
{
	static const char more[] = "\n(more not shown)\n";
	size_t n = strlen(msg);
	if (n < errlen) {
		memcpy(err, msg, n + 1);
	} else if (errlen > sizeof(more)) {
		memcpy(err, msg, errlen - sizeof(more));
		memcpy(err + errlen - sizeof(more), more, sizeof(more));
	} else if (errlen) {
		err[0] = 0;
	}
}

static int apply_text(struct fw_state *st, const char *file, const char *text, uint32_t gen,
		      time_t now, char *err, size_t errlen)
{
	double t0 = (mono_ns() / 1e6), t1, t2, t3, t4;
	struct diags d;
	struct policy *p = NULL;
	struct ruleset *rs = NULL;
	char *text_copy = strdup(text), *file_copy = strdup(file);
	size_t len = strlen(text);
	int rc = 0;
	if (errlen)
		err[0] = 0;
	diags_init(&d, file, text, len);
	if (!text_copy || !file_copy) {
		rc = ENOMEM;
		goto cleanup;
	}
	p = policy_load(file, text, len, now, &d);
	if (!p) {
		copy_message(err, errlen, d.out_len ? d.out : "the policy does not check\n");
		rc = EINVAL;
		goto cleanup;
	}
	t1 = (mono_ns() / 1e6);
	if (!st->rs) {
		births_load(st);
		if ((rc = marks_load(st))) {
			snprintf(err, errlen, "%s: cannot tell which marks connections carry: %s (nothing changed)\n",
				 file, strerror(rc));
			goto cleanup;
		}
	}
	struct rs_history h = { st->mark_floor, st->births, st->nbirths };
	rs = ruleset_compile(p, st->rs, gen, &h);
	if (!rs) {
		rc = errno ? errno : ENOMEM;
		snprintf(err, errlen, "%s: cannot compile: %s\n", file, strerror(rc));
		goto cleanup;
	}
	if ((rc = marks_reserve(st, rs->mark_next)) || (rc = births_record(st, rs))) {
		snprintf(err, errlen, "%s: cannot record the marks in %s: %s (nothing changed)\n",
			 file, st->state_dir, strerror(rc));
		goto cleanup;
	}
	/* a link that changes name (or loses its VM) goes down before the
	 * commit: up a moment longer, it would carry packets under the rules
	 * of no VM, or of the VM that takes its old name */
	if (st->ifaces && (rc = -fw_ifaces_park(st->ifaces, p))) {
		fw_ifaces_sync(st->ifaces, st->policy);
		snprintf(err, errlen, "%s: cannot take down the links of renamed or removed VMs: %s (nothing changed)\n",
			 file, strerror(rc));
		goto cleanup;
	}
	t2 = (mono_ns() / 1e6);
	struct nl_batch b;
	batch_start(&b);
	b.queue_xt = st->queue_xt;
	if (st->rs)
		batch_ruleset_diff(&b, st->rs, rs);
	else
		batch_ruleset_full(&b, rs, st->table_flags);
	char kmsg[1024];
	struct text_save save;
	text_save_start(st, text_copy, &save);
	fw_names_pause(st->names);
	int krc = nft_commit(st->nft, &b, kmsg, sizeof(kmsg));
	batch_done(&b);
	int serr = text_save_finish(&save, krc == 0);
	if (krc) {
		fw_names_resume(st->names);
		if (st->ifaces)
			fw_ifaces_sync(st->ifaces, st->policy);   /* the links parked for nothing */
		/* the first refusal is the cause; the rest of the batch fails with it */
		size_t more = 0;
		char *semi = strstr(kmsg, "; ");
		for (char *s = semi; s; s = strstr(s + 2, "; "))
			more++;
		if (semi)
			*semi = 0;
		/* nlsock.c names the config line of a rule: put it where errors go */
		char where[4200];
		int line = 0;
		char *at = strstr(kmsg, " [config line ");
		if (at && sscanf(at, " [config line %d]", &line) == 1 && line > 0)
			*at = 0;
		if (line)
			snprintf(where, sizeof(where), "%s:%d", file, line);
		else
			snprintf(where, sizeof(where), "%s", file);
		rc = -krc;
		snprintf(err, errlen, "%s: error: the kernel refused the policy: %s%s\n", where, kmsg,
			 more ? " (the rest of the batch failed with it)" : "");
		goto cleanup;
	}

	retire(st);
	st->rs = rs;
	st->policy = p;
	st->text = text_copy;
	st->file = file_copy;
	st->generation = gen;
	st->mark_floor = st->rs->mark_next;
	st->next_expiry = earliest_expiry(p);
	rs = NULL;
	p = NULL;
	text_copy = file_copy = NULL;
	/* warnings (expired rules) go back to the user with the success */
	copy_message(err, errlen, d.out_len ? d.out : "");

	if (st->names)
		fw_names_sync(st->names);
	t3 = (mono_ns() / 1e6);
	if (!serr)
		serr = state_save_generation(st);
	t4 = (mono_ns() / 1e6);
	if (serr)
		fprintf(stderr, "moat-firewalld: saving the policy in %s: %s (a restart would load the one before)\n",
			st->state_dir, strerror(serr));
	if (st->ifaces && fw_ifaces_sync(st->ifaces, st->policy) < 0)
		fprintf(stderr, "moat-firewalld: interfaces not all configured yet\n");
	if (st->dnsmasq && fw_dnsmasq_configure(st->dnsmasq, st->policy) < 0)
		fprintf(stderr, "moat-firewalld: dnsmasq not configured\n");
	st->ms_check = t1 - t0;
	st->ms_compile = t2 - t1;
	st->ms_kernel = t3 - t2;
	st->ms_save = t4 - t3;
	st->ms_sync = (mono_ns() / 1e6) - t4;

cleanup:
	ruleset_free(rs);
	policy_free(p);
	diags_free(&d);
	free(text_copy);
	free(file_copy);
	return rc;
}

void fw_apply_release(struct fw_state *st)
{
	ruleset_free(st->old_rs);
	policy_free(st->old_policy);
	free(st->old_text);
	free(st->old_file);
	st->old_rs = NULL;
	st->old_policy = NULL;
	st->old_text = st->old_file = NULL;
}

int fw_apply(struct fw_state *st, const char *file, const char *text, uint32_t gen,
	     char *err, size_t errlen)
{
	/* an old generation again would be a rollback no one recorded: netctl
	 * rolls back by sending the old text as a new generation */
	if (st->policy && gen <= st->generation) {
		snprintf(err, errlen, "%s: generation %u is not newer than generation %u in force: "
			 "nothing changed (netctl numbers generations from its state directory; "
			 "is it the one the firewall was set up from?)\n", file, gen, st->generation);
		return ESTALE;
	}
	return apply_text(st, file, text, gen, time(NULL), err, errlen);
}

int fw_expire(struct fw_state *st, time_t now)
{
	if (!st->policy || !st->next_expiry || now < st->next_expiry)
		return 0;
	char err[4096];
	int rc = apply_text(st, st->file, st->text, st->generation, now, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "moat-firewalld: removing expired rules: %s", err);
		/* retry at the next tick instead of spinning */
		st->next_expiry = now + 1;
	}
	return rc;
}

int fw_restore(struct fw_state *st, char *err, size_t errlen)
{
	char path[4096];
	char *gen_text = NULL, *text = NULL;
	int rc = 0;
	if (errlen)
		err[0] = 0;
	if (!st->state_dir)
		return ENOENT;
	size_t len;
	gen_text = state_read(st->state_dir, "generation", path, &len);
	if (!gen_text) {
		rc = errno;
		goto cleanup;
	}
	text = state_read(st->state_dir, "current.conf", path, &len);
	if (!text) {
		rc = errno;
		goto cleanup;
	}
	char *end;
	errno = 0;
	unsigned long gen = strtoul(gen_text, &end, 10);
	if (errno || end == gen_text || *end != '\n' || gen > UINT32_MAX || strlen(text) != len) {
		snprintf(err, errlen, "%s/generation: not a generation\n", st->state_dir);
		rc = EINVAL;
		goto cleanup;
	}
	char *file = end + 1;
	file[strcspn(file, "\n")] = 0;
	rc = apply_text(st, *file ? file : "current.conf", text, (uint32_t)gen, time(NULL), err, errlen);

cleanup:
	free(gen_text);
	free(text);
	return rc;
}

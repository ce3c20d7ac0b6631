/* netctl-reply.c: calls to the appliances and the records of their replies,
 * checked and bounded (netctl-reply.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/netctl-reply.h"
#include "host/priv.h"

void netctl_call_failed(const char *who, const char *path, int err, long timeout_ms)
{
	if (err == -ETIMEDOUT)
		fprintf(stderr, "netctl: %s not answering on %s (timeout %ld s)\n", who, path,
			(timeout_ms + 999) / 1000);
	else if (err == -EPROTO)
		fprintf(stderr, "netctl: %s control channel %s: malformed reply, ignored\n", who, path);
	else if (!priv_explain(path, err))
		fprintf(stderr, "netctl: %s control channel %s: %s\n", who, path, strerror(-err));
}

bool netctl_status_path(const char *path, char *buf, size_t len)
{
	size_t n = strlen(path);
	if (n > 4 && strcmp(path + n - 4, ".ctl") == 0)
		n -= 4;
	int r = snprintf(buf, len, "%.*s.status", (int)n, path);
	return r > 0 && (size_t)r < len;
}

const char *netctl_channel(const char *path, uint16_t type, char *buf, size_t len)
{
	struct stat st;
	/* QEMU serves one client at a time on each port: a member of moat who
	 * holds the read-only socket makes every other reader wait. Root
	 * reads through its own socket (root's alone), so no member can
	 * ever hold root's status, stats or log. An appliance daemon started
	 * by hand (or a test's) may serve only PATH: where no read-only socket
	 * is, PATH answers for it (and the kernel still says who may connect) */
	if (geteuid() != 0 && ctl_request_read_only(type) && netctl_status_path(path, buf, len) && lstat(buf, &st) == 0)
		return buf;
	return path;
}

uint8_t *netctl_call(const char *who, const char *path, const struct ctl_msg *req, size_t *len,
		     long timeout_ms)
{
	uint8_t *reply;
	char ro[4096];
	const char *to = netctl_channel(path, req->type, ro, sizeof(ro));
	if (timeout_ms <= 0)
		timeout_ms = CTL_CALL_MS;
	int err = ctl_call_within(to, req, &reply, len, timeout_ms);
	if (err && (err == -EACCES || err == -EPERM) && !ctl_request_read_only(req->type) && geteuid() != 0)
		fprintf(stderr, "netctl: permission denied on %s: changing the %s needs root (its read-write "
			"control channel is root's alone; the group '%s' may run the read-only commands)\n",
			to, who, PRIV_GROUP_READ);
	else if (err)
		netctl_call_failed(who, to, err, timeout_ms);
	return err ? NULL : reply;
}

uint32_t netctl_reply_status(const uint8_t *f, size_t len, bool print)
{
	uint32_t st;
	if (!ctl_get_u32(f, len, CTL_A_STATUS, &st))
		st = EPROTO;
	if (st && print) {
		const char *msg = ctl_get_str(f, len, CTL_A_MESSAGE);
		fputs("netctl: ", stderr);
		ctl_fput_safe(stderr, msg && *msg ? msg : strerror((int)st), true);
		if (!msg || !*msg || msg[strlen(msg) - 1] != '\n')
			fputc('\n', stderr);
	}
	return st;
}

/* ---- stats ---- */

/* VALUE (a string attribute a frame check let through) into BUF of SIZE. */
static bool copy_str(struct ctl_attrs a, uint16_t attr, char *buf, size_t size)
{
	const char *s = ctl_attrs_str(a, attr);
	return s && (size_t)snprintf(buf, size, "%s", s) < size;
}

bool netctl_counter_next(struct ctl_attrs *it, struct netctl_counter *c, size_t *bad)
{
	struct ctl_attrs r;
	while (ctl_next_nest(it, CTL_A_COUNTER, &r)) {
		memset(c, 0, sizeof(*c));
		if (copy_str(r, CTL_A_VM, c->vm, sizeof(c->vm)) && *c->vm &&
		    ctl_attrs_u32(r, CTL_A_KIND, &c->kind) && c->kind < CTL_C_COUNT_ &&
		    (c->kind != CTL_C_RULE || (ctl_attrs_u32(r, CTL_A_RULE, &c->rule) && c->rule)) &&
		    ctl_attrs_u64(r, CTL_A_PACKETS, &c->packets) && ctl_attrs_u64(r, CTL_A_BYTES, &c->bytes))
			return true;
		(*bad)++;
	}
	return false;
}

static void count_add(struct netctl_count *k, const struct netctl_counter *c)
{
	/* counters wrap as the kernel's do; never past what was allocated */
	k->packets += c->packets;
	k->bytes += c->bytes;
	k->seen = true;
}

bool netctl_stats_decode(const uint8_t *f, size_t len, const struct policy *p, struct netctl_stats *s)
{
	memset(s, 0, sizeof(*s));
	s->vms = calloc(p->nvms ? p->nvms : 1, sizeof(*s->vms));
	if (!s->vms)
		return false;
	s->nvms = p->nvms;
	for (size_t i = 0; i < p->nvms; i++) {
		s->vms[i].nrules = p->vms[i].nrules;
		s->vms[i].rules = calloc(p->vms[i].nrules ? p->vms[i].nrules : 1, sizeof(struct netctl_count));
		if (!s->vms[i].rules) {
			netctl_stats_free(s);
			return false;
		}
	}
	struct ctl_attrs it = ctl_payload(f, len);
	struct netctl_counter c;
	while (netctl_counter_next(&it, &c, &s->ignored)) {
		int i = policy_find_vm(p, c.vm);
		struct netctl_vm_counts *v = i >= 0 ? &s->vms[i] : NULL;
		if (v && c.kind == CTL_C_RULE && c.rule <= v->nrules)
			count_add(&v->rules[c.rule - 1], &c);
		else if (v && c.kind != CTL_C_RULE)
			count_add(&v->by_kind[c.kind], &c);
		else
			s->ignored++;
	}
	return true;
}

void netctl_stats_free(struct netctl_stats *s)
{
	for (size_t i = 0; s->vms && i < s->nvms; i++)
		free(s->vms[i].rules);
	free(s->vms);
	memset(s, 0, sizeof(*s));
}

/* ---- log ---- */

bool netctl_log_next(struct ctl_attrs *it, struct netctl_log *r, size_t *bad)
{
	struct ctl_attrs a;
	while (ctl_next_nest(it, CTL_A_LOG, &a)) {
		memset(r, 0, sizeof(*r));
		r->has_type = ctl_attrs_u32(a, CTL_A_ICMP_TYPE, &r->type);
		if (ctl_attrs_u64(a, CTL_A_TIME, &r->time) && copy_str(a, CTL_A_VM, r->vm, sizeof(r->vm)) &&
		    ctl_attrs_u32(a, CTL_A_ACTION, &r->action) && r->action <= CTL_ACT_DENY &&
		    copy_str(a, CTL_A_PROTO, r->proto, sizeof(r->proto)) &&
		    copy_str(a, CTL_A_SRC, r->src, sizeof(r->src)) &&
		    copy_str(a, CTL_A_DST, r->dst, sizeof(r->dst)) && ctl_attrs_u32(a, CTL_A_RULE, &r->rule))
			return true;
		(*bad)++;
	}
	return false;
}

/* ---- what is in force ---- */

void netctl_counts_decode(const uint8_t *f, size_t len, struct netctl_counts *c)
{
	memset(c, 0, sizeof(*c));
	c->has = ctl_get_u32(f, len, CTL_A_VMS, &c->vms) && ctl_get_u32(f, len, CTL_A_RULES, &c->rules);
	struct ctl_attrs a = ctl_payload(f, len);
	if (c->has && ctl_attrs_u32(a, CTL_A_EXPIRING, &c->expiring) &&
	    !ctl_attrs_u64(a, CTL_A_NEXT_EXPIRY, &c->next_expiry))
		c->expiring = 0;
}

void netctl_counts_format(const struct netctl_counts *c, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%u VM%s, %u rule%s", c->vms, c->vms == 1 ? "" : "s", c->rules,
			 c->rules == 1 ? "" : "s");
	if (c->expiring && n > 0 && (size_t)n < size) {
		char when[MOAT_TIME_STRLEN];
		time_t t = c->next_expiry > (uint64_t)INT64_MAX ? INT64_MAX : (time_t)c->next_expiry;
		policy_format_time(t, when, sizeof(when));
		snprintf(buf + n, size - (size_t)n, " (%u with until; next at %s)", c->expiring, when);
	}
}

/* MSG, the appliance's, escaped; a line end added if it has none. */
void netctl_print_lines(FILE *out, const char *msg)
{
	if (!*msg)
		return;
	ctl_fput_safe(out, msg, true);
	if (msg[strlen(msg) - 1] != '\n')
		fputc('\n', out);
}

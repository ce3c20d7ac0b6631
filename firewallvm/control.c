/* control.c: the firewall's requests over the control channel
 * (lib/ctlserver.c does the transport): apply, status, stats, and the packet
 * log, once or followed. The read-only channel (the host's group moat) is a
 * second server with the same handler: lib/ctlserver.c lets only status,
 * stats and log through it. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/ctl.h"
#include "lib/ctlserver.h"
#include "firewallvm/firewalld.h"

#define ERR_MAX          (64 * 1024)

_Static_assert(FW_MAX_CLIENTS == CTL_SERVER_MAX_CLIENTS, "main.c polls this many clients");

struct fw_control {
	struct ctl_server *srv;
	struct ctl_server *ro;       /* the read-only channel, or NULL */
	struct fw_state *st;
	struct fw_nflog *nflog;
};

/* ---- requests ---- */

static void policy_counts(const struct fw_state *st, size_t *rules, size_t *expiring)
{
	*rules = *expiring = 0;
	for (size_t i = 0; i < st->policy->nvms; i++)
		for (size_t j = 0; j < st->policy->vms[i].nrules; j++) {
			const struct rule *r = &st->policy->vms[i].rules[j];
			*rules += !r->expired;
			*expiring += r->has_until && !r->expired;
		}
}

static void summary(const struct fw_state *st, char *buf, size_t len)
{
	if (!st->policy) {
		snprintf(buf, len, "no policy loaded: the firewall drops everything");
		return;
	}
	size_t rules, expiring;
	policy_counts(st, &rules, &expiring);
	int n = snprintf(buf, len, "generation %u from %s: %zu VM%s, %zu rule%s", st->generation,
			 st->file, st->policy->nvms, st->policy->nvms == 1 ? "" : "s", rules,
			 rules == 1 ? "" : "s");
	if (expiring && n > 0 && (size_t)n < len) {
		char when[MOAT_TIME_STRLEN];
		policy_format_time(st->next_expiry, when, sizeof(when));
		snprintf(buf + n, len - n, " (%zu with until; next at %s)", expiring, when);
	}
}

/* What is in force, as numbers: netctl records and shows them without
 * reading them back out of a sentence. */
static bool put_counts(struct ctl_msg *m, const struct fw_state *st)
{
	if (!st->policy)
		return true;
	size_t rules, expiring;
	policy_counts(st, &rules, &expiring);
	return ctl_put_u32(m, CTL_A_VMS, (uint32_t)st->policy->nvms) &&
	       ctl_put_u32(m, CTL_A_RULES, (uint32_t)rules) &&
	       (!expiring || (ctl_put_u32(m, CTL_A_EXPIRING, (uint32_t)expiring) &&
			      ctl_put_u64(m, CTL_A_NEXT_EXPIRY, (uint64_t)st->next_expiry)));
}

static void do_apply(struct fw_control *c, struct ctl_client *cl, const uint8_t *f, size_t len)
{
	const char *text = ctl_get_str(f, len, CTL_A_TEXT);
	const char *file = ctl_get_str(f, len, CTL_A_FILE);
	uint32_t gen;
	if (!text || !ctl_get_u32(f, len, CTL_A_GENERATION, &gen)) {
		ctl_client_error(cl, EINVAL, "apply needs the policy text and a generation");
		return;
	}
	char *err = malloc(ERR_MAX);
	if (!err) {
		ctl_client_error(cl, ENOMEM, "out of memory");
		return;
	}
	int rc = fw_apply(c->st, file && *file ? file : "moat.conf", text, gen, err, ERR_MAX);
	struct ctl_msg m;
	ctl_msg_init(&m, CTL_REPLY);
	bool ok = ctl_put_u32(&m, CTL_A_STATUS, (uint32_t)rc);
	if (!rc) {
		char sum[512];
		summary(c->st, sum, sizeof(sum));
		size_t n = strlen(err);
		/* warnings first, then the one line that says what is in force */
		snprintf(err + n, ERR_MAX - n, "%s", sum);
		ok = ok && ctl_put_u32(&m, CTL_A_GENERATION, gen) && put_counts(&m, c->st);
		fprintf(stderr, "moat-firewalld: applied %s (ms: check %.1f, compile %.1f, "
			"kernel %.1f, save %.1f, interfaces and dnsmasq %.1f)\n", sum, c->st->ms_check,
			c->st->ms_compile, c->st->ms_kernel, c->st->ms_save, c->st->ms_sync);
	} else {
		fprintf(stderr, "moat-firewalld: refused generation %u from %s: %s\n", gen,
			file ? file : "moat.conf", strerror(rc));
	}
	ok = ok && ctl_put_str(&m, CTL_A_MESSAGE, err);
	ctl_client_reply(cl, &m, ok);
	ctl_msg_free(&m);
	free(err);
}

static void do_status(struct fw_control *c, struct ctl_client *cl)
{
	char sum[1024];
	summary(c->st, sum, sizeof(sum));
	size_t n = strlen(sum);
	if (c->st->names)
		snprintf(sum + n, sizeof(sum) - n, "\nhost names: %lu addresses copied from DNS answers; DNS answers %s",
			 fw_names_copied(c->st->names), fw_names_hold(c->st->names));
	struct ctl_msg m;
	ctl_msg_init(&m, CTL_REPLY);
	bool ok = ctl_put_u32(&m, CTL_A_STATUS, 0) && ctl_put_str(&m, CTL_A_MESSAGE, sum) &&
		  ctl_put_u32(&m, CTL_A_GENERATION, c->st->generation);
	if (c->st->policy)
		ok = ok && ctl_put_str(&m, CTL_A_FILE, c->st->file) &&
		     ctl_put_str(&m, CTL_A_TEXT, c->st->text) && put_counts(&m, c->st);
	ctl_client_reply(cl, &m, ok);
	ctl_msg_free(&m);
}

struct counters_msg {
	struct ctl_msg *m;
	bool ok;
};

static void put_counter(const char *vm, int kind, int rule, uint64_t packets, uint64_t bytes, void *arg)
{
	struct counters_msg *c = arg;
	if (!ctl_str_allowed(CTL_A_VM, vm))
		return;   /* not a chain or comment of ours: the channel does not carry it */
	size_t at = c->ok ? ctl_nest_start(c->m, CTL_A_COUNTER) : 0;
	c->ok = at && ctl_put_str(c->m, CTL_A_VM, vm) && ctl_put_u32(c->m, CTL_A_KIND, (uint32_t)kind) &&
		(kind != CTL_C_RULE || ctl_put_u32(c->m, CTL_A_RULE, (uint32_t)rule)) &&
		ctl_put_u64(c->m, CTL_A_PACKETS, packets) && ctl_put_u64(c->m, CTL_A_BYTES, bytes);
	if (c->ok)
		ctl_nest_end(c->m, at);
}

static void do_stats(struct fw_control *fc, struct ctl_client *cl, const uint8_t *f, size_t len)
{
	const char *vm = ctl_get_str(f, len, CTL_A_VM);
	struct ctl_msg m;
	ctl_msg_init(&m, CTL_REPLY);
	struct counters_msg c = { &m, ctl_put_u32(&m, CTL_A_STATUS, 0) && ctl_put_str(&m, CTL_A_MESSAGE, "") };
	size_t nextra;
	const struct fw_count *extra = fw_dhcp4q_counts(fc->st->dhcp4q, &nextra);
	int err = fw_counters_each(vm && *vm ? vm : NULL, extra, nextra, put_counter, &c);
	if (err) {
		char msg[256];
		snprintf(msg, sizeof(msg), "reading the counters: %s", strerror(-err));
		ctl_client_error(cl, -err, msg);
	} else {
		ctl_client_reply(cl, &m, c.ok);
	}
	ctl_msg_free(&m);
}

/* "TIME VM ..." */
static bool line_is_vm(const char *line, const char *vm)
{
	if (!*vm)
		return true;
	const char *sp = strchr(line, ' ');
	if (!sp)
		return false;
	size_t n = strlen(vm);
	return strncmp(sp + 1, vm, n) == 0 && (sp[1 + n] == ' ' || sp[1 + n] == 0);
}

/* LINE, as nflog.c wrote it ("TIME VM ACTION PROTO SRC -> DST [type N] rule
 * R", PROTO one word or "proto N"), as a LOG record of M. */
static bool put_log(struct ctl_msg *m, const char *line)
{
	char buf[256], *tok[12], *save;
	size_t n = 0;
	snprintf(buf, sizeof(buf), "%s", line);
	for (char *t = strtok_r(buf, " ", &save); t && n < 12; t = strtok_r(NULL, " ", &save))
		tok[n++] = t;
	size_t p = n > 4 && strcmp(tok[3], "proto") == 0 ? 5 : 4;   /* the source */
	if (n < p + 5 || strcmp(tok[p + 1], "->") != 0 || strcmp(tok[n - 2], "rule") != 0)
		return true;   /* not a line of ours: left out */
	bool has_type = n == p + 7 && strcmp(tok[p + 3], "type") == 0;
	if (n != p + 5 && !has_type)
		return true;
	struct tm tm = { 0 };
	const char *end = strptime(tok[0], "%Y-%m-%dT%H:%M:%SZ", &tm);
	char *rest = NULL;
	unsigned long rule = strcmp(tok[n - 1], "default") == 0 ? 0 : strtoul(tok[n - 1], &rest, 10);
	if ((rest && (*rest || rest == tok[n - 1])) || rule > UINT32_MAX)
		return true;
	unsigned long type = has_type ? strtoul(tok[p + 4], NULL, 10) : 0;
	if (p == 5)
		tok[3][5] = ' ';   /* "proto N" again */
	if (!ctl_str_allowed(CTL_A_VM, tok[1]) || !ctl_str_allowed(CTL_A_PROTO, tok[3]) ||
	    !ctl_str_allowed(CTL_A_SRC, tok[p]) || !ctl_str_allowed(CTL_A_DST, tok[p + 2]))
		return true;
	size_t at = ctl_nest_start(m, CTL_A_LOG);
	bool ok = at && ctl_put_u64(m, CTL_A_TIME, end && !*end ? (uint64_t)timegm(&tm) : 0) &&
		  ctl_put_str(m, CTL_A_VM, tok[1]) &&
		  ctl_put_u32(m, CTL_A_ACTION, strcmp(tok[2], "allow") == 0 ? CTL_ACT_ALLOW : CTL_ACT_DENY) &&
		  ctl_put_str(m, CTL_A_PROTO, tok[3]) && ctl_put_str(m, CTL_A_SRC, tok[p]) &&
		  ctl_put_str(m, CTL_A_DST, tok[p + 2]) &&
		  (!has_type || ctl_put_u32(m, CTL_A_ICMP_TYPE, (uint32_t)type)) &&
		  ctl_put_u32(m, CTL_A_RULE, (uint32_t)rule);
	if (ok)
		ctl_nest_end(m, at);
	return ok;
}

struct ring_msg {
	struct ctl_msg *m;
	bool ok;
};

static void ring_append(const char *line, void *arg)
{
	struct ring_msg *r = arg;
	r->ok = r->ok && put_log(r->m, line);
}

static void do_log(struct fw_control *c, struct ctl_client *cl, const uint8_t *f, size_t len)
{
	const char *vm = ctl_get_str(f, len, CTL_A_VM);
	uint32_t follow = 0;
	ctl_get_u32(f, len, CTL_A_FOLLOW, &follow);
	if (follow && !c->nflog) {
		ctl_client_error(cl, ENOTSUP, "the packet log is not running");
		return;
	}
	/* the ring (FW_LOG_RING records of at most ~200 bytes) fits in one frame */
	struct ctl_msg m;
	ctl_msg_init(&m, CTL_REPLY);
	struct ring_msg r = { &m, ctl_put_u32(&m, CTL_A_STATUS, 0) &&
				  ctl_put_str(&m, CTL_A_MESSAGE, follow ? "following" : "") };
	if (c->nflog)
		fw_nflog_each(c->nflog, vm && *vm ? vm : NULL, ring_append, &r);
	ctl_client_reply(cl, &m, r.ok);
	ctl_msg_free(&m);
	if (follow && r.ok)
		ctl_client_follow(cl, vm);
}

static bool follower_wants(const char *vm, void *line)
{
	return line_is_vm(line, vm);
}

void fw_control_log_line(const char *line, void *control)
{
	struct fw_control *c = control;
	struct ctl_msg m;
	ctl_msg_init(&m, CTL_EVENT);
	if (put_log(&m, line) && m.len) {
		ctl_server_publish(c->srv, &m, follower_wants, (void *)line);
		if (c->ro)
			ctl_server_publish(c->ro, &m, follower_wants, (void *)line);
	}
	ctl_msg_free(&m);
}

static void handle_request(void *arg, struct ctl_client *cl, uint16_t type, const uint8_t *f, size_t len)
{
	struct fw_control *c = arg;
	switch (type) {
	case CTL_REQ_APPLY: do_apply(c, cl, f, len); break;
	case CTL_REQ_STATUS: do_status(c, cl); break;
	case CTL_REQ_STATS: do_stats(c, cl, f, len); break;
	case CTL_REQ_LOG: do_log(c, cl, f, len); break;
	default:
		ctl_client_error(cl, EOPNOTSUPP, "moat-firewalld does not take this request");
		ctl_client_close(cl);
	}
}

struct fw_control *fw_control_open(const char *path, const char *status_path, struct fw_state *st,
				   struct fw_nflog *nflog)
{
	struct fw_control *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->st = st;
	c->nflog = nflog;
	c->srv = ctl_server_open(path, "moat-firewalld", handle_request, c);
	if (c->srv && status_path) {
		c->ro = ctl_server_open_read_only(status_path, "moat-firewalld", handle_request, c);
		if (!c->ro) {
			ctl_server_close(c->srv);
			c->srv = NULL;
		}
	}
	if (!c->srv) {
		free(c);
		return NULL;
	}
	return c;
}

void fw_control_close(struct fw_control *c)
{
	if (!c)
		return;
	ctl_server_close(c->srv);
	ctl_server_close(c->ro);
	free(c);
}

size_t fw_control_pollfds(const struct fw_control *c, struct pollfd *fds)
{
	size_t n = ctl_server_pollfds(c->srv, fds);
	return c->ro ? n + ctl_server_pollfds(c->ro, fds + n) : n;
}

int fw_control_timeout(const struct fw_control *c)
{
	int a = ctl_server_timeout(c->srv), b = c->ro ? ctl_server_timeout(c->ro) : -1;
	return a < 0 ? b : b < 0 || a < b ? a : b;   /* the sooner; -1 is never */
}

void fw_control_event(struct fw_control *c, const struct pollfd *fds, size_t n)
{
	/* each server serves only its own descriptors of FDS */
	ctl_server_event(c->srv, fds, n);
	if (c->ro)
		ctl_server_event(c->ro, fds, n);
}

/* control.c: the firewall's requests over the control channel
 * (lib/ctlserver.c does the transport): apply, status, stats, and the packet
 * log, once or followed. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "ctlserver.h"
#include "firewalld.h"

#define ERR_MAX          (64 * 1024)

_Static_assert(FW_MAX_CLIENTS == CTL_SERVER_MAX_CLIENTS, "main.c polls this many clients");

struct fw_control {
	struct ctl_server *srv;
	struct fw_state *st;
	struct fw_nflog *nflog;
};

/* ---- requests ---- */

static void summary(const struct fw_state *st, char *buf, size_t len)
{
	if (!st->policy) {
		snprintf(buf, len, "no policy loaded: the firewall drops everything");
		return;
	}
	size_t rules = 0, expiring = 0;
	for (size_t i = 0; i < st->policy->nvms; i++)
		for (size_t j = 0; j < st->policy->vms[i].nrules; j++) {
			const struct rule *r = &st->policy->vms[i].rules[j];
			rules += !r->expired;
			expiring += r->has_until && !r->expired;
		}
	int n = snprintf(buf, len, "generation %u from %s: %zu VM%s, %zu rule%s", st->generation,
			 st->file, st->policy->nvms, st->policy->nvms == 1 ? "" : "s", rules,
			 rules == 1 ? "" : "s");
	if (expiring && n > 0 && (size_t)n < len) {
		char when[MOAT_TIME_STRLEN];
		policy_format_time(st->next_expiry, when, sizeof(when));
		snprintf(buf + n, len - n, " (%zu with until; next at %s)", expiring, when);
	}
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
		ok = ok && ctl_put_u32(&m, CTL_A_GENERATION, gen);
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
		snprintf(sum + n, sizeof(sum) - n, "\nhost names: %lu addresses copied from dnsmasq; DNS answers %s",
			 fw_names_copied(c->st->names), fw_names_hold(c->st->names));
	struct ctl_msg m;
	ctl_msg_init(&m, CTL_REPLY);
	bool ok = ctl_put_u32(&m, CTL_A_STATUS, 0) && ctl_put_str(&m, CTL_A_MESSAGE, sum) &&
		  ctl_put_u32(&m, CTL_A_GENERATION, c->st->generation);
	if (c->st->policy)
		ok = ok && ctl_put_str(&m, CTL_A_FILE, c->st->file) &&
		     ctl_put_str(&m, CTL_A_TEXT, c->st->text);
	ctl_client_reply(cl, &m, ok);
	ctl_msg_free(&m);
}

static void do_stats(struct ctl_client *cl, const uint8_t *f, size_t len)
{
	const char *vm = ctl_get_str(f, len, CTL_A_VM);
	char *text = fw_counters_text(vm && *vm ? vm : NULL);
	if (!text) {
		int e = errno ? errno : EIO;
		char msg[256];
		snprintf(msg, sizeof(msg), "reading the counters: %s", strerror(e));
		ctl_client_error(cl, e, msg);
		return;
	}
	struct ctl_msg m;
	ctl_msg_init(&m, CTL_REPLY);
	bool ok = ctl_put_u32(&m, CTL_A_STATUS, 0) && ctl_put_str(&m, CTL_A_MESSAGE, "") &&
		  ctl_put_str(&m, CTL_A_TEXT, text);
	ctl_client_reply(cl, &m, ok);
	ctl_msg_free(&m);
	free(text);
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

struct ring_text {
	char *buf;
	size_t len, cap;
	bool failed;
};

static void ring_append(const char *line, void *arg)
{
	struct ring_text *t = arg;
	size_t n = strlen(line);
	if (t->failed)
		return;
	if (t->len + n + 2 > t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 4096;
		while (cap < t->len + n + 2)
			cap *= 2;
		char *p = realloc(t->buf, cap);
		if (!p) {
			t->failed = true;
			return;
		}
		t->buf = p;
		t->cap = cap;
	}
	memcpy(t->buf + t->len, line, n);
	t->len += n;
	t->buf[t->len++] = '\n';
	t->buf[t->len] = 0;
}

static void do_log(struct fw_control *c, struct ctl_client *cl, const uint8_t *f, size_t len)
{
	const char *vm = ctl_get_str(f, len, CTL_A_VM);
	uint32_t follow = 0;
	ctl_get_u32(f, len, CTL_A_FOLLOW, &follow);
	if (vm && strlen(vm) > MOAT_NAME_MAX) {
		ctl_client_error(cl, EINVAL, "no such VM: the name is too long");
		return;
	}
	if (follow && !c->nflog) {
		ctl_client_error(cl, ENOTSUP, "the packet log is not running");
		return;
	}
	struct ring_text t = { 0 };
	if (c->nflog)
		fw_nflog_each(c->nflog, vm && *vm ? vm : NULL, ring_append, &t);
	const char *text = t.buf ? t.buf : "";
	/* the ring is bounded, but keep the newest lines if it ever outgrows a frame */
	size_t room = CTL_MAX_PAYLOAD - 4096;
	if (t.len > room) {
		text = t.buf + t.len - room;
		const char *nl = strchr(text, '\n');
		text = nl ? nl + 1 : text;
	}
	struct ctl_msg m;
	ctl_msg_init(&m, CTL_REPLY);
	bool ok = !t.failed && ctl_put_u32(&m, CTL_A_STATUS, 0) &&
		  ctl_put_str(&m, CTL_A_MESSAGE, follow ? "following" : "") &&
		  ctl_put_str(&m, CTL_A_TEXT, text);
	ctl_client_reply(cl, &m, ok);
	ctl_msg_free(&m);
	free(t.buf);
	if (follow && ok)
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
	if (ctl_put_str(&m, CTL_A_TEXT, line))
		ctl_server_publish(c->srv, &m, follower_wants, (void *)line);
	ctl_msg_free(&m);
}

static void handle_request(void *arg, struct ctl_client *cl, uint16_t type, const uint8_t *f, size_t len)
{
	struct fw_control *c = arg;
	switch (type) {
	case CTL_REQ_APPLY: do_apply(c, cl, f, len); break;
	case CTL_REQ_STATUS: do_status(c, cl); break;
	case CTL_REQ_STATS: do_stats(cl, f, len); break;
	case CTL_REQ_LOG: do_log(c, cl, f, len); break;
	default:
		ctl_client_error(cl, EOPNOTSUPP, "moat-firewalld does not take this request");
		ctl_client_close(cl);
	}
}

struct fw_control *fw_control_open(const char *path, struct fw_state *st, struct fw_nflog *nflog)
{
	struct fw_control *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->st = st;
	c->nflog = nflog;
	c->srv = ctl_server_open(path, "moat-firewalld", handle_request, c);
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
	free(c);
}

size_t fw_control_pollfds(const struct fw_control *c, struct pollfd *fds)
{
	return ctl_server_pollfds(c->srv, fds);
}

int fw_control_timeout(const struct fw_control *c)
{
	return ctl_server_timeout(c->srv);
}

void fw_control_event(struct fw_control *c, const struct pollfd *fds, size_t n)
{
	ctl_server_event(c->srv, fds, n);
}

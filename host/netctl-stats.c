/* netctl stats / log: what the firewall counted and what it logged. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "netctl.h"

NETCTL_COMMAND(stats_main, "stats", "[--json] [VM]",
	       "Per-rule packet and byte counters, default-deny and spoofing drops.", 30);
NETCTL_COMMAND(log_main, "log", "[-f] [--json] [VM]",
	       "Denied (and log-marked) packets: time, VM, proto, src, dst, rule; -f follows.", 31);

struct count {
	uint64_t packets, bytes;
	bool seen;
};

struct vm_counts {
	char name[MOAT_NAME_MAX + 1];
	struct count *rules;       /* [1..nrules] */
	size_t nrules;
	struct count dns, deny, spoof, ipv6;
};

struct stats {
	struct vm_counts *v;
	size_t n;
};

static struct vm_counts *stats_vm(struct stats *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].name, name) == 0)
			return &s->v[i];
	struct vm_counts *v = realloc(s->v, (s->n + 1) * sizeof(*v));
	if (!v)
		return NULL;
	s->v = v;
	v = &s->v[s->n++];
	memset(v, 0, sizeof(*v));
	snprintf(v->name, sizeof(v->name), "%s", name);
	return v;
}

/* "VM rule N packets P bytes B", "VM dns|default-deny|spoofed packets P bytes B" */
static bool stats_parse(struct stats *s, const char *text)
{
	for (const char *line = text; *line;) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		char buf[256], vm[64], kind[32];
		unsigned long long pk, by;
		int rule = 0;
		if (len >= sizeof(buf))
			return false;
		memcpy(buf, line, len);
		buf[len] = '\0';
		line += len + (end != NULL);
		if (!len)
			continue;
		if (sscanf(buf, "%63s rule %d packets %llu bytes %llu", vm, &rule, &pk, &by) == 4)
			strcpy(kind, "rule");
		else if (sscanf(buf, "%63s %31s packets %llu bytes %llu", vm, kind, &pk, &by) != 4)
			return false;
		if (strlen(vm) > MOAT_NAME_MAX)
			return false;
		struct vm_counts *v = stats_vm(s, vm);
		if (!v)
			return false;
		struct count *c;
		if (strcmp(kind, "rule") == 0) {
			if (rule <= 0 || rule > 100000)
				return false;
			if ((size_t)rule > v->nrules) {
				size_t had = v->rules ? v->nrules + 1 : 0;
				struct count *r = realloc(v->rules, ((size_t)rule + 1) * sizeof(*r));
				if (!r)
					return false;
				memset(r + had, 0, ((size_t)rule + 1 - had) * sizeof(*r));
				v->rules = r;
				v->nrules = (size_t)rule;
			}
			c = &v->rules[rule];
		} else if (strcmp(kind, "dns") == 0) {
			c = &v->dns;
		} else if (strcmp(kind, "default-deny") == 0) {
			c = &v->deny;
		} else if (strcmp(kind, "spoofed") == 0) {
			c = &v->spoof;
		} else if (strcmp(kind, "ipv6-dropped") == 0) {
			c = &v->ipv6;
		} else {
			continue;   /* a newer firewall counts more: show what we know */
		}
		c->packets += pk;
		c->bytes += by;
		c->seen = true;
	}
	return true;
}

static void stats_free(struct stats *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].rules);
	free(s->v);
}

/* The rule as written: from its action keyword to the end of its statement. */
static void rule_text(const char *src, const struct rule *r, char *buf, size_t len)
{
	const char *p = src;
	for (int line = 1; line < r->loc.line && p; line++)
		if ((p = strchr(p, '\n')))
			p++;
	buf[0] = '\0';
	if (!p || strnlen(p, (size_t)r->loc.col) < (size_t)r->loc.col)
		return;
	p += r->loc.col - 1;
	size_t n = 0;
	bool quoted = false;
	while (p[n] && p[n] != '\n' && (quoted || (p[n] != ';' && p[n] != '}' && p[n] != '#'))) {
		if (p[n] == '"')
			quoted = !quoted;
		n++;
	}
	while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r'))
		n--;
	if (n >= len)
		n = len - 1;   /* a display column: the file has the whole rule */
	memcpy(buf, p, n);
	buf[n] = '\0';
}

static void json_count(const char *name, const struct count *c)
{
	printf("\"%s\":{\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64 "}", name, c->packets, c->bytes);
}

static void print_vm(const struct vm_counts *c, const struct vm *v, const char *src, bool json,
		     bool first)
{
	char text[160];
	if (json) {
		printf("%s{\"vm\":", first ? "" : ",");
		netctl_json_str(stdout, c->name);
		printf(",\"rules\":[");
	} else {
		printf("%svm %s\n  %5s %12s %14s  %s\n", first ? "" : "\n", c->name, "rule", "packets",
		       "bytes", "as written");
	}
	size_t n = v ? v->nrules : c->nrules;
	bool dns_shown = false;
	for (size_t i = 1; i <= n; i++) {
		const struct rule *r = v ? &v->rules[i - 1] : NULL;
		const struct count *k = i <= c->nrules ? &c->rules[i] : NULL;
		if (r && r->kind == RULE_DNS && !dns_shown) {
			k = &c->dns;
			dns_shown = true;
		}
		const char *state = !r ? "" : r->expired ? "expired" : k && k->seen ? "" : "not loaded";
		if (r)
			rule_text(src, r, text, sizeof(text));
		else
			text[0] = '\0';
		if (json) {
			printf("%s{\"rule\":%zu,\"text\":", i > 1 ? "," : "", i);
			netctl_json_str(stdout, text);
			printf(",\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"loaded\":%s}",
			       k ? k->packets : 0, k ? k->bytes : 0, *state ? "false" : "true");
		} else if (*state) {
			printf("  %5zu %12s %14s  %s  (%s)\n", i, "-", "-", text, state);
		} else {
			printf("  %5zu %12" PRIu64 " %14" PRIu64 "  %s\n", i, k ? k->packets : 0,
			       k ? k->bytes : 0, text);
		}
	}
	if (json) {
		printf("],");
		json_count("default_deny", &c->deny);
		printf(",");
		json_count("spoofed", &c->spoof);
		printf(",");
		json_count("ipv6_dropped", &c->ipv6);
		printf("}");
	} else {
		printf("  %5s %12" PRIu64 " %14" PRIu64 "  default deny\n", "-", c->deny.packets, c->deny.bytes);
		printf("  %5s %12" PRIu64 " %14" PRIu64 "  spoofed source, dropped\n", "-", c->spoof.packets,
		       c->spoof.bytes);
		printf("  %5s %12" PRIu64 " %14" PRIu64 "  IPv6, dropped (no subnet6)\n", "-", c->ipv6.packets,
		       c->ipv6.bytes);
	}
}

static int parse_args(int argc, char **argv, const char *usage, bool *json, bool *follow,
		      const char **vm)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "follow", no_argument, NULL, 'f' },
		{ 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, follow ? "f" : "", opts, NULL)) != -1) {
		if (c == 'j')
			*json = true;
		else if (c == 'f' && follow)
			*follow = true;
		else
			goto usage;
	}
	if (argc - optind > 1)
		goto usage;
	*vm = optind < argc ? argv[optind] : NULL;
	if (*vm && strlen(*vm) > MOAT_NAME_MAX) {
		fprintf(stderr, "netctl: no VM '%s': names have at most %d characters\n", *vm, MOAT_NAME_MAX);
		return NETCTL_FAILED;
	}
	return NETCTL_OK;
usage:
	fprintf(stderr, "usage: %s\n", usage);
	return NETCTL_USAGE;
}

static uint8_t *request(const struct netctl *ctx, uint16_t type, const char *vm, size_t *len)
{
	struct ctl_msg m;
	ctl_msg_init(&m, type);
	uint8_t *reply = NULL;
	if (vm && !ctl_put_str(&m, CTL_A_VM, vm)) {
		ctl_msg_free(&m);
		fprintf(stderr, "netctl: out of memory\n");
		return NULL;
	}
	int err = ctl_call(ctx->control, &m, &reply, len);
	ctl_msg_free(&m);
	if (err) {
		fprintf(stderr, "netctl: firewall control channel %s: %s\n", ctx->control, strerror(-err));
		return NULL;
	}
	uint32_t st = EPROTO;
	ctl_get_u32(reply, *len, CTL_A_STATUS, &st);
	if (st) {
		const char *msg = ctl_get_str(reply, *len, CTL_A_MESSAGE);
		fprintf(stderr, "netctl: %s\n", msg && *msg ? msg : strerror((int)st));
		free(reply);
		return NULL;
	}
	return reply;
}

int stats_main(struct netctl *ctx, int argc, char **argv)
{
	bool json = false;
	const char *vm;
	int rc = parse_args(argc, argv, "netctl stats [--json] [VM]", &json, NULL, &vm);
	if (rc)
		return rc;
	/* the rules' text comes from the file; counters without it still help */
	struct policy *p = netctl_load_policy(ctx, ctx->conf);
	char *src = p ? policy_read_file(ctx->conf, &(size_t){ 0 }) : NULL;
	if (p && vm && policy_find_vm(p, vm) < 0) {
		fprintf(stderr, "netctl: no VM '%s' in %s\n", vm, ctx->conf);
		policy_free(p);
		free(src);
		return NETCTL_FAILED;
	}
	size_t len;
	uint8_t *reply = request(ctx, CTL_REQ_STATS, vm, &len);
	struct stats s = { 0 };
	const char *text = reply ? ctl_get_str(reply, len, CTL_A_TEXT) : NULL;
	if (reply && (!text || !stats_parse(&s, text))) {
		fprintf(stderr, "netctl: the firewall's counters did not parse\n");
		rc = NETCTL_FAILED;
	} else if (!reply) {
		rc = NETCTL_FAILED;
	}
	if (rc == NETCTL_OK) {
		bool first = true;
		if (json)
			printf("[");
		/* the file's order, then whatever the firewall has that the file lacks */
		for (size_t i = 0; p && i < p->nvms; i++) {
			if (vm && strcmp(vm, p->vms[i].name) != 0)
				continue;
			struct vm_counts *c = stats_vm(&s, p->vms[i].name);
			if (!c) {
				rc = NETCTL_FAILED;
				break;
			}
			print_vm(c, &p->vms[i], src, json, first);
			first = false;
		}
		for (size_t i = 0; rc == NETCTL_OK && i < s.n; i++) {
			if (p && policy_find_vm(p, s.v[i].name) >= 0)
				continue;
			print_vm(&s.v[i], NULL, "", json, first);
			first = false;
		}
		if (json)
			printf("]\n");
	}
	stats_free(&s);
	free(reply);
	free(src);
	policy_free(p);
	return rc;
}

/* "TIME VM ACTION PROTO SRC -> DST [type N] rule R" as one JSON object. */
static void log_json(const char *line)
{
	char buf[512], *tok[16];
	int n = 0;
	snprintf(buf, sizeof(buf), "%s", line);
	for (char *save, *t = strtok_r(buf, " ", &save); t && n < 16; t = strtok_r(NULL, " ", &save))
		tok[n++] = t;
	int arrow = -1;
	for (int i = 0; i < n; i++)
		if (strcmp(tok[i], "->") == 0)
			arrow = i;
	if (n < 8 || arrow < 4 || arrow + 3 >= n || strcmp(tok[n - 2], "rule") != 0) {
		printf("{\"line\":");
		netctl_json_str(stdout, line);
		printf("}\n");
		return;
	}
	char proto[32];
	snprintf(proto, sizeof(proto), "%s%s%s", tok[3], arrow > 5 ? " " : "", arrow > 5 ? tok[4] : "");
	printf("{\"time\":");
	netctl_json_str(stdout, tok[0]);
	printf(",\"vm\":");
	netctl_json_str(stdout, tok[1]);
	printf(",\"action\":");
	netctl_json_str(stdout, tok[2]);
	printf(",\"proto\":");
	netctl_json_str(stdout, proto);
	printf(",\"src\":");
	netctl_json_str(stdout, tok[arrow - 1]);
	printf(",\"dst\":");
	netctl_json_str(stdout, tok[arrow + 1]);
	if (arrow + 3 < n && strcmp(tok[arrow + 2], "type") == 0)
		printf(",\"type\":%s", tok[arrow + 3]);
	printf(",\"rule\":");
	netctl_json_str(stdout, tok[n - 1]);
	printf("}\n");
}

static void log_print(const char *text, bool json)
{
	if (!json) {
		fputs(text, stdout);
		if (*text && text[strlen(text) - 1] != '\n')
			putchar('\n');
		fflush(stdout);
		return;
	}
	for (const char *line = text; *line;) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		char buf[512];
		if (len && len < sizeof(buf)) {
			memcpy(buf, line, len);
			buf[len] = '\0';
			log_json(buf);
		}
		line += len + (end != NULL);
	}
	fflush(stdout);
}

int log_main(struct netctl *ctx, int argc, char **argv)
{
	bool json = false, follow = false;
	const char *vm;
	int rc = parse_args(argc, argv, "netctl log [-f] [--json] [VM]", &json, &follow, &vm);
	if (rc)
		return rc;
	if (!follow) {
		size_t len;
		uint8_t *reply = request(ctx, CTL_REQ_LOG, vm, &len);
		if (!reply)
			return NETCTL_FAILED;
		const char *text = ctl_get_str(reply, len, CTL_A_TEXT);
		log_print(text ? text : "", json);
		free(reply);
		return NETCTL_OK;
	}
	/* a subscription: the ring, then one event per new line until either side hangs up */
	int fd = ctl_connect(ctx->control);
	if (fd < 0) {
		fprintf(stderr, "netctl: firewall control channel %s: %s\n", ctx->control, strerror(-fd));
		return NETCTL_FAILED;
	}
	signal(SIGPIPE, SIG_IGN);
	struct ctl_msg m;
	ctl_msg_init(&m, CTL_REQ_LOG);
	int err = (vm && !ctl_put_str(&m, CTL_A_VM, vm)) || !ctl_put_u32(&m, CTL_A_FOLLOW, 1) ?
		-ENOMEM : ctl_send(fd, &m);
	ctl_msg_free(&m);
	for (bool first = true; !err; first = false) {
		uint8_t *f;
		size_t len;
		uint16_t type;
		const char *why;
		if ((err = ctl_recv(fd, &f, &len)) < 0)
			break;
		if (!ctl_parse(f, len, &type, &why)) {
			free(f);
			err = -EPROTO;
			break;
		}
		uint32_t st = 0;
		if (first && (type != CTL_REPLY || (ctl_get_u32(f, len, CTL_A_STATUS, &st) && st))) {
			const char *msg = ctl_get_str(f, len, CTL_A_MESSAGE);
			fprintf(stderr, "netctl: %s\n", msg && *msg ? msg : strerror(st ? (int)st : EPROTO));
			free(f);
			close(fd);
			return NETCTL_FAILED;
		}
		const char *text = ctl_get_str(f, len, CTL_A_TEXT);
		if (text)
			log_print(text, json);
		free(f);
	}
	close(fd);
	if (err == -ECONNRESET)
		return NETCTL_OK;   /* the firewall went away: nothing more will come */
	fprintf(stderr, "netctl: log: %s\n", strerror(-err));
	return NETCTL_FAILED;
}

/* netctl stats / log: what the firewall counted and what it logged. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/ctl.h"
#include "host/netctl.h"
#include "host/netctl-reply.h"

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

static void json_count(const char *name, const struct netctl_count *c)
{
	printf("\"%s\":{\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64 "}", name, c->packets, c->bytes);
}

static void print_vm(const struct netctl_vm_counts *c, const struct vm *v, const char *src, bool json,
		     bool first)
{
	char text[160];
	if (json) {
		printf("%s{\"vm\":", first ? "" : ",");
		netctl_json_str(stdout, v->name);
		printf(",\"rules\":[");
	} else {
		printf("%svm %s\n  %5s %12s %14s  %s\n", first ? "" : "\n", v->name, "rule", "packets",
		       "bytes", "as written");
	}
	bool dns_shown = false;
	for (size_t i = 1; i <= v->nrules; i++) {
		const struct rule *r = &v->rules[i - 1];
		const struct netctl_count *k = &c->rules[i - 1];
		if (r->kind == RULE_DNS && !dns_shown) {
			k = &c->by_kind[CTL_C_DNS];
			dns_shown = true;
		}
		const char *state = r->expired ? "expired" : k->seen ? "" : "not loaded";
		rule_text(src, r, text, sizeof(text));
		if (json) {
			printf("%s{\"rule\":%zu,\"text\":", i > 1 ? "," : "", i);
			netctl_json_str(stdout, text);
			printf(",\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"loaded\":%s}", k->packets,
			       k->bytes, *state ? "false" : "true");
		} else if (*state) {
			printf("  %5zu %12s %14s  %s  (%s)\n", i, "-", "-", text, state);
		} else {
			printf("  %5zu %12" PRIu64 " %14" PRIu64 "  %s\n", i, k->packets, k->bytes, text);
		}
	}
	const struct netctl_count *deny = &c->by_kind[CTL_C_DEFAULT], *spoof = &c->by_kind[CTL_C_SPOOF],
				   *ipv6 = &c->by_kind[CTL_C_IPV6];
	if (json) {
		printf("],");
		json_count("default_deny", deny);
		printf(",");
		json_count("spoofed", spoof);
		printf(",");
		json_count("ipv6_dropped", ipv6);
		printf("}");
	} else {
		printf("  %5s %12" PRIu64 " %14" PRIu64 "  default deny\n", "-", deny->packets, deny->bytes);
		printf("  %5s %12" PRIu64 " %14" PRIu64 "  spoofed source, dropped\n", "-", spoof->packets,
		       spoof->bytes);
		printf("  %5s %12" PRIu64 " %14" PRIu64 "  IPv6, dropped (no subnet6)\n", "-", ipv6->packets,
		       ipv6->bytes);
	}
}

/* Without the policy file: the counters one by one, as the firewall sent them. */
static void print_counters_bare(const uint8_t *f, size_t len, bool json)
{
	static const char *const kinds[] = { "rule", "dns", "default-deny", "spoofed", "ipv6-dropped" };
	_Static_assert(sizeof(kinds) / sizeof(kinds[0]) == CTL_C_COUNT_, "a word for every kind");
	struct ctl_attrs it = ctl_payload(f, len);
	struct netctl_counter c;
	size_t bad = 0;
	bool first = true;
	if (json)
		printf("[");
	while (netctl_counter_next(&it, &c, &bad)) {
		if (json) {
			printf("%s{\"vm\":", first ? "" : ",");
			netctl_json_str(stdout, c.vm);
			printf(",\"kind\":\"%s\",\"rule\":%" PRIu32 ",\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64
			       "}", kinds[c.kind], c.rule, c.packets, c.bytes);
		} else if (c.kind == CTL_C_RULE) {
			ctl_fput_safe(stdout, c.vm, false);
			printf(" rule %" PRIu32 " packets %" PRIu64 " bytes %" PRIu64 "\n", c.rule, c.packets,
			       c.bytes);
		} else {
			ctl_fput_safe(stdout, c.vm, false);
			printf(" %s packets %" PRIu64 " bytes %" PRIu64 "\n", kinds[c.kind], c.packets, c.bytes);
		}
		first = false;
	}
	if (json)
		printf("]\n");
	if (bad)
		fprintf(stderr, "netctl: %zu of the firewall's counters are malformed; not shown\n", bad);
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
	if (vm && !ctl_put_str(&m, CTL_A_VM, vm)) {
		ctl_msg_free(&m);
		fprintf(stderr, "netctl: no VM '%s': not a VM name\n", vm);
		return NULL;
	}
	uint8_t *reply = netctl_call("firewall", ctx->control, &m, len, 0);
	ctl_msg_free(&m);
	if (reply && netctl_reply_status(reply, *len, true)) {
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
	struct netctl_stats s = { 0 };
	if (!reply) {
		rc = NETCTL_FAILED;
	} else if (!p) {
		print_counters_bare(reply, len, json);
	} else if (!netctl_stats_decode(reply, len, p, &s)) {
		fprintf(stderr, "netctl: out of memory\n");
		rc = NETCTL_FAILED;
	} else {
		bool first = true;
		if (json)
			printf("[");
		for (size_t i = 0; i < p->nvms; i++) {
			if (vm && strcmp(vm, p->vms[i].name) != 0)
				continue;
			print_vm(&s.vms[i], &p->vms[i], src ? src : "", json, first);
			first = false;
		}
		if (json)
			printf("]\n");
		if (s.ignored)
			fprintf(stderr, "netctl: warning: %zu of the firewall's counters name no VM or rule of %s, "
				"or are malformed; not shown (netctl diff: is %s what the firewall has?)\n",
				s.ignored, ctx->conf, ctx->conf);
	}
	netctl_stats_free(&s);
	free(reply);
	free(src);
	policy_free(p);
	return rc;
}

/* One record: "TIME VM ACTION PROTO SRC -> DST [type N] rule R", or as a JSON object. */
static void log_print(const struct netctl_log *r, bool json)
{
	char when[MOAT_TIME_STRLEN], rule[16];
	struct tm tm;
	time_t t = r->time > (uint64_t)INT64_MAX ? INT64_MAX : (time_t)r->time;
	if (!gmtime_r(&t, &tm) || !strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(when, sizeof(when), "?");
	snprintf(rule, sizeof(rule), r->rule ? "%" PRIu32 : "default", r->rule);
	const char *action = r->action == CTL_ACT_ALLOW ? "allow" : "deny";
	if (json) {
		printf("{\"time\":\"%s\",\"vm\":", when);
		ctl_fput_json(stdout, r->vm);
		printf(",\"action\":\"%s\",\"proto\":", action);
		ctl_fput_json(stdout, r->proto);
		printf(",\"src\":");
		ctl_fput_json(stdout, r->src);
		printf(",\"dst\":");
		ctl_fput_json(stdout, r->dst);
		if (r->has_type)
			printf(",\"type\":%" PRIu32, r->type);
		printf(",\"rule\":\"%s\"}\n", rule);
		return;
	}
	printf("%s ", when);
	ctl_fput_safe(stdout, r->vm, false);
	printf(" %s ", action);
	ctl_fput_safe(stdout, r->proto, false);
	putchar(' ');
	ctl_fput_safe(stdout, r->src, false);
	printf(" -> ");
	ctl_fput_safe(stdout, r->dst, false);
	if (r->has_type)
		printf(" type %" PRIu32, r->type);
	printf(" rule %s\n", rule);
}

/* Every LOG record of frame F; false if one was malformed. */
static bool log_frame(const uint8_t *f, size_t len, bool json)
{
	struct ctl_attrs it = ctl_payload(f, len);
	struct netctl_log r;
	size_t bad = 0;
	while (netctl_log_next(&it, &r, &bad))
		log_print(&r, json);
	fflush(stdout);
	if (bad)
		fprintf(stderr, "netctl: %zu of the firewall's log records are malformed; not shown\n", bad);
	return !bad;
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
		log_frame(reply, len, json);
		free(reply);
		return NETCTL_OK;
	}
	/* a subscription: the ring (within the call's deadline), then one event
	 * per new record until either side hangs up */
	char ro[4096];
	const char *path = netctl_channel(ctx->control, CTL_REQ_LOG, ro, sizeof(ro));
	int fd = ctl_connect_within(path, CTL_CALL_MS);
	if (fd < 0) {
		netctl_call_failed("firewall", path, fd, CTL_CALL_MS);
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
		if ((err = first ? ctl_recv_within(fd, &f, &len, CTL_CALL_MS) : ctl_recv(fd, &f, &len)) < 0)
			break;
		uint16_t type = 0;
		const char *why;
		ctl_parse(f, len, &type, &why);   /* ctl_recv checked it: only its type is wanted */
		if (first && (type != CTL_REPLY || netctl_reply_status(f, len, true))) {
			if (type != CTL_REPLY)
				fprintf(stderr, "netctl: log: the firewall did not answer the request\n");
			free(f);
			close(fd);
			return NETCTL_FAILED;
		}
		log_frame(f, len, json);
		free(f);
	}
	close(fd);
	if (err == -ECONNRESET)
		return NETCTL_OK;   /* the firewall went away: nothing more will come */
	netctl_call_failed("firewall", path, err, CTL_CALL_MS);
	return NETCTL_FAILED;
}

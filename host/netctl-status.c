/* netctl status, the per-VM part: each VM's link as its moat-link counts it
 * (both ends connected?, frames each way, drops) and what the firewall counted
 * for the VM (packets its rules matched, the default deny, spoofing). */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/ctl.h"
#include "policy/batch.h"
#include "host/netctl.h"
#include "host/netctl-reply.h"

/* One line of JSON from a moat-link --stats socket; false if it is not running. */
/* One line of a link's counters, within LINK_STATS_MS in all: a link that
 * does not accept (stopped, or its backlog filled by others) or trickles
 * its line a byte at a time holds `status` no longer than that. */
#define LINK_STATS_MS 2000

static bool link_stats(const struct netctl *ctx, const char *name, char *buf, size_t size)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/run/%s.link.stats", ctx->state_dir, name);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path))
		return false;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return false;
	size_t got = 0;
	int64_t end = mono_ms() + LINK_STATS_MS;
	/* a unix socket connects at once or not at all (EAGAIN: its backlog is full) */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left;
		while (got + 1 < size && (left = end - mono_ms()) > 0 && poll(&p, 1, (int)left) == 1) {
			ssize_t r = read(fd, buf + got, size - 1 - got);
			if (r <= 0)
				break;
			got += (size_t)r;
			if (memchr(buf, '\n', got))
				break;
		}
	}
	close(fd);
	buf[got] = 0;
	return got > 0 && memchr(buf, '\n', got);
}

/* The number after "KEY": inside the object "OBJ" of a moat-link stats line. */
static uint64_t json_num(const char *json, const char *obj, const char *key)
{
	char pat[64];
	const char *at = json;
	if (obj) {
		snprintf(pat, sizeof(pat), "\"%s\":{", obj);
		if (!(at = strstr(json, pat)))
			return 0;
	}
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *v = strstr(at, pat);
	return v ? strtoull(v + strlen(pat), NULL, 10) : 0;
}

static bool json_true(const char *json, const char *obj, const char *key)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\":{", obj);
	const char *at = strstr(json, pat);
	snprintf(pat, sizeof(pat), "\"%s\":true", key);
	const char *end = at ? strchr(at, '}') : NULL;
	const char *v = at ? strstr(at, pat) : NULL;
	return v && end && v < end;
}

static uint64_t drops(const char *json, const char *dir)
{
	static const char *const kinds[] = { "drop_no_peer", "drop_bad_header", "drop_size",
					     "drop_rx_small", "drop_complex" };
	uint64_t n = 0;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		n += json_num(json, dir, kinds[i]);
	return n;
}

static void print_link(const struct netctl *ctx, const char *name)
{
	char json[2048];
	if (!link_stats(ctx, name, json, sizeof(json))) {
		printf("  link %-15s not running\n", name);
		return;
	}
	/* side a is the app VM (the netvm for the uplink), b the firewall */
	printf("  link %-15s %s/%s connected; %" PRIu64 " frames to the firewall, %" PRIu64
	       " back; %" PRIu64 " dropped\n", name,
	       json_true(json, "a", "connected") ? "VM" : "no VM",
	       json_true(json, "b", "connected") ? "firewall" : "no firewall",
	       json_num(json, "a_to_b", "frames"), json_num(json, "b_to_a", "frames"),
	       drops(json, "a_to_b") + drops(json, "b_to_a"));
}

/* What the firewall counted for VM V (its rules, the default deny, spoofing). */
static void print_counters(const struct netctl_vm_counts *c, const struct vm *v)
{
	uint64_t rules = c->by_kind[CTL_C_DNS].packets;
	for (size_t i = 0; i < c->nrules; i++)
		rules += c->rules[i].packets;
	printf("  vm   %-15s %" PRIu64 " packets matched its rules, %" PRIu64 " denied by default, %" PRIu64
	       " spoofed\n", v->name, rules, c->by_kind[CTL_C_DEFAULT].packets, c->by_kind[CTL_C_SPOOF].packets);
}

/* What moat-netd says about the netvm (its read-only port, run/netvm.status
 * next to run/netvm.ctl), when the appliances run. A netvm that does not answer within 2 s is
 * reported, not waited for. */
void netctl_status_netvm(const struct netctl *ctx)
{
	char path[4096];
	struct stat sb;
	if ((size_t)snprintf(path, sizeof(path), "%s/run/netvm.ctl", ctx->state_dir) >= sizeof(path) ||
	    stat(path, &sb) < 0)
		return;
	size_t len = 0;
	struct ctl_msg m;
	ctl_msg_init(&m, CTL_REQ_STATUS);
	uint8_t *reply = netctl_call("netvm", path, &m, &len, 2000);
	ctl_msg_free(&m);
	const char *said = reply ? ctl_get_str(reply, len, CTL_A_MESSAGE) : NULL;
	const char *text = reply ? ctl_get_str(reply, len, CTL_A_TEXT) : NULL;
	if (!said) {
		char ro[4096];
		printf("netvm: not answering on %s\n", netctl_channel(path, CTL_REQ_STATUS, ro, sizeof(ro)));
	} else {
		printf("netvm: ");
		ctl_fput_safe(stdout, said, false);
		putchar('\n');
		/* "state ..." repeats the first line */
		for (const char *l = text; l && *l;) {
			const char *nl = strchr(l, '\n');
			size_t n = nl ? (size_t)(nl - l) : strlen(l);
			if (strncmp(l, "state ", 6) != 0 && n < 1024) {
				char line[1024];
				memcpy(line, l, n);
				line[n] = 0;
				printf("  ");
				ctl_fput_safe(stdout, line, false);
				putchar('\n');
			}
			l = nl ? nl + 1 : NULL;
		}
	}
	free(reply);
	/* with uplink user, up loaded the host guard (netctl-hostguard.c); a
	 * reload of the host's own firewall removes it (only root can look) */
	if (geteuid() == 0 && (size_t)snprintf(path, sizeof(path), "%s/run/netvm.guard", ctx->state_dir) < sizeof(path) &&
	    stat(path, &sb) == 0)
		printf("  host guard: %s\n", nft_table_exists("moat_host") == 0 ?
		       "table inet moat_host is MISSING (a reload of the host's firewall?): netctl up loads it again" :
		       "table inet moat_host loaded");
}

void netctl_status_vms(const struct netctl *ctx, bool firewall_up)
{
	FILE *quiet = fopen("/dev/null", "w");
	struct policy *p = policy_load_file(ctx->conf, ctx->now, quiet ? quiet : stderr);
	if (quiet)
		fclose(quiet);
	if (!p) {
		printf("(links and VMs: %s does not check; netctl check)\n", ctx->conf);
		return;
	}
	struct netctl_stats s = { 0 };
	bool counted = false;
	if (firewall_up) {
		struct ctl_msg m;
		size_t len;
		ctl_msg_init(&m, CTL_REQ_STATS);
		uint8_t *reply = netctl_call("firewall", ctx->control, &m, &len, 0);
		counted = reply && !netctl_reply_status(reply, len, false) &&
			  netctl_stats_decode(reply, len, p, &s);
		ctl_msg_free(&m);
		free(reply);
	}
	print_link(ctx, "uplink");
	for (size_t i = 0; i < p->nvms; i++) {
		print_link(ctx, p->vms[i].name);
		if (counted)
			print_counters(&s.vms[i], &p->vms[i]);
	}
	netctl_stats_free(&s);
	policy_free(p);
}

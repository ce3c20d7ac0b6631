/* lease.c: udhcpc's event as moat-netd --dhcp-event forwards it. Every value
 * came from a DHCP server on the NIC's network, so nothing is trusted: each
 * is checked whole, and anything odd refuses the event. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netvm/netd.h"

#define LINE_MAX_LEN 1024

static bool parse_addr(const char *s, size_t n, struct in_addr *a)
{
	char buf[INET_ADDRSTRLEN];
	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = 0;
	return inet_pton(AF_INET, buf, a) == 1;
}

static bool parse_prefix(const char *s, size_t n, int *prefix)
{
	if (n == 0 || n > 2)
		return false;
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	if (v > 32)
		return false;
	*prefix = v;
	return true;
}

static bool mask_prefix(struct in_addr m, int *prefix)
{
	uint32_t v = ntohl(m.s_addr);
	int p = 0;
	while (p < 32 && (v & (0x80000000u >> p)))
		p++;
	if (p < 32 && (v << p) != 0)
		return false;   /* not contiguous */
	*prefix = p;
	return true;
}

static uint32_t prefix_mask(int prefix)
{
	return prefix ? htonl(0xffffffffu << (32 - prefix)) : 0;
}

bool lease_parse_net(const char *s, bool host, struct netd_net *net)
{
	const char *slash = strchr(s, '/');
	if (!slash || !parse_addr(s, (size_t)(slash - s), &net->addr) ||
	    !parse_prefix(slash + 1, strlen(slash + 1), &net->prefix))
		return false;
	return host || (net->addr.s_addr & ~prefix_mask(net->prefix)) == 0;
}

/* Calls FN on each item of S split at commas and blanks. */
static bool each_item(const char *s, size_t len, bool (*fn)(const char *, size_t, void *), void *arg)
{
	size_t i = 0;
	while (i < len) {
		while (i < len && (s[i] == ',' || s[i] == ' ' || s[i] == '\t'))
			i++;
		size_t start = i;
		while (i < len && s[i] != ',' && s[i] != ' ' && s[i] != '\t')
			i++;
		if (i > start && !fn(s + start, i - start, arg))
			return false;
	}
	return true;
}

struct nets_acc {
	struct netd_net *nets;
	size_t n;
};

static bool add_net(const char *s, size_t n, void *arg)
{
	struct nets_acc *a = arg;
	char buf[32];
	if (a->n == NETD_MAX_NETS || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = 0;
	return lease_parse_net(buf, false, &a->nets[a->n++]);
}

bool lease_parse_nets(const char *s, struct netd_net *nets, size_t *n)
{
	struct nets_acc a = { .nets = nets };
	if (!each_item(s, strlen(s), add_net, &a) || a.n == 0)
		return false;
	*n = a.n;
	return true;
}

static bool add_dns(const char *s, size_t n, void *arg)
{
	struct netd_lease *l = arg;
	if (l->ndns == NETD_MAX_DNS)
		return true;   /* more than we use: the first ones win */
	return parse_addr(s, n, &l->dns[l->ndns++]);
}

bool lease_parse_dns(const char *s, struct netd_lease *l)
{
	l->ndns = 0;
	return each_item(s, strlen(s), add_dns, l);
}

static bool first_addr(const char *s, size_t len, void *arg)
{
	struct in_addr *a = arg;
	if (a->s_addr)
		return true;
	return parse_addr(s, len, a) && a->s_addr != 0;
}

static const struct {
	const char *name;
	enum netd_event ev;
} events[] = {
	{ "bound", NE_BOUND }, { "renew", NE_RENEW }, { "deconfig", NE_DECONFIG },
	{ "leasefail", NE_LEASEFAIL }, { "nak", NE_NAK },
};

enum { K_EVENT, K_IP, K_MASK, K_SUBNET, K_ROUTER, K_DNS, K__COUNT };
static const char *const keys[K__COUNT] = { "event", "ip", "mask", "subnet", "router", "dns" };

static bool fail(char *why, size_t whylen, const char *msg, const char *key)
{
	snprintf(why, whylen, "%s%s%s", msg, key ? ": " : "", key ? key : "");
	return false;
}

bool lease_parse(const char *text, size_t len, enum netd_event *ev, struct netd_lease *l,
		 char *why, size_t whylen)
{
	memset(l, 0, sizeof(*l));
	*ev = NE_OTHER;
	bool seen[K__COUNT] = { false };
	int mask_prefix_v = -1;
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		size_t n = (size_t)(eol - p);
		if (n > LINE_MAX_LEN)
			return fail(why, whylen, "line too long", NULL);
		if (memchr(p, 0, n))
			return fail(why, whylen, "NUL byte in the event", NULL);
		const char *eq = memchr(p, '=', n);
		if (n && !eq)
			return fail(why, whylen, "line without '='", NULL);
		if (eq) {
			size_t kl = (size_t)(eq - p), vl = (size_t)(eol - eq - 1);
			const char *v = eq + 1;
			int k = 0;
			while (k < K__COUNT && (strlen(keys[k]) != kl || memcmp(keys[k], p, kl) != 0))
				k++;
			if (k < K__COUNT) {
				if (seen[k])
					return fail(why, whylen, "given twice", keys[k]);
				seen[k] = true;
			}
			bool ok = true;
			switch (k) {
			case K_EVENT:
				ok = false;
				for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++)
					if (strlen(events[i].name) == vl && memcmp(events[i].name, v, vl) == 0) {
						*ev = events[i].ev;
						ok = true;
					}
				ok = ok || vl > 0;   /* another event: ignored by the caller */
				break;
			case K_IP:
				ok = parse_addr(v, vl, &l->addr.addr);
				break;
			case K_MASK:
				ok = parse_prefix(v, vl, &mask_prefix_v);
				break;
			case K_SUBNET: {
				struct in_addr m;
				int pl;
				ok = parse_addr(v, vl, &m) && mask_prefix(m, &pl);
				if (ok && mask_prefix_v < 0)
					mask_prefix_v = pl;
				break;
			}
			case K_ROUTER:
				ok = each_item(v, vl, first_addr, &l->gateway);
				break;
			case K_DNS:
				ok = each_item(v, vl, add_dns, l);
				break;
			}
			if (!ok)
				return fail(why, whylen, "bad value", keys[k]);
		}
		p = nl ? nl + 1 : end;
	}
	if (!seen[K_EVENT])
		return fail(why, whylen, "no event", NULL);
	if (*ev == NE_BOUND || *ev == NE_RENEW) {
		if (!seen[K_IP] || l->addr.addr.s_addr == 0)
			return fail(why, whylen, "no address in a lease", NULL);
		l->addr.prefix = mask_prefix_v >= 0 ? mask_prefix_v : 24;
		if (l->addr.prefix == 0)
			return fail(why, whylen, "bad value", "mask");
	}
	return true;
}

bool lease_equal(const struct netd_lease *a, const struct netd_lease *b)
{
	if (a->addr.addr.s_addr != b->addr.addr.s_addr || a->addr.prefix != b->addr.prefix ||
	    a->gateway.s_addr != b->gateway.s_addr || a->ndns != b->ndns)
		return false;
	for (size_t i = 0; i < a->ndns; i++)
		if (a->dns[i].s_addr != b->dns[i].s_addr)
			return false;
	return true;
}

void lease_format(const struct netd_lease *l, char *buf, size_t len)
{
	char a[INET_ADDRSTRLEN], g[INET_ADDRSTRLEN] = "none", dns[NETD_MAX_DNS * 17] = "";
	inet_ntop(AF_INET, &l->addr.addr, a, sizeof(a));
	if (l->gateway.s_addr)
		inet_ntop(AF_INET, &l->gateway, g, sizeof(g));
	for (size_t i = 0; i < l->ndns; i++) {
		char d[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &l->dns[i], d, sizeof(d));
		size_t n = strlen(dns);
		snprintf(dns + n, sizeof(dns) - n, "%s%s", i ? "," : "", d);
	}
	snprintf(buf, len, "%s/%d gateway %s resolvers %s", a, l->addr.prefix, g,
		 l->ndns ? dns : "none");
}

/* hostaddrs.c: the host's own addresses, which the netvm never forwards to,
 * as netctl sends them (and as moat-netd keeps them in its run dir):
 *
 *   HOSTADDRS 10.0.2.0/24 127.0.0.1 192.0.2.1 ::1 fe80::1
 *
 * the word, then items each after one space: an IPv4 or IPv6 address, or a
 * network as ADDR/PREFIX (host bits zero, prefix 1 to the address's length).
 * Nothing else: no other whitespace, no duplicates, no scope (%eth0), at
 * most NETD_MAX_HOSTS items of which at most NETD_MAX_HOST_NETS networks.
 * An empty list ("HOSTADDRS") is valid: the host has no address to protect.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "netvm/netd.h"

#define WORD "HOSTADDRS"

static bool refuse(char *why, size_t whylen, const char *msg, const char *item, size_t itemlen)
{
	snprintf(why, whylen, "%s: '%.*s'", msg, (int)(itemlen > 64 ? 64 : itemlen), item);
	return false;
}

/* "/N" with N in 1..MAX, decimal without a leading zero */
static bool parse_prefix(const char *s, size_t len, int max, int *prefix)
{
	if (len < 1 || len > 3 || s[0] == '0')
		return false;
	int v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	if (v > max)
		return false;
	*prefix = v;
	return true;
}

static bool host_bits_zero(const struct netd_host *h)
{
	int bytes = h->family == AF_INET ? 4 : 16;
	for (int i = 0; i < bytes; i++) {
		int keep = h->prefix - 8 * i;
		uint8_t mask = keep >= 8 ? 0xff : keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
		if (h->addr[i] & ~mask)
			return false;
	}
	return true;
}

static bool parse_item(const char *s, size_t len, struct netd_host *h)
{
	char buf[INET6_ADDRSTRLEN + 4];
	if (len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = 0;
	char *slash = strchr(buf, '/');
	if (slash)
		*slash = 0;
	memset(h, 0, sizeof(*h));
	if (inet_pton(AF_INET, buf, h->addr) == 1)
		h->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, h->addr) == 1)
		h->family = AF_INET6;
	else
		return false;
	int max = h->family == AF_INET ? 32 : 128, prefix = max;
	if (slash && !parse_prefix(slash + 1, strlen(slash + 1), max, &prefix))
		return false;
	h->prefix = (uint8_t)prefix;
	return host_bits_zero(h);
}

bool hostaddrs_full(const struct netd_host *h)
{
	return h->prefix == (h->family == AF_INET ? 32 : 128);
}

bool hostaddrs_parse(const char *text, struct netd_hosts *out, char *why, size_t whylen)
{
	size_t wl = strlen(WORD);
	if (strncmp(text, WORD, wl) != 0 || (text[wl] && text[wl] != ' ')) {
		snprintf(why, whylen, "want '" WORD " ADDR[/PREFIX] ...'");
		return false;
	}
	struct netd_hosts h = { 0 };
	size_t nets = 0;
	const char *p = text + wl;
	while (*p) {
		/* *p is the space before an item */
		const char *item = ++p;
		size_t len = strcspn(item, " ");
		if (!len)
			return refuse(why, whylen, "an empty item (two spaces, or one at the end)", item, 0);
		if (h.n == NETD_MAX_HOSTS) {
			snprintf(why, whylen, "more than %d host addresses", NETD_MAX_HOSTS);
			return false;
		}
		struct netd_host *e = &h.v[h.n];
		if (!parse_item(item, len, e))
			return refuse(why, whylen, "not an address or network (host bits zero)", item, len);
		for (size_t i = 0; i < h.n; i++)
			if (memcmp(&h.v[i], e, sizeof(*e)) == 0)
				return refuse(why, whylen, "given twice", item, len);
		if (!hostaddrs_full(e) && ++nets > NETD_MAX_HOST_NETS) {
			snprintf(why, whylen, "more than %d host networks", NETD_MAX_HOST_NETS);
			return false;
		}
		h.n++;
		p = item + len;
	}
	*out = h;
	return true;
}

bool hostaddrs_format(const struct netd_hosts *h, char *buf, size_t len)
{
	int w = snprintf(buf, len, WORD);
	if (w < 0 || (size_t)w >= len)
		return false;
	size_t at = (size_t)w;
	for (size_t i = 0; i < h->n; i++) {
		char a[INET6_ADDRSTRLEN];
		inet_ntop(h->v[i].family, h->v[i].addr, a, sizeof(a));
		if (hostaddrs_full(&h->v[i]))
			w = snprintf(buf + at, len - at, " %s", a);
		else
			w = snprintf(buf + at, len - at, " %s/%d", a, h->v[i].prefix);
		if (w < 0 || (size_t)w >= len - at)
			return false;
		at += (size_t)w;
	}
	return true;
}

/* addr.c: IPv4 and IPv6 addresses and networks. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "policy/policy.h"

static size_t addr_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

static bool addr_bit(const struct addr *a, unsigned i)
{
	return a->bytes[i / 8] & (0x80 >> (i % 8));
}

bool addr_parse(const char *s, struct addr *a, bool *host_bits)
{
	char buf[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t len = slash ? (size_t)(slash - s) : strlen(s);
	unsigned prefix = 0, max, i;

	if (host_bits)
		*host_bits = false;
	memset(a, 0, sizeof(*a));
	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	a->family = memchr(buf, ':', len) ? AF_INET6 : AF_INET;
	if (inet_pton(a->family, buf, a->bytes) != 1)
		return false;
	max = a->family == AF_INET ? 32 : 128;
	if (slash) {
		const char *p = slash + 1;
		if (*p == '\0' || strlen(p) > 3)
			return false;
		for (; *p; p++) {
			if (*p < '0' || *p > '9')
				return false;
			prefix = prefix * 10 + (unsigned)(*p - '0');
		}
		if (prefix > max)
			return false;
	} else {
		prefix = max;
	}
	a->prefix = (uint8_t)prefix;
	for (i = prefix; i < max; i++) {
		if (addr_bit(a, i)) {
			if (host_bits)
				*host_bits = true;
			return false;
		}
	}
	return true;
}

void addr_format(const struct addr *a, char *buf, size_t len)
{
	char tmp[INET6_ADDRSTRLEN];
	unsigned max = a->family == AF_INET ? 32 : 128;

	if (len == 0)
		return;
	if (!inet_ntop(a->family == AF_INET ? AF_INET : AF_INET6, a->bytes, tmp, sizeof(tmp))) {
		snprintf(buf, len, "?");
		return;
	}
	if (a->prefix >= max)
		snprintf(buf, len, "%s", tmp);
	else
		snprintf(buf, len, "%s/%u", tmp, a->prefix);
}

bool addr_contains(const struct addr *net, const struct addr *a)
{
	unsigned i;

	if (net->family != a->family || a->prefix < net->prefix)
		return false;
	for (i = 0; i < net->prefix; i++)
		if (addr_bit(net, i) != addr_bit(a, i))
			return false;
	return true;
}

bool addr_equal(const struct addr *a, const struct addr *b)
{
	return a->family == b->family && a->prefix == b->prefix &&
	       memcmp(a->bytes, b->bytes, addr_len(a->family)) == 0;
}

/* HOSTADDRS comes from netctl over the netvm's control port, and back from
 * moat-netd's run dir: parsed, formatted, and parsed again to the same list. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netvm/netd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct netd_hosts h, again;
	static char text[NETD_HOSTADDRS_MAX];
	char why[160];
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	if (hostaddrs_parse(s, &h, why, sizeof(why))) {
		if (!hostaddrs_format(&h, text, sizeof(text)) || !hostaddrs_parse(text, &again, why, sizeof(why)) ||
		    again.n != h.n || memcmp(again.v, h.v, h.n * sizeof(h.v[0])) != 0)
			abort();
	}
	free(s);
	return 0;
}

/* udhcpc's event text comes from a DHCP server on the NIC's network. */
#include <stddef.h>
#include <stdint.h>

#include "netvm/netd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum netd_event ev;
	struct netd_lease l;
	char why[128], text[256];
	if (lease_parse((const char *)data, size, &ev, &l, why, sizeof(why)))
		lease_format(&l, text, sizeof(text));
	return 0;
}

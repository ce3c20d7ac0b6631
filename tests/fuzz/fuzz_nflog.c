/* fuzz_nflog: what nfnetlink_log hands moat-firewalld is a copy of a packet
 * an app VM chose; the input is one recv() worth of netlink messages, fed to
 * the ring the daemon keeps. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "firewallvm/parts.h"

static void touch(const char *line, void *arg)
{
	size_t *n = arg;
	*n += strlen(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fw_nflog *l;
	if (!l)
		l = fw_nflog_new_ring();
	/* netlink buffers are 4-aligned; a copy also gives ASan exact bounds */
	uint32_t *buf = malloc(size + 4);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	size_t n = 0;
	fw_nflog_feed(l, buf, size, 1795640400, touch, &n);
	fw_nflog_each(l, size & 1 ? "dev" : NULL, touch, &n);
	free(buf);
	return 0;
}

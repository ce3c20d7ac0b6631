/* fuzz_fw_dhcp4: whatever an app VM sends to UDP 67 reaches dhcp4_judge
 * (firewallvm/dhcp4.c). The first byte picks how: even, the rest is a BOOTP
 * message behind well-formed IPv4 and UDP headers; odd, the rest is the
 * whole packet. Whatever it accepts has chaddr and any Ethernet client
 * identifier naming the VM's MAC, and its options end within the message. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "firewallvm/dhcp4.h"

static const uint8_t mac[6] = { 0x02, 0x6d, 0x61, 0x00, 0x00, 0x0a };

/* What an accepted message M (LEN bytes) must be. */
static void check_accepted(const uint8_t *m, size_t len)
{
	if (len < 240 || memcmp(m + 28, mac, 6) != 0)
		abort();
	size_t i = 240;
	int clids = 0;
	while (i < len && m[i] != 255) {
		if (m[i] == 0) {
			i++;
			continue;
		}
		if (i + 2 > len || i + 2 + m[i + 1] > len || m[i] == 52)
			abort();
		if (m[i] == 61 && (clids++ || (m[i + 1] >= 1 && m[i + 2] == 1 &&
					       (m[i + 1] != 7 || memcmp(m + i + 3, mac, 6) != 0))))
			abort();
		i += 2 + m[i + 1];
	}
	if (i >= len)
		abort();   /* no end option */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 0xffff - 28)
		return 0;
	size_t n = size - 1;
	bool wrap = !(data[0] & 1);
	size_t len = wrap ? n + 28 : n;
	/* a copy gives ASan exact bounds */
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return 0;
	if (wrap) {
		memset(buf, 0, 28);
		buf[0] = 0x45;
		buf[2] = (uint8_t)(len >> 8);
		buf[3] = (uint8_t)len;
		buf[9] = 17;
		buf[21] = 68;
		buf[23] = 67;
		buf[24] = (uint8_t)((len - 20) >> 8);
		buf[25] = (uint8_t)(len - 20);
	}
	memcpy(buf + (wrap ? 28 : 0), data + 1, n);
	int v = dhcp4_judge(buf, len, mac);
	if (v > 0 || v < DHCP4_DROP_CLID_TWICE)
		abort();
	if (v == DHCP4_ACCEPT) {
		size_t ihl = (size_t)(buf[0] & 0x0f) * 4;
		size_t ulen = (size_t)(buf[ihl + 4] << 8 | buf[ihl + 5]);
		check_accepted(buf + ihl + 8, ulen - 8);
	}
	free(buf);
	return 0;
}

/* fuzz_fw_dhcp6: whatever an app VM sends to UDP 547 reaches dhcp6_answer
 * (firewallvm/dhcp6.c). The answer must fit its buffer, be well formed, and
 * never give any address but the link's own with a lifetime; the input is
 * also tried as a router solicitation. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "firewallvm/dhcp6.h"

static const struct dhcp6_link link6 = {
	.mac = { 0x02, 0x6d, 0x66, 0x00, 0x00, 0x0a },
	.addr = { 0xfd, 0x00, 0x00, 0x6d, [15] = 0x10 },
	.gw = { 0xfd, 0x00, 0x00, 0x6d, [15] = 0x01 },
	.dns = true,
};

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Options from P to END fit exactly; IAADDRs inside IA_NAs are checked. */
static void check_options(const uint8_t *p, const uint8_t *end, int depth)
{
	while (p < end) {
		if (end - p < 4)
			abort();
		uint16_t code = (uint16_t)(p[0] << 8 | p[1]);
		size_t len = (size_t)(p[2] << 8 | p[3]);
		if (len > (size_t)(end - p - 4))
			abort();
		const uint8_t *body = p + 4;
		if (code == 3 && depth == 0) {
			if (len < 12)
				abort();
			check_options(body + 12, body + len, 1);
		} else if (code == 5) {
			if (depth != 1 || len != 24)
				abort();
			if (memcmp(body, link6.addr, 16) != 0 && (get32(body + 16) || get32(body + 20)))
				abort();   /* another address with a lifetime */
		}
		p = body + len;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a copy gives ASan exact bounds */
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	for (int dns = 0; dns < 2; dns++) {
		struct dhcp6_link l = link6;
		l.dns = dns;
		uint8_t *out = malloc(DHCP6_REPLY_MAX);
		if (!out)
			break;
		ssize_t n = dhcp6_answer(buf, size, &l, out, DHCP6_REPLY_MAX);
		if (n > DHCP6_REPLY_MAX || n < DHCP6_DROP_IA)
			abort();
		if (n > 0) {
			if (n < 4 || (out[0] != 2 && out[0] != 7) || memcmp(out + 1, buf + 1, 3) != 0)
				abort();
			check_options(out + 4, out + n, 0);
		}
		free(out);
	}
	uint8_t hl = size ? buf[0] : 0;
	(void)ra6_is_solicitation(buf, size, hl == 255 ? 255 : 255 - (hl & 1));
	free(buf);
	return 0;
}

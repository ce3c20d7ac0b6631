/* fuzz_ctl: control channel frames from untrusted bytes. A frame that parses
 * must have readable attributes, and building them again must give back the
 * same bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

static const uint16_t fuzz_u32_attrs[] = { CTL_A_STATUS, CTL_A_GENERATION, CTL_A_FOLLOW };
static const uint16_t fuzz_str_attrs[] = { CTL_A_MESSAGE, CTL_A_FILE, CTL_A_TEXT, CTL_A_VM };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint16_t type;
	const char *why = NULL;
	size_t total;

	if (size >= CTL_HEADER_SIZE && ctl_header_check(data, size, &total, &why) &&
	    total > CTL_HEADER_SIZE + CTL_MAX_PAYLOAD)
		abort();
	if (!ctl_parse(data, size, &type, &why)) {
		if (!why)
			abort();
		/* getters stay inside the buffer even on frames that were refused */
		uint32_t v;
		ctl_get_u32(data, size, CTL_A_STATUS, &v);
		ctl_get_str(data, size, CTL_A_TEXT);
		return 0;
	}
	/* attributes are unique, so rebuilding in a fixed order gives the
	 * same set of attributes; compare values, not layout */
	struct ctl_msg m;
	ctl_msg_init(&m, type);
	for (size_t i = 0; i < sizeof(fuzz_u32_attrs) / sizeof(fuzz_u32_attrs[0]); i++) {
		uint32_t v;
		if (ctl_get_u32(data, size, fuzz_u32_attrs[i], &v) && !ctl_put_u32(&m, fuzz_u32_attrs[i], v))
			abort();
	}
	for (size_t i = 0; i < sizeof(fuzz_str_attrs) / sizeof(fuzz_str_attrs[0]); i++) {
		const char *s = ctl_get_str(data, size, fuzz_str_attrs[i]);
		if (s && !ctl_put_str(&m, fuzz_str_attrs[i], s))
			abort();
	}
	size_t len;
	const uint8_t *f = ctl_msg_frame(&m, &len);
	uint16_t type2;
	if (!f || len != size || !ctl_parse(f, len, &type2, &why) || type2 != type) {
		fprintf(stderr, "rebuilt frame differs: %zu vs %zu bytes\n", len, size);
		abort();
	}
	ctl_msg_free(&m);
	return 0;
}

/* fuzz_ctl: control channel frames from untrusted bytes. A frame that parses
 * has an attribute list that can be walked, and building it again, attribute
 * by attribute and nest by nest, gives back the same bytes (the encoding has
 * one form). Getters stay inside any buffer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/ctl.h"

static void rebuild(struct ctl_msg *m, struct ctl_attrs a, bool nested)
{
	uint16_t attr;
	struct ctl_attrs v;
	while (ctl_attr_next(&a, &attr, &v)) {
		if (!nested && (attr == CTL_A_COUNTER || attr == CTL_A_LOG)) {
			size_t at = ctl_nest_start(m, attr);
			if (!at)
				abort();
			rebuild(m, v, true);
			ctl_nest_end(m, at);
		} else if (!ctl_put_bytes(m, attr, v.p, v.len)) {
			abort();
		}
	}
}

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
		uint64_t w;
		ctl_get_u32(data, size, CTL_A_STATUS, &v);
		ctl_get_str(data, size, CTL_A_TEXT);
		struct ctl_attrs it = ctl_payload(data, size), r;
		while (ctl_next_nest(&it, CTL_A_COUNTER, &r))
			ctl_attrs_u64(r, CTL_A_PACKETS, &w);
		return 0;
	}
	struct ctl_msg m;
	ctl_msg_init(&m, type);
	rebuild(&m, ctl_payload(data, size), false);
	size_t len;
	const uint8_t *f = ctl_msg_frame(&m, &len);
	if (!f || len != size || memcmp(f, data, size) != 0) {
		fprintf(stderr, "rebuilt frame differs: %zu vs %zu bytes\n", len, size);
		abort();
	}
	ctl_msg_free(&m);
	return 0;
}

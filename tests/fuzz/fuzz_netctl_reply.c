/* fuzz_netctl_reply: what netctl takes from an appliance's reply
 * (host/netctl-reply.c), from untrusted bytes, the way netctl reads them:
 * the frame checked, then its records decoded against netctl's own policy.
 * Whatever the bytes, what is kept is the policy's size, and what would be
 * printed has no control character. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/netctl-reply.h"

#define FUZZ_NOW 1764000000

static const char fuzz_conf[] =
	"network {\n    subnet 10.137.0.0/24\n}\n"
	"vm dev {\n    address 10.137.0.10\n    allow dns\n    allow tcp to any port 22\n}\n"
	"vm shopping {\n    address 10.137.0.11\n    allow tcp to any port 443\n}\n";

static struct policy *fuzz_policy(void)
{
	static struct policy *p;
	if (!p) {
		struct diags d;
		diags_init(&d, "moat.conf", fuzz_conf, strlen(fuzz_conf));
		p = policy_load("moat.conf", fuzz_conf, strlen(fuzz_conf), FUZZ_NOW, &d);
		diags_free(&d);
		if (!p)
			abort();
	}
	return p;
}

/* S as netctl prints it (to a terminal, and in JSON) has no control byte. */
static void fuzz_print(const char *s)
{
	for (int json = 0; json < 2; json++) {
		char *out = NULL;
		size_t len;
		FILE *f = open_memstream(&out, &len);
		if (!f)
			abort();
		if (json)
			ctl_fput_json(f, s);
		else
			ctl_fput_safe(f, s, false);
		fclose(f);
		for (size_t i = 0; i < len; i++) {
			unsigned char c = (unsigned char)out[i];
			if (c < 0x20 || c == 0x7f || (c == 0xc2 && i + 1 < len && (unsigned char)out[i + 1] >= 0x80 &&
						     (unsigned char)out[i + 1] <= 0x9f))
				abort();
		}
		free(out);
	}
}

static void fuzz_reply(const uint8_t *data, size_t size)
{
	const struct policy *p = fuzz_policy();
	struct netctl_stats s;
	if (netctl_stats_decode(data, size, p, &s)) {
		if (s.nvms != p->nvms)
			abort();
		for (size_t i = 0; i < s.nvms; i++)
			if (s.vms[i].nrules != p->vms[i].nrules)
				abort();
		netctl_stats_free(&s);
	}
	struct ctl_attrs it = ctl_payload(data, size);
	struct netctl_counter c;
	size_t bad = 0;
	while (netctl_counter_next(&it, &c, &bad)) {
		if (c.kind >= CTL_C_COUNT_ || (c.kind == CTL_C_RULE && !c.rule))
			abort();
		fuzz_print(c.vm);
	}
	it = ctl_payload(data, size);
	struct netctl_log r;
	while (netctl_log_next(&it, &r, &bad)) {
		fuzz_print(r.vm);
		fuzz_print(r.proto);
		fuzz_print(r.src);
		fuzz_print(r.dst);
	}
	struct netctl_counts k;
	char sum[256];
	netctl_counts_decode(data, size, &k);
	netctl_counts_format(&k, sum, sizeof(sum));
	const char *msg = ctl_get_str(data, size, CTL_A_MESSAGE);
	if (msg)
		fuzz_print(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint16_t type;
	const char *why;
	/* netctl decodes only frames ctl_recv checked; the decoders must
	 * still stay inside any buffer */
	if (ctl_parse(data, size, &type, &why))
		fuzz_reply(data, size);
	else if (size >= CTL_HEADER_SIZE)
		fuzz_reply(data, size);
	return 0;
}

/* fuzz_policy: moat.conf from untrusted bytes. Besides not crashing, a policy
 * that loads must print as text that loads again and prints the same. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

#define FUZZ_NOW 1764000000   /* 2025-11-24: fixed, so runs repeat */

static char *fuzz_print(const struct policy *p, size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);

	if (!f)
		abort();
	policy_print(f, p, NULL);
	fclose(f);
	return text;
}

static bool fuzz_has_expired(const struct policy *p)
{
	size_t i, j;

	for (i = 0; i < p->nvms; i++)
		for (j = 0; j < p->vms[i].nrules; j++)
			if (p->vms[i].rules[j].expired)
				return true;
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct diags d, d2;
	struct policy *p, *p2;
	char *text, *text2;
	size_t len, len2;

	diags_init(&d, "moat.conf", (const char *)data, size);
	p = policy_load("moat.conf", (const char *)data, size, FUZZ_NOW, &d);
	if ((p == NULL) != (d.nerrors > 0) || strlen(d.out) != d.out_len)
		abort();
	if (p) {
		text = fuzz_print(p, &len);
		diags_init(&d2, "moat.conf", text, len);
		p2 = policy_load("moat.conf", text, len, FUZZ_NOW, &d2);
		if (!p2) {
			fprintf(stderr, "printed policy does not load:\n%s\n%s", text, d2.out);
			abort();
		}
		text2 = fuzz_print(p2, &len2);
		/* Expired rules are printed commented out, so they vanish once. */
		if (!fuzz_has_expired(p) && (len != len2 || memcmp(text, text2, len) != 0)) {
			fprintf(stderr, "round trip differs:\n%s\n---\n%s", text, text2);
			abort();
		}
		free(text2);
		policy_free(p2);
		diags_free(&d2);
		free(text);
	}
	policy_free(p);
	diags_free(&d);
	return 0;
}

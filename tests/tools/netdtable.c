/* netdtable: moat-netd's table (netvm/ruleset.c) as nft text, and loaded
 * into the current network namespace the way moat-netd loads it, for the
 * goldens and the bytecode comparison with nft -f (tests/netns/netd-table).
 *
 *   netdtable [--load] closed
 *   netdtable [--load] open NIC [HOSTADDRS]
 *
 * HOSTADDRS is what netctl sends ("127.0.0.1 10.0.2.0/24 ::1"); without it
 * the open table forwards nothing (the host's addresses are not known yet).
 * Prints the table as nft text; --load also commits it (no owner flag).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "batch.h"
#include "netd.h"
#include "ruleset.h"

int main(int argc, char **argv)
{
	bool load = argc > 1 && strcmp(argv[1], "--load") == 0;
	char **a = argv + 1 + load;
	int n = argc - 1 - load;
	bool closed = n == 1 && strcmp(a[0], "closed") == 0;
	if (!closed && !((n == 2 || n == 3) && strcmp(a[0], "open") == 0)) {
		fprintf(stderr, "usage: netdtable [--load] closed | open NIC [HOSTADDRS]\n");
		return 2;
	}
	struct netd_hosts hosts;
	char text[NETD_HOSTADDRS_MAX], why[256];
	if (n == 3) {
		snprintf(text, sizeof(text), "HOSTADDRS %s", a[2]);
		if (!hostaddrs_parse(text, &hosts, why, sizeof(why))) {
			fprintf(stderr, "netdtable: %s\n", why);
			return 2;
		}
	}
	struct ruleset *rs = netd_ruleset(closed ? NULL : a[1], n == 3 ? &hosts : NULL);
	if (!rs) {
		fprintf(stderr, "netdtable: bad interface name '%s'\n", a[1]);
		return 2;
	}
	ruleset_render(stdout, rs, -1);
	int rc = 0;
	if (load) {
		struct nft_sock s;
		struct nl_batch b;
		char err[1024];
		batch_init(&b, 1);
		batch_ruleset_full(&b, rs, 0);
		rc = nft_sock_open(&s, false);
		if (!rc)
			rc = nft_commit(&s, &b, err, sizeof(err));
		if (rc)
			fprintf(stderr, "netdtable: loading: %s\n", err[0] ? err : strerror(-rc));
		nft_sock_close(&s);
		batch_free(&b);
	}
	ruleset_free(rs);
	return rc ? 1 : 0;
}

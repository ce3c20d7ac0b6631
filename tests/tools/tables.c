/* tables: the tables moat builds besides the firewall's, as nft text, and
 * loaded into the current network namespace the way their owner loads them,
 * for the goldens and the bytecode comparison with nft -f (tests/netns/tables).
 *
 *   tables [--load] netvm-closed
 *   tables [--load] netvm-open NIC [HOSTADDRS]     moat-netd's (netvm/ruleset.c)
 *   tables [--load] host-guard UID [RESOLVER...]   netctl's moat_host (host/netctl-hostguard.c)
 *
 * HOSTADDRS is what netctl sends ("127.0.0.1 10.0.2.0/24 ::1"); without it
 * the open table forwards nothing (the host's addresses are not known yet).
 * Prints the table as nft text; --load also commits it (no owner flag).
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/batch.h"
#include "host/netctl.h"
#include "netvm/netd.h"
#include "policy/ruleset.h"

static int usage(void)
{
	fprintf(stderr, "usage: tables [--load] netvm-closed | netvm-open NIC [HOSTADDRS] | "
			"host-guard UID [RESOLVER...]\n");
	return 2;
}

static struct ruleset *host_guard(int n, char **a)
{
	struct netctl_resolver res[8];
	size_t nres = 0;
	for (int i = 2; i < n && nres < 8; i++, nres++) {
		res[nres].family = strchr(a[i], ':') ? AF_INET6 : AF_INET;
		if (inet_pton(res[nres].family, a[i], res[nres].addr) != 1)
			return NULL;
	}
	return netctl_host_guard_ruleset((uid_t)strtoul(a[1], NULL, 10), res, nres);
}

int main(int argc, char **argv)
{
	bool load = argc > 1 && strcmp(argv[1], "--load") == 0;
	char **a = argv + 1 + load;
	int n = argc - 1 - load;
	struct ruleset *rs = NULL;
	if (n == 1 && strcmp(a[0], "netvm-closed") == 0) {
		rs = netd_ruleset(NULL, NULL);
	} else if ((n == 2 || n == 3) && strcmp(a[0], "netvm-open") == 0) {
		struct netd_hosts hosts;
		char text[NETD_HOSTADDRS_MAX], why[256];
		if (n == 3) {
			snprintf(text, sizeof(text), "HOSTADDRS %s", a[2]);
			if (!hostaddrs_parse(text, &hosts, why, sizeof(why))) {
				fprintf(stderr, "tables: %s\n", why);
				return 2;
			}
		}
		rs = netd_ruleset(a[1], n == 3 ? &hosts : NULL);
	} else if (n >= 2 && strcmp(a[0], "host-guard") == 0) {
		rs = host_guard(n, a);
	} else {
		return usage();
	}
	if (!rs) {
		fprintf(stderr, "tables: bad arguments\n");
		return 2;
	}
	ruleset_render(stdout, rs, -1);
	int rc = 0;
	if (load) {
		struct nft_sock s;
		struct nl_batch b;
		char err[1024] = "";
		batch_init(&b, 1);
		batch_ruleset_full(&b, rs, 0);
		rc = nft_sock_open(&s, false);
		if (!rc)
			rc = nft_commit(&s, &b, err, sizeof(err));
		if (rc)
			fprintf(stderr, "tables: loading: %s\n", err[0] ? err : strerror(-rc));
		nft_sock_close(&s);
		batch_free(&b);
	}
	ruleset_free(rs);
	return rc ? 1 : 0;
}

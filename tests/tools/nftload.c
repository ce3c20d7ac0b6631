/* nftload: load a moat.conf into the current network namespace the way
 * moat-firewalld will (one libnftnl batch through libmnl), for the netns tests
 * and bench-policy.
 *
 *   nftload [--persist] [--generation N] [--print OUT] FILE [NEXT.conf ...]
 *
 * FILE is loaded whole; each NEXT is applied as the difference from the one
 * before. Prints one line per step: "full|diff messages N bytes N compile_ms T\n * batch_ms T kernel_ms T total_ms T".
 * --persist: the table gets flags owner,persist and outlives this process;
 * without it the table has no owner flag at all. --print: the last ruleset
 * as nft text (what a whole load of it would look like).
 */
#include <errno.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/batch.h"
#include "policy/policy.h"
#include "policy/ruleset.h"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static struct policy *load(const char *file)
{
	return policy_load_file(file, time(NULL), stderr);
}

int main(int argc, char **argv)
{
	uint32_t flags = 0;
	int i = 1;
	const char *print = NULL;
	uint32_t first_gen = 1;   /* the marks: a whole load with a new one re-judges connections */
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--persist") == 0)
			flags = NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST;
		else if (strcmp(argv[i], "--print") == 0 && i + 1 < argc)
			print = argv[++i];
		else if (strcmp(argv[i], "--generation") == 0 && i + 1 < argc)
			first_gen = (uint32_t)strtoul(argv[++i], NULL, 10);
		else
			break;
	}
	if (i >= argc || argv[i][0] == '-') {
		fprintf(stderr, "usage: nftload [--persist] [--generation N] [--print OUT] FILE [NEXT.conf ...]\n");
		return 2;
	}
	struct nft_sock sock;
	int err = nft_sock_open(&sock, false);
	if (err) {
		fprintf(stderr, "nftload: netlink: %s\n", strerror(-err));
		return 1;
	}
	/* as the daemon does: queue rules as xt NFQUEUE on a kernel without nft_queue */
	bool queue_xt = nft_queue_kind(&sock) == RQ_XT;
	struct ruleset *prev = NULL;
	uint32_t seq = (uint32_t)time(NULL);
	int rc = 0;
	for (uint32_t gen = first_gen; i < argc; i++, gen++) {
		double tp = now_ms();
		struct policy *p = load(argv[i]);
		if (!p) {
			rc = 1;
			break;
		}
		double t0 = now_ms();
		/* a later generation loaded whole starts its marks past the earlier
		 * ones', as the daemon's kept mark counter would, and its VMs keep
		 * their births, as the daemon's births file would for VMs that kept
		 * their addresses: their connections are judged again, not cut */
		struct rs_vm *born = calloc(p->nvms + 1, sizeof(*born));
		if (!born) {
			policy_free(p);
			rc = 1;
			break;
		}
		for (size_t v = 0; v < p->nvms; v++) {
			snprintf(born[v].name, sizeof(born[v].name), "%s", p->vms[v].name);
			memcpy(born[v].addr, p->vms[v].addr.bytes, sizeof(born[v].addr));
			if (p->vms[v].has_addr6)
				memcpy(born[v].addr6, p->vms[v].addr6.bytes, sizeof(born[v].addr6));
			born[v].birth = 1;
		}
		struct rs_history h = { .first_mark = first_gen << 16 | 1, .vms = born, .nvms = p->nvms };
		struct ruleset *rs = ruleset_compile(p, prev, gen, &h);
		free(born);
		double t1 = now_ms();
		struct nl_batch b;
		batch_init(&b, seq);
		b.queue_xt = queue_xt;
		if (prev)
			batch_ruleset_diff(&b, prev, rs);
		else
			batch_ruleset_full(&b, rs, flags);
		double t2 = now_ms();
		char msg[1024];
		err = nft_commit(&sock, &b, msg, sizeof(msg));
		double t3 = now_ms();
		seq = b.seq;
		printf("%s messages %zu bytes %zu parse_ms %.1f compile_ms %.1f batch_ms %.1f kernel_ms %.1f total_ms %.1f\n",
		       prev ? "diff" : "full", b.nmsgs, b.len, t0 - tp, t1 - t0, t2 - t1, t3 - t2, t3 - tp);
		batch_free(&b);
		policy_free(p);
		ruleset_free(prev);
		prev = rs;
		if (err) {
			fprintf(stderr, "nftload: %s: %s\n", argv[i], msg);
			rc = 1;
			break;
		}
	}
	if (print && prev && rc == 0) {
		FILE *f = fopen(print, "w");
		if (!f) {
			fprintf(stderr, "nftload: %s: %s\n", print, strerror(errno));
			rc = 1;
		} else {
			ruleset_render(f, prev, -1);
			fclose(f);
		}
	}
	ruleset_free(prev);
	nft_sock_close(&sock);
	return rc;
}

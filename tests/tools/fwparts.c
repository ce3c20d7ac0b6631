/* fwparts: drives the peripheral parts of moat-firewalld (ifaces.c,
 * dnsmasq.c, nflog.c, counters.c, names.c, dhcp4q.c) without the daemon, for
 * tests/netns/firewalld-parts.
 *
 *   fwparts [--run-dir DIR] [--dnsmasq PATH|none] FILE
 *       load FILE as table inet moat, bring the links in line, start dnsmasq,
 *       then serve link events, NFLOG, resolved names (names.c), the VMs'
 *       DHCPv4 (dhcp4q.c) and SIGCHLD
 *       until SIGTERM. Prints
 *       "ready" once set up and every NFLOG line as it comes.
 *   fwparts --counters [VM]      the counter lines of the loaded table
 *   fwparts --sync FILE          bring the links in line once (NULL: "-")
 */
#include <errno.h>
#include <linux/netfilter/nf_tables.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "policy/batch.h"
#include "firewallvm/firewalld.h"
#include "firewallvm/parts.h"

static struct policy *load(const char *file)
{
	return policy_load_file(file, time(NULL), stderr);
}

/* The table as the daemon loads it (owned: only ST's socket writes it). */
static int load_table(struct fw_state *st, const struct policy *p)
{
	st->rs = ruleset_compile(p, NULL, 1, NULL);
	if (!st->rs)
		return -ENOMEM;
	struct nl_batch b;
	batch_init(&b, (uint32_t)time(NULL));
	b.queue_xt = st->queue_xt;
	batch_ruleset_full(&b, st->rs, NFT_TABLE_F_OWNER);
	char msg[1024];
	int err = nft_commit(st->nft, &b, msg, sizeof(msg));
	if (err)
		fprintf(stderr, "fwparts: load: %s\n", msg);
	batch_free(&b);
	return err;
}

static void print_line(const char *line, void *arg)
{
	printf("nflog: %s\n", line);
	fflush(stdout);
}

static int serve(struct policy *p, const char *run_dir, const char *dnsmasq)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	int sfd = signalfd(-1, &set, SFD_CLOEXEC);
	struct nft_sock sock;
	struct fw_state st = { .nft = &sock };
	int err = nft_sock_open(&sock, false);
	struct fw_names *names = err ? NULL : fw_names_open(&st);
	st.queue_xt = !err && nft_queue_kind(&sock) == RQ_XT;
	struct fw_dhcp4q *dq = fw_dhcp4q_open(&st);
	struct fw_ifaces *fi = fw_ifaces_open();
	struct fw_nflog *nl = fw_nflog_open();
	bool no_dnsmasq = dnsmasq && strcmp(dnsmasq, "none") == 0;
	struct fw_dnsmasq *dm = no_dnsmasq ? NULL : fw_dnsmasq_new(run_dir, dnsmasq);
	int rc = 1;
	if (sfd < 0 || !names || !dq || !fi || !nl || (!dm && !no_dnsmasq)) {
		fprintf(stderr, "fwparts: setup: %s\n", strerror(errno));
		goto out;
	}
	st.policy = p;   /* names.c reads its host names */
	if (load_table(&st, p) < 0 || fw_names_sync(names) < 0)
		goto out;
	err = fw_ifaces_sync(fi, p);
	if (err < 0)
		fprintf(stderr, "fwparts: sync: %s\n", strerror(-err));
	if (dm && (err = fw_dnsmasq_configure(dm, p)) < 0) {
		fprintf(stderr, "fwparts: dnsmasq: %s\n", strerror(-err));
		goto out;
	}
	printf("ready dnsmasq %d\n", dm ? fw_dnsmasq_pid(dm) : 0);
	fflush(stdout);
	for (;;) {
		struct pollfd fds[] = {
			{ .fd = sfd, .events = POLLIN },
			{ .fd = fw_ifaces_fd(fi), .events = POLLIN },
			{ .fd = fw_nflog_fd(nl), .events = POLLIN },
			{ .fd = fw_names_queue_fd(names), .events = POLLIN },
			{ .fd = fw_dhcp4q_fd(dq), .events = POLLIN },
		};
		if (poll(fds, 5, -1) < 0 && errno != EINTR)
			break;
		if (fds[0].revents) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) != sizeof(si))
				continue;
			if (si.ssi_signo == SIGCHLD && dm) {
				fw_dnsmasq_reap(dm);
				printf("dnsmasq %d\n", fw_dnsmasq_pid(dm));
				fflush(stdout);
				continue;
			}
			if (si.ssi_signo == SIGCHLD)
				continue;
			rc = 0;
			break;
		}
		if (fds[1].revents && (err = fw_ifaces_event(fi, p)) < 0)
			fprintf(stderr, "fwparts: link event: %s\n", strerror(-err));
		if (fds[2].revents && (err = fw_nflog_event(nl, print_line, NULL)) < 0)
			fprintf(stderr, "fwparts: nflog: %s\n", strerror(-err));
		if (fds[3].revents)
			fw_names_queue_event(names);
		if (fds[4].revents)
			fw_dhcp4q_event(dq);
	}
out:
	fw_dnsmasq_free(dm);
	fw_nflog_close(nl);
	fw_ifaces_close(fi);
	fw_names_close(names);
	fw_dhcp4q_close(dq);
	ruleset_free(st.rs);
	nft_sock_close(&sock);
	return rc;
}

int main(int argc, char **argv)
{
	const char *run_dir = "/run/moat", *dnsmasq = NULL;
	int i = 1;
	if (argc >= 2 && strcmp(argv[1], "--counters") == 0) {
		char *t = fw_counters_text(argc > 2 ? argv[2] : NULL);
		if (!t) {
			fprintf(stderr, "fwparts: counters: %s\n", strerror(errno));
			return 1;
		}
		fputs(t, stdout);
		free(t);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "--sync") == 0) {
		struct policy *p = strcmp(argv[2], "-") ? load(argv[2]) : NULL;
		struct fw_ifaces *fi = fw_ifaces_open();
		if (!fi || (strcmp(argv[2], "-") && !p))
			return 1;
		int err = fw_ifaces_sync(fi, p);
		fw_ifaces_close(fi);
		policy_free(p);
		return err < 0;
	}
	for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (strcmp(argv[i], "--run-dir") == 0)
			run_dir = argv[i + 1];
		else if (strcmp(argv[i], "--dnsmasq") == 0)
			dnsmasq = argv[i + 1];
		else
			break;
	}
	if (i != argc - 1) {
		fprintf(stderr, "usage: fwparts [--run-dir DIR] [--dnsmasq PATH] FILE | --counters [VM] | --sync FILE\n");
		return 2;
	}
	struct policy *p = load(argv[i]);
	if (!p)
		return 1;
	int rc = serve(p, run_dir, dnsmasq);
	policy_free(p);
	return rc;
}

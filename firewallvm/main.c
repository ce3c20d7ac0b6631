/* moat-firewalld: the firewall VM's daemon.
 *
 *   moat-firewalld --control PATH [--status PATH] [--state-dir DIR] [--run-dir DIR]
 *                  [--dnsmasq PATH|none]
 *
 * Before anything else the table inet moat is loaded: the policy the state
 * directory says was in force, or a table that drops everything. Then one
 * poll loop serves the control channel, interface and NFLOG events, the
 * DNS answers held on their way to the VMs (names.c), the VMs' DHCPv4
 * held to be judged (dhcp4q.c), RAs and DHCPv6
 * (addr6.c), signals and the `until` timer. The table has the persist
 * flag: it stays in force when the daemon exits or dies, and a restarted
 * daemon takes it back.
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "lib/daemon.h"
#include "policy/batch.h"
#include "firewallvm/firewalld.h"

#define DEFAULT_STATE_DIR  "/var/lib/moat"
#define DEFAULT_RUN_DIR    "/run/moat"
#define DEFAULT_DNSMASQ    "/usr/sbin/dnsmasq"
#define EXPIRY_CHECK_MS    10000   /* the wall clock may jump: look again this often */
#define ADDR6_TRIES        20      /* 100 ms apart */
#define POLL_MAX           (8 + 2 * (1 + FW_MAX_CLIENTS))

struct daemon {
	struct fw_state st;
	struct nft_sock nft;
	struct fw_ifaces *ifaces;
	struct fw_nflog *nflog;
	struct fw_dnsmasq *dnsmasq;
	struct fw_names *names;
	struct fw_dhcp4q *dhcp4q;
	struct fw_addr6 *addr6;
	/* the policy addr6 last saw: another one (an apply, an expiry) syncs it */
	const struct policy *addr6_policy;
	uint32_t addr6_generation;
	struct fw_control *control;
	int sigfd;
	bool stop;
};

static void usage(FILE *out)
{
	fprintf(out, "usage: moat-firewalld --control PATH [--status PATH] [--state-dir DIR] [--run-dir DIR]\n"
		"                      [--dnsmasq PATH|none]\n"
		"  --control PATH    virtio-serial port, or a unix socket to listen on\n"
		"  --status PATH     the same for the read-only channel (status, stats, log)\n"
		"  --state-dir DIR   the policy in force, re-applied at start (default %s)\n"
		"  --run-dir DIR     dnsmasq's config and pid (default %s)\n"
		"  --dnsmasq PATH    dnsmasq binary (default %s); none: no DHCP/DNS\n",
		DEFAULT_STATE_DIR, DEFAULT_RUN_DIR, DEFAULT_DNSMASQ);
}

/* The table first: never a moment with the firewall open. */
static bool daemon_load_table(struct daemon *d)
{
	char err[16384];
	int rc = fw_restore(&d->st, err, sizeof(err));
	if (!rc) {
		fprintf(stderr, "moat-firewalld: took back generation %u from %s/current.conf\n",
			d->st.generation, d->st.state_dir);
		if (err[0])
			fputs(err, stderr);
		return true;
	}
	if (rc != ENOENT)
		fprintf(stderr, "moat-firewalld: the saved policy does not load (%s):\n%s",
			strerror(rc), err);
	rc = fw_load_closed(&d->st, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "moat-firewalld: cannot load the closed table: %s\n", err);
		return false;
	}
	fprintf(stderr, "moat-firewalld: no policy yet: everything is dropped\n");
	return true;
}

static void signals_read(struct daemon *d)
{
	struct signalfd_siginfo si;
	while (read(d->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGCHLD) {
			if (d->dnsmasq)
				fw_dnsmasq_reap(d->dnsmasq);
		} else {
			fprintf(stderr, "moat-firewalld: %s, exiting; the table stays in force\n",
				strsignal((int)si.ssi_signo));
			d->stop = true;
		}
	}
}

static int expiry_timeout(const struct fw_state *st)
{
	if (!st->next_expiry)
		return -1;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	int64_t ms = ((int64_t)st->next_expiry - now.tv_sec) * 1000 - now.tv_nsec / 1000000;
	if (ms < 0)
		return 0;
	return ms > EXPIRY_CHECK_MS ? EXPIRY_CHECK_MS : (int)ms;
}

static int min_timeout(int a, int b)
{
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return a < b ? a : b;
}

static void new_log_line(const char *line, void *arg)
{
	struct daemon *d = arg;
	if (d->control)
		fw_control_log_line(line, d->control);
}

/* A policy other than the one addr6 has (it keeps copies, never pointers):
 * sync its links. The old policy is still allocated when the new one comes
 * in, so a new policy never has the pointer addr6 saw. */
static void addr6_follow(struct daemon *d)
{
	if (!d->addr6 || (d->st.policy == d->addr6_policy && d->st.generation == d->addr6_generation))
		return;
	fw_addr6_sync(d->addr6, d->st.policy);
	d->addr6_policy = d->st.policy;
	d->addr6_generation = d->st.generation;
}

/* RA and DHCPv6 are the daemon's own: whoever else holds UDP 547 (what an
 * earlier dnsmasq left, say) would answer the VMs' DHCPv6. Fail closed:
 * refuse to run, with the table (loaded first) in force, rather than run
 * beside it; init starts the daemon again. A kernel without IPv6 has no
 * DHCPv6 for anyone. A dnsmasq of a daemon that was just killed may still
 * be on its way out: a few tries. */
static bool daemon_open_addr6(struct daemon *d)
{
	for (int i = 0; i < ADDR6_TRIES; i++) {
		if ((d->addr6 = fw_addr6_open()) || errno != EADDRINUSE)
			break;
		usleep(100000);
	}
	if (d->addr6)
		return true;
	if (errno == EAFNOSUPPORT) {
		fprintf(stderr, "moat-firewalld: RA/DHCPv6: no IPv6 in this kernel\n");
		return true;
	}
	fprintf(stderr, "moat-firewalld: cannot bind the DHCPv6 server port (UDP 547): %s; "
		"refusing to run beside whoever holds it (the table stays in force)\n", strerror(errno));
	return false;
}

static int daemon_run(struct daemon *d)
{
	while (!d->stop) {
		struct pollfd fds[POLL_MAX];
		size_t n = 0;
		fds[n++] = (struct pollfd){ .fd = d->sigfd, .events = POLLIN };
		int ifaces_at = -1, nflog_at = -1, queue_at = -1, dhcp4q_at = -1;
		if (d->ifaces && fw_ifaces_fd(d->ifaces) >= 0) {
			ifaces_at = (int)n;
			fds[n++] = (struct pollfd){ .fd = fw_ifaces_fd(d->ifaces), .events = POLLIN };
		}
		if (d->nflog && fw_nflog_fd(d->nflog) >= 0) {
			nflog_at = (int)n;
			fds[n++] = (struct pollfd){ .fd = fw_nflog_fd(d->nflog), .events = POLLIN };
		}
		if (d->names && fw_names_queue_fd(d->names) >= 0) {
			queue_at = (int)n;
			fds[n++] = (struct pollfd){ .fd = fw_names_queue_fd(d->names), .events = POLLIN };
		}
		if (d->dhcp4q) {
			dhcp4q_at = (int)n;
			fds[n++] = (struct pollfd){ .fd = fw_dhcp4q_fd(d->dhcp4q), .events = POLLIN };
		}
		size_t addr6_at = n, naddr6 = d->addr6 ? fw_addr6_pollfds(d->addr6, fds + n) : 0;
		n += naddr6;
		size_t ctl_at = n;
		n += fw_control_pollfds(d->control, fds + n);
		int timeout = min_timeout(expiry_timeout(&d->st), fw_control_timeout(d->control));
		if (d->addr6)
			timeout = min_timeout(timeout, fw_addr6_timeout(d->addr6));

		/* the one place the daemon sleeps */
		if (poll(fds, n, timeout) < 0 && errno != EINTR) {
			fprintf(stderr, "moat-firewalld: poll: %s\n", strerror(errno));
			return 1;
		}
		if (fds[0].revents)
			signals_read(d);
		if (ifaces_at >= 0 && fds[ifaces_at].revents) {
			fw_ifaces_event(d->ifaces, d->st.policy);
			if (d->addr6)   /* a link came, went, came up or got its name */
				fw_addr6_sync(d->addr6, d->st.policy);
		}
		/* before any apply of this round: its links are this policy's */
		if (d->addr6)
			fw_addr6_event(d->addr6, fds + addr6_at, naddr6);
		if (nflog_at >= 0 && fds[nflog_at].revents)
			fw_nflog_event(d->nflog, new_log_line, d);
		if (queue_at >= 0 && fds[queue_at].revents)
			fw_names_queue_event(d->names);
		if (dhcp4q_at >= 0 && fds[dhcp4q_at].revents)
			fw_dhcp4q_event(d->dhcp4q);
		fw_control_event(d->control, fds + ctl_at, n - ctl_at);
		fw_apply_release(&d->st);
		if (d->st.next_expiry && time(NULL) >= d->st.next_expiry) {
			uint32_t gen = d->st.generation;
			if (fw_expire(&d->st, time(NULL)) == 0)
				fprintf(stderr, "moat-firewalld: expired rules removed from generation %u\n", gen);
		}
		addr6_follow(d);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "control", required_argument, NULL, 'c' },
		{ "status", required_argument, NULL, 'R' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "run-dir", required_argument, NULL, 'r' },
		{ "dnsmasq", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *control = NULL, *status = NULL, *run_dir = DEFAULT_RUN_DIR, *dnsmasq = DEFAULT_DNSMASQ;
	struct daemon d = { .sigfd = -1 };
	d.st.state_dir = DEFAULT_STATE_DIR;
	int c, rc = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': control = optarg; break;
		case 'R': status = optarg; break;
		case 's': d.st.state_dir = optarg; break;
		case 'r': run_dir = optarg; break;
		case 'd': dnsmasq = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!control || optind != argc) {
		usage(stderr);
		return 2;
	}
	setvbuf(stderr, NULL, _IOLBF, 0);
	/* every apply allocates and frees the same few MB (policy, ruleset,
	 * batch): keep them mapped rather than fault in fresh zeroed pages each
	 * time (page faults were a tenth of parsing a 500-VM policy) */
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 256 << 20);

	int err = nft_sock_open(&d.nft, false);
	if (err) {
		fprintf(stderr, "moat-firewalld: nf_tables netlink: %s\n", strerror(-err));
		return 1;
	}
	d.st.nft = &d.nft;
	d.st.table_flags = nft_appliance_table_flags(&d.nft);
	int queue_kind = nft_queue_kind(&d.nft);
	d.st.queue_xt = queue_kind == RQ_XT;
	if (queue_kind == RQ_NONE)
		fprintf(stderr, "moat-firewalld: the kernel has neither nft_queue nor xt_NFQUEUE: no policy"
			" loads (its DHCP rules queue)\n");
	if (!d.st.table_flags)
		fprintf(stderr, "moat-firewalld: this kernel cannot keep an owned table after its owner (no "
			"NFT_TABLE_F_PERSIST, Linux < 6.9): table inet moat is not owned, so that it stays in "
			"force if moat-firewalld dies\n");
	/* before the table: a restored policy's apply syncs the hold */
	d.names = fw_names_open(&d.st);
	if (!d.names)
		fprintf(stderr, "moat-firewalld: DNS answers: %s; host-name rules get no addresses\n",
			strerror(errno));
	d.st.names = d.names;
	d.dhcp4q = fw_dhcp4q_open(&d.st);
	if (!d.dhcp4q)
		fprintf(stderr, "moat-firewalld: NFQUEUE %d: %s; no VM gets an address by DHCP\n",
			FW_DHCP4_QUEUE, strerror(errno));
	d.st.dhcp4q = d.dhcp4q;
	if (!daemon_load_table(&d))
		goto cleanup;

	d.sigfd = daemon_signals_open();
	if (d.sigfd < 0) {
		fprintf(stderr, "moat-firewalld: signals: %s\n", strerror(errno));
		goto cleanup;
	}
	d.ifaces = fw_ifaces_open();
	if (!d.ifaces)
		fprintf(stderr, "moat-firewalld: interfaces: %s; carrying on without\n", strerror(errno));
	d.nflog = fw_nflog_open();
	if (!d.nflog)
		fprintf(stderr, "moat-firewalld: NFLOG: %s; no packet log\n", strerror(errno));
	if (strcmp(dnsmasq, "none") != 0) {
		d.dnsmasq = fw_dnsmasq_new(run_dir, dnsmasq);
		if (!d.dnsmasq)
			fprintf(stderr, "moat-firewalld: dnsmasq: %s; no DHCP/DNS\n", strerror(errno));
	}
	if (!daemon_open_addr6(&d))
		goto cleanup;
	d.st.ifaces = d.ifaces;
	d.st.dnsmasq = d.dnsmasq;
	/* the table was loaded before these existed */
	if (d.ifaces && fw_ifaces_sync(d.ifaces, d.st.policy) < 0)
		fprintf(stderr, "moat-firewalld: interfaces not all configured yet\n");
	if (d.dnsmasq && d.st.policy && fw_dnsmasq_configure(d.dnsmasq, d.st.policy) < 0)
		fprintf(stderr, "moat-firewalld: dnsmasq not configured\n");

	addr6_follow(&d);
	d.control = fw_control_open(control, status, &d.st, d.nflog);
	if (!d.control)
		goto cleanup;
	fprintf(stderr, "moat-firewalld: listening on %s%s%s\n", control, status ? ", read-only on " : "",
		status ? status : "");
	rc = daemon_run(&d);

cleanup:
	fw_control_close(d.control);
	fw_addr6_close(d.addr6);
	if (d.dnsmasq)
		fw_dnsmasq_free(d.dnsmasq);
	if (d.nflog)
		fw_nflog_close(d.nflog);
	if (d.ifaces)
		fw_ifaces_close(d.ifaces);
	fw_names_close(d.names);
	fw_dhcp4q_close(d.dhcp4q);
	if (d.sigfd >= 0)
		close(d.sigfd);
	/* the table outlives this socket (persist) */
	nft_sock_close(&d.nft);
	fw_apply_release(&d.st);
	ruleset_free(d.st.rs);
	policy_free(d.st.policy);
	free(d.st.births);
	free(d.st.text);
	free(d.st.file);
	return rc;
}

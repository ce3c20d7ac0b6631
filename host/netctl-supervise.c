/* netctl-supervise.c: `up --foreground`, the main process of moat.service.
 *
 * Once up has brought everything up, netctl stays and watches every piece
 * that has a pidfile in run/ (the appliances' QEMU and the links), each by a
 * pidfd. A piece that dies is started again by what up does (up_once:
 * whatever does not run, and the policy again if the firewall is new), so
 * traffic resumes: the appliances and the app VMs' QEMU reconnect to a new
 * link by themselves. Until then its VMs' traffic stops: a dead piece
 * carries nothing.
 *
 * A piece stopped on purpose (down, unplug, remove-vm) is stopped under the
 * lock of the pieces and loses its pidfile, so it is never taken for one
 * that died. Once the firewallvm's pidfile is gone (netctl down), there is
 * nothing left to watch and netctl exits 0. Pieces that keep dying
 * (SUPERVISE_BURST deaths within SUPERVISE_WINDOW_MS) make it take moat
 * down and exit 1, which systemd shows as a failed unit rather than a loop.
 * SIGTERM, SIGINT or SIGHUP: down, exit 0. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/clock.h"
#include "host/netctl.h"
#include "host/proc.h"
#include "host/up.h"

#define SUPERVISE_BURST     5
#define SUPERVISE_WINDOW_MS 60000
#define SUPERVISE_CHECK_MS  5000    /* a look at the pidfiles also without a death */
#define SUPERVISE_MAX       1024    /* pieces watched: the appliances and every link */

struct piece {
	char name[64];
	pid_t pid;   /* > 0 runs, 0 dead, < 0 not ours to judge (proc.h) */
};

/* Every NAME with a pidfile run/NAME.pid into V (at most MAX), and
 * whether it runs. */
static size_t pieces_read(const struct netctl *ctx, struct piece *v, size_t max)
{
	char dir[4096];
	if (!netctl_pathf(dir, sizeof(dir), "%s/run", ctx->state_dir))
		return 0;
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	size_t n = 0;
	struct dirent *e;
	while (n < max && (e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (len <= 4 || len - 4 >= sizeof(v[n].name) || strcmp(e->d_name + len - 4, ".pid") != 0)
			continue;
		snprintf(v[n].name, sizeof(v[n].name), "%.*s", (int)(len - 4), e->d_name);
		v[n].pid = proc_running(ctx, v[n].name);
		n++;
	}
	closedir(d);
	return n;
}

static void reap(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;   /* the pieces we started, and their log keepers */
}

/* Under the lock: 1 something died (said), 0 all run, -1 moat was taken down. */
static int pieces_check(const struct netctl *ctx, struct piece *v)
{
	size_t n = pieces_read(ctx, v, SUPERVISE_MAX);
	bool firewall = false, dead = false;
	for (size_t i = 0; i < n; i++) {
		firewall = firewall || strcmp(v[i].name, "firewallvm") == 0;
		if (v[i].pid == 0) {
			printf("netctl: %s died\n", v[i].name);
			dead = true;
		}
	}
	return !firewall ? -1 : dead;
}

/* One watcher per state directory: STATE/run/supervisor, locked for as
 * long as it watches, holds its pid. Its descriptor, or -1 after a message
 * (and, with ONLY_ASK, -2 when no one watches: the file is let go). */
static int watcher_lock(const struct netctl *ctx, bool only_ask)
{
	char path[4096], pid[32] = "";
	if (!netctl_pathf(path, sizeof(path), "%s/run/supervisor", ctx->state_dir))
		return -1;
	int fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | (only_ask ? 0 : O_CREAT), 0644);
	if (fd < 0 && only_ask && errno == ENOENT)
		return -2;
	if (fd < 0) {
		fprintf(stderr, "netctl: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? strcspn(pid, "\n") : 0] = 0;
		fprintf(stderr, "netctl: another netctl (pid %s) already watches moat's pieces in %s\n",
			*pid ? pid : "?", ctx->state_dir);
		close(fd);
		return -1;
	}
	if (only_ask) {
		close(fd);
		return -2;
	}
	int len = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
		fprintf(stderr, "netctl: %s: %s\n", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

bool up_unwatched(const struct netctl *ctx)
{
	return watcher_lock(ctx, true) == -2;
}

int up_supervise(struct netctl *ctx, const struct up_opts *o, const char *accel)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	struct piece *v = calloc(SUPERVISE_MAX, sizeof(*v));
	struct pollfd *pf = calloc(SUPERVISE_MAX + 1, sizeof(*pf));
	int sfd = -1;
	if (!v || !pf || sigprocmask(SIG_BLOCK, &set, NULL) < 0 || (sfd = signalfd(-1, &set, SFD_CLOEXEC)) < 0) {
		fprintf(stderr, "netctl: cannot watch the pieces: %s\n", strerror(errno ? errno : ENOMEM));
		free(v);
		free(pf);
		return NETCTL_FAILED;
	}
	int watching = watcher_lock(ctx, false);
	if (watching < 0) {
		close(sfd);
		free(v);
		free(pf);
		return NETCTL_FAILED;
	}
	printf("netctl: watching moat's pieces; one that dies is started again\n");
	fflush(stdout);
	long deaths[SUPERVISE_BURST] = { 0 };
	size_t ndeaths = 0;
	int rc = NETCTL_FAILED;
	for (;;) {
		reap();
		size_t n = pieces_read(ctx, v, SUPERVISE_MAX), np = 0;
		pf[np++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		for (size_t i = 0; i < n; i++) {
			int fd = v[i].pid > 0 ? (int)syscall(SYS_pidfd_open, v[i].pid, 0) : -1;
			if (fd >= 0)
				pf[np++] = (struct pollfd){ .fd = fd, .events = POLLIN };
		}
		int r = poll(pf, np, SUPERVISE_CHECK_MS);
		for (size_t i = 1; i < np; i++)
			close(pf[i].fd);
		if (r > 0 && (pf[0].revents & POLLIN)) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) != sizeof(si))
				si.ssi_signo = SIGTERM;
			printf("netctl: %s: taking moat down\n", strsignal((int)si.ssi_signo));
			fflush(stdout);
			bool ok = proc_lock(ctx) && up_down_all(ctx);
			proc_unlock();
			rc = ok ? NETCTL_OK : NETCTL_FAILED;
			break;
		}
		reap();
		if (!proc_lock(ctx))
			break;
		int state = pieces_check(ctx, v);
		if (state < 0) {
			proc_unlock();
			printf("netctl: moat was taken down (netctl down): nothing left to watch\n");
			rc = NETCTL_OK;
			break;
		}
		if (state > 0) {
			long now = mono_ms();
			/* DEATHS: the times of the last SUPERVISE_BURST, oldest first */
			if (ndeaths == SUPERVISE_BURST && now - deaths[0] < SUPERVISE_WINDOW_MS) {
				fprintf(stderr, "netctl: pieces died %d times within %d s: giving up, taking moat down "
						"(see the logs in %s/run)\n",
					SUPERVISE_BURST + 1, SUPERVISE_WINDOW_MS / 1000, ctx->state_dir);
				up_notify(false, "failed: pieces keep dying");
				up_down_all(ctx);
				proc_unlock();
				break;
			}
			if (ndeaths == SUPERVISE_BURST) {
				memmove(deaths, deaths + 1, sizeof(deaths) - sizeof(deaths[0]));
				ndeaths--;
			}
			deaths[ndeaths++] = now;
			up_notify(false, "starting again what died");
			bool ok = up_once(ctx, o, &accel) == NETCTL_OK;
			up_notify(false, ok ? "policy loaded" : "starting what died failed; trying again");
		}
		proc_unlock();
		fflush(stdout);
	}
	close(watching);
	close(sfd);
	free(v);
	free(pf);
	return rc;
}

/* supervise.c: a child kept running, restarted, and stopped (supervise.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/supervise.h"

#define SV_STOP_POLL_MS 10

void sv_init(struct sv_child *c, const char *what, const struct sv_policy *p)
{
	*c = (struct sv_child){ .what = what, .policy = *p };
}

static void free_cmd(struct sv_child *c)
{
	if (c->argv)
		for (char **a = c->argv; *a; a++)
			free(*a);
	free(c->argv);
	free(c->path);
	free(c->stdin_file);
	c->argv = NULL;
	c->path = c->stdin_file = NULL;
	c->opts = (struct spawn_opts){ 0 };
}

int sv_set_cmd(struct sv_child *c, const char *path, const char *const argv[], const char *stdin_file,
	       const struct spawn_opts *o)
{
	if (c->pid > 0)
		return -EBUSY;
	free_cmd(c);
	if (!path || !argv || !argv[0])
		return -EINVAL;
	size_t n = 0;
	while (argv[n])
		n++;
	c->argv = calloc(n + 1, sizeof(char *));
	bool ok = c->argv && (c->path = strdup(path)) && (!stdin_file || (c->stdin_file = strdup(stdin_file)));
	for (size_t i = 0; ok && i < n; i++)
		ok = (c->argv[i] = strdup(argv[i])) != NULL;
	if (!ok) {
		free_cmd(c);
		return -ENOMEM;
	}
	if (o)
		c->opts = *o;
	c->opts.stdin_fd = 0;
	return 0;
}

/* A failed start: a restart is due after restart_ms, if there is one. */
static int start_failed(struct sv_child *c, int err)
{
	if (c->policy.restart_ms > 0) {
		c->restart_at = mono_ms() + c->policy.restart_ms;
		c->state = SV_WAITING;
	} else {
		c->state = SV_FAILED;
	}
	return -err;
}

/* Start C; the fast deaths stay counted. */
static int launch(struct sv_child *c)
{
	c->restart_at = 0;
	struct spawn_opts o = c->opts;
	int fd = -1;
	/* opened for each start: the child reads it from the beginning */
	if (c->stdin_file && (fd = open(c->stdin_file, O_RDONLY | O_CLOEXEC)) < 0) {
		int err = errno;
		fprintf(stderr, "%s: %s: %s: %s\n", c->policy.log, c->what, c->stdin_file, strerror(err));
		return start_failed(c, err);
	}
	o.stdin_fd = fd;
	pid_t pid = spawn_child(c->path, c->argv, &o);
	int err = errno;
	if (fd >= 0)
		close(fd);
	if (pid < 0) {
		fprintf(stderr, "%s: starting %s (%s): %s\n", c->policy.log, c->what, c->path, strerror(err));
		return start_failed(c, err);
	}
	c->pid = pid;
	c->state = SV_RUNNING;
	c->started_ms = mono_ms();
	fprintf(stderr, "%s: started %s (pid %d)\n", c->policy.log, c->what, (int)pid);
	if (c->started)
		c->started(pid, c->started_arg);
	return 0;
}

int sv_start(struct sv_child *c)
{
	if (c->pid > 0)
		return 0;
	if (!c->argv)
		return -EINVAL;
	c->fast_deaths = 0;
	return launch(c);
}

bool sv_reaped(struct sv_child *c, pid_t pid, int status)
{
	if (c->pid <= 0 || pid != c->pid)
		return false;
	c->pid = 0;
	int64_t now = mono_ms();
	if (c->policy.fast_ms && now - c->started_ms < c->policy.fast_ms)
		c->fast_deaths++;
	else
		c->fast_deaths = 0;
	bool sig = WIFSIGNALED(status);
	fprintf(stderr, "%s: %s exited (%s %d)", c->policy.log, c->what, sig ? "signal" : "status",
		sig ? WTERMSIG(status) : WEXITSTATUS(status));
	if (c->policy.max_fast && c->fast_deaths >= c->policy.max_fast) {
		fprintf(stderr, "; it died %d times right after start: not restarting it\n", c->fast_deaths);
		c->state = SV_GAVE_UP;
		return true;
	}
	if (c->policy.restart_ms > 0) {
		fprintf(stderr, "; again in %d ms\n", c->policy.restart_ms);
		c->restart_at = now + c->policy.restart_ms;
		c->state = SV_WAITING;
		return true;
	}
	fprintf(stderr, "; again now\n");
	launch(c);
	return true;
}

void sv_reap(struct sv_child *c)
{
	int status;
	if (c->pid > 0 && waitpid(c->pid, &status, WNOHANG) == c->pid)
		sv_reaped(c, c->pid, status);
}

void sv_tick(struct sv_child *c, int64_t now)
{
	if (c->state == SV_WAITING && c->restart_at && now >= c->restart_at)
		launch(c);
}

void sv_stop(struct sv_child *c)
{
	c->restart_at = 0;
	c->state = SV_STOPPED;
	if (c->pid <= 0)
		return;
	kill(c->pid, SIGTERM);
	/* bounded: a child that ignores SIGTERM is killed */
	for (int waited = 0;; waited += SV_STOP_POLL_MS) {
		pid_t r = waitpid(c->pid, NULL, WNOHANG);
		if (r == c->pid || (r < 0 && errno == ECHILD))
			break;
		if (waited >= c->policy.stop_ms) {
			kill(c->pid, SIGKILL);
			while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
				;
			break;
		}
		usleep(SV_STOP_POLL_MS * 1000);
	}
	c->pid = 0;
}

void sv_clear(struct sv_child *c)
{
	sv_stop(c);
	free_cmd(c);
}

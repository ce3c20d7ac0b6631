/* supervise.h: a child the daemon keeps running. Started through
 * lib/spawn.c, noticed when it exits (the daemon reaps on SIGCHLD and hands
 * the status here), restarted after a pause, given up on after too many
 * deaths right after a start, and stopped with SIGTERM, then SIGKILL after a
 * deadline. moat-netd runs udhcpc and its dnsmasq this way, moat-firewalld
 * its dnsmasq. */
#ifndef MOAT_SUPERVISE_H
#define MOAT_SUPERVISE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/spawn.h"

struct sv_policy {
	const char *log;    /* the daemon's name, before every message */
	/* Pause before a restart, after an exit or a failed start. 0: restart
	 * at once after an exit, and after a failed start not at all (the
	 * caller's next sv_start tries again). */
	int restart_ms;
	/* An exit within FAST_MS of the start is a fast death; MAX_FAST of
	 * them in a row and it is not restarted (a config it refuses would
	 * only spin). MAX_FAST 0: always restarted. */
	int fast_ms, max_fast;
	int stop_ms;        /* sv_stop: SIGTERM, SIGKILL after this long */
};

enum sv_state {
	SV_STOPPED,         /* never started, stopped, or no command */
	SV_RUNNING,
	SV_WAITING,         /* restart_at is set */
	SV_FAILED,          /* did not start; nothing due (restart_ms 0) */
	SV_GAVE_UP,         /* MAX_FAST fast deaths in a row */
};

struct sv_child {
	const char *what;            /* its name in messages (the caller's) */
	struct sv_policy policy;
	/* the command, owned (sv_set_cmd) */
	char *path;
	char **argv;                 /* argv[0]: the name it runs under */
	char *stdin_file;            /* opened afresh for each start, or NULL */
	struct spawn_opts opts;      /* stdin_fd is the supervisor's */
	void (*started)(pid_t pid, void *arg);   /* after each start, or NULL */
	void *started_arg;
	/* read-only to the caller */
	enum sv_state state;
	pid_t pid;                   /* while running, else 0 */
	int64_t started_ms;          /* monotonic */
	int64_t restart_at;          /* monotonic ms a restart is due; 0: none */
	int fast_deaths;
};

/* C with no command, stopped, supervised as P says; WHAT (kept, not
 * copied) names it. */
void sv_init(struct sv_child *c, const char *what, const struct sv_policy *p);
/* Copy the command: PATH (searched in $PATH without a '/'), ARGV (NULL-
 * terminated, ARGV[0] the name), STDIN_FILE (NULL: none), O (NULL: plain).
 * C must not be running. 0, or -errno (C then has no command). */
int sv_set_cmd(struct sv_child *c, const char *path, const char *const argv[], const char *stdin_file,
	       const struct spawn_opts *o);
/* Start C unless it runs; a fresh try (the fast deaths are forgotten).
 * 0 if it runs, -errno (printed) if it did not start: then a restart is
 * due after restart_ms, if that is not 0. -EINVAL without a command. */
int sv_start(struct sv_child *c);
/* After a reap of PID with STATUS: false if PID is not C's. Otherwise
 * printed, and C restarted as its policy says. */
bool sv_reaped(struct sv_child *c, pid_t pid, int status);
/* On SIGCHLD, for a daemon whose only child is C: reap C if it exited. */
void sv_reap(struct sv_child *c);
/* Start C if its restart is due at NOW (monotonic ms). */
void sv_tick(struct sv_child *c, int64_t now);
/* SIGTERM, SIGKILL after stop_ms, reaped; no restart due. */
void sv_stop(struct sv_child *c);
/* Stopped, and the command freed: C as sv_init left it. */
void sv_clear(struct sv_child *c);

#endif

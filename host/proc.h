/* proc.h: the processes netctl starts (the appliances' QEMU, the links),
 * each with a pidfile STATE/run/NAME.pid, NAME.started (which tells that
 * process from a later one with its pid) and a log NAME.log. */
#ifndef MOAT_PROC_H
#define MOAT_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "host/confine.h"
#include "host/netctl.h"
#include "host/priv.h"

/* Which process a pidfile means: what that process cannot change about
 * itself (a compromised QEMU may rewrite its argv, /proc/PID/cmdline): its
 * start time (/proc/PID/stat field 22, clock ticks after boot) and the uid
 * it was started as, in NAME.started ("STARTTIME UID") next to NAME.pid
 * (the bare pid, what scripts read). */
struct proc_id {
	pid_t pid;
	unsigned long long start;
	uid_t uid;
};

/* How spawn starts a process: as whom (NULL: as netctl itself, with only the
 * capabilities KEEP), under which limits, which of our descriptors it
 * inherits, as 3, 4, ..., and whether in a network namespace of its own
 * (NETNS: new and empty, not even lo up) and whether CONFINED (confine.h). The keeper of its log runs as
 * LOG_AS (the user it is or becomes). */
struct proc_as {
	const struct priv_id *id;
	const struct priv_id *log_as;
	const int *keep;
	size_t nkeep;
	struct priv_limits limits;
	const int *fds;
	size_t nfds;
	bool netns;
	/* confine.h: read-only mounts, the host's socket directories hidden
	 * but FILES, and the Landlock scope where the kernel has it */
	bool confined;
	const struct confine_keep *files;
	size_t nfiles;
};

/* Whoever starts or stops pieces (up, down, plug, unplug, the supervisor of
 * up --foreground) holds STATE/run/lock meanwhile, so a piece stopped on
 * purpose (its pidfile removed) is never taken for one that died. Nests. */
bool proc_lock(const struct netctl *ctx);
void proc_unlock(void);

/* STATE/run/NAME.EXT into BUF; false (and a message) if it does not fit. */
bool proc_run_file(const struct netctl *ctx, char *buf, size_t len, const char *name, const char *ext);
/* What spawn left in run/ for NAME (log, pidfile, NAME.started, console)
 * root:GID 0640 for the read-only commands. */
bool proc_run_files_own(const struct netctl *ctx, const char *name, gid_t moat);
/* STATE/run/NAME.EXT holds FMT..., whole or not at all. */
bool proc_run_write(const struct netctl *ctx, const char *name, const char *ext, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* 1 if the process NAME.pid and NAME.started name runs (*P says which),
 * 0 if none does. -1 (and a message saying what to do) for a pidfile of an
 * older netctl, without NAME.started, whose live process netctl cannot
 * tell to be NAME: it must neither be stopped nor have a second NAME
 * started beside it. */
int proc_running_id(const struct netctl *ctx, const char *name, struct proc_id *p);
/* Its pid, 0 or -1 as proc_running_id says. */
pid_t proc_running(const struct netctl *ctx, const char *name);

/* ARGV started in its own session as AS says, stdout and stderr through a
 * pipe to the keeper of NAME.log (logkeep.h), with no other descriptor of
 * ours or our caller's and a fixed PATH for all its environment. Its
 * NAME.started and pidfile are written before we return. */
bool proc_spawn(const struct netctl *ctx, const char *name, char *const *argv, const struct proc_as *as);

/* TERM, then KILL after 5 s. True if NAME is not running now (its pidfiles
 * removed); false, and it is left alone, if it does not stop or is not
 * known to be NAME (proc_running_id's -1). */
bool proc_stop(const struct netctl *ctx, const char *name, const char *what);

void proc_sleep_ms(long ms);

#endif

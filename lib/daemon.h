/* daemon.h: what the appliances' daemons (moat-firewalld, moat-netd) do the
 * same way. */
#ifndef MOAT_DAEMON_H
#define MOAT_DAEMON_H

#include <stdbool.h>

/* A unix socket listening at PATH, mode 0600. A socket left there by a daemon
 * that died is replaced; anything else at PATH is an error (EADDRINUSE).
 * FLAGS: extra socket(2) type flags (SOCK_NONBLOCK). fd, or -1 with errno. */
int daemon_listen_unix(const char *path, int flags);

/* SIGTERM, SIGINT and SIGCHLD blocked and delivered through the returned
 * signalfd; SIGPIPE ignored. -1 with errno on failure. */
int daemon_signals_open(void);

/* Whether process PID's command line has the argument ARG (whole). */
bool daemon_pid_has_arg(long pid, const char *arg);
/* Whether it has any (not a process in the middle of an exec, nor a kernel
 * thread). */
bool daemon_pid_has_args(long pid);

/* Stop (SIGTERM, then SIGKILL after 2 s) every process whose command line has
 * the argument ARG: a child that a daemon which died left running (dnsmasq
 * changes its user and group, which clears a parent-death signal), still
 * holding its port and an old config. WHO names the daemon in the log.
 * Returns how many were stopped. */
int daemon_stop_leftovers(const char *arg, const char *who);

#endif

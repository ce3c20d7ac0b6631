/* daemon.h: what the appliances' daemons (moat-firewalld, moat-netd) do the
 * same way. */
#ifndef MOAT_DAEMON_H
#define MOAT_DAEMON_H

/* A unix socket listening at PATH, mode 0600. A socket left there by a daemon
 * that died is replaced; anything else at PATH is an error (EADDRINUSE).
 * FLAGS: extra socket(2) type flags (SOCK_NONBLOCK). fd, or -1 with errno. */
int daemon_listen_unix(const char *path, int flags);

/* SIGTERM, SIGINT and SIGCHLD blocked and delivered through the returned
 * signalfd; SIGPIPE ignored. -1 with errno on failure. */
int daemon_signals_open(void);

#endif

/* parts.h: what ifaces.c, dnsmasq.c, nflog.c and counters.c expose beyond
 * firewalld.h, for their unit tests, the fuzz target and tests/tools/fwparts. */
#ifndef MOAT_FW_PARTS_H
#define MOAT_FW_PARTS_H

#include <stddef.h>
#include <time.h>

#include "firewallvm/firewalld.h"

#define FW_LOG_LINE_MAX 192

/* dnsmasq.c: the config text for POLICY with files under RUN_DIR, malloc'd;
 * NULL + errno (ENAMETOOLONG when a path does not fit). */
char *fw_dnsmasq_config(const struct policy *p, const char *run_dir);
/* The pid of the running dnsmasq, or 0. */
int fw_dnsmasq_pid(const struct fw_dnsmasq *d);

/* nflog.c: a ring with no socket, fed by hand. */
struct fw_nflog *fw_nflog_new_ring(void);
/* Parse BUF as netlink messages from nfnetlink_log (stamped NOW) into the
 * ring. Returns how many lines were added, or -errno when BUF was not a
 * well-formed series of netlink messages; packets that are not ours or do not
 * parse are skipped (and counted). */
int fw_nflog_feed(struct fw_nflog *l, const void *buf, size_t len, time_t now,
		  void (*new_line)(const char *line, void *arg), void *arg);
/* Messages skipped because their prefix or packet did not parse. */
unsigned long fw_nflog_skipped(const struct fw_nflog *l);

#endif

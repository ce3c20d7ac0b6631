/* logkeep.h: bounded logs. What a process netctl starts writes (its stdout
 * and stderr, an appliance's serial console) never reaches a file directly:
 * it goes into a pipe, and a small keeper process writes it to the file,
 * which never grows past LOGKEEP_MAX bytes. A guest or a compromised QEMU
 * or moat-link that writes without end fills a pipe, not the file system.
 *
 * Why not RLIMIT_FSIZE on the writer: it caps every file it grows, QEMU's
 * guest memory (memfd) too, and kills it with SIGXFSZ. The keeper is what
 * libvirt's virtlogd does for QEMU, without its rotation to other files:
 * when the file is full, its older half is dropped in place (a line says
 * how much), so the keeper needs only its two descriptors. Under systemd
 * (netctl's stderr is the journal's), the keeper also gives every line to
 * the journal, tagged moat/NAME (moat/dev.link, moat/firewallvm.console). */
#ifndef MOAT_LOGKEEP_H
#define MOAT_LOGKEEP_H

#include <stdbool.h>
#include <sys/types.h>

#include "host/priv.h"

#define LOGKEEP_MAX (2 << 20)   /* bytes per log or console, as virtlogd's max_size */

/* FILE (made root:GID 0640 if missing, never through a symbolic link;
 * emptied first if TRUNCATE, else appended to) kept by a new keeper process,
 * which runs as AS (no capabilities, undumpable) until every copy of the
 * pipe's write end is closed. Returns that write end (close-on-exec), or -1
 * after a message. */
int logkeep_pipe(const char *file, bool truncate, gid_t gid, const struct priv_id *as);

/* The keeper's loop: what IN brings, appended to OUT (open with O_APPEND),
 * OUT kept at most MAX bytes, and written to JOURNAL too (a non-blocking
 * stream, -1 for none) as far as it takes it. Returns at IN's end. */
void logkeep_run(int in, int out, int journal, off_t max);

#endif

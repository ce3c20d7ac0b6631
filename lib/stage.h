/* stage.h: a file written (and, if asked, flushed) by a thread while the
 * caller waits on something else, that replaces its path only if the caller
 * keeps it. netctl stages the copy of a generation while the firewall
 * applies it; moat-firewalld stages current.conf while the kernel commits. */
#ifndef MOAT_STAGE_H
#define MOAT_STAGE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct stage {
	const char *path, *tmp;    /* the caller's, alive until stage_finish */
	const char *data;
	size_t len;
	bool sync;
	void (*also)(void *arg);   /* run in the thread too, after the write */
	void *also_arg;
	int fd, err;
	pthread_t thread;
	bool started;
};

/* Start writing DATA (LEN bytes) to TMP with MODE; SYNC: flushed too. ALSO,
 * if given, runs in the same thread (or here, if no thread can start). */
void stage_start(struct stage *s, const char *path, const char *tmp, mode_t mode, const char *data,
		 size_t len, bool sync, void (*also)(void *arg), void *also_arg);
/* Wait for it; KEEP: rename TMP to PATH, else remove TMP. 0 or an errno. */
int stage_finish(struct stage *s, bool keep);

/* The same without a thread: TMP written, not flushed, renamed to PATH. 0 or
 * an errno (TMP removed then). */
int stage_write_now(const char *path, const char *tmp, mode_t mode, const char *data, size_t len);

/* All of DATA to FD: 0 or an errno. */
int stage_write_all(int fd, const char *data, size_t len);

#endif

/* stage.h: the one way a file is replaced whole: written to a temporary name
 * beside it, then renamed over it, so a reader sees the old file or the new
 * one, never a part. Either at once (stage_write_now, stage_write_file,
 * stage_printf) or by a thread while the caller waits on something else,
 * replacing its path only if the caller keeps it: netctl stages the copy of
 * a generation while the firewall applies it; moat-firewalld stages
 * current.conf while the kernel commits. The temporary file is never opened
 * through a symbolic link. */
#ifndef MOAT_STAGE_H
#define MOAT_STAGE_H

#include <pthread.h>
#include <stdarg.h>
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

/* How stage_write_file makes the file: MODE (less the umask), then OWN(FD,
 * OWN_ARG), if given, before a byte is written (to give it an owner, say;
 * false with errno: nothing is written). */
struct stage_how {
	mode_t mode;
	bool (*own)(int fd, void *arg);
	void *own_arg;
};

/* PATH replaced whole by DATA (LEN bytes) through PATH.tmp, made as HOW
 * says, not flushed. 0 or an errno (ENAMETOOLONG if PATH.tmp does not fit;
 * PATH.tmp removed on failure). */
int stage_write_file(const char *path, const struct stage_how *how, const char *data, size_t len);
/* The same with printf's FMT and its arguments as the text. */
int stage_printf(const char *path, const struct stage_how *how, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int stage_vprintf(const char *path, const struct stage_how *how, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* All of DATA to FD: 0 or an errno. */
int stage_write_all(int fd, const char *data, size_t len);

#endif

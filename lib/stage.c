/* stage.c: files written by a thread while the caller waits (stage.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/stage.h"

/* the temporary file: never through a symbolic link someone left there */
#define STAGE_OPEN_FLAGS (O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC)

int stage_write_all(int fd, const char *data, size_t len)
{
	for (size_t done = 0; done < len;) {
		ssize_t w = write(fd, data + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return errno;
		if (w == 0)
			return EIO;
		done += (size_t)w;
	}
	return 0;
}

static void *stage_run(void *arg)
{
	struct stage *s = arg;
	s->err = stage_write_all(s->fd, s->data, s->len);
	if (!s->err && s->sync && fsync(s->fd) < 0)
		s->err = errno;
	if (s->also)
		s->also(s->also_arg);
	return NULL;
}

void stage_start(struct stage *s, const char *path, const char *tmp, mode_t mode, const char *data,
		 size_t len, bool sync, void (*also)(void *arg), void *also_arg)
{
	*s = (struct stage){ .path = path, .tmp = tmp, .data = data, .len = len, .sync = sync,
			     .also = also, .also_arg = also_arg, .fd = -1 };
	s->fd = open(tmp, STAGE_OPEN_FLAGS, mode);
	if (s->fd < 0) {
		s->err = errno;
		if (also)
			also(also_arg);
		return;
	}
	s->started = pthread_create(&s->thread, NULL, stage_run, s) == 0;
	if (!s->started)
		stage_run(s);
}

int stage_finish(struct stage *s, bool keep)
{
	if (s->started)
		pthread_join(s->thread, NULL);
	s->started = false;
	if (s->fd < 0)
		return s->err;
	if (close(s->fd) < 0 && !s->err)
		s->err = errno;
	s->fd = -1;
	if (keep && !s->err && rename(s->tmp, s->path) < 0)
		s->err = errno;
	if (!keep || s->err)
		unlink(s->tmp);
	return s->err;
}

/* TMP written as HOW says, renamed to PATH. */
static int write_now(const char *path, const char *tmp, const struct stage_how *how, const char *data,
		     size_t len)
{
	struct stage s = { .path = path, .tmp = tmp, .data = data, .len = len };
	s.fd = open(tmp, STAGE_OPEN_FLAGS, how->mode);
	if (s.fd < 0)
		return errno;
	errno = 0;
	if (how->own && !how->own(s.fd, how->own_arg))
		s.err = errno ? errno : EPERM;
	else
		s.err = stage_write_all(s.fd, data, len);
	return stage_finish(&s, true);
}

int stage_write_now(const char *path, const char *tmp, mode_t mode, const char *data, size_t len)
{
	return write_now(path, tmp, &(struct stage_how){ .mode = mode }, data, len);
}

int stage_write_file(const char *path, const struct stage_how *how, const char *data, size_t len)
{
	char tmp[PATH_MAX];
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return ENAMETOOLONG;
	return write_now(path, tmp, how, data, len);
}

int stage_vprintf(const char *path, const struct stage_how *how, const char *fmt, va_list ap)
{
	char *text;
	int n = vasprintf(&text, fmt, ap);
	if (n < 0)
		return ENOMEM;
	int err = stage_write_file(path, how, text, (size_t)n);
	free(text);
	return err;
}

int stage_printf(const char *path, const struct stage_how *how, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int err = stage_vprintf(path, how, fmt, ap);
	va_end(ap);
	return err;
}

/* stage.c: files written by a thread while the caller waits (stage.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/stage.h"

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
	s->fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
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

int stage_write_now(const char *path, const char *tmp, mode_t mode, const char *data, size_t len)
{
	struct stage s = { .path = path, .tmp = tmp, .data = data, .len = len };
	s.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (s.fd < 0)
		return errno;
	s.err = stage_write_all(s.fd, data, len);
	return stage_finish(&s, true);
}

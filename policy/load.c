/* load.c: a policy from a file on disk, and freeing one. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/pool.h"
#include "policy/policy.h"

#define LOAD_FILE_MAX (16u << 20)   /* a policy is text: 16 MiB is already absurd */

void policy_free(struct policy *p)
{
	if (!p)
		return;
	pool_free(&p->pool);
	free(p);
}

struct policy *policy_load_file(const char *path, time_t now, FILE *errs)
{
	return policy_load_file_host(path, now, errs, NULL);
}

struct policy *policy_load_file_host(const char *path, time_t now, FILE *errs, policy_host_check *host)
{
	size_t len;
	char *text = policy_read_file(path, &len);
	if (!text) {
		fprintf(errs, "%s: %s\n", path, strerror(errno));
		return NULL;
	}
	struct diags d;
	diags_init(&d, path, text, len);
	struct policy *p = policy_load_host(path, text, len, now, &d, host);
	if (d.out_len)
		fputs(d.out, errs);
	if (!p)
		fprintf(errs, "%s: %d error%s, nothing applied\n", path, d.nerrors,
			d.nerrors == 1 ? "" : "s");
	diags_free(&d);
	free(text);
	return p;
}

char *policy_read_file(const char *path, size_t *len)
{
	struct stat st;
	char *buf = NULL;
	size_t n = 0;
	int fd, saved;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0)
		goto fail;
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size > LOAD_FILE_MAX) {
		errno = S_ISDIR(st.st_mode) ? EISDIR : EFBIG;
		goto fail;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		goto fail;
	/* Read to EOF, not to st_size: the file may change under us. */
	for (;;) {
		ssize_t r = read(fd, buf + n, (size_t)st.st_size + 1 - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == (size_t)st.st_size + 1) {
			errno = EFBIG;
			goto fail;
		}
	}
	buf[n] = '\0';
	close(fd);
	*len = n;
	return buf;
fail:
	saved = errno;
	free(buf);
	close(fd);
	errno = saved;
	return NULL;
}

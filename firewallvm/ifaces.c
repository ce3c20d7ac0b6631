/* ifaces.c: VM interfaces found by MAC, renamed, addressed; the uplink. */
#include <errno.h>
#include <stdlib.h>

#include "firewalld.h"

struct fw_ifaces {
	int fd;
};

struct fw_ifaces *fw_ifaces_open(void)
{
	struct fw_ifaces *fi = calloc(1, sizeof(*fi));
	if (fi)
		fi->fd = -1;
	return fi;
}

void fw_ifaces_close(struct fw_ifaces *fi)
{
	free(fi);
}

int fw_ifaces_fd(const struct fw_ifaces *fi)
{
	return fi->fd;
}

int fw_ifaces_sync(struct fw_ifaces *fi, const struct policy *p)
{
	return 0;
}

int fw_ifaces_event(struct fw_ifaces *fi, const struct policy *p)
{
	return 0;
}

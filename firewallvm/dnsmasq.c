/* dnsmasq.c: dnsmasq's config from the policy; started and supervised. */
#include <errno.h>
#include <stdlib.h>

#include "firewalld.h"

struct fw_dnsmasq {
	int pid;
};

struct fw_dnsmasq *fw_dnsmasq_new(const char *run_dir, const char *dnsmasq_path)
{
	return calloc(1, sizeof(struct fw_dnsmasq));
}

void fw_dnsmasq_free(struct fw_dnsmasq *d)
{
	free(d);
}

int fw_dnsmasq_configure(struct fw_dnsmasq *d, const struct policy *p)
{
	return 0;
}

void fw_dnsmasq_reap(struct fw_dnsmasq *d)
{
}

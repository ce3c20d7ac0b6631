/* fuzz_dnsanswer: what reaches moat-firewalld's DNS-answer parser is a packet
 * carrying whatever the upstream resolver said. The input is tried as such a
 * packet and as a bare DNS message; every address taken must belong to a
 * name of the chain. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "firewallvm/dnsanswer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dns_answer a;
	static struct dns_tcp tcp;   /* kept across inputs: streams followed */
	/* a copy gives ASan exact bounds */
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	int rc = dns_packet_parse(buf, size, &tcp, &a);
	if (rc != 1 && (a.nnames || a.naddrs))
		abort();
	rc = dns_answer_parse(buf, size, &a);
	if ((rc < 0 && (a.nnames || a.naddrs)) || a.nnames > DNS_CHAIN_MAX || a.naddrs > DNS_ADDRS_MAX ||
	    (a.naddrs && !a.nnames))
		abort();
	for (size_t i = 0; i < a.nnames; i++)
		if (strlen(a.names[i]) > DNS_NAME_MAX)
			abort();
	for (size_t i = 0; i < a.naddrs; i++)
		if (a.addrs[i].len != 4 && a.addrs[i].len != 16)
			abort();
	free(buf);
	return 0;
}

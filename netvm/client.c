/* client.c: moat-netd as a client of a running moat-netd: --status,
 * --subnets and --hostaddrs for root on the local socket, and --dhcp-event,
 * which udhcpc's script runs on every lease change. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/ctl.h"
#include "netvm/netd.h"

int netd_call(const char *control, uint16_t type, const char *text, bool print_text)
{
	struct ctl_msg m;
	ctl_msg_init(&m, type);
	if (text && !ctl_put_str(&m, CTL_A_TEXT, text)) {
		ctl_msg_free(&m);
		fprintf(stderr, "moat-netd: the request does not fit in a message\n");
		return 1;
	}
	uint8_t *r;
	size_t len;
	int rc = ctl_call(control, &m, &r, &len);
	ctl_msg_free(&m);
	if (rc) {
		fprintf(stderr, "moat-netd: %s: %s\n", control, strerror(-rc));
		return 1;
	}
	uint32_t status = EPROTO;
	ctl_get_u32(r, len, CTL_A_STATUS, &status);
	const char *msg = ctl_get_str(r, len, CTL_A_MESSAGE), *out = ctl_get_str(r, len, CTL_A_TEXT);
	if (status)
		fprintf(stderr, "moat-netd: %s\n", msg ? msg : strerror((int)status));
	else if (print_text && out)
		fputs(out, stdout);
	free(r);
	return status ? 1 : 0;
}

/* udhcpc's environment, forwarded as is: the daemon checks every value. */
int netd_dhcp_event(const char *control, const char *event)
{
	static const char *const vars[] = { "ip", "mask", "subnet", "router", "dns" };
	char text[8192];
	size_t n = 0;
	int w = snprintf(text, sizeof(text), "event=%s\n", event);
	if (w < 0 || (size_t)w >= sizeof(text) || strchr(event, '\n'))
		return 1;
	n = (size_t)w;
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		const char *v = getenv(vars[i]);
		if (!v)
			continue;
		if (strchr(v, '\n')) {
			fprintf(stderr, "moat-netd: DHCP option %s has a newline: event refused\n", vars[i]);
			return 1;
		}
		w = snprintf(text + n, sizeof(text) - n, "%s=%s\n", vars[i], v);
		if (w < 0 || (size_t)w >= sizeof(text) - n) {
			fprintf(stderr, "moat-netd: DHCP event too long: refused\n");
			return 1;
		}
		n += (size_t)w;
	}
	return netd_call(control, CTL_REQ_DHCP, text, false);
}

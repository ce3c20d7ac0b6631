/* dhcp4.h: whether a DHCPv4 message an app VM sent the firewall speaks only
 * for the VM, as a pure function of its bytes and the VM's MAC (dhcp4q.c
 * holds the messages in NFQUEUE and counts the drops).
 *
 * The ruleset already drops a message whose chaddr is not the VM's MAC or
 * that names a relay (giaddr); nftables cannot walk DHCP options, so this
 * reads them. A client identifier (option 61) that can name a MAC must name
 * the VM's: type 1 (Ethernet, 7 bytes), or type 255 (RFC 4361: IAID and
 * DUID) whose DUID is a DUID-LLT or DUID-LL of hardware type 1. Any other
 * client identifier names no MAC and passes: dnsmasq ignores client
 * identifiers (dhcp-ignore-clid) and answers by the link. Anything this
 * reader cannot read to the end is dropped: no magic cookie, an option past
 * the end or no end option, option 61 twice, option overload (52: options
 * in sname and file, which are not read). */
#ifndef MOAT_DHCP4_H
#define MOAT_DHCP4_H

#include <stddef.h>
#include <stdint.h>

/* What dhcp4_judge says: 0 accept, else why it is dropped. */
enum dhcp4_verdict {
	DHCP4_ACCEPT = 0,
	DHCP4_DROP_IP = -1,        /* not one whole IPv4 UDP datagram to port 67 */
	DHCP4_DROP_BOOTP = -2,     /* short, not a request, not Ethernet, through a relay */
	DHCP4_DROP_CHADDR = -3,    /* chaddr is not the VM's MAC */
	DHCP4_DROP_COOKIE = -4,    /* no DHCP magic cookie */
	DHCP4_DROP_OPTIONS = -5,   /* an option past the end, no end option */
	DHCP4_DROP_OVERLOAD = -6,  /* option 52: more options in sname or file */
	DHCP4_DROP_CLID = -7,      /* a client identifier naming another MAC, or malformed */
	DHCP4_DROP_CLID_TWICE = -8,
};
const char *dhcp4_drop_str(int verdict);

/* The verdict on PKT (LEN bytes: an IPv4 header, UDP, the BOOTP message)
 * that came in on the link of the VM whose MAC is MAC. */
int dhcp4_judge(const uint8_t *pkt, size_t len, const uint8_t mac[6]);

#endif

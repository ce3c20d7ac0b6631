/* dhcp4.c: a DHCPv4 message of an app VM must speak for the VM's own MAC
 * (see dhcp4.h). Every read is bounded by the length the kernel gave. */
#include <string.h>

#include "firewallvm/dhcp4.h"

#define BOOTP_CHADDR   28     /* offsets in the BOOTP message (RFC 951, 2131) */
#define BOOTP_GIADDR   24
#define BOOTP_COOKIE   236
#define BOOTP_OPTIONS  240

#define OPT_PAD        0
#define OPT_OVERLOAD   52
#define OPT_CLIENT_ID  61
#define OPT_END        255

#define HW_ETHERNET    1
#define CLID_DUID      255    /* RFC 4361: IAID (4 bytes) and a DUID */
#define DUID_LLT       1      /* type, hardware type, time (4 bytes), address */
#define DUID_LL        3      /* type, hardware type, address */

static const uint8_t cookie[4] = { 99, 130, 83, 99 };

const char *dhcp4_drop_str(int verdict)
{
	switch (verdict) {
	case DHCP4_ACCEPT: return "accepted";
	case DHCP4_DROP_IP: return "not a whole UDP datagram to port 67";
	case DHCP4_DROP_BOOTP: return "not a client's BOOTP request on Ethernet";
	case DHCP4_DROP_CHADDR: return "chaddr not its own MAC";
	case DHCP4_DROP_COOKIE: return "no DHCP magic cookie";
	case DHCP4_DROP_OPTIONS: return "malformed options";
	case DHCP4_DROP_OVERLOAD: return "option overload";
	case DHCP4_DROP_CLID: return "client identifier not its own MAC";
	case DHCP4_DROP_CLID_TWICE: return "client identifier twice";
	}
	return "?";
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* The DUID D (LEN bytes) of an RFC 4361 client identifier. */
static int judge_duid(const uint8_t *d, size_t len, const uint8_t mac[6])
{
	if (len < 2)
		return DHCP4_DROP_CLID;
	uint16_t type = get16(d);
	size_t at;
	if (type == DUID_LLT)
		at = 8;
	else if (type == DUID_LL)
		at = 4;
	else
		return DHCP4_ACCEPT;   /* DUID-EN, DUID-UUID, ...: no MAC in it */
	if (len < at)
		return DHCP4_DROP_CLID;
	if (get16(d + 2) != HW_ETHERNET)
		return DHCP4_ACCEPT;   /* another link layer's address: not a MAC */
	if (len - at != 6 || memcmp(d + at, mac, 6) != 0)
		return DHCP4_DROP_CLID;
	return DHCP4_ACCEPT;
}

/* Option 61's data C (LEN bytes). */
static int judge_clid(const uint8_t *c, size_t len, const uint8_t mac[6])
{
	if (len < 2)   /* RFC 2132: a type and at least one byte */
		return DHCP4_DROP_CLID;
	if (c[0] == HW_ETHERNET)
		return len == 7 && memcmp(c + 1, mac, 6) == 0 ? DHCP4_ACCEPT : DHCP4_DROP_CLID;
	if (c[0] == CLID_DUID)
		return len < 5 ? DHCP4_DROP_CLID : judge_duid(c + 5, len - 5, mac);
	return DHCP4_ACCEPT;   /* a name or a number: dnsmasq ignores it */
}

/* The options O (LEN bytes, after the cookie). */
static int judge_options(const uint8_t *o, size_t len, const uint8_t mac[6])
{
	int clid = 0;   /* option 61 seen */
	size_t i = 0;
	while (i < len) {
		uint8_t code = o[i];
		if (code == OPT_END)
			return DHCP4_ACCEPT;   /* what follows is padding */
		if (code == OPT_PAD) {
			i++;
			continue;
		}
		if (len - i < 2 || len - i - 2 < o[i + 1])
			return DHCP4_DROP_OPTIONS;
		const uint8_t *data = o + i + 2;
		size_t dlen = o[i + 1];
		if (code == OPT_OVERLOAD)
			return DHCP4_DROP_OVERLOAD;
		if (code == OPT_CLIENT_ID) {
			/* two: which one a server reads is its choice (RFC 3396
			 * would join them); neither is judged alone */
			if (clid++)
				return DHCP4_DROP_CLID_TWICE;
			int v = judge_clid(data, dlen, mac);
			if (v)
				return v;
		}
		i += 2 + dlen;
	}
	return DHCP4_DROP_OPTIONS;   /* no end option */
}

int dhcp4_judge(const uint8_t *pkt, size_t len, const uint8_t mac[6])
{
	/* IPv4, not a fragment (the kernel reassembles before input), UDP to
	 * port 67, a UDP length that is the rest of the packet or less */
	if (len < 20 || pkt[0] >> 4 != 4)
		return DHCP4_DROP_IP;
	size_t ihl = (size_t)(pkt[0] & 0x0f) * 4;
	size_t tot = get16(pkt + 2);
	if (ihl < 20 || tot < ihl + 8 || tot > len || pkt[9] != 17 || (get16(pkt + 6) & 0x3fff))
		return DHCP4_DROP_IP;
	const uint8_t *udp = pkt + ihl;
	size_t ulen = get16(udp + 4);
	if (get16(udp + 2) != 67 || ulen < 8 || ulen > tot - ihl)
		return DHCP4_DROP_IP;
	const uint8_t *m = udp + 8;
	size_t mlen = ulen - 8;

	static const uint8_t zero[4];
	if (mlen < BOOTP_COOKIE || m[0] != 1 /* BOOTREQUEST */ || m[1] != HW_ETHERNET || m[2] != 6 ||
	    memcmp(m + BOOTP_GIADDR, zero, 4) != 0)
		return DHCP4_DROP_BOOTP;
	if (memcmp(m + BOOTP_CHADDR, mac, 6) != 0)
		return DHCP4_DROP_CHADDR;
	if (mlen < BOOTP_OPTIONS || memcmp(m + BOOTP_COOKIE, cookie, 4) != 0)
		return DHCP4_DROP_COOKIE;
	return judge_options(m + BOOTP_OPTIONS, mlen - BOOTP_OPTIONS, mac);
}

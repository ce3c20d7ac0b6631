/* dhcp6.c: DHCPv6 answers and router advertisements for one VM link, pure
 * functions of bytes (see dhcp6.h). Everything a VM sends is hostile: each
 * length is checked before it is read, the answer is built in a bounded
 * buffer, and nothing the client says picks what it gets but the type of
 * the message. */
#include <string.h>

#include "firewallvm/dhcp6.h"

enum {
	D6_SOLICIT = 1, D6_ADVERTISE, D6_REQUEST, D6_CONFIRM, D6_RENEW, D6_REBIND, D6_REPLY,
	D6_RELEASE, D6_DECLINE, D6_RECONFIGURE, D6_INFORMATION_REQUEST, D6_RELAY_FORW, D6_RELAY_REPL,
};
enum {
	O_CLIENTID = 1, O_SERVERID = 2, O_IA_NA = 3, O_IA_TA = 4, O_IAADDR = 5, O_PREFERENCE = 7,
	O_STATUS_CODE = 13, O_RAPID_COMMIT = 14, O_DNS_SERVERS = 23, O_IA_PD = 25,
};
enum { ST_SUCCESS = 0, ST_NO_ADDRS_AVAIL = 2, ST_NOT_ON_LINK = 4, ST_NO_PREFIX_AVAIL = 6 };

#define DUID_MIN      2     /* a type and nothing: no DUID type is shorter, but it is bounded */
#define DUID_MAX      130   /* RFC 8415 11.1: a type and at most 128 octets */
#define SERVERID_LEN  10    /* DUID-LL, hardware type Ethernet */
#define IA_ADDRS_MAX  2     /* other addresses a client names in one IA: told to drop them */

struct d6_ia {
	uint16_t code;           /* O_IA_NA, O_IA_TA or O_IA_PD */
	const uint8_t *iaid;     /* 4 octets */
	const uint8_t *addrs[IA_ADDRS_MAX]; /* IAADDRs that are not the VM's */
	size_t naddrs;
	bool ours;               /* it names the VM's address */
	bool any_addr;           /* it names some address */
};

struct d6_msg {
	uint8_t type;
	const uint8_t *xid;
	const uint8_t *clientid, *serverid;
	size_t clientid_len, serverid_len;
	bool rapid_commit;
	struct d6_ia ia[DHCP6_IA_MAX];
	size_t nia;
};

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

const char *dhcp6_drop_str(int reason)
{
	switch (reason) {
	case DHCP6_NO_ANSWER: return "nothing to answer";
	case DHCP6_DROP_SIZE: return "too short or too long";
	case DHCP6_DROP_RELAY: return "a relay message";
	case DHCP6_DROP_TYPE: return "not a client's message";
	case DHCP6_DROP_MALFORMED: return "malformed";
	case DHCP6_DROP_CLIENTID: return "no usable client id";
	case DHCP6_DROP_SERVERID: return "not for this server";
	case DHCP6_DROP_IA: return "IA options not allowed here";
	}
	return "dropped";
}

/* The options of an IA (after its fixed part): the addresses it names. */
static int d6_parse_ia(struct d6_ia *ia, const uint8_t *p, size_t len, const struct dhcp6_link *link)
{
	while (len) {
		if (len < 4 || (size_t)get16(p + 2) > len - 4)
			return DHCP6_DROP_MALFORMED;
		uint16_t code = get16(p), olen = get16(p + 2);
		if (code == O_IAADDR && ia->code != O_IA_PD) {
			if (olen < 24)
				return DHCP6_DROP_MALFORMED;
			ia->any_addr = true;
			if (memcmp(p + 4, link->addr, 16) == 0)
				ia->ours = true;
			else if (ia->naddrs < IA_ADDRS_MAX)
				ia->addrs[ia->naddrs++] = p + 4;
		}
		p += 4 + olen;
		len -= 4 + (size_t)olen;
	}
	return 0;
}

static int d6_parse(struct d6_msg *m, const uint8_t *msg, size_t len, const struct dhcp6_link *link)
{
	memset(m, 0, sizeof(*m));
	if (len < 4 || len > DHCP6_MSG_MAX)
		return DHCP6_DROP_SIZE;
	m->type = msg[0];
	m->xid = msg + 1;
	if (m->type == D6_RELAY_FORW || m->type == D6_RELAY_REPL)
		return DHCP6_DROP_RELAY;
	switch (m->type) {
	case D6_SOLICIT: case D6_REQUEST: case D6_CONFIRM: case D6_RENEW: case D6_REBIND:
	case D6_RELEASE: case D6_DECLINE: case D6_INFORMATION_REQUEST:
		break;
	default:
		return DHCP6_DROP_TYPE;
	}
	const uint8_t *p = msg + 4;
	size_t left = len - 4;
	while (left) {
		if (left < 4 || (size_t)get16(p + 2) > left - 4)
			return DHCP6_DROP_MALFORMED;
		uint16_t code = get16(p), olen = get16(p + 2);
		const uint8_t *body = p + 4;
		switch (code) {
		case O_CLIENTID:
			if (m->clientid)
				return DHCP6_DROP_MALFORMED;
			if (olen < DUID_MIN || olen > DUID_MAX)
				return DHCP6_DROP_CLIENTID;
			m->clientid = body;
			m->clientid_len = olen;
			break;
		case O_SERVERID:
			if (m->serverid)
				return DHCP6_DROP_MALFORMED;
			m->serverid = body;
			m->serverid_len = olen;
			break;
		case O_RAPID_COMMIT:
			if (olen != 0)
				return DHCP6_DROP_MALFORMED;
			m->rapid_commit = true;
			break;
		case O_IA_NA: case O_IA_TA: case O_IA_PD: {
			size_t fixed = code == O_IA_TA ? 4 : 12;
			if (olen < fixed)
				return DHCP6_DROP_MALFORMED;
			if (m->nia == DHCP6_IA_MAX)
				return DHCP6_DROP_IA;
			struct d6_ia *ia = &m->ia[m->nia++];
			ia->code = code;
			ia->iaid = body;
			int err = d6_parse_ia(ia, body + fixed, olen - fixed, link);
			if (err)
				return err;
			break;
		}
		default:
			break;   /* ORO, elapsed time, vendor options, ...: nothing we act on */
		}
		p += 4 + olen;
		left -= 4 + (size_t)olen;
	}
	return 0;
}

/* The reply being written; it never grows past its capacity. */
struct d6_out {
	uint8_t *p;
	size_t len, cap;
	bool over;
};

static uint8_t *d6_put(struct d6_out *o, size_t n)
{
	if (o->over || n > o->cap - o->len) {
		o->over = true;
		return NULL;
	}
	uint8_t *at = o->p + o->len;
	o->len += n;
	return at;
}

static void d6_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void d6_put32(uint8_t *p, uint32_t v)
{
	d6_put16(p, (uint16_t)(v >> 16));
	d6_put16(p + 2, (uint16_t)v);
}

/* An option of LEN bytes: its body to fill, or NULL when it does not fit. */
static uint8_t *d6_opt(struct d6_out *o, uint16_t code, size_t len)
{
	uint8_t *p = d6_put(o, 4 + len);
	if (!p)
		return NULL;
	d6_put16(p, code);
	d6_put16(p + 2, (uint16_t)len);
	return p + 4;
}

static void d6_opt_bytes(struct d6_out *o, uint16_t code, const void *data, size_t len)
{
	uint8_t *p = d6_opt(o, code, len);
	if (p && len)
		memcpy(p, data, len);
}

static void d6_status(struct d6_out *o, uint16_t status, const char *text)
{
	size_t n = strlen(text);
	uint8_t *p = d6_opt(o, O_STATUS_CODE, 2 + n);
	if (p) {
		d6_put16(p, status);
		memcpy(p + 2, text, n);
	}
}

static void d6_iaaddr(struct d6_out *o, const uint8_t *addr, uint32_t lifetime)
{
	uint8_t *p = d6_opt(o, O_IAADDR, 24);
	if (p) {
		memcpy(p, addr, 16);
		d6_put32(p + 16, lifetime);   /* preferred */
		d6_put32(p + 20, lifetime);   /* valid */
	}
}

/* One IA of the answer: the first IA_NA gets the VM's address, every other
 * IA a status saying there is nothing more. */
static void d6_answer_ia(struct d6_out *o, const struct d6_ia *ia, bool first_na,
			 const struct dhcp6_link *link)
{
	size_t at = o->len;
	size_t fixed = ia->code == O_IA_TA ? 4 : 12;
	uint8_t *p = d6_opt(o, ia->code, fixed);
	if (!p)
		return;
	memcpy(p, ia->iaid, 4);
	if (ia->code == O_IA_NA && first_na) {
		d6_put32(p + 4, DHCP6_T1);
		d6_put32(p + 8, DHCP6_T2);
		d6_iaaddr(o, link->addr, DHCP6_LIFETIME);
		for (size_t i = 0; i < ia->naddrs; i++)
			d6_iaaddr(o, ia->addrs[i], 0);   /* not this VM's: drop it */
	} else {
		if (fixed == 12)
			memset(p + 4, 0, 8);
		if (ia->code == O_IA_PD)
			d6_status(o, ST_NO_PREFIX_AVAIL, "no prefixes");
		else
			d6_status(o, ST_NO_ADDRS_AVAIL, "one address per VM");
	}
	if (!o->over)   /* the IA's length covers what was put inside it */
		d6_put16(o->p + at + 2, (uint16_t)(o->len - at - 4));
}

static bool d6_serverid_ok(const struct d6_msg *m, const uint8_t *duid)
{
	return m->serverid && m->serverid_len == SERVERID_LEN &&
	       memcmp(m->serverid, duid, SERVERID_LEN) == 0;
}

ssize_t dhcp6_answer(const uint8_t *msg, size_t len, const struct dhcp6_link *link, uint8_t *out,
		     size_t outlen)
{
	struct d6_msg m;
	int err = d6_parse(&m, msg, len, link);
	if (err)
		return err;
	uint8_t duid[SERVERID_LEN] = { 0, 3, 0, 1 };   /* DUID-LL, Ethernet */
	memcpy(duid + 4, link->mac, 6);

	/* RFC 8415 16: which ids each message must, may or must not carry */
	bool info = m.type == D6_INFORMATION_REQUEST;
	if (!info && !m.clientid)
		return DHCP6_DROP_CLIENTID;
	switch (m.type) {
	case D6_SOLICIT: case D6_CONFIRM: case D6_REBIND:
		if (m.serverid)
			return DHCP6_DROP_SERVERID;
		break;
	case D6_REQUEST: case D6_RENEW: case D6_RELEASE: case D6_DECLINE:
		if (!d6_serverid_ok(&m, duid))
			return DHCP6_DROP_SERVERID;
		break;
	case D6_INFORMATION_REQUEST:
		if (m.serverid && !d6_serverid_ok(&m, duid))
			return DHCP6_DROP_SERVERID;
		if (m.nia)
			return DHCP6_DROP_IA;
		break;
	}

	bool rapid = m.type == D6_SOLICIT && m.rapid_commit;
	struct d6_out o = { .p = out, .cap = outlen };
	uint8_t *h = d6_put(&o, 4);
	if (!h)
		return DHCP6_DROP_SIZE;
	h[0] = m.type == D6_SOLICIT && !rapid ? D6_ADVERTISE : D6_REPLY;
	memcpy(h + 1, m.xid, 3);
	d6_opt_bytes(&o, O_SERVERID, duid, sizeof(duid));
	if (m.clientid)
		d6_opt_bytes(&o, O_CLIENTID, m.clientid, m.clientid_len);
	if (rapid)
		d6_opt(&o, O_RAPID_COMMIT, 0);

	switch (m.type) {
	case D6_SOLICIT: case D6_REQUEST: case D6_RENEW: case D6_REBIND: {
		if (m.type == D6_SOLICIT) {
			uint8_t *pref = d6_opt(&o, O_PREFERENCE, 1);
			if (pref)
				*pref = 255;   /* the only server: no need to wait for others */
		}
		bool first_na = true;
		for (size_t i = 0; i < m.nia; i++) {
			d6_answer_ia(&o, &m.ia[i], first_na, link);
			if (m.ia[i].code == O_IA_NA)
				first_na = false;
		}
		break;
	}
	case D6_CONFIRM: {
		/* are the addresses it has right for this link? none named: no answer */
		bool any = false, all_ours = true;
		for (size_t i = 0; i < m.nia; i++) {
			any |= m.ia[i].any_addr;
			all_ours &= m.ia[i].naddrs == 0;
		}
		if (!any)
			return DHCP6_NO_ANSWER;
		d6_status(&o, all_ours ? ST_SUCCESS : ST_NOT_ON_LINK, all_ours ? "" : "not this link");
		break;
	}
	case D6_RELEASE: case D6_DECLINE:
		/* the binding is moat.conf's: nothing a VM says changes it */
		d6_status(&o, ST_SUCCESS, "");
		break;
	}
	if (link->dns)
		d6_opt_bytes(&o, O_DNS_SERVERS, link->gw, 16);
	if (o.over)
		return DHCP6_DROP_SIZE;
	return (ssize_t)o.len;
}

size_t ra6_build(const struct dhcp6_link *link, uint8_t *out, size_t outlen)
{
	size_t len = 16 + 8 + (link->dns ? 24 : 0);
	if (outlen < len)
		return 0;
	memset(out, 0, len);
	out[0] = 134;                   /* router advertisement, code 0 */
	out[4] = 0;                     /* current hop limit: unspecified */
	out[5] = 0xc0;                  /* M and O: addresses and options by DHCPv6 */
	d6_put16(out + 6, RA6_LIFETIME);
	/* reachable time and retrans timer 0: unspecified. No prefix
	 * information: the VM's /128 is all there is on its link. */
	uint8_t *p = out + 16;
	p[0] = 1;                       /* source link-layer address */
	p[1] = 1;
	memcpy(p + 2, link->mac, 6);
	if (link->dns) {
		p += 8;
		p[0] = 25;                  /* RDNSS, one address */
		p[1] = 3;
		d6_put32(p + 4, RA6_RDNSS_LIFETIME);
		memcpy(p + 8, link->gw, 16);
	}
	return len;
}

bool ra6_is_solicitation(const uint8_t *msg, size_t len, int hoplimit)
{
	/* RFC 4861 6.1.1: hop limit 255, code 0, 8 octets at least, every
	 * option with a length that is not 0 and fits */
	if (len < 8 || msg[0] != 133 || msg[1] != 0 || hoplimit != 255)
		return false;
	for (size_t at = 8; at < len;) {
		if (len - at < 2 || msg[at + 1] == 0 || (size_t)msg[at + 1] * 8 > len - at)
			return false;
		at += (size_t)msg[at + 1] * 8;
	}
	return true;
}

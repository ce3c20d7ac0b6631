/* parse.c: moat.conf tokens to a struct policy, by recursive descent.
 * A statement ends at a newline, a ';' or the '}' closing its block. After an
 * error the parser reports it, skips to the end of the statement and goes
 * on, so that one run shows every error; any error means no policy. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/contract.h"
#include "policy/lex.h"
#include "lib/pool.h"
#include "lib/xalloc.h"

#define PARSE_MAX_DESTS   4096   /* per rule or define: `$a, $a` must not explode */

struct define {
	char name[MOAT_NAME_MAX + 1];
	struct dest *items;
	size_t nitems;
};

struct parser {
	struct lexer lx;
	struct token tok;
	struct diags *d;
	struct policy *p;
	struct define *defs;
	size_t ndefs;
	bool seen_network;
};

static const struct {
	const char *name;
	uint8_t type;
} icmp_types[] = {
	{ "echo-reply", 0 },
	{ "destination-unreachable", 3 },
	{ "source-quench", 4 },
	{ "redirect", 5 },
	{ "echo-request", 8 },
	{ "router-advertisement", 9 },
	{ "router-solicitation", 10 },
	{ "time-exceeded", 11 },
	{ "parameter-problem", 12 },
	{ "timestamp-request", 13 },
	{ "timestamp-reply", 14 },
	{ "info-request", 15 },
	{ "info-reply", 16 },
	{ "address-mask-request", 17 },
	{ "address-mask-reply", 18 },
};

const char *policy_icmp_type_name(uint8_t type)
{
	size_t i;

	for (i = 0; i < sizeof(icmp_types) / sizeof(icmp_types[0]); i++)
		if (icmp_types[i].type == type)
			return icmp_types[i].name;
	return NULL;
}

static void parse_next(struct parser *ps)
{
	lex_next(&ps->lx, &ps->tok);
}

static bool parse_is(const struct parser *ps, const char *keyword)
{
	return ps->tok.kind == TOK_NAME && ps->tok.len == strlen(keyword) &&
	       memcmp(ps->tok.text, keyword, ps->tok.len) == 0;
}

static bool parse_at_end(const struct parser *ps)
{
	enum tok k = ps->tok.kind;
	return k == TOK_NEWLINE || k == TOK_SEMI || k == TOK_RBRACE || k == TOK_EOF;
}

/* The current token as a message shows it: 'text', end of line, ... */
static const char *parse_describe(const struct parser *ps, char *buf, size_t len)
{
	const struct token *t = &ps->tok;
	int n = t->len > 60 ? 60 : (int)t->len;
	const char *more = t->len > 60 ? "..." : "";

	switch (t->kind) {
	case TOK_EOF:
		return "end of file";
	case TOK_NEWLINE:
		return "end of line";
	case TOK_STRING:
		snprintf(buf, len, "\"%.*s%s\"", n, t->text, more);
		break;
	case TOK_VAR:
		snprintf(buf, len, "'$%.*s%s'", n, t->text, more);
		break;
	default:
		snprintf(buf, len, "'%.*s%s'", n, t->text, more);
		break;
	}
	return buf;
}

/* "expected WHAT, got 'x'", or the lexer's own complaint. Always false. */
static bool parse_expected(struct parser *ps, const char *what)
{
	char buf[80];

	if (ps->tok.kind == TOK_ERROR)
		diag_error(ps->d, ps->tok.loc, "%s", ps->tok.error);
	else
		diag_error(ps->d, ps->tok.loc, "expected %s, got %s", what,
			   parse_describe(ps, buf, sizeof(buf)));
	return false;
}

/* After an error: on to the end of the statement, over any block in it. */
static void parse_skip(struct parser *ps)
{
	int depth = 0;

	for (;;) {
		switch (ps->tok.kind) {
		case TOK_EOF:
			return;
		case TOK_NEWLINE:
		case TOK_SEMI:
			if (depth == 0) {
				parse_next(ps);
				return;
			}
			break;
		case TOK_LBRACE:
			depth++;
			break;
		case TOK_RBRACE:
			if (depth == 0)
				return;
			depth--;
			break;
		default:
			break;
		}
		parse_next(ps);
	}
}

static bool parse_end(struct parser *ps)
{
	if (ps->tok.kind == TOK_NEWLINE || ps->tok.kind == TOK_SEMI) {
		parse_next(ps);
		return true;
	}
	if (ps->tok.kind == TOK_RBRACE || ps->tok.kind == TOK_EOF)
		return true;
	return parse_expected(ps, "end of statement");
}

/* A VM or define name: [a-z][a-z0-9-]{0,14}, not reserved. */
static bool parse_name(struct parser *ps, const char *what, char name[MOAT_NAME_MAX + 1])
{
	const struct token *t = &ps->tok;
	char buf[80];

	if (t->kind != TOK_NAME) {
		if (t->kind == TOK_ERROR || parse_at_end(ps) || t->kind == TOK_LBRACE ||
		    t->kind == TOK_EQUALS)
			return parse_expected(ps, what);
		diag_error(ps->d, t->loc, "invalid %s %s: use a-z, 0-9 and '-', starting with a letter",
			   what, parse_describe(ps, buf, sizeof(buf)));
		return false;
	}
	if (t->len > MOAT_NAME_MAX) {
		diag_error(ps->d, t->loc, "%s '%.*s' is too long: at most %d characters", what,
			   (int)t->len, t->text, MOAT_NAME_MAX);
		return false;
	}
	/* the firewall's own interfaces (a VM's link is named after it), the
	 * names the kernel gives its NICs before they are renamed (eth0...),
	 * and the tags dnsmasq sets itself: it knows a VM by a tag named after
	 * its link (firewallvm/dnsmasq.c) */
	static const char *const reserved[] = { "uplink", "lo", "any", "known", "known-othernet",
						"dhcpv6", "bootp", "cpewan-id" };
	bool is_reserved = t->len > 3 && memcmp(t->text, "eth", 3) == 0 &&
			   strspn(t->text + 3, "0123456789") == t->len - 3;
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		is_reserved = is_reserved || parse_is(ps, reserved[i]);
	if (is_reserved) {
		diag_error(ps->d, t->loc, "'%.*s' is reserved and cannot be a %s", (int)t->len,
			   t->text, what);
		return false;
	}
	memcpy(name, t->text, t->len);
	name[t->len] = '\0';
	return true;
}

/* An address or network; WANT_FAMILY 0 takes either. */
static bool parse_addr(struct parser *ps, const char *what, int want_family, struct addr *a)
{
	const struct token *t = &ps->tok;

	if (t->kind != TOK_ADDR)
		return parse_expected(ps, what);
	if (t->host_bits) {
		struct addr net = t->addr;
		char buf[MOAT_ADDR_STRLEN];
		unsigned i, max = net.family == AF_INET ? 32 : 128;

		for (i = net.prefix; i < max; i++)
			net.bytes[i / 8] &= (uint8_t)~(0x80 >> (i % 8));
		addr_format(&net, buf, sizeof(buf));
		diag_error(ps->d, t->loc, "host bits set in '%.*s': the network is %s",
			   (int)t->len, t->text, buf);
		return false;
	}
	if (want_family && t->addr.family != want_family)
		return parse_expected(ps, what);
	*a = t->addr;
	parse_next(ps);
	return true;
}

static bool parse_plain_addr(struct parser *ps, const char *what, int want_family,
			     struct addr *a)
{
	struct src_loc loc = ps->tok.loc;
	const char *text = ps->tok.text;
	size_t len = ps->tok.len;

	if (!parse_addr(ps, what, want_family, a))
		return false;
	if (a->prefix != (a->family == AF_INET ? 32 : 128)) {
		diag_error(ps->d, loc, "expected %s, got a network '%.*s'", what, (int)len, text);
		return false;
	}
	return true;
}

static bool parse_twice(struct parser *ps, bool given, struct src_loc loc, const char *what)
{
	if (given)
		diag_error(ps->d, loc, "'%s' given twice", what);
	return !given;
}

/* ---- network { } ---- */

static bool parse_pci_bdf(const char *s, size_t n)
{
	static const char shape[] = "xxxx:xx:xx.o";
	size_t i, off = n == 7 ? 5 : 0;

	if (n != 7 && n != 12)
		return false;
	for (i = 0; i < n; i++) {
		char want = shape[i + off], c = s[i];
		if (want == 'x' ? !isxdigit((unsigned char)c) :
		    want == 'o' ? c < '0' || c > '7' : c != want)
			return false;
	}
	return true;
}

static bool parse_ifname(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > MOAT_NAME_MAX || (s[0] == '.' && (n == 1 || (n == 2 && s[1] == '.'))))
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("-_.", s[i]))
			return false;
	return true;
}

static bool parse_uplink(struct parser *ps, struct network *net)
{
	const struct token *t = &ps->tok;

	if (parse_is(ps, "user")) {
		net->uplink = UPLINK_USER;
		parse_next(ps);
		return true;
	}
	if (parse_is(ps, "pci")) {
		parse_next(ps);
		if (parse_at_end(ps) || t->kind == TOK_ERROR)
			return parse_expected(ps, "a PCI address like 0000:03:00.0");
		if (!parse_pci_bdf(t->text, t->len)) {
			diag_error(ps->d, t->loc, "invalid PCI address '%.*s': expected one like 0000:03:00.0",
				   (int)t->len, t->text);
			return false;
		}
		net->uplink = UPLINK_PCI;
	} else if (parse_is(ps, "tap")) {
		parse_next(ps);
		if (parse_at_end(ps) || t->kind == TOK_ERROR)
			return parse_expected(ps, "a tap interface name");
		if (!parse_ifname(t->text, t->len)) {
			diag_error(ps->d, t->loc, "invalid interface name '%.*s': at most %d of a-z, A-Z, 0-9, '-', '_', '.'",
				   (int)t->len, t->text, MOAT_NAME_MAX);
			return false;
		}
		net->uplink = UPLINK_TAP;
	} else {
		return parse_expected(ps, "pci, user or tap");
	}
	memcpy(net->uplink_arg, t->text, t->len);
	net->uplink_arg[t->len] = '\0';
	parse_next(ps);
	return true;
}

static bool parse_subnet(struct parser *ps, struct network *net, bool v6)
{
	struct src_loc loc = ps->tok.loc;
	struct addr *a = v6 ? &net->subnet6 : &net->subnet;
	char buf[MOAT_ADDR_STRLEN];

	if (!parse_addr(ps, v6 ? "an IPv6 network like fd00:6d::/64" :
			"an IPv4 network like 10.137.0.0/24", v6 ? AF_INET6 : AF_INET, a))
		return false;
	addr_format(a, buf, sizeof(buf));
	/* VM MACs carry the last two bytes of the address (DESIGN.md). */
	if (!v6 && a->prefix < 16) {
		diag_error(ps->d, loc, "subnet %s is too large: at most a /16, VM MACs carry the last two address bytes", buf);
		return false;
	}
	if (a->prefix > (v6 ? 126 : 30)) {
		diag_error(ps->d, loc, "%s %s is too small: it needs the firewall's address and a VM's",
			   v6 ? "subnet6" : "subnet", buf);
		return false;
	}
	return true;
}

static bool parse_dns(struct parser *ps, struct network *net)
{
	for (;;) {
		struct addr a;

		if (!parse_plain_addr(ps, "a resolver's address", 0, &a))
			return false;
		*(struct addr *)pool_push(&ps->p->pool, &net->dns, &net->ndns, sizeof(a)) = a;
		if (ps->tok.kind != TOK_COMMA)
			return true;
		parse_next(ps);
	}
}

static bool parse_network_setting(struct parser *ps, struct network *net)
{
	struct src_loc loc = ps->tok.loc;
	unsigned bit;
	bool ok;

	if (parse_is(ps, "uplink"))
		bit = NET_HAS_UPLINK;
	else if (parse_is(ps, "subnet"))
		bit = NET_HAS_SUBNET;
	else if (parse_is(ps, "subnet6"))
		bit = NET_HAS_SUBNET6;
	else if (parse_is(ps, "dns"))
		bit = NET_HAS_DNS;
	else if (parse_is(ps, "policy"))
		bit = NET_HAS_POLICY;
	else if (parse_is(ps, "log"))
		bit = NET_HAS_LOG;
	else
		return parse_expected(ps, "uplink, subnet, subnet6, dns, policy or log");
	if (net->has & bit) {
		diag_error(ps->d, loc, "'%.*s' given twice", (int)ps->tok.len, ps->tok.text);
		return false;
	}
	net->has |= bit;
	parse_next(ps);
	switch (bit) {
	case NET_HAS_UPLINK:
		ok = parse_uplink(ps, net);
		break;
	case NET_HAS_SUBNET:
	case NET_HAS_SUBNET6:
		ok = parse_subnet(ps, net, bit == NET_HAS_SUBNET6);
		break;
	case NET_HAS_DNS:
		ok = parse_dns(ps, net);
		break;
	case NET_HAS_POLICY:
		if (!parse_is(ps, "drop") && !parse_is(ps, "reject"))
			return parse_expected(ps, "reject or drop");
		net->deny = parse_is(ps, "drop") ? DENY_DROP : DENY_REJECT;
		parse_next(ps);
		ok = true;
		break;
	default:
		if (!parse_is(ps, "denied"))
			return parse_expected(ps, "'denied' after 'log'");
		net->log_denied = true;
		parse_next(ps);
		ok = true;
		break;
	}
	return ok && parse_end(ps);
}

/* ---- destinations and defines ---- */

static struct define *parse_find_define(struct parser *ps, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < ps->ndefs; i++)
		if (strlen(ps->defs[i].name) == n && memcmp(ps->defs[i].name, s, n) == 0)
			return &ps->defs[i];
	return NULL;
}

/* Into the policy's pool, or (a define's items, the parser's own) malloc'd
 * when IN_DEFINE. */
static bool parse_add_dest(struct parser *ps, bool in_define, struct dest **dests, size_t *n,
			   const struct dest *src, struct src_loc loc)
{
	struct dest *dst;

	if (*n >= PARSE_MAX_DESTS) {
		diag_error(ps->d, loc, "more than %d destinations in one list", PARSE_MAX_DESTS);
		return false;
	}
	dst = in_define ? xalloc_push(dests, n, sizeof(*dst)) : pool_push(&ps->p->pool, dests, n, sizeof(*dst));
	*dst = *src;
	dst->loc = loc;
	if (src->name)
		dst->name = in_define ? xstrndup(src->name, strlen(src->name))
				      : pool_strndup(&ps->p->pool, src->name, strlen(src->name));
	return true;
}

/* One item of a `to` list or a define. IN_DEFINE refuses `any` and `vm`. */
static bool parse_dest(struct parser *ps, bool in_define, struct dest **dests, size_t *n,
		       bool *to_any)
{
	const struct token *t = &ps->tok;
	struct dest dst = { .loc = t->loc };
	char buf[80];
	size_t i;

	if (in_define && (parse_is(ps, "any") || parse_is(ps, "vm"))) {
		diag_error(ps->d, t->loc, "a define holds addresses, networks and host names, not %s",
			   parse_describe(ps, buf, sizeof(buf)));
		return false;
	}
	switch (t->kind) {
	case TOK_VAR: {
		const struct define *def = parse_find_define(ps, t->text, t->len);
		if (!def) {
			diag_error(ps->d, t->loc, "$%.*s is not defined (a define comes before its use)",
				   (int)t->len, t->text);
			return false;
		}
		for (i = 0; i < def->nitems; i++)
			if (!parse_add_dest(ps, in_define, dests, n, &def->items[i], t->loc))
				return false;
		parse_next(ps);
		return true;
	}
	case TOK_ADDR:
		dst.kind = DEST_ADDR;
		if (!parse_addr(ps, "an address", 0, &dst.addr))
			return false;
		return parse_add_dest(ps, in_define, dests, n, &dst, dst.loc);
	case TOK_HOST: {
		char host[MOAT_HOST_MAX + 1];
		for (i = 0; i < t->len; i++)
			host[i] = (char)tolower((unsigned char)t->text[i]);
		host[t->len] = '\0';
		dst.kind = DEST_HOST;
		dst.name = host;
		parse_next(ps);
		return parse_add_dest(ps, in_define, dests, n, &dst, dst.loc);
	}
	default:
		break;
	}
	if (parse_is(ps, "any")) {
		*to_any = true;
		parse_next(ps);
		return true;
	}
	if (parse_is(ps, "vm")) {
		char name[MOAT_NAME_MAX + 1];
		parse_next(ps);
		dst.loc = t->loc;
		if (!parse_name(ps, "VM name", name))
			return false;
		dst.kind = DEST_VM;
		dst.vm = -1;
		dst.name = name;
		parse_next(ps);
		return parse_add_dest(ps, in_define, dests, n, &dst, dst.loc);
	}
	if (!in_define && t->kind == TOK_NAME) {
		diag_error(ps->d, t->loc, "expected a destination, got '%.*s': a VM is 'vm %.*s', a host name has a dot",
			   (int)t->len, t->text, (int)t->len, t->text);
		return false;
	}
	return parse_expected(ps, in_define ? "an address, a network, a host name or $NAME" :
			      "a destination: any, an address, a network, a host name, vm NAME or $NAME");
}

/* The define is recorded even when its items have errors, so that its uses
 * are not reported as undefined too; only after its items, so that it cannot
 * name itself. */
static bool parse_define(struct parser *ps)
{
	struct define def = { 0 };
	bool any = false, ok = true;

	parse_next(ps);
	if (!parse_name(ps, "define name", def.name))
		return false;
	if (parse_find_define(ps, def.name, strlen(def.name))) {
		diag_error(ps->d, ps->tok.loc, "define '%s' given twice", def.name);
		return false;
	}
	parse_next(ps);
	if (ps->tok.kind != TOK_EQUALS)
		ok = parse_expected(ps, "'='");
	while (ok) {
		parse_next(ps);
		ok = parse_dest(ps, true, &def.items, &def.nitems, &any);
		if (ps->tok.kind != TOK_COMMA)
			break;
	}
	*(struct define *)xalloc_push(&ps->defs, &ps->ndefs, sizeof(def)) = def;
	return ok && parse_end(ps);
}

/* ---- rules ---- */

static bool parse_port(struct parser *ps, struct port_range *pr)
{
	const struct token *t = &ps->tok;
	struct src_loc loc = t->loc;
	const char *text = t->text;
	int len;
	unsigned long lo, hi;

	if (t->kind == TOK_RANGE) {
		lo = t->num;
		hi = t->num2;
	} else if (t->kind == TOK_NUMBER) {
		lo = hi = t->num;
		parse_next(ps);
		if (t->kind != TOK_DASH)
			goto check;
		parse_next(ps);
		if (t->kind != TOK_NUMBER)
			return parse_expected(ps, "the last port of the range");
		hi = t->num;
		loc.len = t->loc.col + t->loc.len - loc.col;
	} else {
		return parse_expected(ps, "a port or a range like 8000-8080");
	}
	parse_next(ps);
check:
	len = loc.len;
	if (lo == 0 || hi == 0 || lo > 65535 || hi > 65535) {
		diag_error(ps->d, loc, "port '%.*s' is out of range: ports are 1-65535", len, text);
		return false;
	}
	if (lo > hi) {
		diag_error(ps->d, loc, "empty port range '%.*s': the first port is above the last",
			   len, text);
		return false;
	}
	pr->lo = (uint16_t)lo;
	pr->hi = (uint16_t)hi;
	return true;
}

static bool parse_icmp_type(struct parser *ps, uint8_t *type)
{
	const struct token *t = &ps->tok;
	size_t i;

	if (t->kind == TOK_NUMBER) {
		if (t->num > 255) {
			diag_error(ps->d, t->loc, "ICMP type '%.*s' is out of range: types are 0-255",
				   (int)t->len, t->text);
			return false;
		}
		*type = (uint8_t)t->num;
		parse_next(ps);
		return true;
	}
	if (t->kind != TOK_NAME)
		return parse_expected(ps, "an ICMP type (a number or a name like echo-request)");
	for (i = 0; i < sizeof(icmp_types) / sizeof(icmp_types[0]); i++) {
		if (parse_is(ps, icmp_types[i].name)) {
			*type = icmp_types[i].type;
			parse_next(ps);
			return true;
		}
	}
	diag_error(ps->d, t->loc, "unknown ICMP type '%.*s'", (int)t->len, t->text);
	return false;
}

static const char *parse_proto_name(enum proto proto)
{
	return proto == PROTO_TCP ? "tcp" : proto == PROTO_UDP ? "udp" : "icmp";
}

/* One clause after ACTION [PROTO]: to, port, type, log, until, comment. */
static bool parse_clause(struct parser *ps, struct rule *r, const char *rule_text)
{
	const struct token *t = &ps->tok;
	struct src_loc loc = t->loc;

	if (parse_is(ps, "to") || parse_is(ps, "port") || parse_is(ps, "type")) {
		if (r->kind != RULE_MATCH) {
			diag_error(ps->d, loc, "'%.*s' does not go with '%s'", (int)t->len, t->text,
				   rule_text);
			return false;
		}
	}
	if (parse_is(ps, "to")) {
		if (!parse_twice(ps, r->ndests > 0 || r->to_any, loc, "to"))
			return false;
		do {
			parse_next(ps);
			if (!parse_dest(ps, false, &r->dests, &r->ndests, &r->to_any))
				return false;
		} while (t->kind == TOK_COMMA);
		if (r->to_any && r->ndests > 0) {
			diag_error(ps->d, loc, "'to any' cannot be mixed with other destinations");
			return false;
		}
	} else if (parse_is(ps, "port")) {
		if (!parse_twice(ps, r->nports > 0, loc, "port"))
			return false;
		if (r->proto == PROTO_ICMP) {
			diag_error(ps->d, loc, "port needs tcp or udp, not icmp");
			return false;
		}
		do {
			struct port_range pr = { 0, 0 };
			parse_next(ps);
			if (!parse_port(ps, &pr))
				return false;
			*(struct port_range *)pool_push(&ps->p->pool, &r->ports, &r->nports, sizeof(pr)) = pr;
		} while (t->kind == TOK_COMMA);
	} else if (parse_is(ps, "type")) {
		if (!parse_twice(ps, r->ntypes > 0, loc, "type"))
			return false;
		if (r->proto != PROTO_ICMP) {
			if (r->proto == PROTO_ANY)
				diag_error(ps->d, loc, "type needs icmp (write 'allow icmp type ...')");
			else
				diag_error(ps->d, loc, "type needs icmp, not %s", parse_proto_name(r->proto));
			return false;
		}
		do {
			uint8_t type = 0;
			parse_next(ps);
			if (!parse_icmp_type(ps, &type))
				return false;
			*(uint8_t *)pool_push(&ps->p->pool, &r->types, &r->ntypes, 1) = type;
		} while (t->kind == TOK_COMMA);
	} else if (parse_is(ps, "log")) {
		if (!parse_twice(ps, r->log, loc, "log"))
			return false;
		r->log = true;
		parse_next(ps);
	} else if (parse_is(ps, "until")) {
		if (!parse_twice(ps, r->has_until, loc, "until"))
			return false;
		parse_next(ps);
		if (t->kind != TOK_TIME)
			return parse_expected(ps, "a UTC time like 2026-12-01T18:00Z");
		r->has_until = true;
		r->until = t->time;
		r->until_loc = t->loc;
		parse_next(ps);
	} else if (parse_is(ps, "comment")) {
		if (!parse_twice(ps, r->comment != NULL, loc, "comment"))
			return false;
		parse_next(ps);
		if (t->kind != TOK_STRING)
			return parse_expected(ps, "a \"quoted\" comment");
		r->comment = pool_strndup(&ps->p->pool, t->text, t->len);
		parse_next(ps);
	} else {
		return parse_expected(ps, r->kind == RULE_MATCH ?
				      "to, port, type, log, until or comment" :
				      "log, until or comment");
	}
	return true;
}

static bool parse_rule(struct parser *ps, struct vm *vm)
{
	struct rule *r = pool_push(&ps->p->pool, &vm->rules, &vm->nrules, sizeof(*r));
	const char *rule_text;

	r->number = (int)vm->nrules;
	r->loc = ps->tok.loc;
	r->action = parse_is(ps, "allow") ? ACT_ALLOW : ACT_DENY;
	parse_next(ps);
	if (parse_is(ps, "all")) {
		r->kind = RULE_ALL;
		rule_text = r->action == ACT_ALLOW ? "allow all" : "deny all";
		parse_next(ps);
	} else if (parse_is(ps, "dns")) {
		if (r->action == ACT_DENY) {
			diag_error(ps->d, ps->tok.loc, "'deny dns' is not a rule: without 'allow dns' a VM has no DNS");
			return false;
		}
		r->kind = RULE_DNS;
		rule_text = "allow dns";
		parse_next(ps);
	} else {
		r->kind = RULE_MATCH;
		rule_text = "";
		if (parse_is(ps, "tcp"))
			r->proto = PROTO_TCP;
		else if (parse_is(ps, "udp"))
			r->proto = PROTO_UDP;
		else if (parse_is(ps, "icmp"))
			r->proto = PROTO_ICMP;
		if (r->proto != PROTO_ANY)
			parse_next(ps);
	}
	while (!parse_at_end(ps))
		if (!parse_clause(ps, r, rule_text))
			return false;
	return parse_end(ps);
}

/* ---- vm { } ---- */

/* One part of `owner`: a user or group name or id, as useradd and groupadd
 * allow them ([A-Za-z0-9_.-], not starting with '-'), into OUT. */
static bool parse_owner_part(struct parser *ps, struct src_loc loc, const char *what, const char *s,
			     size_t n, char out[MOAT_OWNER_MAX + 1])
{
	size_t i;

	loc.len = n ? (int)n : 1;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
			break;
	if (n == 0 || i < n || s[0] == '-') {
		diag_error(ps->d, loc, "invalid %s '%.*s': a name or a number (letters, digits, '_', '.', '-')",
			   what, (int)n, s);
		return false;
	}
	if (n > MOAT_OWNER_MAX) {
		diag_error(ps->d, loc, "%s '%.*s' is too long: at most %d characters", what, (int)n, s,
			   MOAT_OWNER_MAX);
		return false;
	}
	memcpy(out, s, n);
	out[n] = '\0';
	return true;
}

/* `owner USER[:GROUP]`: one atom, whatever the lexer took it for (a name,
 * a number, a word), split at its colon. */
static bool parse_owner(struct parser *ps, struct vm *vm)
{
	const struct token *t = &ps->tok;
	struct src_loc loc = t->loc;
	const char *colon;
	size_t nuser;

	if (t->kind < TOK_NAME || t->kind == TOK_VAR || t->kind == TOK_STRING || t->kind == TOK_ERROR)
		return parse_expected(ps, "a user or user:group (like libvirt-qemu:kvm)");
	colon = memchr(t->text, ':', t->len);
	nuser = colon ? (size_t)(colon - t->text) : t->len;
	if (!parse_owner_part(ps, loc, "user", t->text, nuser, vm->owner_user))
		return false;
	if (colon) {
		struct src_loc gloc = loc;
		gloc.col += (int)nuser + 1;
		if (!parse_owner_part(ps, gloc, "group", colon + 1, t->len - nuser - 1, vm->owner_group))
			return false;
	}
	vm->owner_loc = loc;
	vm->has_owner = true;
	parse_next(ps);
	return true;
}

static bool parse_vm_setting(struct parser *ps, struct vm *vm)
{
	struct src_loc loc = ps->tok.loc;
	const struct token *t = &ps->tok;

	if (parse_is(ps, "allow") || parse_is(ps, "deny"))
		return parse_rule(ps, vm);
	if (parse_is(ps, "address")) {
		if (!parse_twice(ps, vm->has_addr, loc, "address"))
			return false;
		parse_next(ps);
		vm->addr_loc = t->loc;
		if (!parse_plain_addr(ps, "an IPv4 address", AF_INET, &vm->addr))
			return false;
		vm->has_addr = true;
	} else if (parse_is(ps, "address6")) {
		if (!parse_twice(ps, vm->has_addr6, loc, "address6"))
			return false;
		parse_next(ps);
		vm->addr6_loc = t->loc;
		if (!parse_plain_addr(ps, "an IPv6 address", AF_INET6, &vm->addr6))
			return false;
		vm->has_addr6 = true;
	} else if (parse_is(ps, "mac")) {
		if (!parse_twice(ps, vm->has_mac, loc, "mac"))
			return false;
		parse_next(ps);
		if (t->kind != TOK_MAC)
			return parse_expected(ps, "a MAC address like 02:00:00:00:00:0a");
		if (t->mac[0] & 1) {
			diag_error(ps->d, t->loc, "mac '%.*s' is a multicast address", (int)t->len, t->text);
			return false;
		}
		/* 02:6d:66 and 02:6d:6e are the firewall's and the netvm's ends (contract.h) */
		if (t->mac[0] == 0x02 && t->mac[1] == 0x6d &&
		    (t->mac[2] == MOAT_MAC_FW_BYTE || t->mac[2] == MOAT_MAC_NETVM_BYTE)) {
			diag_error(ps->d, t->loc, "mac '%.*s' is in the range moat keeps for the firewall and the netvm",
				   (int)t->len, t->text);
			return false;
		}
		memcpy(vm->mac, t->mac, 6);
		vm->mac_loc = t->loc;
		vm->has_mac = true;
		parse_next(ps);
	} else if (parse_is(ps, "owner")) {
		if (!parse_twice(ps, vm->has_owner, loc, "owner"))
			return false;
		parse_next(ps);
		if (!parse_owner(ps, vm))
			return false;
	} else {
		return parse_expected(ps, "address, address6, mac, owner, allow or deny");
	}
	return parse_end(ps);
}

/* `{ statements }` of a block; the opening brace is the current token. */
static void parse_block(struct parser *ps, const char *what,
			bool (*statement)(struct parser *, void *), void *arg)
{
	struct src_loc open = ps->tok.loc;

	parse_next(ps);
	for (;;) {
		if (ps->d->capped)
			return;
		switch (ps->tok.kind) {
		case TOK_NEWLINE:
		case TOK_SEMI:
			parse_next(ps);
			continue;
		case TOK_RBRACE:
			parse_next(ps);
			if (!parse_end(ps))
				parse_skip(ps);
			return;
		case TOK_EOF:
			diag_error(ps->d, open, "the '{' of %s is never closed", what);
			return;
		default:
			if (!statement(ps, arg))
				parse_skip(ps);
		}
	}
}

static bool parse_open_brace(struct parser *ps)
{
	while (ps->tok.kind == TOK_NEWLINE)
		parse_next(ps);
	if (ps->tok.kind != TOK_LBRACE)
		return parse_expected(ps, "'{'");
	return true;
}

static bool parse_network_statement(struct parser *ps, void *net)
{
	return parse_network_setting(ps, net);
}

static bool parse_vm_statement(struct parser *ps, void *vm)
{
	return parse_vm_setting(ps, vm);
}

static bool parse_network(struct parser *ps)
{
	struct network extra = { 0 };
	struct network *net = &ps->p->net;

	if (ps->seen_network) {
		diag_error(ps->d, ps->tok.loc, "'network' given twice");
		net = &extra;
	}
	ps->seen_network = true;
	net->loc = ps->tok.loc;
	int errors = ps->d->nerrors;
	parse_next(ps);
	bool ok = parse_open_brace(ps);
	if (ok)
		parse_block(ps, "network", parse_network_statement, net);
	net->incomplete = ps->d->nerrors != errors;
	return ok;   /* a second block's dns list stays in the pool, unused */
}

static bool parse_vm(struct parser *ps)
{
	struct vm *vm;
	char label[MOAT_NAME_MAX + 4];

	int errors = ps->d->nerrors;
	parse_next(ps);
	vm = pool_push(&ps->p->pool, &ps->p->vms, &ps->p->nvms, sizeof(*vm));
	vm->loc = ps->tok.loc;
	/* A bad name is reported, and the block still parsed for its own errors. */
	if (parse_name(ps, "VM name", vm->name) ||
	    (!parse_at_end(ps) && ps->tok.kind != TOK_LBRACE))
		parse_next(ps);
	bool ok = parse_open_brace(ps);
	if (ok) {
		snprintf(label, sizeof(label), "vm %s", vm->name);
		parse_block(ps, label, parse_vm_statement, vm);
	}
	vm->incomplete = ps->d->nerrors != errors;
	return ok;
}

/* The whole file, whatever its errors: blocks with errors are marked
 * incomplete, statements with errors are left out. */
static struct policy *parse_all(const char *text, size_t len, struct diags *d)
{
	struct parser ps = { .d = d };
	size_t i, j;

	ps.p = calloc(1, sizeof(*ps.p));
	if (!ps.p)
		xalloc_fail();
	ps.p->file = pool_strndup(&ps.p->pool, d->file, strlen(d->file));
	lex_init(&ps.lx, text ? text : "", text ? len : 0);
	parse_next(&ps);
	while (ps.tok.kind != TOK_EOF && !d->capped) {
		bool ok;

		if (ps.tok.kind == TOK_NEWLINE || ps.tok.kind == TOK_SEMI) {
			parse_next(&ps);
			continue;
		}
		if (ps.tok.kind == TOK_RBRACE) {
			diag_error(d, ps.tok.loc, "'}' without its '{'");
			ps.p->net.incomplete = true;
			parse_next(&ps);
			continue;
		}
		int before = d->nerrors;
		bool vm = false;
		if (parse_is(&ps, "define"))
			ok = parse_define(&ps);
		else if (parse_is(&ps, "network"))
			ok = parse_network(&ps);
		else if ((vm = parse_is(&ps, "vm")))
			ok = parse_vm(&ps);
		else
			ok = parse_expected(&ps, "define, network or vm");
		if (!ok)
			parse_skip(&ps);
		/* a broken top-level statement may have been the network block:
		 * what it would have said is not checked */
		if (!vm && d->nerrors != before)
			ps.p->net.incomplete = true;
	}
	for (i = 0; i < ps.ndefs; i++) {
		for (j = 0; j < ps.defs[i].nitems; j++)
			free(ps.defs[i].items[j].name);
		free(ps.defs[i].items);
	}
	free(ps.defs);
	return ps.p;
}

struct policy *policy_parse(const char *text, size_t len, struct diags *d)
{
	int errors = d->nerrors;
	struct policy *p = parse_all(text, len, d);
	if (d->nerrors != errors) {
		policy_free(p);
		return NULL;
	}
	return p;
}

struct policy *policy_load(const char *file, const char *text, size_t len,
			   time_t now, struct diags *d)
{
	return policy_load_host(file, text, len, now, d, NULL);
}

struct policy *policy_load_host(const char *file, const char *text, size_t len, time_t now,
				struct diags *d, policy_host_check *host)
{
	int errors = d->nerrors;
	struct policy *p = parse_all(text, len, d);

	if (file)
		p->file = pool_strndup(&p->pool, file, strlen(file));
	/* checked even after parse errors: every error in the file is reported */
	if (!d->capped)
		policy_check(p, now, d);
	if (host && !d->capped)
		host(p, d);
	if (d->nerrors != errors) {
		policy_free(p);
		return NULL;
	}
	return p;
}


/* print.c: a policy as canonical moat.conf text, each line followed by what
 * it means in words. `netctl show` prints this, and it parses back to the
 * same policy (defines come out expanded). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "policy/policy.h"
#include "lib/xalloc.h"

#define PRINT_COMMENT_COL 40

void policy_format_mac(const uint8_t m[6], char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

void policy_format_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) ||
	    strftime(buf, len, tm.tm_sec ? "%Y-%m-%dT%H:%M:%SZ" : "%Y-%m-%dT%H:%MZ", &tm) == 0)
		snprintf(buf, len, "?");
}

/* One line: TEXT, then "# WORDS" in the comment column. Both are built in
 * memory streams because port and destination lists have no length limit. */
struct line {
	char *text, *words;
	size_t text_len, words_len;
	FILE *t, *w;
};

static void line_open(struct line *l)
{
	memset(l, 0, sizeof(*l));
	l->t = open_memstream(&l->text, &l->text_len);
	l->w = open_memstream(&l->words, &l->words_len);
	if (!l->t || !l->w)
		xalloc_fail();
}

static void line_close(struct line *l, FILE *out)
{
	fclose(l->t);
	fclose(l->w);
	if (l->words_len == 0)
		fprintf(out, "%s\n", l->text);
	else if (l->text_len + 2 <= PRINT_COMMENT_COL)
		fprintf(out, "%-*s# %s\n", PRINT_COMMENT_COL, l->text, l->words);
	else
		fprintf(out, "%s  # %s\n", l->text, l->words);
	free(l->text);
	free(l->words);
}

static void print_addr(FILE *f, const struct addr *a)
{
	char buf[MOAT_ADDR_STRLEN];

	addr_format(a, buf, sizeof(buf));
	fputs(buf, f);
}

static void print_network(FILE *out, const struct policy *p)
{
	const struct network *net = &p->net;
	struct addr gw;
	struct line l;
	size_t i;

	fputs("network {\n", out);
	line_open(&l);
	if (net->has & NET_HAS_UPLINK) {
		if (net->uplink == UPLINK_PCI) {
			fprintf(l.t, "    uplink pci %s", net->uplink_arg);
			fprintf(l.w, "the netvm drives PCI device %s", net->uplink_arg);
		} else if (net->uplink == UPLINK_TAP) {
			fprintf(l.t, "    uplink tap %s", net->uplink_arg);
			fprintf(l.w, "the netvm's NIC is tap %s", net->uplink_arg);
		} else {
			fputs("    uplink user", l.t);
			fputs("the netvm uses user-mode networking", l.w);
		}
	} else {
		fputs("    # uplink user", l.t);
		fputs("the default: user-mode networking", l.w);
	}
	line_close(&l, out);
	if (net->has & NET_HAS_SUBNET) {
		policy_gateway(p, &gw);
		line_open(&l);
		fputs("    subnet ", l.t);
		print_addr(l.t, &net->subnet);
		fputs("app VM addresses; the firewall VM is ", l.w);
		print_addr(l.w, &gw);
		line_close(&l, out);
	}
	if (net->has & NET_HAS_SUBNET6) {
		policy_gateway6(p, &gw);
		line_open(&l);
		fputs("    subnet6 ", l.t);
		print_addr(l.t, &net->subnet6);
		fputs("app VM IPv6 addresses; the firewall VM is ", l.w);
		print_addr(l.w, &gw);
		line_close(&l, out);
	}
	line_open(&l);
	if (net->has & NET_HAS_DNS) {
		fputs("    dns ", l.t);
		for (i = 0; i < net->ndns; i++) {
			fputs(i ? ", " : "", l.t);
			print_addr(l.t, &net->dns[i]);
		}
		fputs("upstream resolvers", l.w);
	} else {
		fputs("    # dns", l.t);
		fputs("the default: the resolvers of the netvm's DHCP lease", l.w);
	}
	line_close(&l, out);
	line_open(&l);
	fprintf(l.t, "    %spolicy %s", net->has & NET_HAS_POLICY ? "" : "# ",
		net->deny == DENY_DROP ? "drop" : "reject");
	fputs(net->deny == DENY_DROP ? "denied packets are dropped silently" :
	      "denied: tcp gets a reset, the rest icmp admin-prohibited", l.w);
	line_close(&l, out);
	if (net->log_denied) {
		line_open(&l);
		fputs("    log denied", l.t);
		fputs("denied packets go to netctl log (rate limited)", l.w);
		line_close(&l, out);
	}
	fputs("}\n", out);
}

static void print_vm_ref(FILE *w, const struct policy *p, const struct dest *dst)
{
	fprintf(w, "VM %s", dst->name);
	if (dst->vm >= 0 && (size_t)dst->vm < p->nvms && p->vms[dst->vm].has_addr) {
		fputs(" (", w);
		print_addr(w, &p->vms[dst->vm].addr);
		fputs(")", w);
	}
}

static void print_ports(FILE *f, const struct rule *r)
{
	size_t i;

	for (i = 0; i < r->nports; i++) {
		fprintf(f, "%s%u", i ? ", " : "", r->ports[i].lo);
		if (r->ports[i].hi != r->ports[i].lo)
			fprintf(f, "-%u", r->ports[i].hi);
	}
}

static void print_types(FILE *f, const struct rule *r)
{
	size_t i;

	for (i = 0; i < r->ntypes; i++) {
		const char *name = policy_icmp_type_name(r->types[i]);
		fputs(i ? ", " : "", f);
		if (name)
			fputs(name, f);
		else
			fprintf(f, "%u", r->types[i]);
	}
}

static void print_rule_text(FILE *t, const struct rule *r)
{
	static const char *const protos[] = { "", " tcp", " udp", " icmp" };
	char when[MOAT_TIME_STRLEN];
	size_t i;

	fputs(r->action == ACT_ALLOW ? "allow" : "deny", t);
	if (r->kind == RULE_ALL)
		fputs(" all", t);
	else if (r->kind == RULE_DNS)
		fputs(" dns", t);
	else
		fputs(protos[r->proto], t);
	if (r->to_any)
		fputs(" to any", t);
	for (i = 0; i < r->ndests; i++) {
		const struct dest *dst = &r->dests[i];
		fputs(i ? ", " : " to ", t);
		if (dst->kind == DEST_ADDR)
			print_addr(t, &dst->addr);
		else
			fprintf(t, "%s%s", dst->kind == DEST_VM ? "vm " : "", dst->name);
	}
	if (r->nports) {
		fputs(" port ", t);
		print_ports(t, r);
	}
	if (r->ntypes) {
		fputs(" type ", t);
		print_types(t, r);
	}
	if (r->log)
		fputs(" log", t);
	if (r->has_until) {
		policy_format_time(r->until, when, sizeof(when));
		fprintf(t, " until %s", when);
	}
	if (r->comment)
		fprintf(t, " comment \"%s\"", r->comment);
}

static void print_rule_words(FILE *w, const struct policy *p, const struct rule *r)
{
	static const char *const protos[] = { "any protocol", "tcp", "udp", "icmp and icmpv6" };
	char when[MOAT_TIME_STRLEN];
	bool only_vms = r->ndests > 0, hosts = false;
	size_t i;

	for (i = 0; i < r->ndests; i++) {
		only_vms = only_vms && r->dests[i].kind == DEST_VM;
		hosts = hosts || r->dests[i].kind == DEST_HOST;
	}
	if (r->action == ACT_DENY)
		fputs("denied: ", w);
	else if (only_vms)
		fputs("may open ", w);
	if (r->kind == RULE_DNS) {
		struct addr gw;
		policy_gateway(p, &gw);
		fputs("DNS to the firewall ", w);
		print_addr(w, &gw);
	} else if (r->kind == RULE_ALL) {
		fputs("anything to the outside world (not to other VMs)", w);
	} else {
		fputs(r->proto == PROTO_ANY && r->nports ? "tcp and udp" : protos[r->proto], w);
		fputs(" to ", w);
		if (r->ndests == 0)
			fputs("any outside address", w);
		for (i = 0; i < r->ndests; i++) {
			const struct dest *dst = &r->dests[i];
			fputs(i ? ", " : "", w);
			if (dst->kind == DEST_ADDR)
				print_addr(w, &dst->addr);
			else if (dst->kind == DEST_HOST)
				fputs(dst->name, w);
			else
				print_vm_ref(w, p, dst);
		}
		if (hosts)
			fputs(" (names with their subdomains)", w);
		if (r->nports) {
			fputs(r->nports == 1 && r->ports[0].lo == r->ports[0].hi ? " port " :
			      ", ports ", w);
			print_ports(w, r);
		}
		if (r->ntypes) {
			fputs(r->ntypes == 1 ? ", type " : ", types ", w);
			print_types(w, r);
		}
	}
	if (r->log)
		fputs("; logged", w);
	if (r->has_until) {
		policy_format_time(r->until, when, sizeof(when));
		fprintf(w, "; until %s", when);
	}
}

static void print_vm(FILE *out, const struct policy *p, const struct vm *v)
{
	uint8_t fw_mac[6];
	char mac[MOAT_MAC_STRLEN], fw[MOAT_MAC_STRLEN];
	struct line l;
	size_t i, live = 0;

	for (i = 0; i < v->nrules; i++)
		live += !v->rules[i].expired;
	line_open(&l);
	fprintf(l.t, "vm %s {", v->name);
	if (live == 0)
		fputs("no rules: this VM has no network at all", l.w);
	else
		fprintf(l.w, "%zu rule%s, first match wins, the rest denied", live,
			live == 1 ? "" : "s");
	line_close(&l, out);

	if (v->has_addr) {
		policy_format_mac(v->mac, mac, sizeof(mac));
		policy_firewall_mac(v, fw_mac);
		policy_format_mac(fw_mac, fw, sizeof(fw));
		line_open(&l);
		fputs("    address ", l.t);
		print_addr(l.t, &v->addr);
		fprintf(l.w, "%s MAC %s, firewall side %s", v->has_mac ? "its" : "default",
			mac, fw);
		line_close(&l, out);
	}
	if (v->has_addr6) {
		fputs("    address6 ", out);
		print_addr(out, &v->addr6);
		fputs("\n", out);
	}
	if (v->has_mac) {
		policy_format_mac(v->mac, mac, sizeof(mac));
		fprintf(out, "    mac %s\n", mac);
	}
	if (v->has_owner) {
		line_open(&l);
		fprintf(l.t, "    owner %s%s%s", v->owner_user, v->owner_group[0] ? ":" : "", v->owner_group);
		if (v->owner_group[0])
			fprintf(l.w, "only user %s and group %s reach its link on the host (0660)",
				v->owner_user, v->owner_group);
		else
			fprintf(l.w, "only user %s reaches its link on the host (0600)", v->owner_user);
		line_close(&l, out);
	}
	for (i = 0; i < v->nrules; i++) {
		const struct rule *r = &v->rules[i];
		line_open(&l);
		fputs(r->expired ? "    # " : "    ", l.t);
		print_rule_text(l.t, r);
		if (r->expired)
			fputs("expired: no longer in force", l.w);
		else
			print_rule_words(l.w, p, r);
		line_close(&l, out);
	}
	fputs("}\n", out);
}

bool policy_print(FILE *out, const struct policy *p, const char *only_vm)
{
	bool first = true;
	size_t i;

	if (only_vm) {
		int i_vm = policy_find_vm(p, only_vm);
		if (i_vm < 0)
			return false;
		print_vm(out, p, &p->vms[i_vm]);
		return true;
	}
	if (p->net.has) {
		print_network(out, p);
		first = false;
	}
	for (i = 0; i < p->nvms; i++) {
		if (!first)
			fputs("\n", out);
		first = false;
		print_vm(out, p, &p->vms[i]);
	}
	return true;
}

/* counters.c: the counter of every rule in table inet moat, read back with
 * libnftnl and summed per VM and config rule. The compiler expands one config
 * rule into several kernel rules with the same comment ("dev rule 3"); a rule
 * with a log statement only shadows the rule after it, so it is not counted
 * (each packet once). */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/batch.h"
#include "lib/ctl.h"
#include "firewallvm/firewalld.h"

/* a dump message can be as large as a page times 8 */

/* what each counts: the control channel's kinds */
enum { CK_RULE = CTL_C_RULE, CK_DNS = CTL_C_DNS, CK_DEFAULT = CTL_C_DEFAULT, CK_SPOOF = CTL_C_SPOOF,
       CK_IPV6 = CTL_C_IPV6 };

struct ctr {
	char vm[MOAT_NAME_MAX + 1];
	int kind;
	int rule;
	uint64_t packets, bytes;
};

struct ctr_list {
	struct ctr *v;
	size_t n, cap;
	const char *only_vm;
	bool failed;
};

struct ctr_rule {
	uint64_t packets, bytes;
	bool has_counter, has_log, drops;
};

static int ctr_expr_cb(struct nftnl_expr *e, void *data)
{
	struct ctr_rule *r = data;
	const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
	if (!name)
		return MNL_CB_OK;
	if (strcmp(name, "counter") == 0) {
		r->has_counter = true;
		r->packets += nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS);
		r->bytes += nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_BYTES);
	} else if (strcmp(name, "log") == 0) {
		r->has_log = true;
	} else if (strcmp(name, "immediate") == 0 && nftnl_expr_is_set(e, NFTNL_EXPR_IMM_VERDICT) &&
		   (int32_t)nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_VERDICT) == NF_DROP) {
		r->drops = true;
	}
	return MNL_CB_OK;
}

static int ctr_udata_cb(const struct nftnl_udata *attr, void *data)
{
	const char **comment = data;
	if (nftnl_udata_type(attr) == NFTNL_UDATA_RULE_COMMENT) {
		const char *s = nftnl_udata_get(attr);
		uint8_t len = nftnl_udata_len(attr);
		if (len > 0 && s[len - 1] == '\0')
			*comment = s;
	}
	return MNL_CB_OK;
}

/* "NAME rule N", "NAME DNS" or "NAME default deny": which VM and which counter. */
static bool ctr_parse_comment(const char *s, struct ctr *c)
{
	const char *sp = strchr(s, ' ');
	if (!sp || sp == s || (size_t)(sp - s) > MOAT_NAME_MAX)
		return false;
	memcpy(c->vm, s, (size_t)(sp - s));
	c->vm[sp - s] = '\0';
	sp++;
	if (strcmp(sp, "default deny") == 0) {
		c->kind = CK_DEFAULT;
		return true;
	}
	if (strcmp(sp, "DNS") == 0) {   /* what `allow dns` compiles to */
		c->kind = CK_DNS;
		return true;
	}
	char *end;
	if (strncmp(sp, "rule ", 5) != 0)
		return false;
	long n = strtol(sp + 5, &end, 10);
	if (end == sp + 5 || *end || n <= 0 || n > 1000000)
		return false;
	c->kind = CK_RULE;
	c->rule = (int)n;
	return true;
}

/* Whether COMMENT is one of VM's DHCP guards (policy/compile.c). */
static bool dhcp_spoof(const char *vm, const char *comment)
{
	size_t n = strlen(vm);
	if (n > MOAT_NAME_MAX || strncmp(comment, vm, n) != 0 || comment[n] != ' ')
		return false;
	return strcmp(comment + n + 1, "DHCP not its own MAC") == 0 ||
	       strcmp(comment + n + 1, "DHCP through a relay") == 0;
}

static void ctr_add(struct ctr_list *l, const struct ctr *c)
{
	if (l->only_vm && strcmp(l->only_vm, c->vm) != 0)
		return;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		struct ctr *v = realloc(l->v, cap * sizeof(*v));
		if (!v) {
			l->failed = true;
			return;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *c;
}

static int ctr_rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ctr_list *l = data;
	struct nftnl_rule *r = nftnl_rule_alloc();
	if (!r) {
		l->failed = true;
		return MNL_CB_ERROR;
	}
	if (nftnl_rule_nlmsg_parse(nlh, r) < 0) {
		nftnl_rule_free(r);
		return MNL_CB_OK;
	}
	struct ctr_rule cr = { 0 };
	nftnl_expr_foreach(r, ctr_expr_cb, &cr);
	const char *chain = nftnl_rule_get_str(r, NFTNL_RULE_CHAIN);
	const char *comment = NULL;
	uint32_t ulen = 0;
	const void *udata = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &ulen);
	if (udata)
		nftnl_udata_parse(udata, ulen, ctr_udata_cb, &comment);
	struct ctr c = { .packets = cr.packets, .bytes = cr.bytes };
	if (!cr.has_counter || cr.has_log || !chain) {
		/* nothing to count, or counted by the rule after it */
	} else if (strncmp(chain, "pre_", 4) == 0) {
		if (cr.drops && strlen(chain + 4) <= MOAT_NAME_MAX) {
			strcpy(c.vm, chain + 4);
			/* IPv6 with no subnet6 is not spoofing: count it apart */
			size_t cl = comment ? strlen(comment) : 0;
			c.kind = cl >= 7 && strcmp(comment + cl - 7, "no IPv6") == 0 ? CK_IPV6 : CK_SPOOF;
			ctr_add(l, &c);
		}
	} else if (strncmp(chain, "in_", 3) == 0 && cr.drops && comment && dhcp_spoof(chain + 3, comment)) {
		/* DHCP that speaks for another MAC is spoofing too (the
		 * daemon adds what it drops for the client identifier) */
		strcpy(c.vm, chain + 3);
		c.kind = CK_SPOOF;
		ctr_add(l, &c);
	} else if (comment && ctr_parse_comment(comment, &c)) {
		ctr_add(l, &c);
	}
	nftnl_rule_free(r);
	return MNL_CB_OK;
}

static int ctr_cmp(const void *a, const void *b)
{
	const struct ctr *x = a, *y = b;
	int c = strcmp(x->vm, y->vm);
	if (c)
		return c;
	if (x->kind != y->kind)
		return x->kind - y->kind;
	return x->rule - y->rule;
}

static int ctr_dump(struct ctr_list *l)
{
	int err = nft_dump_rules(RS_TABLE, ctr_rule_cb, l);
	return err && l->failed ? -ENOMEM : err;
}

int fw_counters_each(const char *vm, const struct fw_count *extra, size_t nextra, fw_counter_fn fn,
		     void *arg)
{
	struct ctr_list l = { .only_vm = vm };
	int err = ctr_dump(&l);
	for (size_t i = 0; !err && i < nextra; i++) {
		struct ctr c = { .kind = extra[i].kind, .packets = extra[i].packets, .bytes = extra[i].bytes };
		if (snprintf(c.vm, sizeof(c.vm), "%s", extra[i].vm) < (int)sizeof(c.vm))
			ctr_add(&l, &c);
	}
	if (!err && l.failed)
		err = -ENOMEM;
	if (!err && !l.n && vm)
		err = -ENOENT;
	if (err) {
		free(l.v);
		return err;
	}
	if (l.n)
		qsort(l.v, l.n, sizeof(*l.v), ctr_cmp);
	for (size_t i = 0; i < l.n;) {
		struct ctr sum = l.v[i];
		size_t j = i + 1;
		for (; j < l.n && ctr_cmp(&l.v[i], &l.v[j]) == 0; j++) {
			sum.packets += l.v[j].packets;
			sum.bytes += l.v[j].bytes;
		}
		fn(sum.vm, sum.kind, sum.kind == CK_RULE ? sum.rule : 0, sum.packets, sum.bytes, arg);
		i = j;
	}
	free(l.v);
	return 0;
}

static void ctr_line(const char *vm, int kind, int rule, uint64_t packets, uint64_t bytes, void *f)
{
	static const char *const kinds[] = { "rule", "dns", "default-deny", "spoofed", "ipv6-dropped" };
	if (kind == CK_RULE)
		fprintf(f, "%s rule %d packets %llu bytes %llu\n", vm, rule, (unsigned long long)packets,
			(unsigned long long)bytes);
	else
		fprintf(f, "%s %s packets %llu bytes %llu\n", vm, kinds[kind], (unsigned long long)packets,
			(unsigned long long)bytes);
}

char *fw_counters_text(const char *vm)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return NULL;
	int err = fw_counters_each(vm, NULL, 0, ctr_line, f);
	bool bad = ferror(f);
	if (fclose(f) != 0 || bad || err) {
		free(text);
		errno = err ? -err : ENOMEM;
		return NULL;
	}
	return text;
}

/* test_policy_compile: the compiled ruleset has the shape the firewall's
 * guarantees rest on, and a diff batch holds only what changed. Everything
 * runs as a dry run: no netfilter needed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <linux/netlink.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "policy/batch.h"
#include "policy/policy.h"
#include "policy/ruleset.h"

#define NOW 1764000000   /* 2025-11-24T16:00Z */

static struct policy *load(const char *text)
{
	struct diags d;
	diags_init(&d, "moat.conf", text, strlen(text));
	struct policy *p = policy_load("moat.conf", text, strlen(text), NOW, &d);
	if (!p)
		fail_msg("did not load:\n%s", d.out);
	diags_free(&d);
	return p;
}

static struct ruleset *compile(const char *text, const struct ruleset *prev, uint32_t gen)
{
	struct policy *p = load(text);
	struct ruleset *rs = ruleset_compile(p, prev, gen, NULL);
	assert_non_null(rs);
	policy_free(p);
	return rs;
}

static const char *chain_text(const struct ruleset *rs, const char *chain, char *buf, size_t len)
{
	const struct rs_chain *c = ruleset_find_chain(rs, chain);
	if (!c)
		fail_msg("no chain %s", chain);
	FILE *f = fmemopen(buf, len, "w");
	for (size_t i = 0; i < c->nrules; i++) {
		ruleset_render_rule(f, rs, c, &c->rules[i]);
		fputc('\n', f);
	}
	fclose(f);
	return buf;
}

#define BASE "network { subnet 10.137.0.0/24 }\n"

static void every_vm_has_its_chains_and_map_entries(void **state)
{
	struct ruleset *rs = compile(BASE "vm dev { address 10.137.0.10\n allow all }\n"
				     "vm personal { address 10.137.0.14 }\n", NULL, 1);
	const char *maps[] = { "pre_vm", "in_vm", "out_vm", "local_vm" };
	const char *pfx[] = { "pre_", "in_", "out_", "local_" };
	for (int k = 0; k < 4; k++) {
		const struct rs_set *s = ruleset_find_set(rs, maps[k]);
		assert_non_null(s);
		assert_int_equal(s->nelems, 2);
		for (int v = 0; v < 2; v++) {
			char want[64];
			snprintf(want, sizeof(want), "%s%s", pfx[k], v ? "personal" : "dev");
			assert_non_null(ruleset_find_chain(rs, want));
		}
	}
	assert_non_null(ruleset_find_chain(rs, "acc_dev"));
	assert_int_equal(ruleset_find_set(rs, "live")->nelems, 2);
	ruleset_free(rs);
	(void)state;
}

static void a_vm_with_no_rules_only_denies(void **state)
{
	struct ruleset *rs = compile(BASE "vm personal { address 10.137.0.14 }\n", NULL, 1);
	char buf[8192];
	chain_text(rs, "out_personal", buf, sizeof(buf));
	assert_null(strstr(buf, "accept"));
	assert_null(strstr(buf, "goto"));
	assert_non_null(strstr(buf, "reject with tcp reset"));
	assert_non_null(strstr(buf, "reject with icmpx admin-prohibited"));
	chain_text(rs, "in_personal", buf, sizeof(buf));
	assert_null(strstr(buf, "th dport 53"));   /* no allow dns: no DNS */
	assert_non_null(strstr(buf, "th dport 67"));   /* DHCP always */
	ruleset_free(rs);
	(void)state;
}

static void rules_keep_their_order_and_policy_drop_is_silent(void **state)
{
	struct ruleset *rs = compile("network { subnet 10.137.0.0/24\n policy drop }\n"
				     "vm dev { address 10.137.0.10\n"
				     " deny tcp to 192.0.2.1 port 22\n"
				     " allow tcp to 192.0.2.0/24 port 22 }\n", NULL, 1);
	char buf[8192];
	chain_text(rs, "out_dev", buf, sizeof(buf));
	char *deny = strstr(buf, "ct original ip daddr 192.0.2.1 ");
	char *allow = strstr(buf, "ct original ip daddr 192.0.2.0/24");
	assert_non_null(deny);
	assert_non_null(allow);
	assert_true(deny < allow);
	assert_null(strstr(buf, "reject"));
	assert_non_null(strstr(deny, "drop comment \"dev rule 1\""));
	ruleset_free(rs);
	(void)state;
}

static void spoofed_sources_and_ipv6_are_dropped_first(void **state)
{
	struct ruleset *rs = compile(BASE "vm dev { address 10.137.0.10\n allow all }\n", NULL, 1);
	char buf[8192];
	chain_text(rs, "pre_dev", buf, sizeof(buf));
	assert_non_null(strstr(buf, "ether saddr != 02:6d:61:00:00:0a counter drop"));
	assert_non_null(strstr(buf, "ip saddr != 10.137.0.10 counter drop"));
	assert_non_null(strstr(buf, "meta nfproto ipv6 counter drop"));
	chain_text(rs, "prerouting", buf, sizeof(buf));
	assert_non_null(strstr(buf, "iifname vmap @pre_vm"));
	ruleset_free(rs);
	(void)state;
}

static void established_traffic_needs_a_live_mark(void **state)
{
	struct ruleset *rs = compile(BASE "vm dev { address 10.137.0.10\n allow tcp port 443 }\n", NULL, 7);
	char buf[8192];
	chain_text(rs, "forward", buf, sizeof(buf));
	/* established only: a related packet never rides on the live mark */
	assert_non_null(strstr(buf, "ct state established ct mark vmap @live counter comment"));
	assert_null(strstr(buf, "established,related"));
	chain_text(rs, "acc_dev", buf, sizeof(buf));
	char want[64];
	snprintf(want, sizeof(want), "ct mark set 0x%08x accept", rs->vms[0].mark);
	assert_non_null(strstr(buf, want));
	uint32_t live;
	memcpy(&live, ruleset_find_set(rs, "live")->elems[0].key, 4);
	assert_int_equal(live, rs->vms[0].mark);
	ruleset_free(rs);
	(void)state;
}

static void no_rule_uses_an_anonymous_set(void **state)
{
	struct ruleset *rs = compile(BASE "vm dev { address 10.137.0.10\n"
				     " allow tcp to 1.2.3.4, 5.6.7.0/24, a.example.com port 1, 2, 3, 4-9 }\n",
				     NULL, 1);
	size_t lookups = 0;
	for (size_t c = 0; c < rs->nchains; c++)
		for (size_t r = 0; r < rs->chains[c].nrules; r++)
			for (int m = 0; m < rs->chains[c].rules[r].nm; m++) {
				const struct rs_match *x = &rs->chains[c].rules[r].m[m];
				if (x->op == RO_LOOKUP || x->op == RO_VMAP) {
					lookups++;
					assert_non_null(ruleset_find_set(rs, x->set));
				}
			}
	assert_true(lookups > 0);
	/* 3 destinations x 4 port items, one rule each */
	char buf[16384];
	chain_text(rs, "out_dev", buf, sizeof(buf));
	int n = 0;
	for (char *s = buf; (s = strstr(s, "goto acc_dev")); s++)
		n++;
	assert_int_equal(n, 12);
	assert_null(strchr(buf, '{'));
	ruleset_free(rs);
	(void)state;
}

static void host_names_become_timed_sets(void **state)
{
	struct ruleset *rs = compile(BASE "vm dev { address 10.137.0.10\n"
				     " allow tcp to github.com port 22 }\n"
				     "vm com { address 10.137.0.11\n allow tcp to github.com port 443 }\n",
				     NULL, 1);
	const struct rs_set *s = ruleset_find_set(rs, "h4_github.com");
	assert_non_null(s);
	assert_true(s->dynamic);
	assert_int_equal(s->timeout_s, 3600);
	assert_null(ruleset_find_set(rs, "h6_github.com"));   /* no subnet6 */
	char name[64];
	ruleset_host_set_name("a-very-long-name.with.many.labels.example.com", AF_INET, name, sizeof(name));
	assert_true(strlen(name) < RS_SETREF_MAX);
	ruleset_free(rs);
	(void)state;
}

static void expired_rules_are_left_out(void **state)
{
	struct ruleset *rs = compile(BASE "vm dev { address 10.137.0.10\n"
				     " allow tcp port 22 until 2020-01-01T00:00Z\n"
				     " allow tcp port 443 until 2099-01-01T00:00Z }\n", NULL, 1);
	char buf[8192];
	chain_text(rs, "out_dev", buf, sizeof(buf));
	assert_null(strstr(buf, "proto-dst 22 "));
	assert_non_null(strstr(buf, "proto-dst 443 "));
	ruleset_free(rs);
	(void)state;
}

static void vm_to_vm_rules_live_in_the_local_chain(void **state)
{
	struct ruleset *rs = compile(BASE "vm dev { address 10.137.0.10 }\n"
				     "vm com { address 10.137.0.13\n allow tcp to vm dev port 8080\n"
				     " allow all }\n", NULL, 1);
	char buf[8192];
	chain_text(rs, "local_com", buf, sizeof(buf));
	assert_non_null(strstr(buf, "ct original ip daddr 10.137.0.10 meta l4proto tcp ct original proto-dst 8080"));
	chain_text(rs, "out_com", buf, sizeof(buf));
	assert_null(strstr(buf, "10.137.0.10"));   /* allow all is the outside world only */
	chain_text(rs, "local_dev", buf, sizeof(buf));
	assert_null(strstr(buf, "goto"));   /* the other direction needs its own rule */
	ruleset_free(rs);
	(void)state;
}

/* ---- diffs ---- */

/* Counts each message type in a batch; fails on any message for a chain or
 * set element outside the ones ALLOWED (NULL-terminated name prefixes). */
struct counts { int newrule, delrule, newchain, delchain, newset, delset, newelem, delelem, table; };

static struct counts count(const struct nl_batch *b)
{
	struct counts c = { 0 };
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)b->buf;
	size_t left = b->len;
	while (left >= sizeof(*nlh) && nlh->nlmsg_len <= left) {
		switch (nlh->nlmsg_type & 0xff) {
		case NFT_MSG_NEWRULE: c.newrule++; break;
		case NFT_MSG_DELRULE: c.delrule++; break;
		case NFT_MSG_NEWCHAIN: c.newchain++; break;
		case NFT_MSG_DELCHAIN: c.delchain++; break;
		case NFT_MSG_NEWSET: c.newset++; break;
		case NFT_MSG_DELSET: c.delset++; break;
		case NFT_MSG_NEWSETELEM: c.newelem++; break;
		case NFT_MSG_DELSETELEM: c.delelem++; break;
		case NFT_MSG_NEWTABLE: case NFT_MSG_DELTABLE: c.table++; break;
		}
		left -= NLMSG_ALIGN(nlh->nlmsg_len);
		nlh = (const struct nlmsghdr *)((const char *)nlh + NLMSG_ALIGN(nlh->nlmsg_len));
	}
	return c;
}

static void assert_only_vm(const struct nl_batch *b, int vm)
{
	for (size_t i = 0; i < b->norigins; i++)
		if (b->origins[i].vm != -1 && b->origins[i].vm != vm)
			fail_msg("message for VM %d in a change of VM %d: %s", b->origins[i].vm, vm,
				 b->origins[i].what);
}

static char *many_vms(int n, int changed_port)
{
	char *buf = NULL;
	size_t len;
	FILE *f = open_memstream(&buf, &len);
	fprintf(f, "network { subnet 10.137.0.0/16 }\n");
	for (int i = 0; i < n; i++)
		fprintf(f, "vm vm%d {\n address 10.137.%d.%d\n allow tcp to 198.51.100.%d port %d, 443\n"
			" allow udp port 53 }\n", i, i / 200 + 1, i % 200 + 2, i % 250 + 1,
			i == 3 ? changed_port : 80);
	fclose(f);
	return buf;
}

static void same_policy_diff_is_empty(void **state)
{
	char *t = many_vms(30, 80);
	struct ruleset *a = compile(t, NULL, 1);
	struct ruleset *b = compile(t, a, 2);
	for (size_t i = 0; i < b->nvms; i++)
		assert_int_equal(a->vms[i].mark, b->vms[i].mark);   /* nothing re-judged */
	/* unchanged VMs are not compiled again: their rules are shared */
	const struct rs_chain *ca = ruleset_find_chain(a, "out_vm7"), *cb = ruleset_find_chain(b, "out_vm7");
	assert_ptr_equal(ca->rules, cb->rules);
	ruleset_free(a);   /* the shared rules outlive the ruleset they came from */
	a = compile(t, NULL, 1);
	struct nl_batch batch;
	batch_init(&batch, 100);
	batch_ruleset_diff(&batch, a, b);
	assert_int_equal(batch.nmsgs, 0);
	batch_free(&batch);
	ruleset_free(a);
	ruleset_free(b);
	free(t);
	(void)state;
}

static void one_rule_change_touches_one_vm(void **state)
{
	for (int vms = 10; vms <= 300; vms *= 30) {
		char *t1 = many_vms(vms, 80), *t2 = many_vms(vms, 8080);
		struct ruleset *a = compile(t1, NULL, 1);
		struct ruleset *b = compile(t2, a, 2);
		for (size_t i = 0; i < b->nvms; i++)
			if (i == 3)
				assert_int_not_equal(a->vms[i].mark, b->vms[i].mark);
			else
				assert_int_equal(a->vms[i].mark, b->vms[i].mark);
		struct nl_batch batch;
		batch_init(&batch, 100);
		batch_ruleset_diff(&batch, a, b);
		assert_only_vm(&batch, 3);
		struct counts c = count(&batch);
		assert_int_equal(c.delrule, 3);   /* out_vm3, acc_vm3 and own_vm3 flushed */
		assert_int_equal(c.newelem, 1);   /* its new mark in @live */
		assert_int_equal(c.delelem, 1);   /* its old mark */
		assert_int_equal(c.newchain + c.delchain + c.newset + c.delset + c.table, 0);
		assert_true(c.newrule < 12);      /* the same for 10 VMs and 300 */
		batch_free(&batch);
		ruleset_free(a);
		ruleset_free(b);
		free(t1);
		free(t2);
	}
	(void)state;
}

static void adding_and_removing_a_vm(void **state)
{
	const char *one = BASE "vm dev { address 10.137.0.10\n allow all }\n";
	const char *two = BASE "vm dev { address 10.137.0.10\n allow all }\n"
			  "vm shop { address 10.137.0.11\n allow tcp to shop.example.com port 443 }\n";
	struct ruleset *a = compile(one, NULL, 1);
	struct ruleset *b = compile(two, a, 2);
	assert_int_equal(a->vms[0].mark, b->vms[0].mark);
	struct nl_batch batch;
	batch_init(&batch, 1);
	batch_ruleset_diff(&batch, a, b);
	assert_only_vm(&batch, 1);
	struct counts c = count(&batch);
	assert_int_equal(c.newchain, 9);   /* pre_ in_ out_ local_ acc_ own_ resp_ born_ lim_ */
	assert_int_equal(c.newset, 1);     /* h4_shop.example.com */
	assert_int_equal(c.newelem, 10);   /* eight maps, @live and @vm_links */
	assert_int_equal(c.delrule + c.delchain + c.delelem + c.delset, 0);
	batch_free(&batch);

	struct ruleset *c2 = compile(one, b, 3);
	batch_init(&batch, 1);
	batch_ruleset_diff(&batch, b, c2);
	c = count(&batch);
	assert_int_equal(c.delchain, 9);
	assert_int_equal(c.delrule, 9);    /* emptied before they go */
	assert_int_equal(c.delset, 1);
	assert_int_equal(c.delelem, 10);   /* from the eight maps, @live and @vm_links */
	assert_int_equal(c.newrule + c.newchain + c.newelem, 0);
	batch_free(&batch);
	ruleset_free(a);
	ruleset_free(b);
	ruleset_free(c2);
	(void)state;
}

/* ICMP errors name a connection; only its own ends may send them, and they
 * never reach the rules, which would mark the connection anew. */
static void related_packets_stay_with_their_connection(void **state)
{
	struct ruleset *rs = compile(BASE "vm dev { address 10.137.0.10\n allow icmp\n allow all }\n"
				     "vm com { address 10.137.0.13\n allow tcp to vm dev port 80 }\n", NULL, 1);
	char buf[8192];
	chain_text(rs, "forward", buf, sizeof(buf));
	const char *rel = strstr(buf, "ct state related ct direction original iifname vmap @own_vm");
	const char *drop = strstr(buf, "ct state related counter drop");
	const char *rules = strstr(buf, "iifname vmap @out_vm");
	assert_non_null(rel);
	assert_non_null(drop);
	assert_non_null(rules);
	assert_true(rel < drop && drop < rules);   /* every related packet ends before the rules */
	assert_non_null(strstr(buf, "ct state related iifname \"uplink\" ct original ip daddr 10.137.0.0/24 counter drop"));
	chain_text(rs, "own_dev", buf, sizeof(buf));
	char want[64];
	snprintf(want, sizeof(want), "ct mark 0x%08x counter accept", rs->vms[0].mark);
	assert_non_null(strstr(buf, want));
	assert_non_null(strstr(buf, "counter drop"));
	chain_text(rs, "resp_com", buf, sizeof(buf));
	assert_non_null(strstr(buf, "ct original ip daddr 10.137.0.13 oifname vmap @own_vm"));
	ruleset_free(rs);
	(void)state;
}

/* A mark once retired is never live again: not after an until expiry (the
 * same text and generation, later), not after an address change. */
static void marks_are_never_handed_out_twice(void **state)
{
	const char *t = BASE "vm dev { address 10.137.0.10\n allow tcp port 22 until 2025-11-24T17:00Z\n"
			"allow tcp port 80 until 2025-11-24T18:00Z\n allow udp port 53 }\n"
			"vm com { address 10.137.0.13\n allow all }\n";
	struct diags d;
	uint32_t seen[8];
	int nseen = 0;
	struct ruleset *prev = NULL;
	time_t nows[] = { NOW, NOW + 3600 + 1, NOW + 7200 + 1 };
	for (int i = 0; i < 3; i++) {
		diags_init(&d, "moat.conf", t, strlen(t));
		struct policy *p = policy_load("moat.conf", t, strlen(t), nows[i], &d);
		diags_free(&d);
		assert_non_null(p);
		struct rs_history h = { .first_mark = 100 };
		struct ruleset *rs = ruleset_compile(p, prev, 5, &h);   /* same generation */
		policy_free(p);
		for (int k = 0; k < nseen; k++)
			assert_int_not_equal(rs->vms[0].mark, seen[k]);
		if (prev)
			assert_int_equal(rs->vms[1].mark, prev->vms[1].mark);   /* com unchanged */
		assert_true(rs->vms[0].mark >= 100);
		seen[nseen++] = rs->vms[0].mark;
		ruleset_free(prev);
		prev = rs;
	}
	/* com moves: same rules, new address, new mark */
	struct ruleset *moved = compile(BASE "vm dev { address 10.137.0.10\n allow udp port 53 }\n"
					"vm com { address 10.137.0.20\n allow all }\n", prev, 6);
	assert_int_not_equal(moved->vms[1].mark, prev->vms[1].mark);
	assert_true(moved->mark_next > moved->vms[1].mark);
	ruleset_free(moved);
	ruleset_free(prev);
	(void)state;
}

static const struct rs_vm *vm_named(const struct ruleset *rs, const char *name)
{
	int i = ruleset_find_vm(rs, name);
	if (i < 0)
		fail_msg("no VM %s", name);
	return &rs->vms[i];
}

/* A VM that gets an address another VM had is born past every mark handed
 * out before: born_VM drops the connections marked below, whatever its
 * rules say. A VM that keeps its addresses keeps its birth. */
static void an_address_taken_over_brings_no_connections(void **state)
{
	struct ruleset *a = compile(BASE "vm dev { address 10.137.0.10\n allow all }\n"
				    "vm web { address 10.137.0.11\n allow tcp to vm db port 5432 }\n"
				    "vm db { address 10.137.0.12 }\n", NULL, 1);
	/* dev goes, evil takes its address; db moves, web follows it */
	struct ruleset *b = compile(BASE "vm evil { address 10.137.0.10\n allow all }\n"
				    "vm web { address 10.137.0.11\n allow tcp to vm db port 5432 }\n"
				    "vm db { address 10.137.0.13 }\n", a, 2);
	const struct rs_vm *evil = vm_named(b, "evil"), *db = vm_named(b, "db"), *web = vm_named(b, "web");
	assert_true(evil->birth >= a->mark_next);       /* past every mark dev ever had */
	assert_true(db->birth >= a->mark_next);         /* a new address is a new birth */
	assert_int_equal(web->birth, vm_named(a, "web")->birth);
	assert_true(evil->mark >= evil->birth);
	/* web's connections to db's old address go back to the rules, and what
	 * web opens to db from now on is marked past db's birth */
	assert_int_not_equal(web->mark, vm_named(a, "web")->mark);
	assert_true(web->mark >= db->birth);

	char buf[4096], want[128];
	snprintf(want, sizeof(want), "ct mark < 0x%08x counter drop", evil->birth);
	assert_non_null(strstr(chain_text(b, "born_evil", buf, sizeof(buf)), want));
	assert_non_null(strstr(chain_text(b, "forward", buf, sizeof(buf)),
			       "ct state established iifname vmap @born_vm"));
	assert_non_null(strstr(buf, "ct state established oifname vmap @born_vm"));
	/* before any rule could judge the connection anew */
	assert_true(strstr(buf, "oifname vmap @born_vm") < strstr(buf, "iifname vmap @out_vm"));

	/* com goes and newcom takes its address in one apply: dev's rule to it
	 * reads the same, yet dev's connections to com must not carry over */
	struct ruleset *x = compile(BASE "vm dev { address 10.137.0.20\n allow tcp to vm com port 8080 }\n"
				    "vm com { address 10.137.0.21 }\n", NULL, 10);
	struct ruleset *y = compile(BASE "vm dev { address 10.137.0.20\n allow tcp to vm newcom port 8080 }\n"
				    "vm newcom { address 10.137.0.21 }\n", x, 11);
	assert_int_not_equal(vm_named(y, "dev")->mark, vm_named(x, "dev")->mark);
	assert_true(vm_named(y, "dev")->mark >= vm_named(y, "newcom")->birth);
	ruleset_free(y);
	ruleset_free(x);

	/* a rule change keeps the birth; the born chain is not sent again */
	struct ruleset *c = compile(BASE "vm evil { address 10.137.0.10\n allow tcp port 443 }\n"
				    "vm web { address 10.137.0.11\n allow tcp to vm db port 5432 }\n"
				    "vm db { address 10.137.0.13 }\n", b, 3);
	assert_int_equal(vm_named(c, "evil")->birth, evil->birth);
	assert_int_not_equal(vm_named(c, "evil")->mark, evil->mark);
	struct nl_batch nb;
	batch_init(&nb, 1);
	batch_ruleset_diff(&nb, b, c);
	assert_null(memmem(nb.buf, nb.len, "born_evil", 10));
	batch_free(&nb);

	/* a restarted daemon: no ruleset, the births it kept */
	struct rs_vm kept[2] = { *vm_named(c, "evil"), *vm_named(c, "db") };
	kept[1].addr[3] = 99;   /* db's record is for another address */
	struct rs_history h = { .first_mark = c->mark_next + 4096, .vms = kept, .nvms = 2 };
	const char *t = BASE "vm evil { address 10.137.0.10\n allow tcp port 443 }\n"
			"vm db { address 10.137.0.13 }\n";
	struct policy *p = load(t);
	struct ruleset *r = ruleset_compile(p, NULL, 4, &h);
	policy_free(p);
	assert_non_null(r);
	assert_int_equal(vm_named(r, "evil")->birth, evil->birth);
	assert_int_equal(vm_named(r, "db")->birth, h.first_mark);
	assert_true(vm_named(r, "evil")->mark >= h.first_mark);
	ruleset_free(r);
	ruleset_free(c);
	ruleset_free(b);
	ruleset_free(a);
	(void)state;
}

/* until: the kernel itself stops matching the rule at its time */
static void until_rules_match_the_time(void **state)
{
	struct ruleset *rs = compile(BASE "vm dev { address 10.137.0.10\n"
				     "allow tcp port 443 until 2025-11-24T17:00:30Z }\n", NULL, 1);
	char buf[8192];
	chain_text(rs, "out_dev", buf, sizeof(buf));
	assert_non_null(strstr(buf, "ct original proto-dst 443 meta time < 1764003630 counter goto acc_dev"));
	/* and its connections leave the fast path at that time */
	chain_text(rs, "exp_dev", buf, sizeof(buf));
	assert_non_null(strstr(buf, "meta time < 1764003630 counter accept"));
	const struct rs_set *live = ruleset_find_set(rs, "live");
	assert_int_equal(live->nelems, 1);
	assert_string_equal(live->elems[0].chain, "exp_dev");
	ruleset_free(rs);
	(void)state;
}

/* DHCP speaks for the client its chaddr names: only the VM's own MAC; what
 * passes that goes to the daemon's queue (its client identifier), with no
 * bypass, and is never accepted by the ruleset itself */
static void dhcp_must_carry_the_vms_mac(void **state)
{
	struct ruleset *rs = compile(BASE "vm dev { address 10.137.0.10 }\n", NULL, 1);
	char buf[8192];
	chain_text(rs, "in_dev", buf, sizeof(buf));
	const char *guard = strstr(buf, "th dport 67 @th,288,48 != 0x026d6100000a counter drop");
	const char *queue = strstr(buf, "th dport 67 counter queue to 67 comment");
	assert_non_null(guard);
	assert_non_null(queue);
	assert_true(guard < queue);
	assert_null(strstr(buf, "th dport 67 counter accept"));
	assert_null(strstr(buf, "bypass"));
	ruleset_free(rs);
	(void)state;
}

static void full_batch_replaces_the_table_in_one_transaction(void **state)
{
	struct ruleset *rs = compile(BASE "vm dev { address 10.137.0.10\n allow all }\n", NULL, 1);
	struct nl_batch b;
	batch_init(&b, 0);   /* sequence numbers are never 0 */
	batch_ruleset_full(&b, rs, NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST);
	const struct nlmsghdr *first = (const struct nlmsghdr *)b.buf;
	assert_int_equal(first->nlmsg_type, NFNL_MSG_BATCH_BEGIN);
	assert_int_not_equal(first->nlmsg_seq, 0);
	struct counts c = count(&b);
	assert_int_equal(c.table, 3);   /* create, delete, create: any old table goes */
	assert_int_equal(c.newchain, (int)rs->nchains);
	assert_int_equal(c.newset, (int)rs->nsets);
	/* every message is known, so a kernel error names its rule */
	const struct batch_origin *o = batch_find_origin(&b, b.origins[b.norigins - 1].seq);
	assert_non_null(o);
	assert_null(batch_find_origin(&b, 0));
	struct nft_sock s;
	char err[64];
	assert_int_equal(nft_sock_open(&s, true), 0);
	assert_int_equal(nft_commit(&s, &b, err, sizeof(err)), 0);   /* dry run */
	nft_sock_close(&s);
	batch_free(&b);
	ruleset_free(rs);
	(void)state;
}

static void a_big_batch_is_one_buffer(void **state)
{
	char *t = many_vms(400, 80);
	struct ruleset *rs = compile(t, NULL, 1);
	struct nl_batch b;
	batch_init(&b, 1);
	batch_ruleset_full(&b, rs, 0);
	assert_true(b.len > 1 << 20);
	struct counts c = count(&b);
	assert_int_equal(c.newelem, 10 * 2);   /* 9 maps and @vm_links of 400 elements, 200 a message */
	batch_free(&b);
	ruleset_free(rs);
	free(t);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_vm_has_its_chains_and_map_entries),
		cmocka_unit_test(a_vm_with_no_rules_only_denies),
		cmocka_unit_test(rules_keep_their_order_and_policy_drop_is_silent),
		cmocka_unit_test(spoofed_sources_and_ipv6_are_dropped_first),
		cmocka_unit_test(established_traffic_needs_a_live_mark),
		cmocka_unit_test(no_rule_uses_an_anonymous_set),
		cmocka_unit_test(host_names_become_timed_sets),
		cmocka_unit_test(expired_rules_are_left_out),
		cmocka_unit_test(vm_to_vm_rules_live_in_the_local_chain),
		cmocka_unit_test(same_policy_diff_is_empty),
		cmocka_unit_test(one_rule_change_touches_one_vm),
		cmocka_unit_test(adding_and_removing_a_vm),
		cmocka_unit_test(related_packets_stay_with_their_connection),
		cmocka_unit_test(marks_are_never_handed_out_twice),
		cmocka_unit_test(an_address_taken_over_brings_no_connections),
		cmocka_unit_test(until_rules_match_the_time),
		cmocka_unit_test(dhcp_must_carry_the_vms_mac),
		cmocka_unit_test(full_batch_replaces_the_table_in_one_transaction),
		cmocka_unit_test(a_big_batch_is_one_buffer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

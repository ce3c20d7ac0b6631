/* netctl diff: what apply would change against the policy the firewall has
 * loaded, in words, VM by VM (the firewall's copy comes from STATUS). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/ctl.h"
#include "host/netctl.h"
#include "host/netctl-reply.h"

struct lines {
	char **v;
	size_t n;
	char *text;
};

/* POLICY printed (one VM, or the network block), split into lines;
 * the block's own `vm NAME {` and `}` lines are left out. */
static void lines_of(const struct policy *p, const char *vm, struct lines *l)
{
	size_t len;
	FILE *f = open_memstream(&l->text, &len);
	l->v = NULL;
	l->n = 0;
	if (!f) {
		l->text = NULL;
		return;
	}
	policy_print(f, p, vm);
	fclose(f);
	size_t cap = 0;
	bool in_block = vm != NULL;
	for (char *s = l->text, *nl; s && *s; s = nl + 1) {
		nl = strchr(s, '\n');
		if (!nl)
			nl = s + strlen(s) - 1;
		else
			*nl = 0;
		if (!vm && strncmp(s, "network {", 9) == 0) {
			in_block = true;
			continue;
		}
		if (!in_block || strncmp(s, "vm ", 3) == 0 || strcmp(s, "}") == 0 || !*s) {
			if (!vm && strcmp(s, "}") == 0)
				in_block = false;
			continue;
		}
		if (l->n == cap) {
			cap = cap ? cap * 2 : 16;
			char **v = realloc(l->v, cap * sizeof(*v));
			if (!v)
				break;
			l->v = v;
		}
		l->v[l->n++] = s;
	}
}

static void lines_free(struct lines *l)
{
	free(l->v);
	free(l->text);
}

/* The statement part of a printed line, without the "# in words" comment. */
static size_t stmt_len(const char *s)
{
	const char *q = strrchr(s, '"');
	const char *c = strstr(q ? q : s, "  # ");
	size_t n = c ? (size_t)(c - s) : strlen(s);
	while (n && s[n - 1] == ' ')
		n--;
	return n;
}

static bool lines_have(const struct lines *l, const char *s)
{
	size_t n = stmt_len(s);
	for (size_t i = 0; i < l->n; i++)
		if (stmt_len(l->v[i]) == n && strncmp(l->v[i], s, n) == 0)
			return true;
	return false;
}

/* One line of a printed policy; the firewall's may say anything. */
static void print_line(char sign, const char *s)
{
	printf("  %c ", sign);
	ctl_fput_safe(stdout, s + strspn(s, " "), false);
	putchar('\n');
}

/* Prints what changed between two printed blocks; false if nothing did. */
static bool diff_block(const char *title, const struct lines *old, const struct lines *new)
{
	bool changed = old->n != new->n;
	for (size_t i = 0; !changed && i < old->n; i++)
		changed = stmt_len(old->v[i]) != stmt_len(new->v[i]) ||
			  strncmp(old->v[i], new->v[i], stmt_len(old->v[i])) != 0;
	if (!changed)
		return false;
	printf("%s: changed\n", title);
	bool any = false;
	for (size_t i = 0; i < old->n; i++)
		if (!lines_have(new, old->v[i])) {
			print_line('-', old->v[i]);
			any = true;
		}
	for (size_t i = 0; i < new->n; i++)
		if (!lines_have(old, new->v[i])) {
			print_line('+', new->v[i]);
			any = true;
		}
	if (!any)
		printf("  the same rules in another order (first match wins)\n");
	return true;
}

static void print_vm(const struct policy *p, const char *vm, char sign)
{
	struct lines l;
	lines_of(p, vm, &l);
	for (size_t i = 0; i < l.n; i++)
		print_line(sign, l.v[i]);
	lines_free(&l);
}

int diff_main(struct netctl *ctx, int argc, char **argv)
{
	if (argc != 1) {
		fprintf(stderr, "usage: netctl diff\n");
		return NETCTL_USAGE;
	}
	struct policy *newp = netctl_load_policy(ctx, ctx->conf), *oldp = NULL;
	if (!newp)
		return NETCTL_FAILED;
	struct ctl_msg m;
	ctl_msg_init(&m, CTL_REQ_STATUS);
	size_t len;
	uint8_t *reply = netctl_call("firewall", ctx->control, &m, &len, ctx->call_ms);
	ctl_msg_free(&m);
	if (!reply) {
		policy_free(newp);
		return NETCTL_FAILED;
	}
	uint32_t gen = 0;
	ctl_get_u32(reply, len, CTL_A_GENERATION, &gen);
	const char *text = ctl_get_str(reply, len, CTL_A_TEXT);
	const char *file = ctl_get_str(reply, len, CTL_A_FILE);
	if (text) {
		struct diags d;
		diags_init(&d, file ? file : "loaded", text, strlen(text));
		oldp = policy_load(file ? file : "loaded", text, strlen(text), ctx->now, &d);
		if (!oldp) {
			fprintf(stderr, "netctl: the policy the firewall has does not load here:\n");
			netctl_print_lines(stderr, d.out);
		}
		diags_free(&d);
		if (!oldp) {
			free(reply);
			policy_free(newp);
			return NETCTL_FAILED;
		}
	} else {
		printf("the firewall has no policy loaded (it drops everything); apply would load all of %s\n",
		       ctx->conf);
	}
	size_t changed = 0, added = 0, removed = 0;
	if (oldp) {
		struct lines a, b;
		lines_of(oldp, NULL, &a);
		lines_of(newp, NULL, &b);
		changed += diff_block("network", &a, &b);
		lines_free(&a);
		lines_free(&b);
		for (size_t i = 0; i < oldp->nvms; i++)
			if (policy_find_vm(newp, oldp->vms[i].name) < 0) {
				printf("vm %s: removed (its link gets no traffic through)\n", oldp->vms[i].name);
				print_vm(oldp, oldp->vms[i].name, '-');
				removed++;
			}
	}
	for (size_t i = 0; i < newp->nvms; i++) {
		const char *name = newp->vms[i].name;
		if (!oldp || policy_find_vm(oldp, name) < 0) {
			printf("vm %s: added\n", name);
			print_vm(newp, name, '+');
			added++;
			continue;
		}
		struct lines a, b;
		char title[64];
		snprintf(title, sizeof(title), "vm %s", name);
		lines_of(oldp, name, &a);
		lines_of(newp, name, &b);
		changed += diff_block(title, &a, &b);
		lines_free(&a);
		lines_free(&b);
	}
	if (!changed && !added && !removed)
		printf("no changes: %s is what the firewall has (generation %u)\n", ctx->conf, gen);
	else
		printf("%zu changed, %zu added, %zu removed against generation %u\n", changed, added,
		       removed, gen);
	free(reply);
	policy_free(oldp);
	policy_free(newp);
	return NETCTL_OK;
}

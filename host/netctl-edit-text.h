/* netctl-edit-text.h: edits of moat.conf as text, for netctl allow, deny,
 * add-vm and remove-vm. Every byte the edit is not about stays as it was:
 * comments, blank lines, indentation, line endings. Nothing here checks the
 * result; the caller runs policy_load on it before writing it anywhere.
 *
 * Functions that can fail return false and leave one message quoting the bad
 * value in ERR (EDIT_ERR_MAX bytes); the text is then unchanged. */
#ifndef MOAT_NETCTL_EDIT_TEXT_H
#define MOAT_NETCTL_EDIT_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "policy/policy.h"

#define EDIT_ERR_MAX  192
#define EDIT_RULE_MAX 4096   /* one rule line, as netctl allow/deny builds it */

/* A whole moat.conf: malloc'd, NUL-terminated, LEN bytes before the NUL. */
struct edit_text {
	char *s;
	size_t len;
};

/* Where `vm NAME { ... }` sits: byte offsets of the `vm` keyword, of its '{'
 * and of the matching '}'. Comments and strings are skipped. */
struct edit_block {
	size_t vm, open, close;
};

bool edit_find_vm(const struct edit_text *t, const char *name, struct edit_block *b);

/* A VM name as moat.conf takes it: [a-z][a-z0-9-]{0,14}, not `uplink`/`any`. */
bool edit_check_name(const char *name, char *err);

/* "ACTION ARG ARG ... [until TIME] [comment "..."]" into BUF (EDIT_RULE_MAX):
 * the word after `comment` is quoted unless it already is; UNTIL (or NULL)
 * goes before the comment. Refuses what would end the statement or the block
 * ('{', '}', ';', '#', newlines) so one argument cannot become two lines. */
bool edit_rule_text(const char *action, int argc, char *const argv[], const char *until,
		    char *buf, char *err);

/* DURATION ("90s", "10m", "2h", "1d") after NOW as moat.conf writes a time,
 * into BUF (MOAT_TIME_STRLEN). At most 3650 days. */
bool edit_until(const char *duration, time_t now, char *buf, char *err);

/* RULE becomes a new last line of vm NAME's block with the indentation of the
 * block's statements. A block whose '}' shares its line with other text
 * (`vm x { address 10.137.0.9 }`) is opened up: the rule and the '}' get
 * lines of their own. */
bool edit_append_rule(struct edit_text *t, const char *name, const char *rule, char *err);

/* `vm NAME {`, `address ADDR`, `}` at the end of the file after a blank line. */
bool edit_add_vm(struct edit_text *t, const char *name, const struct addr *addr, char *err);

/* Removes vm NAME's block, from its line to the line of its '}' (with what
 * follows on that line if it is only a comment), and one blank line so that
 * the neighbours stay as far apart as before. Comments above stay. */
bool edit_remove_vm(struct edit_text *t, const char *name, char *err);

/* The address after the highest one in use in the IPv4 subnet (or the
 * lowest free one when the top is taken), never the network, gateway or
 * broadcast address. */
bool edit_next_address(const struct policy *p, struct addr *a, char *err);

#endif

/* netctl-edit-text.c: moat.conf edited as text (see netctl-edit-text.h).
 * The scan here knows only what can hide a brace or a word: `#` comments
 * and double-quoted strings, both ending at a newline as in lex.c. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "host/netctl-edit-text.h"
#include "lib/xalloc.h"

static bool edit_atom_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return !strchr("{},;=#\"$", c);
}

static bool edit_is_word(const struct edit_text *t, size_t at, size_t len, const char *w)
{
	return at != SIZE_MAX && strlen(w) == len && memcmp(t->s + at, w, len) == 0;
}

bool edit_find_vm(const struct edit_text *t, const char *name, struct edit_block *b)
{
	const char *s = t->s;
	size_t i = 0, w1 = SIZE_MAX, l1 = 0, w2 = SIZE_MAX, l2 = 0;
	int depth = 0;
	bool found = false;

	while (i < t->len) {
		unsigned char c = (unsigned char)s[i];
		if (c == '#') {
			while (i < t->len && s[i] != '\n')
				i++;
			continue;
		}
		if (c == '"') {
			for (i++; i < t->len && s[i] != '"' && s[i] != '\n'; i++)
				;
			if (i < t->len && s[i] == '"')
				i++;
			w1 = w2 = SIZE_MAX;
			continue;
		}
		if (edit_atom_char(c)) {
			size_t start = i;
			while (i < t->len && edit_atom_char((unsigned char)s[i]))
				i++;
			w2 = w1, l2 = l1;
			w1 = start, l1 = i - start;
			continue;
		}
		if (c == '{') {
			if (depth == 0 && !found && edit_is_word(t, w2, l2, "vm") &&
			    edit_is_word(t, w1, l1, name)) {
				found = true;
				b->vm = w2;
				b->open = i;
			}
			depth++;
			w1 = w2 = SIZE_MAX;
		} else if (c == '}') {
			if (depth > 0 && --depth == 0 && found) {
				b->close = i;
				return true;
			}
			w1 = w2 = SIZE_MAX;
		} else if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
			w1 = w2 = SIZE_MAX;   /* `vm` and its name may be a line apart from '{', nothing else */
		}
		i++;
	}
	return false;
}

bool edit_check_name(const char *name, char *err)
{
	size_t n = strlen(name);

	if (n > MOAT_NAME_MAX) {
		snprintf(err, EDIT_ERR_MAX, "VM name '%s' is longer than %d characters (it is also an interface name)",
			 name, MOAT_NAME_MAX);
		return false;
	}
	bool ok = n > 0 && name[0] >= 'a' && name[0] <= 'z';
	for (size_t i = 1; ok && i < n; i++)
		ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
		     name[i] == '-';
	if (!ok) {
		snprintf(err, EDIT_ERR_MAX, "bad VM name '%s': a lower-case letter, then letters, digits or '-'",
			 name);
		return false;
	}
	if (strcmp(name, "uplink") == 0 || strcmp(name, "any") == 0) {
		snprintf(err, EDIT_ERR_MAX, "VM name '%s' is reserved", name);
		return false;
	}
	return true;
}

/* LEN bytes of one word; inside a comment's quotes only '"' and control
 * characters are out of place. */
static bool edit_word_ok(const char *w, size_t len, bool quoted, char *err)
{
	if (len == 0 && !quoted) {
		snprintf(err, EDIT_ERR_MAX, "an empty word in the rule");
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)w[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f || c == '"' || (!quoted && strchr("{};#", c))) {
			snprintf(err, EDIT_ERR_MAX, "'%.*s': %s", (int)len, w,
				 quoted ? "a comment is one line without '\"'"
					: "a rule is one statement on one line, without '{', '}', ';', '#' or '\"' outside its comment");
			return false;
		}
	}
	return true;
}

bool edit_rule_text(const char *action, int argc, char *const argv[], const char *until,
		    char *buf, char *err)
{
	char *out = NULL;
	size_t len;
	FILE *f = open_memstream(&out, &len);
	bool ok = true;

	if (!f)
		xalloc_fail();
	fputs(action, f);
	for (int i = 0; i < argc && ok; i++) {
		const char *a = argv[i];
		size_t n = strlen(a);
		if (strcmp(a, "comment") == 0 && until) {
			fprintf(f, " until %s", until);
			until = NULL;
		}
		if (i > 0 && strcmp(argv[i - 1], "comment") == 0) {
			if (n >= 2 && a[0] == '"' && a[n - 1] == '"')
				a++, n -= 2;
			ok = edit_word_ok(a, n, true, err);
			fprintf(f, " \"%.*s\"", (int)n, a);
		} else {
			ok = edit_word_ok(a, n, false, err);
			fprintf(f, " %s", a);
		}
	}
	if (until)
		fprintf(f, " until %s", until);
	fclose(f);
	if (ok && len >= EDIT_RULE_MAX) {
		snprintf(err, EDIT_ERR_MAX, "the rule is longer than %d bytes", EDIT_RULE_MAX - 1);
		ok = false;
	}
	if (ok)
		memcpy(buf, out, len + 1);
	free(out);
	return ok;
}

bool edit_until(const char *duration, time_t now, char *buf, char *err)
{
	static const struct { char unit; long secs; } units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 },
	};
	const long max = 3650L * 86400;
	char *end;
	unsigned long n = strtoul(duration, &end, 10);
	long secs = -1;

	if (end != duration && duration[0] >= '0' && duration[0] <= '9' && end[0] && !end[1])
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (units[i].unit == end[0])
				secs = n > (unsigned long)(max / units[i].secs) ? max + 1 : (long)n * units[i].secs;
	if (secs <= 0) {
		snprintf(err, EDIT_ERR_MAX, "bad duration '%s': a number and s, m, h or d, e.g. 10m or 2h",
			 duration);
		return false;
	}
	if (secs > max) {
		snprintf(err, EDIT_ERR_MAX, "duration '%s' is longer than 3650d", duration);
		return false;
	}
	policy_format_time(now + secs, buf, MOAT_TIME_STRLEN);
	return true;
}

/* ---- splicing ---- */

static size_t edit_line_start(const struct edit_text *t, size_t at)
{
	while (at > 0 && t->s[at - 1] != '\n')
		at--;
	return at;
}

static size_t edit_indent_len(const struct edit_text *t, size_t line)
{
	size_t i = line;
	while (i < t->len && (t->s[i] == ' ' || t->s[i] == '\t'))
		i++;
	return i - line;
}

/* Only spaces and tabs in [from, to). */
static bool edit_blank(const struct edit_text *t, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		if (t->s[i] != ' ' && t->s[i] != '\t')
			return false;
	return true;
}

/* The line at LINE holds nothing but spaces, tabs and its line ending. */
static bool edit_blank_line(const struct edit_text *t, size_t line)
{
	size_t i = line + edit_indent_len(t, line);
	if (i < t->len && t->s[i] == '\r')
		i++;
	return i >= t->len || t->s[i] == '\n';
}

static size_t edit_next_line(const struct edit_text *t, size_t at)
{
	const char *nl = memchr(t->s + at, '\n', t->len - at);
	return nl ? (size_t)(nl - t->s) + 1 : t->len;
}

/* The file's line ending, from its first line. */
static const char *edit_newline(const struct edit_text *t)
{
	const char *nl = memchr(t->s, '\n', t->len);
	return nl && nl > t->s && nl[-1] == '\r' ? "\r\n" : "\n";
}

/* Indentation of the first indented statement in the file (a line starting
 * with a blank and then something other than a comment), else 4 spaces. */
static void edit_file_indent(const struct edit_text *t, const char **ind, size_t *len)
{
	for (size_t line = 0; line < t->len; line = edit_next_line(t, line)) {
		size_t n = edit_indent_len(t, line);
		if (n > 0 && line + n < t->len && !strchr("#\r\n}", t->s[line + n])) {
			*ind = t->s + line;
			*len = n;
			return;
		}
	}
	*ind = "    ";
	*len = 4;
}

/* Indentation of the last statement line inside block B, else the file's. */
static void edit_block_indent(const struct edit_text *t, const struct edit_block *b,
			      const char **ind, size_t *len)
{
	bool found = false;
	for (size_t line = edit_next_line(t, b->open); line < b->close; line = edit_next_line(t, line)) {
		size_t n = edit_indent_len(t, line);
		if (line + n < b->close && !strchr("#\r\n", t->s[line + n])) {
			*ind = t->s + line;
			*len = n;
			found = true;
		}
	}
	if (!found)
		edit_file_indent(t, ind, len);
}

/* Replaces DEL bytes at AT with INS. */
static void edit_splice(struct edit_text *t, size_t at, size_t del, const char *ins, size_t ins_len)
{
	size_t len = t->len - del + ins_len;
	char *s = malloc(len + 1);

	if (!s)
		xalloc_fail();
	memcpy(s, t->s, at);
	memcpy(s + at, ins, ins_len);
	memcpy(s + at + ins_len, t->s + at + del, t->len - at - del);
	s[len] = '\0';
	free(t->s);
	t->s = s;
	t->len = len;
}

static bool edit_find_or_say(const struct edit_text *t, const char *name, struct edit_block *b,
			     char *err)
{
	if (edit_find_vm(t, name, b))
		return true;
	snprintf(err, EDIT_ERR_MAX, "no VM '%s' in the file", name);
	return false;
}

bool edit_append_rule(struct edit_text *t, const char *name, const char *rule, char *err)
{
	struct edit_block b;
	const char *nl = edit_newline(t), *ind;
	size_t ind_len, close_line;
	char *ins = NULL;
	size_t ins_len;
	FILE *f;

	if (!edit_find_or_say(t, name, &b, err))
		return false;
	if (strpbrk(rule, "\r\n")) {
		snprintf(err, EDIT_ERR_MAX, "'%s': a rule is one line", rule);
		return false;
	}
	edit_block_indent(t, &b, &ind, &ind_len);
	close_line = edit_line_start(t, b.close);
	f = open_memstream(&ins, &ins_len);
	if (!f)
		xalloc_fail();
	if (edit_blank(t, close_line, b.close)) {
		fprintf(f, "%.*s%s%s", (int)ind_len, ind, rule, nl);
		fclose(f);
		edit_splice(t, close_line, 0, ins, ins_len);
	} else {
		size_t vm_line = edit_line_start(t, b.vm), cut = b.close;
		size_t vm_ind = edit_blank(t, vm_line, b.vm) ? b.vm - vm_line : 0;
		while (cut > b.open + 1 && (t->s[cut - 1] == ' ' || t->s[cut - 1] == '\t'))
			cut--;
		fprintf(f, "%s%.*s%s%s%.*s", nl, (int)ind_len, ind, rule, nl, (int)vm_ind, t->s + vm_line);
		fclose(f);
		edit_splice(t, cut, b.close - cut, ins, ins_len);
	}
	free(ins);
	return true;
}

bool edit_add_vm(struct edit_text *t, const char *name, const struct addr *addr, char *err)
{
	struct edit_block b;
	const char *nl = edit_newline(t), *ind;
	size_t ind_len, ins_len;
	char a[MOAT_ADDR_STRLEN], *ins = NULL;
	FILE *f;

	if (!edit_check_name(name, err))
		return false;
	if (edit_find_vm(t, name, &b)) {
		snprintf(err, EDIT_ERR_MAX, "VM '%s' is already in the file", name);
		return false;
	}
	addr_format(addr, a, sizeof(a));
	edit_file_indent(t, &ind, &ind_len);
	f = open_memstream(&ins, &ins_len);
	if (!f)
		xalloc_fail();
	if (t->len > 0 && t->s[t->len - 1] != '\n')
		fputs(nl, f);
	if (t->len > 0 && !edit_blank_line(t, edit_line_start(t, t->len - 1)))
		fputs(nl, f);
	fprintf(f, "vm %s {%s%.*saddress %s%s}%s", name, nl, (int)ind_len, ind, a, nl, nl);
	fclose(f);
	edit_splice(t, t->len, 0, ins, ins_len);
	free(ins);
	return true;
}

bool edit_remove_vm(struct edit_text *t, const char *name, char *err)
{
	struct edit_block b;
	size_t start, end, i;

	if (!edit_find_or_say(t, name, &b, err))
		return false;
	start = edit_line_start(t, b.vm);
	if (!edit_blank(t, start, b.vm))
		start = b.vm;
	end = b.close + 1;
	for (i = end; i < t->len && (t->s[i] == ' ' || t->s[i] == '\t'); i++)
		;
	if (i < t->len && t->s[i] == '#')
		while (i < t->len && t->s[i] != '\n')
			i++;
	if (i < t->len && t->s[i] == '\r')
		i++;
	if (i == t->len || t->s[i] == '\n')
		end = i < t->len ? i + 1 : i;
	if (start == edit_line_start(t, start) && (end == t->len || t->s[end - 1] == '\n')) {
		bool blank_before = start == 0 || edit_blank_line(t, edit_line_start(t, start - 1));
		if (blank_before && end < t->len && edit_blank_line(t, end))
			end = edit_next_line(t, end);
		else if (start > 0 && end == t->len && blank_before)
			start = edit_line_start(t, start - 1);
	}
	edit_splice(t, start, end - start, "", 0);
	return true;
}

static uint32_t edit_ipv4(const struct addr *a)
{
	uint32_t v;
	memcpy(&v, a->bytes, 4);
	return ntohl(v);
}

static bool edit_in_use(const struct policy *p, uint32_t a)
{
	for (size_t i = 0; i < p->nvms; i++)
		if (p->vms[i].has_addr && edit_ipv4(&p->vms[i].addr) == a)
			return true;
	return false;
}

bool edit_next_address(const struct policy *p, struct addr *a, char *err)
{
	char net[MOAT_ADDR_STRLEN];

	if (!(p->net.has & NET_HAS_SUBNET) || p->net.subnet.family != AF_INET) {
		snprintf(err, EDIT_ERR_MAX, "no IPv4 subnet in the network block to take an address from");
		return false;
	}
	addr_format(&p->net.subnet, net, sizeof(net));
	uint64_t base = edit_ipv4(&p->net.subnet), size = 1ull << (32 - p->net.subnet.prefix);
	uint64_t first = base + 2, last = base + size - 2, top = 0;   /* .1 is the firewall VM */
	for (size_t i = 0; i < p->nvms; i++) {
		uint32_t v = edit_ipv4(&p->vms[i].addr);
		if (p->vms[i].has_addr && v >= first && v <= last && v > top)
			top = v;
	}
	uint64_t c = top ? top + 1 : first;
	if (c > last)
		c = first;
	for (; c <= last && edit_in_use(p, (uint32_t)c); c++)
		;
	if (c > last) {
		snprintf(err, EDIT_ERR_MAX, "no free address left in subnet %s", net);
		return false;
	}
	uint32_t be = htonl((uint32_t)c);
	memset(a, 0, sizeof(*a));
	a->family = AF_INET;
	a->prefix = 32;
	memcpy(a->bytes, &be, 4);
	return true;
}

/* diag.c: diagnostics that name the file, line and column and quote the line. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"
#include "lib/xalloc.h"

void diags_init(struct diags *d, const char *file, const char *text, size_t len)
{
	memset(d, 0, sizeof(*d));
	d->file = file ? file : "moat.conf";
	d->text = text;
	d->text_len = text ? len : 0;
	d->out_cap = 256;
	d->out = calloc(1, d->out_cap);
	if (!d->out)
		xalloc_fail();
}

void diags_free(struct diags *d)
{
	free(d->out);
	d->out = NULL;
	d->out_len = d->out_cap = 0;
}

static void diag_append(struct diags *d, const char *s, size_t len)
{
	if (d->out_len + len + 1 > d->out_cap) {
		size_t cap = d->out_cap ? d->out_cap : 256;
		char *p;
		while (d->out_len + len + 1 > cap)
			cap *= 2;
		p = realloc(d->out, cap);
		if (!p)
			xalloc_fail();
		d->out = p;
		d->out_cap = cap;
	}
	memcpy(d->out + d->out_len, s, len);
	d->out_len += len;
	d->out[d->out_len] = '\0';
}

static void diag_appendf(struct diags *d, const char *fmt, va_list ap)
{
	char small[256];
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(small, sizeof(small), fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(small)) {
		diag_append(d, small, (size_t)n);
	} else {
		char *big = malloc((size_t)n + 1);
		if (!big)
			xalloc_fail();
		vsnprintf(big, (size_t)n + 1, fmt, ap);
		diag_append(d, big, (size_t)n);
		free(big);
	}
}

static void diag_printf(struct diags *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void diag_printf(struct diags *d, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	diag_appendf(d, fmt, ap);
	va_end(ap);
}

/* The source line LINE (1-based) without its newline; false past the end. */
static bool diag_find_line(const struct diags *d, int line, const char **start, size_t *len)
{
	const char *p = d->text, *end = d->text + d->text_len, *nl;
	int n = 1;

	if (!d->text || line < 1)
		return false;
	while (n < line) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			return false;
		p = nl + 1;
		n++;
	}
	nl = memchr(p, '\n', (size_t)(end - p));
	*start = p;
	*len = (size_t)((nl ? nl : end) - p);
	if (*len > 0 && p[*len - 1] == '\r')
		(*len)--;
	return true;
}

/* The line as is, except control characters (a fuzzed or binary file) that
 * would garble a terminal; the caret copies tabs so it stays aligned, and
 * skips UTF-8 continuation bytes so it counts characters, not bytes. */
static void diag_quote(struct diags *d, struct src_loc loc)
{
	const char *line;
	size_t len, col, i, tildes;

	if (!diag_find_line(d, loc.line, &line, &len))
		return;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];
		char ch = (c < 0x20 && c != '\t') || c == 0x7f ? '?' : (char)c;
		diag_append(d, &ch, 1);
	}
	diag_append(d, "\n", 1);

	col = loc.col < 1 ? 0 : (size_t)loc.col - 1;
	if (col > len)
		col = len;
	for (i = 0; i < col; i++) {
		unsigned char c = (unsigned char)line[i];
		if ((c & 0xc0) == 0x80)
			continue;
		diag_append(d, c == '\t' ? "\t" : " ", 1);
	}
	diag_append(d, "^", 1);
	tildes = loc.len > 1 ? (size_t)loc.len - 1 : 0;
	if (col + 1 + tildes > len)
		tildes = len > col + 1 ? len - col - 1 : 0;
	for (i = 0; i < tildes; i++)
		diag_append(d, "~", 1);
	diag_append(d, "\n", 1);
}

static void diag_emit(struct diags *d, struct src_loc loc, const char *what,
		      const char *fmt, va_list ap)
{
	diag_printf(d, "%s:%d:%d: %s: ", d->file, loc.line, loc.col, what);
	diag_appendf(d, fmt, ap);
	diag_append(d, "\n", 1);
	diag_quote(d, loc);
}

void diag_error(struct diags *d, struct src_loc loc, const char *fmt, ...)
{
	va_list ap;

	d->nerrors++;
	if (d->nerrors > MOAT_MAX_ERRORS) {
		if (!d->capped)
			diag_printf(d, "%s: too many errors, stopping\n", d->file);
		d->capped = true;
		return;
	}
	va_start(ap, fmt);
	diag_emit(d, loc, "error", fmt, ap);
	va_end(ap);
}

void diag_warning(struct diags *d, struct src_loc loc, const char *fmt, ...)
{
	va_list ap;

	d->nwarnings++;
	if (d->nwarnings > MOAT_MAX_ERRORS) {
		if (d->nwarnings == MOAT_MAX_ERRORS + 1)
			diag_printf(d, "%s: too many warnings, not showing the rest\n", d->file);
		return;
	}
	va_start(ap, fmt);
	diag_emit(d, loc, "warning", fmt, ap);
	va_end(ap);
}

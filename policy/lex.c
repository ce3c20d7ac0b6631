/* lex.c: moat.conf text to tokens. The input is not NUL-terminated (it may be
 * a fuzzer's bytes): every read checks the end. A run of printable characters
 * is one atom, classified afterwards, so `8000-8080`, `vm-name`,
 * `shop.example.com`, `2001:db8::/32` and `02:6d:61:00:00:0a` need no context. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "policy/lex.h"

void lex_init(struct lexer *lx, const char *text, size_t len)
{
	lx->p = text;
	lx->end = text + len;
	lx->line_start = text;
	lx->line = 1;
}

/* Bytes an atom is made of: printable ASCII but the punctuation the grammar
 * uses. Called for nearly every byte of the file: a table, not a switch. */
static const bool lex_atom[256] = {
	['!'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['('] = 1, [')'] = 1, ['*'] = 1, ['+'] = 1,
	['-'] = 1, ['.'] = 1, ['/'] = 1, [':'] = 1, ['<'] = 1, ['>'] = 1, ['?'] = 1, ['@'] = 1,
	['['] = 1, ['\\'] = 1, [']'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
	['8'] = 1, ['9'] = 1,
	['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
	['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
	['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
	['Y'] = 1, ['Z'] = 1,
	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
	['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
	['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
	['y'] = 1, ['z'] = 1,
};

static bool lex_atom_char(unsigned char c)
{
	return lex_atom[c];
}

static bool lex_digits(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

static unsigned long lex_number(const char *s, size_t n)
{
	unsigned long v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		v = v * 10 + (unsigned long)(s[i] - '0');
		if (v > LEX_NUMBER_MAX)
			return LEX_NUMBER_MAX + 1;
	}
	return v;
}

static int lex_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static bool lex_mac(const char *s, size_t n, uint8_t mac[6])
{
	int i, hi, lo;

	if (n != 17)
		return false;
	for (i = 0; i < 6; i++) {
		hi = lex_hex(s[i * 3]);
		lo = lex_hex(s[i * 3 + 1]);
		if (hi < 0 || lo < 0 || (i < 5 && s[i * 3 + 2] != ':'))
			return false;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

static int lex_field(const char *s, size_t n)
{
	return lex_digits(s, n) ? (int)lex_number(s, n) : -1;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's method). */
static long lex_days(int y, int m, int d)
{
	long era, yoe, doy, doe;

	y -= m <= 2;
	era = y / 400;
	yoe = y - era * 400;
	doy = (153L * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static bool lex_time(const char *s, size_t n, time_t *t)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, mo, d, h, mi, sec = 0;
	bool leap;

	if ((n != 17 && n != 20) || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
	    s[13] != ':' || s[n - 1] != 'Z' || (n == 20 && s[16] != ':'))
		return false;
	y = lex_field(s, 4);
	mo = lex_field(s + 5, 2);
	d = lex_field(s + 8, 2);
	h = lex_field(s + 11, 2);
	mi = lex_field(s + 14, 2);
	if (n == 20)
		sec = lex_field(s + 17, 2);
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59)
		return false;
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo == 2 && d == 29 && !leap)
		return false;
	*t = (time_t)(lex_days(y, mo, d) * 86400L + h * 3600L + mi * 60L + sec);
	return true;
}

/* Letters, digits, '-' and '.', at least one dot, labels 1-63 characters
 * starting and ending with a letter or digit, the last one not all digits
 * (so that a mistyped address is not taken for a name). */
static bool lex_host(const char *s, size_t n)
{
	size_t i, start = 0;
	bool dot = false, letter = false;

	if (n > MOAT_HOST_MAX)
		return false;
	for (i = 0; i <= n; i++) {
		if (i == n || s[i] == '.') {
			size_t l = i - start;
			if (l == 0 || l > 63 || s[start] == '-' || s[i - 1] == '-')
				return false;
			if (i < n) {
				dot = true;
				letter = false;
			}
			start = i + 1;
		} else if (isalpha((unsigned char)s[i])) {
			letter = true;
		} else if (!isdigit((unsigned char)s[i]) && s[i] != '-') {
			return false;
		}
	}
	return dot && letter;
}

static bool lex_name(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || s[0] < 'a' || s[0] > 'z')
		return false;
	for (i = 1; i < n; i++)
		if (!(s[i] >= 'a' && s[i] <= 'z') && !isdigit((unsigned char)s[i]) && s[i] != '-')
			return false;
	return true;
}

static void lex_classify(struct token *t)
{
	const char *s = t->text, *dash;
	size_t n = t->len;
	char buf[MOAT_ADDR_STRLEN];

	dash = memchr(s, '-', n);
	if (lex_digits(s, n)) {
		t->kind = TOK_NUMBER;
		t->num = lex_number(s, n);
	} else if (dash && lex_digits(s, (size_t)(dash - s)) &&
		   lex_digits(dash + 1, n - (size_t)(dash - s) - 1)) {
		t->kind = TOK_RANGE;
		t->num = lex_number(s, (size_t)(dash - s));
		t->num2 = lex_number(dash + 1, n - (size_t)(dash - s) - 1);
	} else if (n == 1 && s[0] == '-') {
		t->kind = TOK_DASH;
	} else if (lex_name(s, n)) {
		/* first: most atoms are keywords, and a name has neither the colons
		 * of a MAC or a time nor the dot of a host */
		t->kind = TOK_NAME;
	} else if (lex_mac(s, n, t->mac)) {
		t->kind = TOK_MAC;
	} else if (lex_time(s, n, &t->time)) {
		t->kind = TOK_TIME;
	} else if (lex_host(s, n)) {
		t->kind = TOK_HOST;
	} else {
		t->kind = TOK_WORD;
		if (n < sizeof(buf)) {
			memcpy(buf, s, n);
			buf[n] = '\0';
			if (addr_parse(buf, &t->addr, &t->host_bits) || t->host_bits)
				t->kind = TOK_ADDR;
		}
	}
}

static void lex_string(struct lexer *lx, struct token *t)
{
	const char *q = lx->p + 1;

	while (q < lx->end && *q != '"' && *q != '\n')
		q++;
	t->text = lx->p + 1;
	t->len = (size_t)(q - t->text);
	if (q == lx->end || *q != '"') {
		t->kind = TOK_ERROR;
		snprintf(t->error, sizeof(t->error), "string without its closing '\"'");
		t->loc.len = (int)(q - lx->p);
		lx->p = q;
		return;
	}
	t->loc.len = (int)(q + 1 - lx->p);
	lx->p = q + 1;
	t->kind = TOK_STRING;
	for (q = t->text; q < t->text + t->len; q++) {
		unsigned char c = (unsigned char)*q;
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			t->kind = TOK_ERROR;
			snprintf(t->error, sizeof(t->error), "control character 0x%02x in a string", c);
			return;
		}
	}
	if (t->len > MOAT_STRING_MAX) {
		t->kind = TOK_ERROR;
		snprintf(t->error, sizeof(t->error), "string longer than %d bytes", MOAT_STRING_MAX);
	}
}

void lex_next(struct lexer *lx, struct token *t)
{
	const char *tok, *start;
	unsigned char c;

	while (lx->p < lx->end) {
		if (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\r') {
			lx->p++;
		} else if (*lx->p == '#') {
			while (lx->p < lx->end && *lx->p != '\n')
				lx->p++;
		} else {
			break;
		}
	}
	tok = lx->p;
	/* field by field: a memset of the whole token (its error buffer too)
	 * was a quarter of the time spent parsing */
	t->kind = 0;
	t->num = t->num2 = 0;
	memset(&t->addr, 0, sizeof(t->addr));
	t->host_bits = false;
	memset(t->mac, 0, sizeof(t->mac));
	t->time = 0;
	t->error[0] = 0;
	t->loc.line = lx->line;
	t->loc.col = (int)(lx->p - lx->line_start) + 1;
	t->loc.len = 1;
	t->text = lx->p;
	t->len = 1;
	if (lx->p == lx->end) {
		t->kind = TOK_EOF;
		t->len = 0;
		return;
	}
	c = (unsigned char)*lx->p;
	switch (c) {
	case '\n':
		t->kind = TOK_NEWLINE;
		lx->p++;
		lx->line++;
		lx->line_start = lx->p;
		return;
	case '{': t->kind = TOK_LBRACE; lx->p++; return;
	case '}': t->kind = TOK_RBRACE; lx->p++; return;
	case ',': t->kind = TOK_COMMA; lx->p++; return;
	case ';': t->kind = TOK_SEMI; lx->p++; return;
	case '=': t->kind = TOK_EQUALS; lx->p++; return;
	case '"':
		lex_string(lx, t);
		return;
	}
	start = c == '$' ? lx->p + 1 : lx->p;
	lx->p = start;
	while (lx->p < lx->end && lex_atom_char((unsigned char)*lx->p))
		lx->p++;
	if (lx->p == start) {
		if (c == '$') {
			t->kind = TOK_ERROR;
			snprintf(t->error, sizeof(t->error), "'$' without a name after it");
		} else {
			lx->p++;
			t->kind = TOK_ERROR;
			snprintf(t->error, sizeof(t->error), "unexpected byte 0x%02x", c);
		}
		return;
	}
	t->text = start;
	t->len = (size_t)(lx->p - start);
	t->loc.len = (int)(lx->p - tok);
	if (c == '$')
		t->kind = TOK_VAR;
	else
		lex_classify(t);
}

/* lex.h: the tokens of moat.conf (private to the front end). */
#ifndef MOAT_LEX_H
#define MOAT_LEX_H

#include "policy/policy.h"

enum tok {
	TOK_EOF,
	TOK_NEWLINE,
	TOK_LBRACE,
	TOK_RBRACE,
	TOK_COMMA,
	TOK_SEMI,
	TOK_EQUALS,
	TOK_DASH,
	TOK_NAME,     /* [a-z][a-z0-9-]*: keywords, VM and define names */
	TOK_NUMBER,   /* decimal; saturates above LEX_NUMBER_MAX */
	TOK_RANGE,    /* 8000-8080 */
	TOK_ADDR,     /* IPv4 or IPv6, optional /prefix; see host_bits */
	TOK_HOST,     /* host name: at least one dot */
	TOK_MAC,
	TOK_TIME,     /* 2026-12-01T18:00Z */
	TOK_VAR,      /* $NAME: text is what follows the $ */
	TOK_STRING,   /* text is what is between the quotes */
	TOK_WORD,     /* any other run of printable characters */
	TOK_ERROR,    /* a bad byte or string: error says what */
};

#define LEX_NUMBER_MAX 999999999UL

struct token {
	enum tok kind;
	struct src_loc loc;
	const char *text;      /* into the source, not NUL-terminated */
	size_t len;
	unsigned long num, num2;   /* TOK_NUMBER; TOK_RANGE lo and hi */
	struct addr addr;
	bool host_bits;        /* TOK_ADDR written with host bits: addr as written */
	uint8_t mac[6];
	time_t time;
	char error[48];        /* TOK_ERROR */
};

struct lexer {
	const char *p, *end, *line_start;
	int line;
};

void lex_init(struct lexer *lx, const char *text, size_t len);
void lex_next(struct lexer *lx, struct token *t);

#endif

/* SPDX-License-Identifier: ISC */
/*
 * The pure text work of the PostgreSQL driver: parameter rewriting for the
 * SQL text (ours) and bounded parsers for the server's values (not ours).
 */
#include "store/sql_pg_text.h"

#include <string.h>

/* Whether c may continue an identifier (or a dollar-quote tag): a '$'
 * right after one is part of it ("a$1" is one name), not a quote. */
static bool
sql_pg_ident_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c >= 0x80;
}

/* Past the quoted literal or identifier opened at text[i] (quote q, which
 * doubles to escape itself; backslashes escape too in an E'' string);
 * 0 if it is left open. */
static size_t
sql_pg_skip_quoted(const char *text, size_t len, size_t i, char q,
    bool backslash)
{
	for (i++; i < len; i++) {
		if (backslash && text[i] == '\\') {
			i++;
			continue;
		}
		if (text[i] != q)
			continue;
		if (i + 1 < len && text[i + 1] == q) {
			i++;
			continue;
		}
		return i + 1;
	}
	return 0;
}

/* Past the block comment opened at text[i] ("/" "*"), nesting as
 * PostgreSQL does; 0 if it is left open. */
static size_t
sql_pg_skip_block(const char *text, size_t len, size_t i)
{
	size_t depth = 0;

	while (i + 1 < len) {
		if (text[i] == '/' && text[i + 1] == '*') {
			depth++;
			i += 2;
		} else if (text[i] == '*' && text[i + 1] == '/') {
			i += 2;
			if (--depth == 0)
				return i;
		} else
			i++;
	}
	return 0;
}

/* The length of the dollar-quote delimiter ($tag$ or $$) at text[i], or 0
 * if there is none there. A tag does not start with a digit ($1 is a
 * parameter). */
static size_t
sql_pg_dollar_tag(const char *text, size_t len, size_t i)
{
	size_t j = i + 1;

	if (j < len && text[j] >= '0' && text[j] <= '9')
		return 0;
	while (j < len && text[j] != '$' && sql_pg_ident_char(
	    (unsigned char)text[j]))
		j++;
	return j < len && text[j] == '$' ? j + 1 - i : 0;
}

/* Past the dollar-quoted string whose delimiter (tlen bytes) starts at
 * text[i]; 0 if it is left open. */
static size_t
sql_pg_skip_dollar(const char *text, size_t len, size_t i, size_t tlen)
{
	for (size_t j = i + tlen; j + tlen <= len; j++)
		if (memcmp(text + j, text + i, tlen) == 0)
			return j + tlen;
	return 0;
}

/* Read the N of "?N" at text[i]; *end past it. -1 if it is no valid N. */
static int
sql_pg_param(const char *text, size_t len, size_t i, size_t *end, int *n)
{
	size_t j = i + 1;
	long v = 0;

	/* Glued to a name ("a?1" would be "a$1", one identifier to
	 * PostgreSQL) or to a '$' ("$x?1" would open a dollar quote): refused,
	 * as is a name glued after it. */
	if (i > 0 && (text[i - 1] == '$' || sql_pg_ident_char(
	    (unsigned char)text[i - 1])))
		return -1;
	if (j >= len || text[j] < '1' || text[j] > '9')
		return -1;
	for (; j < len && text[j] >= '0' && text[j] <= '9'; j++) {
		v = v * 10 + (text[j] - '0');
		if (v > SQL_PG_PARAMS_MAX)
			return -1;
	}
	if (j < len && (text[j] == '$' || sql_pg_ident_char(
	    (unsigned char)text[j])))
		return -1;
	*end = j;
	*n = (int)v;
	return 0;
}

/* Where the token at text[i] ends: past its quote or comment, 0 if that
 * is left open, i + 1 if it is neither. */
static size_t
sql_pg_skip(const char *text, size_t len, size_t i)
{
	char c = text[i];
	bool word = i > 0 && sql_pg_ident_char((unsigned char)text[i - 1]);
	size_t t;

	if (c == '\'') {
		/* E'...' or e'...', where E starts a token of its own. */
		bool esc = i > 0 && (text[i - 1] == 'E' || text[i - 1] ==
		    'e') && !(i > 1 && sql_pg_ident_char(
		    (unsigned char)text[i - 2]));
		return sql_pg_skip_quoted(text, len, i, '\'', esc);
	}
	if (c == '"')
		return sql_pg_skip_quoted(text, len, i, '"', false);
	if (c == '-' && i + 1 < len && text[i + 1] == '-') {
		const char *nl = memchr(text + i, '\n', len - i);

		return nl != NULL ? (size_t)(nl - text) + 1 : len;
	}
	if (c == '/' && i + 1 < len && text[i + 1] == '*')
		return sql_pg_skip_block(text, len, i);
	if (c == '$' && !word && (t = sql_pg_dollar_tag(text, len, i)) > 0)
		return sql_pg_skip_dollar(text, len, i, t);
	return i + 1;
}

int
sql_pg_params_rewrite(const char *text, size_t len, char *out,
    size_t outlen, int *nparams)
{
	size_t i = 0, end;
	int n, max = 0;

	if (outlen < len + 1 || memchr(text, '\0', len) != NULL)
		return -1;
	while (i < len) {
		if (text[i] == '?') {
			if (sql_pg_param(text, len, i, &end, &n) == -1)
				return -1;
			out[i] = '$';
			memcpy(out + i + 1, text + i + 1, end - i - 1);
			if (n > max)
				max = n;
			i = end;
			continue;
		}
		if ((end = sql_pg_skip(text, len, i)) == 0)
			return -1;
		memcpy(out + i, text + i, end - i);
		i = end;
	}
	out[len] = '\0';
	*nparams = max;
	return 0;
}

int
sql_pg_int64_parse(const char *s, size_t len, int64_t *v)
{
	uint64_t u = 0, lim = INT64_MAX;
	bool neg = false;
	size_t i = 0;

	if (len > 0 && s[0] == '-') {
		neg = true;
		lim = (uint64_t)INT64_MAX + 1;
		i = 1;
	}
	/* The server's canonical form only: no "-0", no leading zero. */
	if (i == len || len - i > 19 || (s[i] == '0' && (len - i > 1 || neg)))
		return -1;
	for (; i < len; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = (unsigned)(s[i] - '0');
		if (u > (lim - d) / 10)
			return -1;
		u = u * 10 + d;
	}
	*v = neg ? (u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u) :
	    (int64_t)u;
	return 0;
}

static int
sql_pg_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
sql_pg_bytea_decode(const char *s, size_t len, uint8_t *out, size_t outlen,
    size_t *outn)
{
	size_t n;

	if (len < 2 || s[0] != '\\' || s[1] != 'x' || (len - 2) % 2 != 0)
		return -1;
	n = (len - 2) / 2;
	if (n > outlen)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int hi = sql_pg_hexval(s[2 + 2 * i]);
		int lo = sql_pg_hexval(s[3 + 2 * i]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	*outn = n;
	return 0;
}

enum sql_pg_state
sql_pg_state_class(const char *st)
{
	if (st == NULL || strnlen(st, 6) != 5)
		return SQL_PG_STATE_ERROR;
	if (strncmp(st, "23", 2) == 0)
		return SQL_PG_STATE_CONSTRAINT;
	/* 08: connection exception; 57P01..03: admin shutdown, crash
	 * shutdown, cannot connect now (the server starting or stopping). */
	if (strncmp(st, "08", 2) == 0 || strcmp(st, "57P01") == 0 ||
	    strcmp(st, "57P02") == 0 || strcmp(st, "57P03") == 0)
		return SQL_PG_STATE_UNAVAILABLE;
	return SQL_PG_STATE_ERROR;
}

bool
sql_pg_state_ended(const char *st)
{
	/* 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect
	 * now: the server ended the session, rolling back what it ran. */
	return st != NULL && strnlen(st, 6) == 5 && (strcmp(st, "57P01") ==
	    0 || strcmp(st, "57P02") == 0 || strcmp(st, "57P03") == 0);
}

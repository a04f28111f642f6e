/* SPDX-License-Identifier: ISC */
/*
 * The pure text work of the PostgreSQL driver (sql_pg.c), apart so that it
 * is unit-tested and fuzzed: ?N parameters turned into $N, and the values
 * the server sends (integers, bytea in hex) parsed with explicit bounds.
 * The SQL text is ours; the server's values are not trusted.
 */
#ifndef SEALMAIL_STORE_SQL_PG_TEXT_H
#define SEALMAIL_STORE_SQL_PG_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The highest ?N a statement may use: SQLite's default limit (32766),
 * below PostgreSQL's 65535. */
#define SQL_PG_PARAMS_MAX	32766

/*
 * Copy the len bytes of text into out (outlen >= len + 1; NUL-terminated),
 * each parameter ?N written $N, which keeps the length. A '?' inside a
 * 'literal' (E'...' with backslash escapes too), a "quoted identifier", a
 * $tag$dollar-quoted$tag$ string or a comment (-- to the end of the line,
 * nested block comments) is left alone. *nparams is the highest N. -1 if
 * a '?' outside them is not followed by 1..SQL_PG_PARAMS_MAX without a
 * leading zero (an anonymous '?' would number differently in the two
 * backends), a ?N touches a name or a '$' on either side, a quote or
 * comment is left open, text holds a NUL, or out is too small.
 */
int sql_pg_params_rewrite(const char *text, size_t len, char *out,
    size_t outlen, int *nparams);

/* A decimal integer as the server writes one: an optional '-' and 1 to 19
 * digits without a leading zero (nor "-0"), the whole of s (len bytes)
 * and within int64_t. */
int sql_pg_int64_parse(const char *s, size_t len, int64_t *v);

/* Decode a bytea value in hex output format ("\x" then pairs of hex
 * digits, either case) into out, which holds outlen >= (len - 2) / 2
 * bytes; *outn is the length decoded. -1 if it is not that format. */
int sql_pg_bytea_decode(const char *s, size_t len, uint8_t *out,
    size_t outlen, size_t *outn);

/* What an error's SQLSTATE (5 characters) means to the caller. */
enum sql_pg_state {
	SQL_PG_STATE_ERROR,		/* anything else */
	SQL_PG_STATE_CONSTRAINT,	/* class 23: integrity constraint */
	SQL_PG_STATE_UNAVAILABLE,	/* class 08, 57P01..57P03 */
};
enum sql_pg_state sql_pg_state_class(const char *sqlstate);
/* Whether the server ended the session (57P01..57P03): a statement it
 * answered so never ran, or was rolled back. */
bool sql_pg_state_ended(const char *sqlstate);

#endif

/* SPDX-License-Identifier: ISC */
/*
 * The public calls of sql.h, each handed to the driver of the connection
 * or statement (sql_driver.h): sql_sqlite.c or sql_pg.c.
 */
#include "store/sql.h"

#include "store/sql_driver.h"

void
sql_close(struct sql *sql)
{
	if (sql != NULL)
		sql->drv->close(sql);
}

enum sql_backend
sql_backend(const struct sql *sql)
{
	return sql->drv->backend;
}

const char *
sql_errmsg(const struct sql *sql)
{
	return sql->drv->errmsg(sql);
}

enum sql_rc
sql_exec(struct sql *sql, const char *text)
{
	return sql->drv->exec(sql, text);
}

enum sql_rc
sql_begin(struct sql *sql, bool write)
{
	return sql->drv->begin(sql, write);
}

enum sql_rc
sql_commit(struct sql *sql)
{
	return sql->drv->commit(sql);
}

void
sql_rollback(struct sql *sql)
{
	sql->drv->rollback(sql);
}

struct sql_stmt *
sql_prepare(struct sql *sql, const char *text)
{
	return sql->drv->prepare(sql, text);
}

void
sql_finalize(struct sql_stmt *st)
{
	if (st != NULL)
		st->drv->finalize(st);
}

enum sql_rc
sql_bind_text(struct sql_stmt *st, int idx, const char *s)
{
	return st->drv->bind_text(st, idx, s);
}

enum sql_rc
sql_bind_int64(struct sql_stmt *st, int idx, int64_t v)
{
	return st->drv->bind_int64(st, idx, v);
}

enum sql_rc
sql_bind_blob(struct sql_stmt *st, int idx, const void *p, size_t len)
{
	return st->drv->bind_blob(st, idx, p, len);
}

enum sql_rc
sql_bind_null(struct sql_stmt *st, int idx)
{
	return st->drv->bind_null(st, idx);
}

int
sql_bind_count(const struct sql_stmt *st)
{
	return st->drv->bind_count(st);
}

enum sql_rc
sql_step(struct sql_stmt *st)
{
	return st->drv->step(st);
}

bool
sql_column_null(struct sql_stmt *st, int col)
{
	return st->drv->column_null(st, col);
}

const char *
sql_column_text(struct sql_stmt *st, int col)
{
	return st->drv->column_text(st, col);
}

int64_t
sql_column_int64(struct sql_stmt *st, int col)
{
	return st->drv->column_int64(st, col);
}

const void *
sql_column_blob(struct sql_stmt *st, int col, size_t *len)
{
	return st->drv->column_blob(st, col, len);
}

void
sql_reset(struct sql_stmt *st)
{
	if (st != NULL)
		st->drv->reset(st);
}

int64_t
sql_changes(const struct sql *sql)
{
	return sql->drv->changes(sql);
}

void
sql_release_memory(struct sql *sql)
{
	sql->drv->release_memory(sql);
}

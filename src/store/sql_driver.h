/* SPDX-License-Identifier: ISC */
/*
 * What a driver behind sql.h provides: one table of functions, reached
 * through the first member of its connection and statement structures
 * (struct sql and struct sql_stmt below), so that sql.c dispatches the
 * public calls to SQLite or PostgreSQL. Only the drivers and sql.c
 * include this header.
 */
#ifndef SEALMAIL_STORE_SQL_DRIVER_H
#define SEALMAIL_STORE_SQL_DRIVER_H

#include "store/sql.h"

struct sql_driver {
	enum sql_backend backend;
	void		(*close)(struct sql *);
	const char	*(*errmsg)(const struct sql *);
	enum sql_rc	(*exec)(struct sql *, const char *);
	enum sql_rc	(*begin)(struct sql *, bool);
	enum sql_rc	(*commit)(struct sql *);
	void		(*rollback)(struct sql *);
	struct sql_stmt	*(*prepare)(struct sql *, const char *);
	void		(*finalize)(struct sql_stmt *);
	enum sql_rc	(*bind_text)(struct sql_stmt *, int, const char *);
	enum sql_rc	(*bind_int64)(struct sql_stmt *, int, int64_t);
	enum sql_rc	(*bind_blob)(struct sql_stmt *, int, const void *,
			    size_t);
	enum sql_rc	(*bind_null)(struct sql_stmt *, int);
	int		(*bind_count)(const struct sql_stmt *);
	enum sql_rc	(*step)(struct sql_stmt *);
	bool		(*column_null)(struct sql_stmt *, int);
	const char	*(*column_text)(struct sql_stmt *, int);
	int64_t		(*column_int64)(struct sql_stmt *, int);
	const void	*(*column_blob)(struct sql_stmt *, int, size_t *);
	void		(*reset)(struct sql_stmt *);
	int64_t		(*changes)(const struct sql *);
	void		(*release_memory)(struct sql *);
};

/* The first member of every driver's connection ... */
struct sql {
	const struct sql_driver *drv;
};

/* ... and statement. */
struct sql_stmt {
	const struct sql_driver *drv;
};

#endif

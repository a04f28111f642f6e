/* SPDX-License-Identifier: ISC */
/*
 * [store]: which database holds users, aliases and report data (backend =
 * sqlite, the file in data_dir, or postgresql), the PostgreSQL connection
 * string and the file holding its password, and the checks that need the
 * whole file. Kept apart from conf_parse.c so the section is one file.
 */
#include <libpq-fe.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf_internal.h"
#include "core/log.h"
#include "core/xmalloc.h"

static int
conf_store_parse_backend(struct conf_parse *p, void *base, const char *v)
{
	struct conf *c = base;

	if (strcmp(v, "sqlite") == 0)
		c->store_backend = CONF_STORE_SQLITE;
	else if (strcmp(v, "postgresql") == 0)
		c->store_backend = CONF_STORE_POSTGRESQL;
	else
		return conf_parse_fail(p, "must be sqlite or postgresql");
	return 0;
}

static void
conf_store_print_backend(FILE *fp, const void *base, const struct conf_key *k)
{
	const struct conf *c = base;

	fprintf(fp, "%s = %s\n", k->name, c->store_backend ==
	    CONF_STORE_POSTGRESQL ? "postgresql" : "sqlite");
}

/*
 * A libpq connection string, key=value or postgresql:// URI, parsed by
 * libpq itself so that what we accept is what it will connect with. A
 * password in it is refused: the config file is for reading
 * (check-config prints it), the password belongs in
 * postgresql_password_file. The value is never echoed in an error, since
 * it may hold the password after all.
 */
bool
conf_store_dsn_ok(const char *v, char *why, size_t whylen)
{
	PQconninfoOption *opts;
	char *perr = NULL, esc[200];
	bool has_password = false;

	if ((opts = PQconninfoParse(v, &perr)) == NULL) {
		size_t n = perr != NULL ? strcspn(perr, "\r\n") : 0;

		snprintf(why, whylen, "not a libpq connection string: %s",
		    perr != NULL ? log_escape(perr, n, esc, sizeof(esc)) :
		    "out of memory");
		PQfreemem(perr);
		return false;
	}
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val != NULL &&
		    o->val[0] != '\0')
			has_password = true;
	PQconninfoFree(opts);
	if (has_password) {
		snprintf(why, whylen, "must not hold a password (password= "
		    "or user:password@ in a URI): put it in "
		    "postgresql_password_file");
		return false;
	}
	return true;
}

/* Set *field from a connection string (empty: unset). */
static int
conf_store_set_dsn(struct conf_parse *p, char **field, const char *v)
{
	char why[300];

	free(*field);
	*field = NULL;
	if (*v == '\0')
		return 0;
	if (!conf_store_dsn_ok(v, why, sizeof(why)))
		return conf_parse_fail(p, "%s", why);
	*field = xstrdup(v);
	return 0;
}

static int
conf_store_parse_dsn(struct conf_parse *p, void *base, const char *v)
{
	return conf_store_set_dsn(p, &((struct conf *)base)->store_postgresql,
	    v);
}

static int
conf_store_parse_keys_dsn(struct conf_parse *p, void *base, const char *v)
{
	return conf_store_set_dsn(p,
	    &((struct conf *)base)->store_keys_postgresql, v);
}

static void
conf_store_print_str(FILE *fp, const char *name, const char *v)
{
	fprintf(fp, "%s =%s%s\n", name, v != NULL ? " " : "", v != NULL ? v :
	    "");
}

static void
conf_store_print_dsn(FILE *fp, const void *base, const struct conf_key *k)
{
	conf_store_print_str(fp, k->name,
	    ((const struct conf *)base)->store_postgresql);
}

static void
conf_store_print_keys_dsn(FILE *fp, const void *base,
    const struct conf_key *k)
{
	conf_store_print_str(fp, k->name,
	    ((const struct conf *)base)->store_keys_postgresql);
}

const struct conf_key conf_keys_store[CONF_STORE_NKEYS] = {
	{ "backend", CONF_T_CUSTOM, 0, 0, 0, 0, conf_store_parse_backend,
	    conf_store_print_backend },
	{ "postgresql", CONF_T_CUSTOM, 0, 0, 0, 0, conf_store_parse_dsn,
	    conf_store_print_dsn },
	{ "postgresql_password_file", CONF_T_PATH,
	    offsetof(struct conf, store_postgresql_password_file), 0, 0, 0,
	    NULL, NULL },
	{ "keys_postgresql", CONF_T_CUSTOM, 0, 0, 0, 0,
	    conf_store_parse_keys_dsn, conf_store_print_keys_dsn },
	{ "keys_postgresql_password_file", CONF_T_PATH,
	    offsetof(struct conf, store_keys_postgresql_password_file), 0, 0,
	    0, NULL, NULL },
};

int
conf_store_check(struct conf_parse *p)
{
	struct conf *c = p->c;
	c->store_backend_line = conf_parse_line_of(p, CONF_SEC_STORE,
	    "backend");
	if (c->store_backend == CONF_STORE_SQLITE) {
		const struct { const char *key, *v; } pg_only[] = {
			{ "postgresql", c->store_postgresql },
			{ "postgresql_password_file",
			    c->store_postgresql_password_file },
			{ "keys_postgresql", c->store_keys_postgresql },
			{ "keys_postgresql_password_file",
			    c->store_keys_postgresql_password_file },
		};

		for (size_t i = 0; i < sizeof(pg_only) / sizeof(pg_only[0]);
		    i++)
			if (pg_only[i].v != NULL)
				conf_parse_warn_at(p, conf_parse_line_of(p,
				    CONF_SEC_STORE, pg_only[i].key), "[store]",
				    pg_only[i].key, "has no effect without "
				    "backend = postgresql");
		return 0;
	}
	if (c->store_postgresql == NULL)
		return conf_parse_fail_at(p, c->store_backend_line, "[store]",
		    "postgresql", "missing: backend = postgresql needs the "
		    "connection string (postgresql = host=... dbname=... "
		    "user=...)");
	if (c->store_keys_postgresql == NULL &&
	    c->store_keys_postgresql_password_file != NULL)
		conf_parse_warn_at(p, conf_parse_line_of(p, CONF_SEC_STORE,
		    "keys_postgresql_password_file"), "[store]",
		    "keys_postgresql_password_file", "has no effect without "
		    "keys_postgresql (the keys process connects as the "
		    "postgresql role, with its password)");
	/* Every node would keep its own copy of a mailbox. */
	if (c->delivery_local == CONF_LOCAL_MAILDIR)
		conf_parse_warn_at(p, c->store_backend_line, "[store]",
		    "backend", "postgresql with [delivery] local = maildir: "
		    "each node delivers into its own data_dir/mail, splitting "
		    "mailboxes across nodes, unless all nodes share that "
		    "storage; deliver over LMTP to a Dovecot that all nodes "
		    "use (local = lmtp:HOST:PORT)");
	return 0;
}

void
conf_store_free(struct conf *c)
{
	free(c->store_postgresql);
	free(c->store_postgresql_password_file);
	free(c->store_keys_postgresql);
	free(c->store_keys_postgresql_password_file);
	conf_store_forget(&c->store_postgresql_password);
	conf_store_forget(&c->store_keys_postgresql_password);
	c->store_postgresql = NULL;
	c->store_postgresql_password_file = NULL;
	c->store_keys_postgresql = NULL;
	c->store_keys_postgresql_password_file = NULL;
}

void
conf_store_forget(char **secret)
{
	if (*secret == NULL)
		return;
	explicit_bzero(*secret, strlen(*secret));
	free(*secret);
	*secret = NULL;
}

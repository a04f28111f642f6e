/* SPDX-License-Identifier: ISC */
/*
 * Internals of the configuration module, shared by conf.c (load, print,
 * lookups), conf_parse.c (the inih reader and key handlers) and conf_check.c
 * (value syntax and the checks that need the whole file). Nothing outside
 * src/conf/ should include this, except cli_init.c, which validates the host
 * and domain names it is given with conf_valid_hostname().
 *
 * One table (conf_sections) describes every section and key: its type,
 * where it lives, its bounds, and how to print it. The parser and
 * conf_print() both walk it, so a key cannot be parsed but not printed.
 */
#ifndef SEALMAIL_CONF_CONF_INTERNAL_H
#define SEALMAIL_CONF_CONF_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "conf/conf.h"

#define CONF_PRINT_WRAP		72	/* where conf_print wraps lists */
#define CONF_LISTEN_NAME_MAX	32
#define CONF_MAX_KEYS		32	/* keys per section, for seen_line */
/* Bounds on repeated things: a config is trusted, but the fuzzer is not. */
#define CONF_MAX_LISTENERS	64
#define CONF_MAX_ADDRS		64	/* per listener */
#define CONF_MAX_DOMAINS	10000
#define CONF_MAX_CERTS		16
#define CONF_MAX_NETWORKS	1024
#define CONF_MAX_RETRIES	64
#define CONF_MAX_RESOLVERS	16
#define CONF_MAX_POLICIES	10000
#define CONF_MAX_MX_MATCH	64	/* per [policy] */
#define CONF_MAX_INBOX		64	/* [reports] inbox */
#define CONF_MAX_PROTECT	1024	/* [lookalike] protect */

enum conf_section_kind {
	CONF_SEC_SERVER,
	CONF_SEC_TLS,
	CONF_SEC_LISTEN,
	CONF_SEC_DOMAIN,
	CONF_SEC_DELIVERY,
	CONF_SEC_AUTH,
	CONF_SEC_DNS,
	CONF_SEC_POLICY,
	CONF_SEC_REPORTS,
	CONF_SEC_FORWARDING,
	CONF_SEC_LIMITS,
	CONF_SEC_LOOKALIKE,
	CONF_SEC_MILTER,
	CONF_SEC_STORE,
	CONF_SEC_COUNT,
};

enum conf_type {
	CONF_T_UINT,		/* unsigned, decimal */
	CONF_T_SIZE,		/* size_t, bytes, decimal */
	CONF_T_DURATION,	/* unsigned seconds: N, Ns, Nm, Nh, Nd */
	CONF_T_BOOL,		/* bool: yes/no/true/false/on/off/1/0 */
	CONF_T_PATH,		/* char *: absolute path, empty = NULL */
	CONF_T_CUSTOM,		/* set and print functions */
};

#define CONF_KEY_LIST	0x01	/* comma list; continuation lines allowed */
#define CONF_KEY_REPEAT	0x02	/* may appear more than once ([tls] cert,
				 * [domain] dkim_selector) */

struct conf_parse;
struct conf_key;

/* Parse `value` into the field at `base`; on error call conf_parse_fail()
 * and return -1. */
typedef int conf_set_fn(struct conf_parse *, void *base, const char *value);
/* Write the key's whole line(s), "key = value\n", as conf_load reads them. */
typedef void conf_print_fn(FILE *, const void *base, const struct conf_key *);

struct conf_key {
	const char		*name;
	enum conf_type		 type;
	size_t			 off;	/* field offset from the section base */
	unsigned long long	 min, max;
	unsigned		 flags;
	conf_set_fn		*set;	/* CONF_T_CUSTOM only */
	conf_print_fn		*print;	/* CONF_T_CUSTOM only; NULL: not printed
					 * by the generic loop ([tls] pairs) */
};

struct conf_section {
	const char		*name;	/* "server", "listen", ... */
	enum conf_section_kind	 kind;
	bool			 named;	/* [listen "NAME"], [domain "NAME"] */
	const struct conf_key	*keys;
	size_t			 nkeys;
};

extern const struct conf_section conf_sections[CONF_SEC_COUNT];

/* State of one conf_load() call, shared by the reader and the handler. */
struct conf_parse {
	struct conf		*c;
	const char		*path;
	FILE			*fp;
	char			*line;		/* getline buffer */
	size_t			 linecap;
	unsigned		 lineno;	/* of the line inih is handling */

	const struct conf_section *sec;		/* NULL before any header */
	char			 sectext[300];	/* "[listen \"mx\"]" for errors */
	void			*base;		/* struct conf, listener, domain */
	unsigned		 seen_line[CONF_SEC_COUNT][CONF_MAX_KEYS];

	const struct conf_key	*key;		/* key being set, for errors */
	const struct conf_key	*cont_key;	/* a continuation may follow */
	bool			 continuation;	/* this line continues cont_key */

	unsigned		 cert_pending;	/* line of a cert without key */
	unsigned		 dkim_pending;	/* line of a dkim_selector
						 * without dkim_key */
	unsigned		 dkim_line[CONF_MAX_DKIM]; /* per pair of the
						 * current domain */
	unsigned		 server_line;	/* first [server] header */
	unsigned		*listener_line;	/* header line per listener */
	unsigned		 hostname_line;	/* 0: default */

	bool			 failed;
	char			*err;
	size_t			 errlen;
};

/*
 * Record the first error as "FILE:LINE: [section] key: problem" (the section
 * and key parts when known). Later calls do nothing. Always returns -1.
 */
int conf_parse_fail(struct conf_parse *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Same, at an explicit line and with explicit section and key text (either
 * may be NULL). */
int conf_parse_fail_at(struct conf_parse *p, unsigned line, const char *sec,
    const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Add a warning of the same shape to p->c->warnings; loading goes on. */
void conf_parse_warn_at(struct conf_parse *p, unsigned line, const char *sec,
    const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Run inih over p->fp with the preprocessing reader. 0 or -1. */
int conf_parse_run(struct conf_parse *p);
/* The line where key was set in a singleton section, else a fallback. */
unsigned conf_parse_line_of(const struct conf_parse *p,
    enum conf_section_kind kind, const char *key);

/* Printers of the CONF_T_CUSTOM keys (conf.c). */
conf_print_fn conf_print_hostname, conf_print_user, conf_print_workers,
    conf_print_networks, conf_print_bare_newline, conf_print_certs,
    conf_print_min_version, conf_print_address, conf_print_role,
    conf_print_tls, conf_print_dkim, conf_print_local,
    conf_print_relayhost, conf_print_retry_schedule, conf_print_resolver,
    conf_print_recipient_delimiter, conf_print_policy_tls,
    conf_print_mx_match, conf_print_reports_from, conf_print_org_name,
    conf_print_inbox, conf_print_domain_sts, conf_print_sts_mx,
    conf_print_passdb, conf_print_dnsbl, conf_print_protect,
    conf_print_lookalike_action;

/* "name = " and the n networks as a list (conf.c). */
void conf_print_network_list(FILE *fp, const char *name,
    const struct conf_network *nets, size_t n);
/* Parse network v and append it to *nets (*n of them; at most
 * CONF_MAX_NETWORKS), noting the line (conf_parse.c). 0 or -1. */
int conf_parse_network_add(struct conf_parse *p, struct conf_network **nets,
    size_t *n, const char *v);

/* conf_proxy.c: [listen] proxy_from, and the check of a listener's
 * PROXY protocol keys (sec: "[listen \"NAME\"]" for messages). */
conf_set_fn conf_parse_proxy_from;
conf_print_fn conf_print_proxy_from;
int conf_check_proxy(struct conf_parse *p, size_t i, const char *sec);

/* conf_milter.c: [milter "NAME"]: its keys (CONF_MILTER_NKEYS of them),
 * a new section at its header, the checks once the file is read (every
 * listener named exists, something applies), and freeing. */
#define CONF_MILTER_NKEYS	7
#define CONF_MAX_MILTERS	16
extern const struct conf_key conf_keys_milter[CONF_MILTER_NKEYS];
int conf_milter_new(struct conf_parse *p, const char *name);
int conf_milter_check(struct conf_parse *p);
void conf_milter_free(struct conf *c);

/* conf_store.c: [store]: its keys, the checks once the file is read
 * (backend against the other keys and [delivery] local), and freeing. */
#define CONF_STORE_NKEYS	5
extern const struct conf_key conf_keys_store[CONF_STORE_NKEYS];
int conf_store_check(struct conf_parse *p);
void conf_store_free(struct conf *c);

/* Set defaults in a fresh conf (hostname excepted: see conf_check_all). */
void conf_check_defaults(struct conf *c);

/* workers = auto: the number of online CPUs, within 1..256. */
unsigned conf_check_workers_auto(void);
/* Checks that need the whole file: defaults that depend on the system,
 * at least one listener, TLS present when a listener needs it, ... */
int conf_check_all(struct conf_parse *p);

/*
 * Value syntax, shared by the key handlers. Each returns 0, or -1 after
 * writing a short problem (no file or key) into why.
 */
int conf_check_uint(const char *s, unsigned long long min,
    unsigned long long max, unsigned long long *out, char *why, size_t len);
int conf_check_duration(const char *s, unsigned long long min,
    unsigned long long max, unsigned long long *out, char *why, size_t len);
int conf_check_bool(const char *s, bool *out, char *why, size_t len);
int conf_check_port(const char *s, unsigned *out, char *why, size_t len);
/* "IPv4:PORT" or "[IPv6]:PORT"; fills ss, len and the canonical text. */
int conf_check_sockaddr(const char *s, struct conf_sockaddr *out, char *why,
    size_t len);
/* "ADDR/PREFIX" or a bare address; host bits are cleared. */
int conf_check_network(const char *s, struct conf_network *out, char *why,
    size_t len);
/* Does addr (4 or 16 bytes, n's family) fall inside n? */
bool conf_network_match(const struct conf_network *n,
    const unsigned char *addr);
/* Canonical "ADDR/PREFIX" text into out (at least 64 bytes). */
void conf_network_to_text(const struct conf_network *n, char *out,
    size_t len);
/* Canonical duration text ("5m", "90s", "5d") into out. */
void conf_duration_to_text(unsigned long long secs, char *out, size_t len);

/* DKIM selector: dot-separated labels as above, digits-only allowed. */
bool conf_valid_selector(const char *s);

/* Split a comma list: calls fn on each trimmed item. An empty item is an
 * error except after a trailing comma. 0, or fn's -1. */
int conf_check_list(struct conf_parse *p, void *base, const char *value,
    conf_set_fn *fn);

/* A list key kept as a vector of strings (*v, *n): reset empties it when
 * the key starts (not on a continuation line), then conf_check_list's
 * item function adds each item with add, which takes item and refuses
 * (-1, reported) past max (what names the items in the error). */
/* "name = a, b, ..." (wrapped as every list key is). */
void conf_print_strv(FILE *fp, const char *name, const char *const *items,
    size_t n);
void conf_parse_strv_reset(struct conf_parse *p, char ***v, size_t *n);
int conf_parse_strv_add(struct conf_parse *p, char ***v, size_t *n,
    size_t max, const char *what, char *item);

/* A copy of mail address v with the domain lower-cased (local parts are
 * case-sensitive): the one form of an address key. The caller frees it. */
char *conf_parse_address_dup(const char *v);

#endif

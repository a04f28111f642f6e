/* SPDX-License-Identifier: ISC */
/*
 * The configuration: DESIGN.md §5's INI file parsed (inih) and checked into
 * an immutable struct conf. Every key, its default and its field share one
 * stem. The parser trusts nothing in the file; every error names file, line
 * and key.
 */
#ifndef SEALMAIL_CONF_CONF_H
#define SEALMAIL_CONF_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

/*
 * Scalar string values (paths, names) are capped so that conf_print(), which
 * writes "key = value", never produces a line longer than inih's line buffer
 * (200 bytes in Debian's build, with room for CR, LF and NUL).
 */
#define CONF_VALUE_MAX		160

/* recipient_delimiter: up to this many delimiter characters. */
#define CONF_DELIMITER_MAX	8

enum conf_role {
	CONF_ROLE_MX,
	CONF_ROLE_SUBMISSION,
	CONF_ROLE_HTTPS,	/* our MTA-STS policy (RFC 8461 §3.3) */
	CONF_ROLE_ADMIN,	/* /metrics and the status page */
};

/* True for the roles that speak HTTP rather than SMTP. */
#define CONF_ROLE_IS_HTTP(r)	((r) == CONF_ROLE_HTTPS || (r) == CONF_ROLE_ADMIN)

/* Where `sealmail sendmail` hands mail to the daemon (a unix socket any
 * local user may connect to; see net/localsock.h). */
#define CONF_DEFAULT_SUBMIT_SOCKET	"/run/sealmail/submit.sock"

enum conf_tls_mode {
	CONF_TLS_STARTTLS,
	CONF_TLS_IMPLICIT,
	CONF_TLS_NONE,
};

/* What to do with a bare LF or bare CR inside DATA/BDAT. */
enum conf_bare_newline {
	CONF_BARE_NEWLINE_NORMALIZE,	/* turn it into CRLF (default) */
	CONF_BARE_NEWLINE_REJECT,	/* reject the message with 550 5.6.0 */
};

enum conf_store_backend {
	CONF_STORE_SQLITE,		/* data_dir/sealmail.db (default) */
	CONF_STORE_POSTGRESQL,		/* [store] postgresql */
};

enum conf_local_delivery {
	CONF_LOCAL_MAILDIR,
	CONF_LOCAL_LMTP_UNIX,		/* lmtp:unix:/path */
	CONF_LOCAL_LMTP_INET,		/* lmtp:HOST:PORT */
};

struct conf_sockaddr {
	struct sockaddr_storage	ss;
	socklen_t		len;
	char			text[64];	/* "127.0.0.1:25", "[::1]:25" */
};

struct conf_listener {
	char			*name;		/* the [listen "NAME"] label */
	struct conf_sockaddr	*addrs;
	size_t			 naddrs;
	enum conf_role		 role;
	enum conf_tls_mode	 tls;
	char			*password_file;	/* admin: HTTP basic auth
						 * users ("user:crypt-hash"
						 * lines), NULL: none */
	/* PROXY protocol (conf_proxy.c): every connection starts with a
	 * v1 or v2 header naming the client, sent by a peer of
	 * proxy_from (the load balancer). */
	bool			 proxy_protocol;
	struct conf_network	*proxy_from;
	size_t			 nproxy_from;
};

struct conf_certpair {
	char		*cert;		/* PEM chain file */
	char		*key;		/* PEM private key file */
	unsigned	 cert_line;	/* where they were set, for messages */
	unsigned	 key_line;
};

/*
 * DKIM signing keys per domain: several so that a domain can sign with
 * both Ed25519 (RFC 8463) and RSA, one signature each, for verifiers that
 * do not know Ed25519 yet (RFC 6376 §4.1). At most DKIM_SIGN_KEYS_MAX
 * (auth/dkim_sign.h), which dkim_keys.c asserts.
 */
#define CONF_MAX_DKIM		4

struct conf_dkim {
	char		*selector;	/* DNS labels, as written */
	char		*key;		/* PEM private key file, absolute path */
	unsigned	 key_line;	/* where dkim_key was set */
};

/* The MTA-STS policy mode we serve for a domain (RFC 8461 §5). */
enum conf_sts_mode {
	CONF_STS_TESTING,	/* default: receivers report, never refuse */
	CONF_STS_ENFORCE,
	CONF_STS_NONE,		/* withdraw a published policy (§8.3) */
};

struct conf_domain {
	char			*name;	/* lower case, no trailing dot */
	struct conf_dkim	*dkim;	/* in file order; NULL if ndkim == 0 */
	size_t			 ndkim;	/* 0..CONF_MAX_DKIM */
	enum conf_sts_mode	 mta_sts;
	char			**mta_sts_mx;	/* host names or "*.domain",
						 * lower case; none: the
						 * [server] hostname */
	size_t			 nmta_sts_mx;
	unsigned		 mta_sts_max_age;	/* seconds */
};

/*
 * Outbound TLS for a destination ([policy "DOMAIN"] tls, Postfix's level
 * names). AUTO is what a domain without a section gets: DANE where usable,
 * else MTA-STS, else opportunistic.
 */
enum conf_tls_policy {
	CONF_TLSPOL_AUTO,
	CONF_TLSPOL_NONE,	/* never TLS */
	CONF_TLSPOL_MAY,	/* opportunistic */
	CONF_TLSPOL_ENCRYPT,	/* TLS required, any certificate */
	CONF_TLSPOL_VERIFY,	/* TLS, certificate verified for the MX name */
	CONF_TLSPOL_DANE,	/* DANE where usable, else may */
	CONF_TLSPOL_DANE_ONLY,	/* DANE required */
};

/* A [policy "NAME"] section: NAME is a domain (that domain only) or
 * ".domain" (its subdomains), lower case, no trailing dot. */
struct conf_policy {
	char			*name;
	enum conf_tls_policy	 tls;
	char			**mx_match;	/* verify: MX host patterns
						 * ("mx.example.net",
						 * "*.example.net"); none: any */
	size_t			 nmx_match;
	unsigned		 line;		/* of the section header */
};

/* Where submission AUTH checks passwords ([auth] passdb). */
enum conf_passdb {
	CONF_PASSDB_INTERNAL,	/* the store's users table */
	CONF_PASSDB_DOVECOT,	/* Dovecot's auth-client socket */
};

/* What a lookalike sender's message gets ([lookalike] action): always the
 * Sealmail-Warning field; tag also prefixes Subject: with "[Lookalike]",
 * junk delivers it into the Junk folder. */
enum conf_lookalike_action {
	CONF_LOOKALIKE_HEADER,
	CONF_LOOKALIKE_TAG,
	CONF_LOOKALIKE_JUNK,
};

/* [milter "NAME"]: a content filter speaking the milter protocol
 * (src/milter/), applied to the listeners it names and those of the
 * roles it names, in file order. */
enum conf_milter_on_error {
	CONF_MILTER_TEMPFAIL,	/* 451 4.7.1 the message */
	CONF_MILTER_ACCEPT,	/* go on without that milter */
};

struct conf_milter {
	char			*name;
	bool			 is_unix;	/* unix:PATH, else inet: */
	char			*path;		/* unix: the socket */
	struct conf_sockaddr	 inet;		/* inet:HOST:PORT */
	enum conf_milter_on_error on_error;
	unsigned		 connect_timeout;	/* seconds */
	unsigned		 command_timeout;
	unsigned		 content_timeout;	/* end of message */
	char			**listeners;	/* [listen] names */
	size_t			 nlisteners;
	bool			 role_mx, role_submission;
	unsigned		 line;		/* of the section header */
};

struct conf_network {
	int		family;		/* AF_INET or AF_INET6 */
	unsigned char	addr[16];
	unsigned	prefix;
	unsigned	line;		/* where it was written */
};

/*
 * A DNS blocklist ([server] dnsbl): the zone queried and the answers that
 * mean "listed" (IPv4 addresses in host order); none given: any address
 * in 127.0.0.0/8 but 127.0.0.1 and 127.255.255.0/24 (dns/dnsbl.h).
 */
#define CONF_MAX_DNSBL		8
#define CONF_DNSBL_CODES_MAX	16

struct conf_dnsbl {
	char		*zone;		/* lower case, no trailing dot */
	uint32_t	 codes[CONF_DNSBL_CODES_MAX];
	size_t		 ncodes;
};

struct conf {
	char			*path;		/* the file it came from */
	/* Problems that do not stop the daemon (a wide trusted network, a
	 * submission listener without TLS), each "FILE:LINE: [section] key:
	 * problem"; check-config prints them, serve logs them. */
	char			**warnings;
	size_t			 nwarnings;
	unsigned		 user_line;	/* where [server] user and */
	unsigned		 data_dir_line;	/* data_dir were set (or the
						 * [server] header, or 1) */

	/* [server] */
	char			*hostname;
	char			*data_dir;
	char			*user;		/* NULL or "": do not drop */
	unsigned		 workers;	/* "auto" = number of CPUs */
	size_t			 max_message_size;
	unsigned		 max_recipients;
	unsigned		 max_hops;	/* Received fields, then 5.4.6 */
	struct conf_network	*trusted_networks;
	size_t			 ntrusted_networks;
	unsigned		 max_connections;	  /* all clients, per worker set */
	unsigned		 max_connections_per_ip;
	unsigned		 max_errors;		  /* then 421 */
	size_t			 max_line_length;	  /* DATA text line, with CRLF */
	enum conf_bare_newline	 bare_newline;
	unsigned		 command_timeout;	  /* seconds */
	unsigned		 data_timeout;		  /* seconds, per read in DATA */
	unsigned		 tls_handshake_timeout;	  /* seconds */
	char			 recipient_delimiter[CONF_DELIMITER_MAX + 1];
						  /* "" = off */
	char			*submit_socket;	/* local submission, NULL: off */
	unsigned		 data_total_timeout;	  /* seconds, whole message */
	unsigned		 stress_timeout;	  /* seconds, idle under load */
	unsigned		 pregreet_wait;	/* seconds between "220-" and
						 * "220 " on plaintext/STARTTLS
						 * mx listeners; 0 = off */
	struct conf_dnsbl	*dnsbl;		/* mx clients looked up */
	size_t			 ndnsbl;

	/* [tls] */
	struct conf_certpair	*certs;
	size_t			 ncerts;
	int			 min_version;	/* TLS1_2_VERSION or TLS1_3_VERSION */

	/* [listen "NAME"] */
	struct conf_listener	*listeners;
	size_t			 nlisteners;

	/* [domain "NAME"] */
	struct conf_domain	*domains;
	size_t			 ndomains;

	/* [policy "NAME"] */
	struct conf_policy	*policies;
	size_t			 npolicies;

	/* [delivery] */
	enum conf_local_delivery delivery_local;
	char			*delivery_lmtp_target;	/* path, or "HOST:PORT" */
	char			*relayhost;
	char			*relayhost_credentials;
	char			*relayhost_ca;
	unsigned		 mx_port;
	unsigned		*retry_schedule;	/* seconds */
	size_t			 nretry_schedule;
	unsigned		 queue_lifetime;	/* seconds */
	bool			 dane;		/* RFC 7672 where usable */
	bool			 mta_sts;	/* RFC 8461 policies */
	char			*tls_ca;	/* extra CAs: MX and fetches */
	bool			 fetch_private_addresses;	/* tests */

	/* [auth] */
	enum conf_passdb	 passdb;
	char			*passdb_socket;	/* dovecot: the auth-client
						 * socket path */
	bool			 spf_reject_fail;
	bool			 dmarc_enforce;
	unsigned		 min_password_length;	/* characters */

	/* [dns] */
	char			*dns_resolver;
	char			*dns_trust_anchor;
	char			*dns_unbound_config;

	/* [reports] (RFC 9990 aggregate, RFC 8460 TLS-RPT, RFC 9991
	 * failure reports; report/) */
	char			*reports_from;	/* address reports are sent
						 * from; default noreply-reports@
						 * the first [domain] (else
						 * hostname) */
	char			*reports_org_name;	/* default: that domain */
	char			**reports_inbox;	/* our rua/ruf mailboxes,
						 * domain lower case */
	size_t			 nreports_inbox;
	bool			 reports_dmarc_aggregate;
	bool			 reports_tlsrpt;
	bool			 reports_dmarc_failure;	/* opt-in */
	unsigned		 reports_interval;	/* seconds, from 00:00 UTC */
	unsigned		 reports_retention;	/* seconds kept once reported */
	unsigned		 reports_failure_per_hour;	/* per destination */

	/* [forwarding]: mail an alias sends on to another domain */
	bool			 forward_srs;		/* rewrite the sender */
	unsigned		 forward_srs_max_age;	/* seconds a bounce
							 * address stays valid */
	bool			 forward_arc;		/* add an ARC set */

	/* [limits]: per authenticated account, over a sliding hour (shared
	 * by all workers: net/connlimit.h); 0 = no limit */
	unsigned		 limits_messages_per_hour;
	unsigned		 limits_recipients_per_hour;

	/* [lookalike]: warnings about From: domains that imitate ours or
	 * those we protect (msg/lookalike.h), on mx listeners */
	char			**lookalike_protect;	/* A-label form */
	size_t			 nlookalike_protect;
	enum conf_lookalike_action lookalike_action;

	/* [milter "NAME"], in file order */
	struct conf_milter	*milters;
	size_t			 nmilters;

	/* [store] (conf_store.c): where users, aliases and report data
	 * live. */
	enum conf_store_backend	 store_backend;
	char			*store_postgresql;	/* libpq connection
							 * string, no password */
	char			*store_postgresql_password_file;
	/* The keys process's own role (it alone reads the password
	 * hashes): its connection string (NULL: store_postgresql) and the
	 * file of its password. */
	char			*store_keys_postgresql;
	char			*store_keys_postgresql_password_file;
	unsigned		 store_backend_line;
	/* Not from the file: the password that postgresql_password_file
	 * holds, read by store_open_load (store/store_open.h) before any
	 * sandbox, so that children inherit it with their generation's
	 * conf. Secret: never printed; conf_free wipes it. */
	char			*store_postgresql_password;
	/* keys_postgresql_password_file's, read with it; kept by the keys
	 * process alone (store_open_forget_keys in every other child). */
	char			*store_keys_postgresql_password;
};

/*
 * Parse and check `path`. On success *out is a new conf the caller frees with
 * conf_free(). On failure returns -1 and writes one line into err (no
 * newline) of the form "FILE:LINE: [section] key: problem".
 */
int conf_load(const char *path, struct conf **out, char *err, size_t errlen);
void conf_free(struct conf *c);

/*
 * Write "FILE:LINE: SEC KEY: problem" into out (sec and key may be NULL),
 * the one shape of every configuration error and warning; FILE is escaped.
 */
void conf_problem(char *out, size_t len, const char *file, unsigned line,
    const char *sec, const char *key, const char *problem);

/* Write the effective configuration, defaults included, as INI. */
void conf_print(const struct conf *c, FILE *fp);

/* True if `domain` (any case, no trailing dot) is one of [domain "..."]. */
bool conf_is_local_domain(const struct conf *c, const char *domain);
/* The [policy] section for a destination domain (any case, trailing dot
 * tolerated): the exact name first, else the longest ".parent" that ends
 * it; NULL when none applies. Borrowed from c. */
const struct conf_policy *conf_policy_for(const struct conf *c,
    const char *domain);
/* "testing", "enforce" or "none". */
const char *conf_sts_mode_name(enum conf_sts_mode m);
/* "mx", "submission", "https" or "admin". */
const char *conf_role_name(enum conf_role r);

/* Whether milter m applies to listener l (named or by role). */
bool conf_milter_applies(const struct conf_milter *m,
    const struct conf_listener *l);

/* Whether v is a libpq connection string without a password in it
 * (password= or user:password@ in a URI): a password belongs in a file.
 * false with the problem in why (v itself is never echoed, since it may
 * hold the password). */
bool conf_store_dsn_ok(const char *v, char *why, size_t whylen);
/* Wipe and free a secret read from a file (a password); *secret = NULL. */
void conf_store_forget(char **secret);

/* "header", "tag" or "junk". */
const char *conf_lookalike_action_name(enum conf_lookalike_action a);

/* "none", "may", ..., "dane-only"; "auto" for CONF_TLSPOL_AUTO. */
const char *conf_tls_policy_name(enum conf_tls_policy p);

/* True if `sa` falls inside trusted_networks. */
bool conf_is_trusted(const struct conf *c, const struct sockaddr *sa);
/* True if `sa` falls inside one of the n networks (an IPv4 client shown
 * as ::ffff:a.b.c.d matches IPv4 networks too). */
bool conf_networks_match(const struct conf_network *nets, size_t n,
    const struct sockaddr *sa);
/* True if address (local@domain, domain in any case) is one of [reports]
 * inbox: local parts compared exactly, domains without case. */
bool conf_is_reports_inbox(const struct conf *c, const char *address);

/*
 * True if s is a syntactically valid host name (RFC 1123 §2.1 labels of
 * letters, digits and hyphens, 1..63 octets, at most 253 in all, no
 * trailing dot) whose last label is not all digits (RFC 3696 §2), so that
 * an IPv4 address is not taken for a name.
 */
bool conf_valid_hostname(const char *s);

/* The config path from -c, else $SEALMAIL_CONFIG, else the default. */
const char *conf_default_path(const char *opt);

#endif

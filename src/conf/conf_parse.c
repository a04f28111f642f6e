/* SPDX-License-Identifier: ISC */
/*
 * The configuration parser: inih (ini_parse_stream) fed by our own line
 * reader, plus one handler per key, driven by the conf_sections table.
 *
 * Why a reader of our own in front of inih: Debian's inih does not give the
 * handler the line number, truncates section names at 50 bytes (a long
 * [domain "..."] would silently become another domain), never calls the
 * handler for a section without keys (an empty [domain "x"] must still make
 * x local), only knows ';' inline comments and cuts lines at 200 bytes into
 * pieces. The reader therefore reads whole lines itself, counts them, strips
 * comments, rejects control bytes and over-long lines, parses section
 * headers, and hands inih one normalised "key=value" line at a time, so
 * that inih's line count and ours are the same and the handler can name
 * the line of every error.
 *
 * Grammar (what the reader accepts):
 *   line     = blank | comment | header | key "=" value | continuation
 *   comment  = ";" or "#" at the start of a line or after a blank; the rest
 *              of the line is ignored
 *   header   = "[" word "]" | "[" word SP+ DQUOTE name DQUOTE "]"
 *   continuation = an indented line without "=", right after a line of a
 *              list key: more items for that list (given to inih as
 *              "key=items", flagged as a continuation for the handler)
 */
#include "conf/conf_internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <openssl/tls1.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/hostport.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "msg/addr.h"
#include "msg/idna.h"

#define KEY_NAME_MAX	40

int
conf_parse_fail_at(struct conf_parse *p, unsigned line, const char *sec,
    const char *key, const char *fmt, ...)
{
	char problem[512];
	va_list ap;

	if (p->failed)
		return -1;
	p->failed = true;
	va_start(ap, fmt);
	vsnprintf(problem, sizeof(problem), fmt, ap);
	va_end(ap);
	conf_problem(p->err, p->errlen, p->path, line, sec, key, problem);
	return -1;
}

void
conf_parse_warn_at(struct conf_parse *p, unsigned line, const char *sec,
    const char *key, const char *fmt, ...)
{
	char problem[512], text[1024];
	struct conf *c = p->c;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(problem, sizeof(problem), fmt, ap);
	va_end(ap);
	conf_problem(text, sizeof(text), p->path, line, sec, key, problem);
	c->warnings = xreallocarray(c->warnings, c->nwarnings + 1,
	    sizeof(*c->warnings));
	c->warnings[c->nwarnings++] = xstrdup(text);
}

int
conf_parse_fail(struct conf_parse *p, const char *fmt, ...)
{
	char problem[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(problem, sizeof(problem), fmt, ap);
	va_end(ap);
	return conf_parse_fail_at(p, p->lineno, p->sec ? p->sectext : NULL,
	    p->key ? p->key->name : NULL, "%s", problem);
}

unsigned
conf_parse_line_of(const struct conf_parse *p, enum conf_section_kind kind,
    const char *key)
{
	const struct conf_section *s = &conf_sections[kind];

	for (size_t i = 0; i < s->nkeys; i++)
		if (strcmp(s->keys[i].name, key) == 0 && p->seen_line[kind][i])
			return p->seen_line[kind][i];
	return p->server_line ? p->server_line : (p->lineno ? p->lineno : 1);
}

/* ---- values --------------------------------------------------------- */

/* Replace a heap string field. */
static void
conf_parse_setstr(char **field, const char *v)
{
	free(*field);
	*field = v == NULL ? NULL : xstrdup(v);
}

/* An absolute path, or empty (NULL) unless key->min says required. */
static int
conf_parse_path(struct conf_parse *p, const struct conf_key *k, char **field,
    const char *v)
{
	if (*v == '\0' && k->min == 0) {
		conf_parse_setstr(field, NULL);
		return 0;
	}
	if (*v != '/')
		return conf_parse_fail(p, "must be an absolute path");
	conf_parse_setstr(field, v);
	return 0;
}

/* Set a key of a generic type through the table. */
static int
conf_parse_set(struct conf_parse *p, const struct conf_key *k, const char *v)
{
	void *field = (char *)p->base + k->off;
	unsigned long long n;
	char why[256];

	if (!(k->flags & CONF_KEY_LIST) && strlen(v) > CONF_VALUE_MAX)
		return conf_parse_fail(p, "value too long (at most %d bytes)",
		    CONF_VALUE_MAX);
	switch (k->type) {
	case CONF_T_UINT:
	case CONF_T_SIZE:
		if (conf_check_uint(v, k->min, k->max, &n, why,
		    sizeof(why)) == -1)
			return conf_parse_fail(p, "%s", why);
		if (k->type == CONF_T_UINT)
			*(unsigned *)field = (unsigned)n;
		else
			*(size_t *)field = (size_t)n;
		return 0;
	case CONF_T_DURATION:
		if (conf_check_duration(v, k->min, k->max, &n, why,
		    sizeof(why)) == -1)
			return conf_parse_fail(p, "%s", why);
		*(unsigned *)field = (unsigned)n;
		return 0;
	case CONF_T_BOOL:
		if (conf_check_bool(v, field, why, sizeof(why)) == -1)
			return conf_parse_fail(p, "%s", why);
		return 0;
	case CONF_T_PATH:
		return conf_parse_path(p, k, field, v);
	case CONF_T_CUSTOM:
		return k->set(p, p->base, v);
	}
	panic("conf: bad key type %d", (int)k->type);
}

/* ---- section headers -------------------------------------------------- */

static bool
conf_parse_valid_listen_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > CONF_LISTEN_NAME_MAX)
		return false;
	for (; *s != '\0'; s++)
		if (!isascii((unsigned char)*s) ||
		    !(isalnum((unsigned char)*s) || strchr("._-", *s)))
			return false;
	return true;
}

static int
conf_parse_new_listener(struct conf_parse *p, const char *name)
{
	struct conf *c = p->c;
	char e[80];

	if (!conf_parse_valid_listen_name(name))
		return conf_parse_fail(p, "bad listener name %s (letters, "
		    "digits, '.', '_', '-'; at most %d)",
		    log_escape(name, strlen(name), e, sizeof(e)),
		    CONF_LISTEN_NAME_MAX);
	for (size_t i = 0; i < c->nlisteners; i++)
		if (strcmp(c->listeners[i].name, name) == 0)
			return conf_parse_fail(p, "duplicate listener (first "
			    "on line %u)", p->listener_line[i]);
	if (c->nlisteners == CONF_MAX_LISTENERS)
		return conf_parse_fail(p, "too many listeners (at most %d)",
		    CONF_MAX_LISTENERS);
	c->listeners = xreallocarray(c->listeners, c->nlisteners + 1,
	    sizeof(*c->listeners));
	p->listener_line = xreallocarray(p->listener_line, c->nlisteners + 1,
	    sizeof(*p->listener_line));
	memset(&c->listeners[c->nlisteners], 0, sizeof(*c->listeners));
	c->listeners[c->nlisteners].name = xstrdup(name);
	c->listeners[c->nlisteners].role = CONF_ROLE_MX;
	c->listeners[c->nlisteners].tls = CONF_TLS_STARTTLS;
	p->listener_line[c->nlisteners] = p->lineno;
	p->base = &c->listeners[c->nlisteners++];
	return 0;
}

static int
conf_parse_new_domain(struct conf_parse *p, const char *raw)
{
	struct conf *c = p->c;
	char name[256], e[80];
	const char *why = NULL;
	size_t n = strlen(raw);

	if (n > 0 && raw[n - 1] == '.')
		n--;
	/* An IDN in either form is kept as its A-labels, the form of the
	 * envelope addresses it is compared with (msg/addr.h). */
	if (!idna_is_plain(raw, n) &&
	    idna_to_alabels(raw, n, name, sizeof(name), &why) != 0)
		return conf_parse_fail(p, "bad domain name %s (%s)",
		    log_escape(raw, strlen(raw), e, sizeof(e)), why);
	if (idna_is_plain(raw, n) && n < sizeof(name)) {
		memcpy(name, raw, n);
		name[n] = '\0';
	}
	if (n >= sizeof(name) || !conf_valid_hostname(name))
		return conf_parse_fail(p, "bad domain name %s",
		    log_escape(raw, strlen(raw), e, sizeof(e)));
	for (char *q = name; *q != '\0'; q++)
		*q = (char)tolower((unsigned char)*q);
	if (conf_is_local_domain(c, name))
		return conf_parse_fail(p, "duplicate domain");
	if (c->ndomains == CONF_MAX_DOMAINS)
		return conf_parse_fail(p, "too many domains (at most %d)",
		    CONF_MAX_DOMAINS);
	c->domains = xreallocarray(c->domains, c->ndomains + 1,
	    sizeof(*c->domains));
	memset(&c->domains[c->ndomains], 0, sizeof(*c->domains));
	c->domains[c->ndomains].name = xstrdup(name);
	c->domains[c->ndomains].mta_sts = CONF_STS_TESTING;
	c->domains[c->ndomains].mta_sts_max_age = 7 * 86400;
	p->base = &c->domains[c->ndomains++];
	return 0;
}

/* [policy "NAME"]: a domain, or ".domain" for its subdomains. */
static int
conf_parse_new_policy(struct conf_parse *p, const char *raw)
{
	struct conf *c = p->c;
	char name[256], e[80];
	bool dot = raw[0] == '.';
	size_t n = strlen(raw + dot);

	if (n > 0 && raw[dot + n - 1] == '.')
		n--;
	if (n + 1 >= sizeof(name) || (name[0] = '.',
	    memcpy(name + 1, raw + dot, n), name[n + 1] = '\0',
	    !conf_valid_hostname(name + 1)))
		return conf_parse_fail(p, "bad destination %s (a domain, or "
		    ".domain for its subdomains)",
		    log_escape(raw, strlen(raw), e, sizeof(e)));
	for (char *q = name; *q != '\0'; q++)
		*q = (char)tolower((unsigned char)*q);
	for (size_t i = 0; i < c->npolicies; i++)
		if (strcmp(c->policies[i].name, name + !dot) == 0)
			return conf_parse_fail(p, "duplicate policy (first on "
			    "line %u)", c->policies[i].line);
	if (c->npolicies == CONF_MAX_POLICIES)
		return conf_parse_fail(p, "too many policies (at most %d)",
		    CONF_MAX_POLICIES);
	c->policies = xreallocarray(c->policies, c->npolicies + 1,
	    sizeof(*c->policies));
	memset(&c->policies[c->npolicies], 0, sizeof(*c->policies));
	c->policies[c->npolicies].name = xstrdup(name + !dot);
	c->policies[c->npolicies].tls = CONF_TLSPOL_AUTO;
	c->policies[c->npolicies].line = p->lineno;
	p->base = &c->policies[c->npolicies++];
	return 0;
}

/* Split "word" or `word "name"` (s is inside the brackets, trimmed). */
static int
conf_parse_header_words(struct conf_parse *p, char *s, char **word,
    char **name)
{
	char e[80];
	char *q = s;

	while (*q >= 'a' && *q <= 'z')
		q++;
	*word = s;
	*name = NULL;
	if (*q == '\0')
		return 0;
	if (*q != ' ' && *q != '\t')
		goto bad;
	*q++ = '\0';
	while (*q == ' ' || *q == '\t')
		q++;
	size_t n = strlen(q);
	if (n < 2 || q[0] != '"' || q[n - 1] != '"' ||
	    memchr(q + 1, '"', n - 2) != NULL)
		goto bad;
	q[n - 1] = '\0';
	*name = q + 1;
	return 0;
bad:
	return conf_parse_fail_at(p, p->lineno, NULL, NULL, "bad section "
	    "header %s (use [name] or [name \"label\"])",
	    log_escape(s, strlen(s), e, sizeof(e)));
}

/* A "[...]" line: find the section, create listeners and domains. */
static int
conf_parse_header(struct conf_parse *p, char *s)
{
	size_t n = strlen(s);
	char *word, *name, e[80];

	if (p->dkim_pending)	/* the pair cannot continue past a header */
		return conf_parse_fail_at(p, p->dkim_pending, p->sectext,
		    "dkim_selector", "no dkim_key follows this dkim_selector "
		    "(write each dkim_selector's dkim_key right after it)");
	p->sec = NULL;
	p->key = NULL;
	if (s[n - 1] != ']')
		return conf_parse_fail_at(p, p->lineno, NULL, NULL,
		    "section header without a closing ']'");
	s[n - 1] = '\0';
	s++;
	while (*s == ' ' || *s == '\t')
		s++;
	for (n = strlen(s); n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t');)
		s[--n] = '\0';
	if (conf_parse_header_words(p, s, &word, &name) == -1)
		return -1;
	for (size_t i = 0; i < CONF_SEC_COUNT; i++)
		if (strcmp(conf_sections[i].name, word) == 0)
			p->sec = &conf_sections[i];
	if (p->sec == NULL || p->sec->named != (name != NULL)) {
		const struct conf_section *sec = p->sec;

		p->sec = NULL;
		if (sec == NULL)
			return conf_parse_fail_at(p, p->lineno, NULL, NULL,
			    "[%s]: unknown section", log_escape(word,
			    strlen(word), e, sizeof(e)));
		if (sec->named)
			return conf_parse_fail_at(p, p->lineno, NULL, NULL,
			    "[%s]: needs a name: [%s \"NAME\"]", sec->name,
			    sec->name);
		return conf_parse_fail_at(p, p->lineno, NULL, NULL,
		    "[%s]: takes no name", sec->name);
	}
	if (!p->sec->named) {
		snprintf(p->sectext, sizeof(p->sectext), "[%s]", word);
		p->base = p->c;
		if (p->sec->kind == CONF_SEC_SERVER && p->server_line == 0)
			p->server_line = p->lineno;
		return 0;
	}
	snprintf(p->sectext, sizeof(p->sectext), "[%s \"%s\"]", word,
	    log_escape(name, strlen(name), e, sizeof(e)));
	memset(p->seen_line[p->sec->kind], 0, sizeof(p->seen_line[0]));
	if (p->sec->kind == CONF_SEC_LISTEN)
		return conf_parse_new_listener(p, name);
	if (p->sec->kind == CONF_SEC_POLICY)
		return conf_parse_new_policy(p, name);
	if (p->sec->kind == CONF_SEC_MILTER)
		return conf_milter_new(p, name);
	return conf_parse_new_domain(p, name);
}

/* ---- the reader ------------------------------------------------------- */

/* Cut the line at a ';' or '#' that starts it or follows a blank. */
static void
conf_parse_strip_comment(char *s)
{
	for (char *q = s; *q != '\0'; q++)
		if ((*q == ';' || *q == '#') &&
		    (q == s || q[-1] == ' ' || q[-1] == '\t')) {
			*q = '\0';
			break;
		}
}

/* A "key = value" line becomes "key=value\n" in out (size outlen). */
static int
conf_parse_keyline(struct conf_parse *p, char *s, char *out, size_t outlen)
{
	char *eq = strchr(s, '='), *v, *k = s, e[80];
	size_t klen;

	if (eq == NULL)
		return conf_parse_fail_at(p, p->lineno, NULL, NULL,
		    "expected 'key = value', got %s",
		    log_escape(s, strlen(s), e, sizeof(e)));
	for (klen = (size_t)(eq - s); klen > 0 && isspace((unsigned char)
	    s[klen - 1]); klen--)
		;
	if (klen == 0 || klen > KEY_NAME_MAX ||
	    strspn(k, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") < klen)
		return conf_parse_fail_at(p, p->lineno, p->sec ? p->sectext :
		    NULL, NULL, "bad key name %s", log_escape(s, klen, e,
		    sizeof(e)));
	if (p->sec == NULL)
		return conf_parse_fail_at(p, p->lineno, NULL, NULL, "%s: key "
		    "outside of any section", log_escape(s, klen, e,
		    sizeof(e)));
	for (v = eq + 1; *v == ' ' || *v == '\t'; v++)
		;
	if (klen + 1 + strlen(v) + 2 > outlen)
		return conf_parse_fail_at(p, p->lineno, p->sectext, NULL,
		    "line too long (at most %zu bytes without comments)",
		    outlen - 2);
	memcpy(out, k, klen);
	out[klen] = '=';
	snprintf(out + klen + 1, outlen - klen - 1, "%s\n", v);
	return 0;
}

/* An indented line without '=': more items of the previous list key. */
static int
conf_parse_contline(struct conf_parse *p, const char *s, char *out,
    size_t outlen)
{
	if (p->cont_key == NULL)
		return conf_parse_fail_at(p, p->lineno, p->sec ? p->sectext :
		    NULL, NULL, "indented line without '=' that does not "
		    "continue a list");
	size_t klen = strlen(p->cont_key->name);

	if (klen + 1 + strlen(s) + 2 > outlen)
		return conf_parse_fail_at(p, p->lineno, p->sectext,
		    p->cont_key->name, "line too long (at most %zu bytes "
		    "without comments)", outlen - 2 - klen - 1);
	/* Hand inih "key=items" with p->continuation set, rather than rely
	 * on its multi-line mode (a build option, and a run-time knob in
	 * Debian's build). */
	p->continuation = true;
	snprintf(out, outlen, "%s=%s\n", p->cont_key->name, s);
	return 0;
}

/* Check, clean and classify one raw line; write what inih sees to out. */
static int
conf_parse_line(struct conf_parse *p, char *line, size_t n, char *out,
    size_t outlen)
{
	char *s;
	bool indented;

	if (n > 0 && line[n - 1] == '\n')
		line[--n] = '\0';
	if (n > 0 && line[n - 1] == '\r')
		line[--n] = '\0';
	if (p->lineno == 1 && n >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0) {
		line += 3;
		n -= 3;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)line[i];

		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return conf_parse_fail_at(p, p->lineno, NULL, NULL,
			    "control character 0x%02x in line", ch);
	}
	conf_parse_strip_comment(line);
	for (n = strlen(line); n > 0 && isspace((unsigned char)line[n - 1]);)
		line[--n] = '\0';
	indented = line[0] == ' ' || line[0] == '\t';
	for (s = line; *s == ' ' || *s == '\t'; s++)
		;
	if (*s == '\0') {
		p->cont_key = NULL;	/* a blank line ends a list */
		return 0;
	}
	if (*s == '[') {
		p->cont_key = NULL;
		if (conf_parse_header(p, s) == -1)
			return -1;
		snprintf(out, outlen, "[s]\n");
		return 0;
	}
	if (indented && strchr(s, '=') == NULL)
		return conf_parse_contline(p, s, out, outlen);
	return conf_parse_keyline(p, s, out, outlen);
}

/* inih's fgets-like reader: exactly one line of the file per call. */
static char *
conf_parse_reader(char *str, int num, void *stream)
{
	struct conf_parse *p = stream;
	ssize_t n;

	if (p->failed)
		return NULL;
	n = getline(&p->line, &p->linecap, p->fp);
	if (n == -1) {
		if (ferror(p->fp))
			conf_parse_fail_at(p, p->lineno, NULL, NULL,
			    "read error: %s", strerror(errno));
		return NULL;
	}
	p->lineno++;
	p->continuation = false;
	if (num < 16) {
		conf_parse_fail_at(p, p->lineno, NULL, NULL, "inih line "
		    "buffer too small");
		return NULL;
	}
	if ((size_t)n != strlen(p->line)) {
		conf_parse_fail_at(p, p->lineno, NULL, NULL, "NUL byte in line");
		return NULL;
	}
	snprintf(str, (size_t)num, "\n");
	if (conf_parse_line(p, p->line, (size_t)n, str, (size_t)num) == -1)
		return NULL;
	return str;
}

static int
conf_parse_handler(void *user, const char *section, const char *name,
    const char *value)
{
	struct conf_parse *p = user;
	const struct conf_key *k = NULL;
	size_t i;

	(void)section;		/* inih's copy may be cut; p->sec is whole */
	if (p->failed || p->sec == NULL)
		return 1;
	if (p->continuation) {
		k = p->cont_key;
	} else {
		for (i = 0; i < p->sec->nkeys; i++)
			if (strcmp(p->sec->keys[i].name, name) == 0)
				k = &p->sec->keys[i];
	}
	if (k == NULL) {
		conf_parse_fail_at(p, p->lineno, p->sectext, name,
		    "unknown key");
		return 1;
	}
	p->key = k;
	i = (size_t)(k - p->sec->keys);
	if (!p->continuation) {
		unsigned *seen = &p->seen_line[p->sec->kind][i];

		if (*seen && !(k->flags & CONF_KEY_REPEAT)) {
			conf_parse_fail(p, "duplicate key (first set on line "
			    "%u)", *seen);
			return 1;
		}
		*seen = p->lineno;
	}
	if (conf_parse_set(p, k, value) == 0)
		p->cont_key = (k->flags & CONF_KEY_LIST) ? k : NULL;
	return 1;
}

int
conf_parse_run(struct conf_parse *p)
{
	int r;

	r = ini_parse_stream(conf_parse_reader, p, conf_parse_handler, p);
	free(p->line);
	p->line = NULL;
	if (p->failed)
		return -1;
	if (r == -2)
		return conf_parse_fail_at(p, p->lineno, NULL, NULL,
		    "out of memory");
	if (r != 0)	/* the reader should have caught it first */
		return conf_parse_fail_at(p, (unsigned)r, NULL, NULL,
		    "syntax error");
	return 0;
}

/* ---- custom keys: [server] -------------------------------------------- */

static int
conf_parse_hostname(struct conf_parse *p, void *base, const char *v)
{
	struct conf *c = base;
	char name[256], e[80];
	size_t n = strlen(v);

	/* "mail.example.org." names the same host; EHLO wants no dot. */
	if (n > 0 && v[n - 1] == '.')
		n--;
	snprintf(name, sizeof(name), "%.*s", (int)n, v);
	if (!conf_valid_hostname(name))
		return conf_parse_fail(p, "bad host name %s",
		    log_escape(v, strlen(v), e, sizeof(e)));
	conf_parse_setstr(&c->hostname, name);
	p->hostname_line = p->lineno;
	return 0;
}

static int
conf_parse_user(struct conf_parse *p, void *base, const char *v)
{
	struct conf *c = base;
	size_t n = strlen(v);

	if (n > 32 || v[0] == '-' || strspn(v, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != n)
		return conf_parse_fail(p, "bad user name (letters, digits, "
		    "'.', '_', '-'; at most 32)");
	conf_parse_setstr(&c->user, n ? v : NULL);
	return 0;
}

/*
 * Characters that split "user+ext" (each one a delimiter, as Postfix
 * allows several); "" turns it off. Only atext specials: a letter, digit,
 * '.' or '@' would cut ordinary addresses apart.
 */
static int
conf_parse_recipient_delimiter(struct conf_parse *p, void *base,
    const char *v)
{
	struct conf *c = base;
	size_t n = strlen(v);

	if (n > CONF_DELIMITER_MAX || strspn(v, "!#$%&'*+-/=?^_`{|}~") != n)
		return conf_parse_fail(p, "must be at most %d of the "
		    "characters !#$%%&'*+-/=?^_`{|}~ (empty: off)",
		    CONF_DELIMITER_MAX);
	memcpy(c->recipient_delimiter, v, n + 1);
	return 0;
}

static int
conf_parse_workers(struct conf_parse *p, void *base, const char *v)
{
	struct conf *c = base;
	unsigned long long n;
	char why[128];

	if (strcmp(v, "auto") == 0) {
		c->workers = conf_check_workers_auto();
		return 0;
	}
	if (conf_check_uint(v, 1, 256, &n, why, sizeof(why)) == -1)
		return conf_parse_fail(p, "%s (or auto)", why);
	c->workers = (unsigned)n;
	return 0;
}

int
conf_parse_network_add(struct conf_parse *p, struct conf_network **nets,
    size_t *n, const char *v)
{
	struct conf_network net;
	char why[256];

	if (conf_check_network(v, &net, why, sizeof(why)) == -1)
		return conf_parse_fail(p, "%s", why);
	net.line = p->lineno;
	if (*n == CONF_MAX_NETWORKS)
		return conf_parse_fail(p, "too many networks (at most %d)",
		    CONF_MAX_NETWORKS);
	*nets = xreallocarray(*nets, *n + 1, sizeof(net));
	(*nets)[(*n)++] = net;
	return 0;
}

static int
conf_parse_network(struct conf_parse *p, void *base, const char *v)
{
	struct conf *c = base;

	return conf_parse_network_add(p, &c->trusted_networks,
	    &c->ntrusted_networks, v);
}

static int
conf_parse_networks(struct conf_parse *p, void *base, const char *v)
{
	struct conf *c = base;

	if (!p->continuation) {
		free(c->trusted_networks);
		c->trusted_networks = NULL;
		c->ntrusted_networks = 0;
	}
	return conf_check_list(p, base, v, conf_parse_network);
}

/*
 * One item of "dnsbl = zone[=A,A...][, zone...]": a zone name starts a
 * list (its first answer code after '='); an IPv4 address adds a code to
 * the zone before it, which must have started with '=' (a zone name's last
 * label is never all digits, so the two cannot be confused).
 */
static int
conf_parse_dnsbl(struct conf_parse *p, void *base, const char *v)
{
	struct conf *c = base;
	struct in_addr a;
	char zone[256];
	const char *eq = strchr(v, '=');
	size_t zl = eq ? (size_t)(eq - v) : strlen(v);

	if (eq == NULL && inet_pton(AF_INET, v, &a) == 1) {
		struct conf_dnsbl *d = c->ndnsbl ? &c->dnsbl[c->ndnsbl - 1] :
		    NULL;
		if (d == NULL || d->ncodes == 0)
			return conf_parse_fail(p, "%s: an answer code must "
			    "follow zone=CODE", v);
		if (d->ncodes == CONF_DNSBL_CODES_MAX)
			return conf_parse_fail(p, "too many answer codes for "
			    "%s (at most %d)", d->zone, CONF_DNSBL_CODES_MAX);
		d->codes[d->ncodes++] = ntohl(a.s_addr);
		return 0;
	}
	if (zl >= sizeof(zone))
		return conf_parse_fail(p, "zone name too long");
	memcpy(zone, v, zl);
	zone[zl] = '\0';
	while (zl > 0 && isspace((unsigned char)zone[zl - 1]))
		zone[--zl] = '\0';
	if (zl > 0 && zone[zl - 1] == '.')
		zone[--zl] = '\0';
	for (char *q = zone; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	/* Room for the 64 nibble labels of an IPv6 query in front. */
	if (!conf_valid_hostname(zone) || zl > 253 - 64)
		return conf_parse_fail(p, "%s is not a DNS zone name", zone);
	if (c->ndnsbl == CONF_MAX_DNSBL)
		return conf_parse_fail(p, "too many zones (at most %d)",
		    CONF_MAX_DNSBL);
	c->dnsbl = xreallocarray(c->dnsbl, c->ndnsbl + 1, sizeof(*c->dnsbl));
	struct conf_dnsbl *d = &c->dnsbl[c->ndnsbl++];
	memset(d, 0, sizeof(*d));
	d->zone = xstrdup(zone);
	if (eq == NULL)
		return 0;
	v = eq + 1;
	while (isspace((unsigned char)*v))
		v++;
	if (inet_pton(AF_INET, v, &a) != 1)
		return conf_parse_fail(p, "%s: answer code %s is not an IPv4 "
		    "address", zone, v);
	d->codes[d->ncodes++] = ntohl(a.s_addr);
	return 0;
}

static int
conf_parse_dnsbls(struct conf_parse *p, void *base, const char *v)
{
	return conf_check_list(p, base, v, conf_parse_dnsbl);
}

static int
conf_parse_bare_newline(struct conf_parse *p, void *base, const char *v)
{
	struct conf *c = base;

	if (strcmp(v, "normalize") == 0)
		c->bare_newline = CONF_BARE_NEWLINE_NORMALIZE;
	else if (strcmp(v, "reject") == 0)
		c->bare_newline = CONF_BARE_NEWLINE_REJECT;
	else
		return conf_parse_fail(p, "must be normalize or reject");
	return 0;
}

/* ---- custom keys: [tls] ----------------------------------------------- */

static int
conf_parse_cert(struct conf_parse *p, void *base, const char *v)
{
	struct conf *c = base;

	if (p->cert_pending)
		return conf_parse_fail(p, "the cert on line %u has no key "
		    "(write each cert's key right after it)", p->cert_pending);
	if (*v != '/')
		return conf_parse_fail(p, "must be an absolute path");
	if (c->ncerts == CONF_MAX_CERTS)
		return conf_parse_fail(p, "too many certificates (at most %d)",
		    CONF_MAX_CERTS);
	c->certs = xreallocarray(c->certs, c->ncerts + 1, sizeof(*c->certs));
	c->certs[c->ncerts].cert = xstrdup(v);
	c->certs[c->ncerts].cert_line = p->lineno;
	c->certs[c->ncerts].key_line = 0;
	c->certs[c->ncerts++].key = NULL;
	p->cert_pending = p->lineno;
	return 0;
}

static int
conf_parse_key(struct conf_parse *p, void *base, const char *v)
{
	struct conf *c = base;

	if (!p->cert_pending)
		return conf_parse_fail(p, "key without a cert before it");
	if (*v != '/')
		return conf_parse_fail(p, "must be an absolute path");
	c->certs[c->ncerts - 1].key = xstrdup(v);
	c->certs[c->ncerts - 1].key_line = p->lineno;
	p->cert_pending = 0;
	return 0;
}

static int
conf_parse_min_version(struct conf_parse *p, void *base, const char *v)
{
	struct conf *c = base;

	if (strcmp(v, "TLSv1.2") == 0)
		c->min_version = TLS1_2_VERSION;
	else if (strcmp(v, "TLSv1.3") == 0)
		c->min_version = TLS1_3_VERSION;
	else
		return conf_parse_fail(p, "must be TLSv1.2 or TLSv1.3");
	return 0;
}

/* ---- custom keys: [listen "NAME"] ------------------------------------- */

static int
conf_parse_addr(struct conf_parse *p, void *base, const char *v)
{
	struct conf_listener *l = base;
	struct conf_sockaddr sa;
	char why[256];

	if (conf_check_sockaddr(v, &sa, why, sizeof(why)) == -1)
		return conf_parse_fail(p, "%s", why);
	if (l->naddrs == CONF_MAX_ADDRS)
		return conf_parse_fail(p, "too many addresses (at most %d)",
		    CONF_MAX_ADDRS);
	l->addrs = xreallocarray(l->addrs, l->naddrs + 1, sizeof(sa));
	l->addrs[l->naddrs++] = sa;
	return 0;
}

static int
conf_parse_address(struct conf_parse *p, void *base, const char *v)
{
	return conf_check_list(p, base, v, conf_parse_addr);
}

static int
conf_parse_role(struct conf_parse *p, void *base, const char *v)
{
	struct conf_listener *l = base;

	for (int r = CONF_ROLE_MX; r <= CONF_ROLE_ADMIN; r++)
		if (strcmp(v, conf_role_name((enum conf_role)r)) == 0) {
			l->role = (enum conf_role)r;
			return 0;
		}
	return conf_parse_fail(p, "must be mx, submission, https or admin");
}

static int
conf_parse_tls(struct conf_parse *p, void *base, const char *v)
{
	struct conf_listener *l = base;

	if (strcmp(v, "starttls") == 0)
		l->tls = CONF_TLS_STARTTLS;
	else if (strcmp(v, "implicit") == 0)
		l->tls = CONF_TLS_IMPLICIT;
	else if (strcmp(v, "none") == 0)
		l->tls = CONF_TLS_NONE;
	else
		return conf_parse_fail(p, "must be starttls, implicit or none");
	return 0;
}

/* ---- custom keys: [domain "NAME"] ------------------------------------- */

/*
 * dkim_selector and dkim_key come in pairs, each selector followed by its
 * key, as [tls] cert and key do: the pairing is by position, so a key can
 * never silently end up under another selector.
 */
static int
conf_parse_selector(struct conf_parse *p, void *base, const char *v)
{
	struct conf_domain *d = base;
	char e[80];

	if (p->dkim_pending)
		return conf_parse_fail(p, "the dkim_selector on line %u has no "
		    "dkim_key (write each dkim_selector's dkim_key right after "
		    "it)", p->dkim_pending);
	if (*v == '\0')
		return conf_parse_fail(p, "must not be empty (leave "
		    "dkim_selector and dkim_key out for no DKIM signing)");
	if (!conf_valid_selector(v))
		return conf_parse_fail(p, "bad selector (DNS labels of "
		    "letters, digits and '-')");
	for (size_t i = 0; i < d->ndkim; i++)
		if (strcasecmp(d->dkim[i].selector, v) == 0)
			return conf_parse_fail(p, "duplicate selector %s "
			    "(first on line %u)", log_escape(v, strlen(v), e,
			    sizeof(e)), p->dkim_line[i]);
	if (d->ndkim == CONF_MAX_DKIM)
		return conf_parse_fail(p, "too many DKIM keys (at most %d "
		    "per domain)", CONF_MAX_DKIM);
	d->dkim = xreallocarray(d->dkim, d->ndkim + 1, sizeof(*d->dkim));
	d->dkim[d->ndkim].selector = xstrdup(v);
	d->dkim[d->ndkim].key = NULL;
	d->dkim[d->ndkim].key_line = 0;
	p->dkim_line[d->ndkim++] = p->lineno;
	p->dkim_pending = p->lineno;
	return 0;
}

static int
conf_parse_dkim_key(struct conf_parse *p, void *base, const char *v)
{
	struct conf_domain *d = base;

	if (!p->dkim_pending)
		return conf_parse_fail(p, "dkim_key without a dkim_selector "
		    "before it");
	if (*v != '/')
		return conf_parse_fail(p, "must be an absolute path");
	d->dkim[d->ndkim - 1].key = xstrdup(v);
	d->dkim[d->ndkim - 1].key_line = p->lineno;
	p->dkim_pending = 0;
	return 0;
}

/* ---- custom keys: [policy "NAME"] ------------------------------------- */

static int
conf_parse_policy_tls(struct conf_parse *p, void *base, const char *v)
{
	struct conf_policy *pol = base;

	for (int t = CONF_TLSPOL_NONE; t <= CONF_TLSPOL_DANE_ONLY; t++)
		if (strcmp(v, conf_tls_policy_name((enum conf_tls_policy)t))
		    == 0) {
			pol->tls = (enum conf_tls_policy)t;
			return 0;
		}
	return conf_parse_fail(p, "must be none, may, encrypt, verify, dane "
	    "or dane-only");
}

/* One MX host pattern: a host name, or "*." and a host name (the leftmost
 * label only, as in MTA-STS policies, RFC 8461 §4.1), appended lower case
 * to (*list, *n). */
static int
conf_parse_mx_pattern_to(struct conf_parse *p, char ***list, size_t *n,
    const char *v)
{
	bool wild = strncmp(v, "*.", 2) == 0;
	char e[80];

	if (!conf_valid_hostname(v + 2 * wild) || strchr(v + 2 * wild, '*'))
		return conf_parse_fail(p, "bad MX pattern %s (a host name, or "
		    "*.domain)", log_escape(v, strlen(v), e, sizeof(e)));
	if (*n == CONF_MAX_MX_MATCH)
		return conf_parse_fail(p, "too many patterns (at most %d)",
		    CONF_MAX_MX_MATCH);
	*list = xreallocarray(*list, *n + 1, sizeof(**list));
	(*list)[*n] = xstrdup(v);
	for (char *q = (*list)[*n]; *q != '\0'; q++)
		*q = (char)tolower((unsigned char)*q);
	(*n)++;
	return 0;
}

/* Free a pattern list unless this line continues it. */
static void
conf_parse_patterns_reset(struct conf_parse *p, char ***list, size_t *n)
{
	if (p->continuation)
		return;
	for (size_t i = 0; i < *n; i++)
		free((*list)[i]);
	free(*list);
	*list = NULL;
	*n = 0;
}

static int
conf_parse_mx_pattern(struct conf_parse *p, void *base, const char *v)
{
	struct conf_policy *pol = base;

	return conf_parse_mx_pattern_to(p, &pol->mx_match, &pol->nmx_match,
	    v);
}

static int
conf_parse_mx_match(struct conf_parse *p, void *base, const char *v)
{
	struct conf_policy *pol = base;

	conf_parse_patterns_reset(p, &pol->mx_match, &pol->nmx_match);
	return conf_check_list(p, base, v, conf_parse_mx_pattern);
}

/* ---- custom keys: [domain "NAME"] MTA-STS ------------------------- */

static int
conf_parse_domain_sts(struct conf_parse *p, void *base, const char *v)
{
	struct conf_domain *d = base;

	for (int m = CONF_STS_TESTING; m <= CONF_STS_NONE; m++)
		if (strcmp(v, conf_sts_mode_name((enum conf_sts_mode)m)) == 0) {
			d->mta_sts = (enum conf_sts_mode)m;
			return 0;
		}
	return conf_parse_fail(p, "must be testing, enforce or none");
}

static int
conf_parse_sts_mx_item(struct conf_parse *p, void *base, const char *v)
{
	struct conf_domain *d = base;

	return conf_parse_mx_pattern_to(p, &d->mta_sts_mx, &d->nmta_sts_mx,
	    v);
}

static int
conf_parse_sts_mx(struct conf_parse *p, void *base, const char *v)
{
	struct conf_domain *d = base;

	conf_parse_patterns_reset(p, &d->mta_sts_mx, &d->nmta_sts_mx);
	return conf_check_list(p, base, v, conf_parse_sts_mx_item);
}

/* ---- custom keys: [delivery] ------------------------------------------ */

/*
 * "HOST:PORT" or "HOST" where HOST is a host name, an IPv4 address or an
 * [IPv6] literal. With need_port, the port is required.
 */
static int
conf_parse_hostport(struct conf_parse *p, const char *v, bool need_port)
{
	char host[256], why[128], buf[300];
	const char *port;
	struct conf_sockaddr sa;
	unsigned portnum;
	bool v6;

	if (hostport_split(v, host, sizeof(host), &port, &v6) == -1)
		return conf_parse_fail(p, v6 ? "bad [IPv6] literal" :
		    "bad host name");
	if (port == NULL && need_port)
		return conf_parse_fail(p, "a port is required (HOST:PORT)");
	if (port != NULL && conf_check_port(port, &portnum, why,
	    sizeof(why)) == -1)
		return conf_parse_fail(p, "%s", why);
	if (!v6 && conf_valid_hostname(host))
		return 0;
	/* Not a name: it must be an address (checked with a dummy port). */
	snprintf(buf, sizeof(buf), v6 || strchr(host, ':') ? "[%s]:1" :
	    "%s:1", host);
	if (conf_check_sockaddr(buf, &sa, why, sizeof(why)) == -1)
		return conf_parse_fail(p, "bad host %s",
		    log_escape(host, strlen(host), why, sizeof(why)));
	return 0;
}

static int
conf_parse_local(struct conf_parse *p, void *base, const char *v)
{
	struct conf *c = base;

	if (strcmp(v, "maildir") == 0) {
		c->delivery_local = CONF_LOCAL_MAILDIR;
		conf_parse_setstr(&c->delivery_lmtp_target, NULL);
		return 0;
	}
	if (strncmp(v, "lmtp:unix:", 10) == 0) {
		if (v[10] != '/')
			return conf_parse_fail(p, "lmtp:unix: needs an "
			    "absolute socket path");
		c->delivery_local = CONF_LOCAL_LMTP_UNIX;
		conf_parse_setstr(&c->delivery_lmtp_target, v + 10);
		return 0;
	}
	if (strncmp(v, "lmtp:", 5) == 0) {
		if (conf_parse_hostport(p, v + 5, true) == -1)
			return -1;
		c->delivery_local = CONF_LOCAL_LMTP_INET;
		conf_parse_setstr(&c->delivery_lmtp_target, v + 5);
		return 0;
	}
	return conf_parse_fail(p, "must be maildir, lmtp:unix:/PATH or "
	    "lmtp:HOST:PORT");
}

static int
conf_parse_relayhost(struct conf_parse *p, void *base, const char *v)
{
	struct conf *c = base;
	const char *rest;

	if (*v == '\0') {
		conf_parse_setstr(&c->relayhost, NULL);
		return 0;
	}
	if (strncmp(v, "smtps://", 8) == 0)
		rest = v + 8;
	else if (strncmp(v, "smtp://", 7) == 0)
		rest = v + 7;
	else
		return conf_parse_fail(p, "must be smtps://HOST[:PORT] or "
		    "smtp://HOST[:PORT]");
	if (conf_parse_hostport(p, rest, false) == -1)
		return -1;
	conf_parse_setstr(&c->relayhost, v);
	return 0;
}

static int
conf_parse_retry(struct conf_parse *p, void *base, const char *v)
{
	struct conf *c = base;
	unsigned long long n;
	char why[256];

	if (conf_check_duration(v, 1, 365 * 86400, &n, why, sizeof(why)) == -1)
		return conf_parse_fail(p, "%s", why);
	if (c->nretry_schedule == CONF_MAX_RETRIES)
		return conf_parse_fail(p, "too many intervals (at most %d)",
		    CONF_MAX_RETRIES);
	c->retry_schedule = xreallocarray(c->retry_schedule,
	    c->nretry_schedule + 1, sizeof(unsigned));
	c->retry_schedule[c->nretry_schedule++] = (unsigned)n;
	return 0;
}

static int
conf_parse_retry_schedule(struct conf_parse *p, void *base, const char *v)
{
	struct conf *c = base;

	if (!p->continuation) {
		if (*v == '\0')
			return conf_parse_fail(p, "must not be empty");
		c->nretry_schedule = 0;
	}
	return conf_check_list(p, base, v, conf_parse_retry);
}

/* ---- custom keys: [dns] ----------------------------------------------- */

/* "ADDR" or "ADDR@PORT", appended to dns_resolver as ", "-joined text. */
static int
conf_parse_forwarder(struct conf_parse *p, void *base, const char *v)
{
	struct conf *c = base;
	struct conf_sockaddr sa;
	char buf[300], why[128];
	const char *at = strchr(v, '@');
	size_t alen = at ? (size_t)(at - v) : strlen(v), count = 1;
	bool v6 = memchr(v, ':', alen) != NULL;

	for (size_t i = 0; i < 2; i++) {
		static const char *const modes[] = { "system", "recursive" };

		if (strcmp(v, modes[i]) == 0 || (c->dns_resolver != NULL &&
		    strcmp(c->dns_resolver, modes[i]) == 0))
			return conf_parse_fail(p, "%s cannot be combined with "
			    "forwarders", modes[i]);
	}
	if (alen > 64)
		return conf_parse_fail(p, "bad forwarder (ADDR or ADDR@PORT)");
	snprintf(buf, sizeof(buf), v6 ? "[%.*s]:%s" : "%.*s:%s", (int)alen, v,
	    at ? at + 1 : "53");
	if (conf_check_sockaddr(buf, &sa, why, sizeof(why)) == -1)
		return conf_parse_fail(p, "bad forwarder %s (ADDR or "
		    "ADDR@PORT)", log_escape(v, strlen(v), buf, sizeof(buf)));
	for (const char *q = c->dns_resolver; q && *q; q++)
		count += *q == ',';
	if (c->dns_resolver != NULL && count >= CONF_MAX_RESOLVERS)
		return conf_parse_fail(p, "too many forwarders (at most %d)",
		    CONF_MAX_RESOLVERS);
	if (c->dns_resolver == NULL) {
		c->dns_resolver = xstrdup(v);
	} else {
		char *joined = xasprintf("%s, %s", c->dns_resolver, v);

		free(c->dns_resolver);
		c->dns_resolver = joined;
	}
	return 0;
}

static int
conf_parse_resolver_item(struct conf_parse *p, void *base, const char *v)
{
	struct conf *c = base;

	if ((strcmp(v, "system") == 0 || strcmp(v, "recursive") == 0) &&
	    c->dns_resolver == NULL) {
		c->dns_resolver = xstrdup(v);
		return 0;
	}
	return conf_parse_forwarder(p, base, v);
}

static int
conf_parse_resolver(struct conf_parse *p, void *base, const char *v)
{
	struct conf *c = base;

	if (!p->continuation) {
		if (*v == '\0')
			return conf_parse_fail(p, "must not be empty (use "
			    "system)");
		conf_parse_setstr(&c->dns_resolver, NULL);
	}
	return conf_check_list(p, base, v, conf_parse_resolver_item);
}

/* ---- custom keys: [reports] ------------------------------------------- */

/* local@domain: a non-empty local part of printable ASCII without spaces,
 * quotes or angle brackets (report addresses are written into header
 * fields as they are), and a valid host name. */
static int
conf_parse_check_address(struct conf_parse *p, const char *v)
{
	const char *at = strrchr(v, '@');
	char e[80];

	if (at != NULL && at > v && (size_t)(at - v) <= 64 &&
	    conf_valid_hostname(at + 1)) {
		const char *q;

		for (q = v; q < at; q++)
			if (*q <= ' ' || *q >= 0x7f || strchr("\"<>()[],;:\\@",
			    *q) != NULL)
				break;
		if (q == at)
			return 0;
	}
	return conf_parse_fail(p, "%s is not a mail address (local@domain)",
	    log_escape(v, strlen(v), e, sizeof(e)));
}

char *
conf_parse_address_dup(const char *v)
{
	char *s = xstrdup(v);

	for (char *q = strrchr(s, '@'); q != NULL && *q != '\0'; q++)
		*q = (char)tolower((unsigned char)*q);
	return s;
}

static int
conf_parse_reports_from(struct conf_parse *p, void *base, const char *v)
{
	struct conf *c = base;

	if (*v == '\0') {
		conf_parse_setstr(&c->reports_from, NULL);
		return 0;
	}
	if (conf_parse_check_address(p, v) == -1)
		return -1;
	free(c->reports_from);
	c->reports_from = conf_parse_address_dup(v);
	return 0;
}

/* Free text that goes into reports (XML, JSON, header fields): printable
 * ASCII, so it needs no encoding anywhere. */
static int
conf_parse_org_name(struct conf_parse *p, void *base, const char *v)
{
	struct conf *c = base;

	for (const char *q = v; *q != '\0'; q++)
		if (*q < ' ' || *q >= 0x7f || *q == '"' || *q == '\\')
			return conf_parse_fail(p, "printable ASCII only, "
			    "without quotes or backslashes");
	conf_parse_setstr(&c->reports_org_name, *v ? v : NULL);
	return 0;
}

void
conf_parse_strv_reset(struct conf_parse *p, char ***v, size_t *n)
{
	if (p->continuation)
		return;
	for (size_t i = 0; i < *n; i++)
		free((*v)[i]);
	free(*v);
	*v = NULL;
	*n = 0;
}

int
conf_parse_strv_add(struct conf_parse *p, char ***v, size_t *n, size_t max,
    const char *what, char *item)
{
	if (*n == max) {
		free(item);
		return conf_parse_fail(p, "too many %s (at most %zu)", what,
		    max);
	}
	*v = xreallocarray(*v, *n + 1, sizeof(**v));
	(*v)[(*n)++] = item;
	return 0;
}

static int
conf_parse_inbox_item(struct conf_parse *p, void *base, const char *v)
{
	struct conf *c = base;

	if (conf_parse_check_address(p, v) == -1)
		return -1;
	return conf_parse_strv_add(p, &c->reports_inbox, &c->nreports_inbox,
	    CONF_MAX_INBOX, "addresses", conf_parse_address_dup(v));
}

static int
conf_parse_inbox(struct conf_parse *p, void *base, const char *v)
{
	struct conf *c = base;

	conf_parse_strv_reset(p, &c->reports_inbox, &c->nreports_inbox);
	return conf_check_list(p, base, v, conf_parse_inbox_item);
}

/* ---- custom keys: [auth] --------------------------------------------- */

/* "internal" or "dovecot:/path/to/auth-client" (the socket Postfix's
 * smtpd_sasl_type = dovecot uses). */
static int
conf_parse_passdb(struct conf_parse *p, void *base, const char *v)
{
	struct conf *c = base;

	if (strcmp(v, "internal") == 0) {
		c->passdb = CONF_PASSDB_INTERNAL;
		conf_parse_setstr(&c->passdb_socket, NULL);
		return 0;
	}
	if (strncmp(v, "dovecot:", 8) != 0)
		return conf_parse_fail(p, "must be internal or dovecot:PATH");
	if (v[8] != '/')
		return conf_parse_fail(p, "dovecot: needs the absolute path "
		    "of Dovecot's auth-client socket");
	c->passdb = CONF_PASSDB_DOVECOT;
	conf_parse_setstr(&c->passdb_socket, v + 8);
	return 0;
}

/* ---- custom keys: [lookalike] ------------------------------------------ */

/* A domain name (U-labels allowed), kept in its A-label form, the form
 * the From: domains of messages are compared in. */
static int
conf_parse_protect_item(struct conf_parse *p, void *base, const char *v)
{
	struct conf *c = base;
	struct addr a;
	char e[80];

	if (addr_parse_domain(v, strlen(v), true, &a) != ADDR_OK ||
	    a.domain[0] == '[' || strchr(a.domain, '.') == NULL)
		return conf_parse_fail(p, "%s is not a domain name of two "
		    "labels or more", log_escape(v, strlen(v), e, sizeof(e)));
	return conf_parse_strv_add(p, &c->lookalike_protect,
	    &c->nlookalike_protect, CONF_MAX_PROTECT, "domains",
	    xstrdup(a.domain));
}

static int
conf_parse_protect(struct conf_parse *p, void *base, const char *v)
{
	struct conf *c = base;

	conf_parse_strv_reset(p, &c->lookalike_protect, &c->nlookalike_protect);
	return conf_check_list(p, base, v, conf_parse_protect_item);
}

static int
conf_parse_lookalike_action(struct conf_parse *p, void *base, const char *v)
{
	struct conf *c = base;

	for (int a = CONF_LOOKALIKE_HEADER; a <= CONF_LOOKALIKE_JUNK; a++)
		if (strcmp(v, conf_lookalike_action_name(
		    (enum conf_lookalike_action)a)) == 0) {
			c->lookalike_action = (enum conf_lookalike_action)a;
			return 0;
		}
	return conf_parse_fail(p, "must be header, tag or junk");
}

/* ---- the table -------------------------------------------------------- */

#define OFF(f)		offsetof(struct conf, f)
#define CUSTOM(name, fn, print, flags) \
	{ name, CONF_T_CUSTOM, 0, 0, 0, flags, fn, print }
#define NUM(name, type, off, min, max) \
	{ name, type, off, min, max, 0, NULL, NULL }

static const struct conf_key conf_keys_server[] = {
	CUSTOM("hostname", conf_parse_hostname, conf_print_hostname, 0),
	{ "data_dir", CONF_T_PATH, OFF(data_dir), 1, 0, 0, NULL, NULL },
	CUSTOM("user", conf_parse_user, conf_print_user, 0),
	CUSTOM("workers", conf_parse_workers, conf_print_workers, 0),
	NUM("max_message_size", CONF_T_SIZE, OFF(max_message_size), 1024,
	    1ULL << 32),
	NUM("max_recipients", CONF_T_UINT, OFF(max_recipients), 1,
	    LIMIT_RECIPIENTS_MAX),
	NUM("max_hops", CONF_T_UINT, OFF(max_hops), 1, LIMIT_HOPS_MAX),
	CUSTOM("trusted_networks", conf_parse_networks, conf_print_networks,
	    CONF_KEY_LIST),
	NUM("max_connections", CONF_T_UINT, OFF(max_connections), 1, 1000000),
	NUM("max_connections_per_ip", CONF_T_UINT, OFF(max_connections_per_ip),
	    1, 1000000),
	NUM("max_errors", CONF_T_UINT, OFF(max_errors), 1, 1000),
	NUM("max_line_length", CONF_T_SIZE, OFF(max_line_length), 80, 65536),
	CUSTOM("bare_newline", conf_parse_bare_newline,
	    conf_print_bare_newline, 0),
	NUM("command_timeout", CONF_T_DURATION, OFF(command_timeout), 1,
	    86400),
	NUM("data_timeout", CONF_T_DURATION, OFF(data_timeout), 1, 86400),
	NUM("tls_handshake_timeout", CONF_T_DURATION,
	    OFF(tls_handshake_timeout), 1, 86400),
	CUSTOM("recipient_delimiter", conf_parse_recipient_delimiter,
	    conf_print_recipient_delimiter, 0),
	{ "submit_socket", CONF_T_PATH, OFF(submit_socket), 0, 0, 0, NULL,
	    NULL },
	NUM("data_total_timeout", CONF_T_DURATION, OFF(data_total_timeout), 1,
	    7 * 86400),
	NUM("stress_timeout", CONF_T_DURATION, OFF(stress_timeout), 1, 86400),
	/* Postfix's postscreen_greet_wait is 6 s; a minute is plenty. */
	NUM("pregreet_wait", CONF_T_DURATION, OFF(pregreet_wait), 0, 60),
	/* A continuation line cannot hold "zone=code" (it has no '='):
	 * each dnsbl line adds its zones, and conf_print writes one a line. */
	CUSTOM("dnsbl", conf_parse_dnsbls, conf_print_dnsbl,
	    CONF_KEY_LIST | CONF_KEY_REPEAT),
};

static const struct conf_key conf_keys_tls[] = {
	CUSTOM("cert", conf_parse_cert, conf_print_certs, CONF_KEY_REPEAT),
	CUSTOM("key", conf_parse_key, NULL, CONF_KEY_REPEAT),
	CUSTOM("min_version", conf_parse_min_version, conf_print_min_version,
	    0),
};

static const struct conf_key conf_keys_listen[] = {
	CUSTOM("address", conf_parse_address, conf_print_address,
	    CONF_KEY_LIST),
	CUSTOM("role", conf_parse_role, conf_print_role, 0),
	CUSTOM("tls", conf_parse_tls, conf_print_tls, 0),
	{ "password_file", CONF_T_PATH,
	    offsetof(struct conf_listener, password_file), 0, 0, 0, NULL,
	    NULL },
	{ "proxy_protocol", CONF_T_BOOL,
	    offsetof(struct conf_listener, proxy_protocol), 0, 0, 0, NULL,
	    NULL },
	CUSTOM("proxy_from", conf_parse_proxy_from, conf_print_proxy_from,
	    CONF_KEY_LIST),
};

static const struct conf_key conf_keys_domain[] = {
	CUSTOM("dkim_selector", conf_parse_selector, conf_print_dkim,
	    CONF_KEY_REPEAT),
	CUSTOM("dkim_key", conf_parse_dkim_key, NULL, CONF_KEY_REPEAT),
	CUSTOM("mta_sts", conf_parse_domain_sts, conf_print_domain_sts, 0),
	CUSTOM("mta_sts_mx", conf_parse_sts_mx, conf_print_sts_mx,
	    CONF_KEY_LIST),
	/* RFC 8461 §3.2: at most 31557600 (about a year). */
	NUM("mta_sts_max_age", CONF_T_DURATION,
	    offsetof(struct conf_domain, mta_sts_max_age), 60, 31557600),
};

static const struct conf_key conf_keys_delivery[] = {
	CUSTOM("local", conf_parse_local, conf_print_local, 0),
	CUSTOM("relayhost", conf_parse_relayhost, conf_print_relayhost, 0),
	{ "relayhost_credentials", CONF_T_PATH, OFF(relayhost_credentials), 0,
	    0, 0, NULL, NULL },
	{ "relayhost_ca", CONF_T_PATH, OFF(relayhost_ca), 0, 0, 0, NULL,
	    NULL },
	NUM("mx_port", CONF_T_UINT, OFF(mx_port), 1, 65535),
	CUSTOM("retry_schedule", conf_parse_retry_schedule,
	    conf_print_retry_schedule, CONF_KEY_LIST),
	NUM("queue_lifetime", CONF_T_DURATION, OFF(queue_lifetime), 60,
	    365 * 86400),
	NUM("dane", CONF_T_BOOL, OFF(dane), 0, 0),
	NUM("mta_sts", CONF_T_BOOL, OFF(mta_sts), 0, 0),
	{ "tls_ca", CONF_T_PATH, OFF(tls_ca), 0, 0, 0, NULL, NULL },
	NUM("fetch_private_addresses", CONF_T_BOOL,
	    OFF(fetch_private_addresses), 0, 0),
};

static const struct conf_key conf_keys_policy[] = {
	CUSTOM("tls", conf_parse_policy_tls, conf_print_policy_tls, 0),
	CUSTOM("mx_match", conf_parse_mx_match, conf_print_mx_match,
	    CONF_KEY_LIST),
};

static const struct conf_key conf_keys_auth[] = {
	CUSTOM("passdb", conf_parse_passdb, conf_print_passdb, 0),
	NUM("spf_reject_fail", CONF_T_BOOL, OFF(spf_reject_fail), 0, 0),
	NUM("dmarc_enforce", CONF_T_BOOL, OFF(dmarc_enforce), 0, 0),
	/* SASL PLAIN carries at most 255 octets (RFC 4616 §2). */
	NUM("min_password_length", CONF_T_UINT, OFF(min_password_length), 1,
	    LIMIT_SASL_FIELD),
};

static const struct conf_key conf_keys_dns[] = {
	CUSTOM("resolver", conf_parse_resolver, conf_print_resolver,
	    CONF_KEY_LIST),
	{ "trust_anchor", CONF_T_PATH, OFF(dns_trust_anchor), 0, 0, 0, NULL,
	    NULL },
	{ "unbound_config", CONF_T_PATH, OFF(dns_unbound_config), 0, 0, 0,
	    NULL, NULL },
};

static const struct conf_key conf_keys_reports[] = {
	CUSTOM("from", conf_parse_reports_from, conf_print_reports_from, 0),
	CUSTOM("org_name", conf_parse_org_name, conf_print_org_name, 0),
	CUSTOM("inbox", conf_parse_inbox, conf_print_inbox, CONF_KEY_LIST),
	NUM("dmarc_aggregate", CONF_T_BOOL, OFF(reports_dmarc_aggregate), 0,
	    0),
	NUM("tlsrpt", CONF_T_BOOL, OFF(reports_tlsrpt), 0, 0),
	NUM("dmarc_failure_reports", CONF_T_BOOL, OFF(reports_dmarc_failure),
	    0, 0),
	/* RFC 9990 §3.3: at least daily is expected; hourly is the most
	 * any receiver should have to take. */
	NUM("interval", CONF_T_DURATION, OFF(reports_interval), 3600, 86400),
	NUM("retention", CONF_T_DURATION, OFF(reports_retention), 86400,
	    3660 * 86400),
	NUM("failure_reports_per_hour", CONF_T_UINT,
	    OFF(reports_failure_per_hour), 0, 10000),
};

static const struct conf_key conf_keys_forwarding[] = {
	NUM("srs", CONF_T_BOOL, OFF(forward_srs), 0, 0),
	/* SRS timestamps count days modulo 1024 (2^10). */
	NUM("srs_max_age", CONF_T_DURATION, OFF(forward_srs_max_age), 86400,
	    1000 * 86400),
	NUM("arc", CONF_T_BOOL, OFF(forward_arc), 0, 0),
};

/* At most what the shared hour counters hold (net/abusecalc.h's
 * HOURWIN_MAX, where they saturate): a higher limit would never hold. */
static const struct conf_key conf_keys_limits[] = {
	NUM("messages_per_hour", CONF_T_UINT, OFF(limits_messages_per_hour),
	    0, 1000000),
	NUM("recipients_per_hour", CONF_T_UINT,
	    OFF(limits_recipients_per_hour), 0, 1000000),
};

static const struct conf_key conf_keys_lookalike[] = {
	CUSTOM("protect", conf_parse_protect, conf_print_protect,
	    CONF_KEY_LIST),
	CUSTOM("action", conf_parse_lookalike_action,
	    conf_print_lookalike_action, 0),
};

#define SECTION(name, kind, named, keys) \
	[kind] = { name, kind, named, keys, sizeof(keys) / sizeof(keys[0]) }

const struct conf_section conf_sections[CONF_SEC_COUNT] = {
	SECTION("server", CONF_SEC_SERVER, false, conf_keys_server),
	SECTION("tls", CONF_SEC_TLS, false, conf_keys_tls),
	SECTION("listen", CONF_SEC_LISTEN, true, conf_keys_listen),
	SECTION("domain", CONF_SEC_DOMAIN, true, conf_keys_domain),
	SECTION("delivery", CONF_SEC_DELIVERY, false, conf_keys_delivery),
	SECTION("auth", CONF_SEC_AUTH, false, conf_keys_auth),
	SECTION("dns", CONF_SEC_DNS, false, conf_keys_dns),
	SECTION("policy", CONF_SEC_POLICY, true, conf_keys_policy),
	SECTION("reports", CONF_SEC_REPORTS, false, conf_keys_reports),
	SECTION("forwarding", CONF_SEC_FORWARDING, false,
	    conf_keys_forwarding),
	SECTION("limits", CONF_SEC_LIMITS, false, conf_keys_limits),
	SECTION("lookalike", CONF_SEC_LOOKALIKE, false, conf_keys_lookalike),
	[CONF_SEC_MILTER] = { "milter", CONF_SEC_MILTER, true,
	    conf_keys_milter, CONF_MILTER_NKEYS },
	[CONF_SEC_STORE] = { "store", CONF_SEC_STORE, false,
	    conf_keys_store, CONF_STORE_NKEYS },
};

_Static_assert(sizeof(conf_keys_server) / sizeof(conf_keys_server[0]) <=
    CONF_MAX_KEYS, "seen_line is too small");

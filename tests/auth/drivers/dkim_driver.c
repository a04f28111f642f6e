/* SPDX-License-Identifier: ISC */
/*
 * Test driver for DKIM, built by tests/auth/test_dkim_crosscheck.py (see
 * there for the command line; it needs only src/core, src/dns, src/conf
 * and src/auth/dkim_*.c).
 *
 *   dkim_driver verify RESOLVER UNBOUND_CONF FILE
 *       verify FILE through the DNS at RESOLVER ("127.0.0.1@PORT"); one
 *       line per signature: "RESULT d=D s=S a=ALG reason=TEXT"; "none" if
 *       there are none. The body is fed in small, odd-sized chunks so the
 *       streaming canonicaliser is exercised.
 *   dkim_driver sign DOMAIN SELECTOR:KEYFILE[,SELECTOR:KEYFILE...] FILE
 *       print FILE with our DKIM-Signature fields prepended.
 *
 * FILE may use LF or CRLF line ends; it is turned into CRLF first, as the
 * SMTP session stores it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/dkim_sign.h"
#include "auth/dkim_verify.h"
#include "conf/conf.h"
#include "core/buf.h"
#include "core/log.h"

static void
read_crlf(const char *path, struct buf *out)
{
	FILE *fp = fopen(path, "rb");
	int c, prev = 0;

	if (fp == NULL) {
		perror(path);
		exit(2);
	}
	buf_init(out, 64 * 1024 * 1024);
	while ((c = fgetc(fp)) != EOF) {
		if (c == '\n' && prev != '\r')
			buf_append(out, "\r", 1);
		buf_append(out, &(char){ (char)c }, 1);
		prev = c;
	}
	fclose(fp);
}

/* Length of the header section including its empty line. */
static size_t
header_len(const struct buf *m)
{
	const char *p = buf_cstr(m);
	const char *e = memmem(p, m->len, "\r\n\r\n", 4);

	if (m->len >= 2 && memcmp(p, "\r\n", 2) == 0)
		return 2;
	return e ? (size_t)(e - p) + 4 : m->len;
}

static int
do_verify(const char *resolver, const char *ubconf, const char *path)
{
	struct conf c;
	struct buf m;
	struct dkim_verify *v;
	size_t hl, off, step = 1;
	char err[256];

	memset(&c, 0, sizeof(c));
	c.dns_resolver = (char *)resolver;
	c.dns_unbound_config = (char *)ubconf;
	read_crlf(path, &m);
	hl = header_len(&m);
	v = dkim_verify_new((const char *)m.data, hl, time(NULL));
	for (off = hl; off < m.len; off += step, step = step * 3 % 1031 + 1)
		dkim_verify_body(v, m.data + off, off + step > m.len ?
		    m.len - off : step);
	if (dkim_verify_run_sync(v, &c, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	if (dkim_verify_count(v) == 0)
		printf("none\n");
	for (size_t i = 0; i < dkim_verify_count(v); i++) {
		const struct dkim_result *r = dkim_verify_result(v, i);
		printf("%s d=%s s=%s a=%s b=%s reason=%s\n",
		    dkim_res_name(r->res), r->d, r->s, dkim_alg_name(r->alg),
		    r->b, r->detail);
	}
	dkim_verify_free(v);
	buf_clear(&m);
	return 0;
}

static int
do_sign(const char *domain, char *keyspec, const char *path)
{
	struct dkim_sign_key *keys[DKIM_SIGN_KEYS_MAX];
	struct dkim_sign *s;
	struct buf m, out;
	size_t n = 0, hl;
	char err[256], *save = NULL;

	for (char *k = strtok_r(keyspec, ",", &save); k != NULL &&
	    n < DKIM_SIGN_KEYS_MAX; k = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(k, ':');
		if (colon == NULL)
			return 2;
		*colon = '\0';
		if ((keys[n++] = dkim_sign_key_load(domain, k, colon + 1, err,
		    sizeof(err))) == NULL) {
			fprintf(stderr, "%s\n", err);
			return 2;
		}
	}
	read_crlf(path, &m);
	hl = header_len(&m);
	s = dkim_sign_new(keys, n, time(NULL));
	dkim_sign_body(s, m.data + hl, m.len - hl);
	buf_init(&out, 1 << 20);
	if (dkim_sign_finish(s, (const char *)m.data, hl, &out, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	fwrite(out.data, 1, out.len, stdout);
	fwrite(m.data, 1, m.len, stdout);
	dkim_sign_free(s);
	for (size_t i = 0; i < n; i++)
		dkim_sign_key_free(keys[i]);
	buf_clear(&out);
	buf_clear(&m);
	return 0;
}

int
main(int argc, char **argv)
{
	log_init("dkim_driver", false, false);
	if (argc == 5 && strcmp(argv[1], "verify") == 0)
		return do_verify(argv[2], argv[3], argv[4]);
	if (argc == 5 && strcmp(argv[1], "sign") == 0)
		return do_sign(argv[2], argv[3], argv[4]);
	fprintf(stderr, "usage: dkim_driver verify RESOLVER UBCONF FILE | "
	    "sign DOMAIN SEL:KEY[,SEL:KEY] FILE\n");
	return 2;
}

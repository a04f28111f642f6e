/* SPDX-License-Identifier: ISC */
/*
 * Test driver for ARC verification, built by
 * tests/auth/test_arc_crosscheck.py (see there for the command line; it
 * needs only src/core, src/dns, src/conf, src/auth/dkim_{sig,key,canon,
 * verify}.c, src/auth/authres.c and src/auth/arc.c).
 *
 *   arc_driver verify RESOLVER UNBOUND_CONF FILE
 *       verify the ARC chain of FILE through the DNS at RESOLVER
 *       ("127.0.0.1@PORT") with the asynchronous code (run_sync). Prints
 *       "RESULT n=N oldest=K reason=TEXT" (oldest is -1 unless pass),
 *       then one line per set: "set I cv=CV ams=RES as=RES", then the
 *       Authentication-Results field we would add for client 192.0.2.1.
 *       The body is fed in small, odd-sized chunks.
 *
 * FILE may use LF or CRLF line ends; it is turned into CRLF first, as the
 * SMTP session stores it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/arc.h"
#include "auth/authres.h"
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

static void
print_result(const struct arc_verify *v)
{
	static const char *cvs[] = { "none", "pass", "fail" };
	struct authres_result r;
	struct buf out;

	printf("%s n=%u oldest=%d reason=%s\n",
	    arc_result_name(arc_verify_result(v)), arc_verify_count(v),
	    arc_verify_oldest_pass(v),
	    arc_reason_name(arc_verify_reason(v)));
	for (unsigned i = 1; arc_verify_set(v, i) != NULL; i++) {
		const struct arc_set *s = arc_verify_set(v, i);
		printf("set %u cv=%s ams=%s as=%s\n", i, cvs[s->cv],
		    dkim_res_name(s->ams.res), dkim_res_name(s->as.res));
	}
	arc_verify_authres(v, "192.0.2.1", &r);
	buf_init(&out, 4096);
	if (authres_format(&out, "mx.sealmail.test", &r, 1) == 0)
		printf("%s", buf_cstr(&out));
	buf_clear(&out);
}

static int
do_verify(const char *resolver, const char *ubconf, const char *path)
{
	struct conf c;
	struct buf m;
	struct arc_verify *v;
	size_t hl, off, step = 1;
	char err[256];

	memset(&c, 0, sizeof(c));
	c.dns_resolver = (char *)resolver;
	c.dns_unbound_config = (char *)ubconf;
	read_crlf(path, &m);
	hl = header_len(&m);
	v = arc_verify_new((const char *)m.data, hl, time(NULL));
	for (off = hl; off < m.len; off += step, step = step * 3 % 1031 + 1)
		arc_verify_body(v, m.data + off, off + step > m.len ?
		    m.len - off : step);
	if (arc_verify_run_sync(v, &c, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		arc_verify_free(v);
		buf_clear(&m);
		return 1;
	}
	print_result(v);
	arc_verify_free(v);
	buf_clear(&m);
	return 0;
}

int
main(int argc, char **argv)
{
	log_init("arc_driver", false, false);
	if (argc == 5 && strcmp(argv[1], "verify") == 0)
		return do_verify(argv[2], argv[3], argv[4]);
	fprintf(stderr, "usage: arc_driver verify RESOLVER UNBOUND_CONF "
	    "FILE\n");
	return 2;
}

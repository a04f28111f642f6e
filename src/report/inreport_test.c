/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for the received-report readers (report/in_*.c, inreport.c):
 * the RFC examples (tests/data/reports/, found from the current directory,
 * $SEALMAIL_SRCDIR or this file's path) plain, gzip, zip and inside
 * messages as providers send them, and hostile input: billion laughs,
 * external entity, truncated gzip, a gzip of 1 GB of zeros made here,
 * deep nesting, too many records.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/base64.h"
#include "core/buf.h"
#include "core/limits.h"
#include "core/xmalloc.h"
#include "report/in_arf.h"
#include "report/in_dmarc.h"
#include "report/in_mime.h"
#include "report/in_tlsrpt.h"
#include "report/in_unpack.h"
#include "report/inreport.h"

#define DATA_DIR "tests/data/reports"

/* The whole file tests/data/reports/name (NUL added); *len its size. */
static char *
load(const char *name, size_t *len)
{
	const char *env = getenv("SEALMAIL_SRCDIR");
	char path[1024], here[1024];
	FILE *f = NULL;

	snprintf(here, sizeof(here), "%s", __FILE__);
	char *slash = strrchr(here, '/');
	if (slash)
		*slash = '\0';
	const char *bases[] = { env, ".", slash ? here : NULL };
	const char *suffix[] = { "", "", "/../.." };
	for (size_t i = 0; i < 3 && f == NULL; i++) {
		if (bases[i] == NULL)
			continue;
		snprintf(path, sizeof(path), "%s%s/" DATA_DIR "/%s", bases[i],
		    suffix[i], name);
		f = fopen(path, "rb");
	}
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *p = xmalloc((size_t)n + 1);
	assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
	p[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return p;
}

/* Collects what inreport_from_message finds. */
struct found {
	size_t		 n, nerr;
	enum inreport_kind kind[8];
	char		 org[8][64], id[8][64], err[8][256];
	size_t		 items[8];
	bool		 auth[8];
};

static void
found_cb(const struct inreport *r, const char *err, void *arg)
{
	struct found *f = arg;

	if (r == NULL) {
		snprintf(f->err[f->nerr++ % 8], 256, "%s", err);
		return;
	}
	size_t i = f->n++ % 8;
	f->kind[i] = r->kind;
	f->auth[i] = r->authenticated;
	if (r->kind == INREPORT_DMARC) {
		snprintf(f->org[i], 64, "%s", r->u.dmarc.org_name);
		snprintf(f->id[i], 64, "%s", r->u.dmarc.report_id);
		f->items[i] = r->u.dmarc.nrec;
	} else if (r->kind == INREPORT_TLS) {
		snprintf(f->org[i], 64, "%s", r->u.tls.org_name);
		snprintf(f->id[i], 64, "%s", r->u.tls.report_id);
		f->items[i] = r->u.tls.npol;
	} else {
		snprintf(f->org[i], 64, "%s", r->msg_from_domain);
		snprintf(f->id[i], 64, "%s", r->msg_id);
		f->items[i] = 1;
	}
}

static void
parse_msg(const char *msg, size_t len, struct found *f)
{
	memset(f, 0, sizeof(*f));
	inreport_from_message(msg, len, false, 0, found_cb, f);
}

static void
test_dmarc_rfc9990(void **state)
{
	struct in_dmarc r;
	char err[256];
	size_t len;
	char *x = load("rfc9990-sample.xml", &len);

	(void)state;
	assert_int_equal(in_dmarc_parse(x, len, &r, err, sizeof(err)), 0);
	assert_string_equal(r.org_name, "Sample Reporter");
	assert_string_equal(r.report_id, "3v98abbp8ya9n3va8yr8oa3ya");
	assert_string_equal(r.email, "report_sender@example-reporter.com");
	assert_int_equal(r.begin, 302832000);
	assert_int_equal(r.end, 302918399);
	assert_string_equal(r.policy_domain, "example.com");
	assert_string_equal(r.policy, "quarantine");
	assert_int_equal(r.nrec, 2);
	assert_string_equal(r.rec[0].source_ip, "192.0.2.123");
	assert_int_equal(r.rec[0].count, 123);
	assert_string_equal(r.rec[0].disposition, "pass");
	assert_string_equal(r.rec[0].dkim, "pass");
	assert_string_equal(r.rec[0].spf, "fail");
	assert_string_equal(r.rec[0].header_from, "example.com");
	assert_string_equal(r.rec[0].dkim_domain, "example.com");
	assert_string_equal(r.rec[0].spf_result, "fail");
	assert_string_equal(r.rec[1].source_ip, "198.51.100.7");
	assert_int_equal(r.rec[1].count, 4);
	/* Of two DKIM results the one that passed is kept. */
	assert_string_equal(r.rec[1].dkim_result, "pass");
	assert_string_equal(r.rec[1].envelope_from, "spoofer.example");
	in_dmarc_clear(&r);
	free(x);
}

static void
test_dmarc_rfc7489(void **state)
{
	struct in_dmarc r;
	char err[256];
	size_t len;
	char *x = load("rfc7489-sample.xml", &len);

	(void)state;
	assert_int_equal(in_dmarc_parse(x, len, &r, err, sizeof(err)), 0);
	assert_string_equal(r.org_name, "google.com");
	assert_string_equal(r.report_id, "12598866915817748661");
	assert_string_equal(r.policy_domain, "example.org");
	assert_int_equal(r.nrec, 1);
	assert_int_equal(r.rec[0].count, 2);
	assert_string_equal(r.rec[0].envelope_from, "");
	in_dmarc_clear(&r);
	free(x);
}

static void
expect_refused(const char *xml, size_t len, const char *why)
{
	struct in_dmarc r;
	char err[256] = "";

	assert_int_equal(in_dmarc_parse(xml, len, &r, err, sizeof(err)), -1);
	if (strstr(err, why) == NULL)
		fail_msg("error \"%s\" does not say \"%s\"", err, why);
	in_dmarc_clear(&r);
}

static void
test_dmarc_hostile(void **state)
{
	size_t len;
	char *x;

	(void)state;
	x = load("billion-laughs.xml", &len);
	expect_refused(x, len, "entity");
	free(x);
	x = load("xxe.xml", &len);
	expect_refused(x, len, "entity");
	free(x);
	/* Hidden from a byte scan by UTF-16: refused for its NUL bytes. */
	const char u16[] = "<\0?\0x\0m\0l\0";
	expect_refused(u16, sizeof(u16) - 1, "NUL");
	expect_refused("<feedback><report_metadata>", 27, "malformed");
	expect_refused("<html/>", 7, "root");
	expect_refused("no xml", 6, "not XML");

	/* Deeper than the limit: refused, not recursed into. */
	struct buf b;
	buf_init(&b, 1 << 20);
	buf_append_str(&b, "<feedback>");
	for (int i = 0; i < 200; i++)
		buf_append_str(&b, "<a>");
	for (int i = 0; i < 200; i++)
		buf_append_str(&b, "</a>");
	buf_append_str(&b, "</feedback>");
	expect_refused((const char *)b.data, b.len, "deeper");
	buf_clear(&b);

	/* One record past the limit. */
	buf_init(&b, 64 << 20);
	buf_append_str(&b, "<feedback><report_metadata><org_name>o"
	    "</org_name><report_id>i</report_id></report_metadata>");
	for (int i = 0; i <= LIMIT_REPORT_RECORDS; i++)
		buf_append_str(&b, "<record><row><source_ip>192.0.2.1"
		    "</source_ip><count>1</count></row></record>");
	buf_append_str(&b, "</feedback>");
	expect_refused((const char *)b.data, b.len, "records");
	buf_clear(&b);
}

static void
test_tlsrpt_rfc8460(void **state)
{
	struct in_tls r;
	char err[256];
	size_t len;
	char *j = load("rfc8460-sample.json", &len);

	(void)state;
	assert_int_equal(in_tlsrpt_parse(j, len, &r, err, sizeof(err)), 0);
	assert_string_equal(r.org_name, "Company-X");
	assert_string_equal(r.report_id,
	    "5065427c-23d3-47ca-b6e0-946ea0e8c4be");
	assert_int_equal(r.begin, 1459468800);
	assert_int_equal(r.end, 1459468800 + 86399);
	assert_int_equal(r.npol, 1);
	assert_string_equal(r.pol[0].policy_type, "sts");
	assert_string_equal(r.pol[0].policy_domain, "company-y.example");
	assert_string_equal(r.pol[0].policy_string, "version: STSv1\n"
	    "mode: testing\nmx: *.mail.company-y.example\nmax_age: 86400");
	assert_int_equal(r.pol[0].successful, 5326);
	assert_int_equal(r.pol[0].failed, 303);
	assert_int_equal(r.pol[0].nfail, 3);
	assert_string_equal(r.pol[0].fail[1].result_type,
	    "starttls-not-supported");
	assert_int_equal(r.pol[0].fail[1].failed_session_count, 200);
	assert_string_equal(r.pol[0].fail[2].failure_reason_code,
	    "X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED");
	in_tls_clear(&r);
	free(j);
}

static void
test_tlsrpt_bad(void **state)
{
	static const char *const bad[] = {
		"{", "[]", "{}", "{\"organization-name\":\"x\"}",
		"{\"organization-name\":\"x\",\"report-id\":\"y\","
		"\"date-range\":{\"start-datetime\":\"yesterday\","
		"\"end-datetime\":\"2016-04-01T23:59:59Z\"},\"policies\":[]}",
		"{\"organization-name\":\"x\",\"report-id\":\"y\","
		"\"date-range\":{\"start-datetime\":\"2016-04-01T00:00:00Z\","
		"\"end-datetime\":\"2016-04-01T23:59:59Z\"},\"policies\":[]} x",
	};
	struct in_tls r;
	char err[256];
	long long t;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(in_tlsrpt_parse(bad[i], strlen(bad[i]), &r,
		    err, sizeof(err)), -1);
		in_tls_clear(&r);
	}
	/* Nested past the depth bound. */
	char deep[200];
	memset(deep, '[', sizeof(deep));
	assert_int_equal(in_tlsrpt_parse(deep, sizeof(deep), &r, err,
	    sizeof(err)), -1);
	in_tls_clear(&r);
	assert_int_equal(in_tlsrpt_datetime("2016-04-01T02:00:00+02:00", &t),
	    0);
	assert_int_equal(t, 1459468800);
	assert_int_equal(in_tlsrpt_datetime("2016-04-01T00:00:00.5Z", &t), 0);
	assert_int_equal(in_tlsrpt_datetime("2016-13-01T00:00:00Z", &t), -1);
}

static void
test_arf(void **state)
{
	struct found f;
	size_t len;
	char *m = load("arf-sample.eml", &len);

	(void)state;
	parse_msg(m, len, &f);
	assert_int_equal(f.nerr, 0);
	assert_int_equal(f.n, 1);
	assert_int_equal(f.kind[0], INREPORT_ARF);
	assert_string_equal(f.org[0], "example.com");
	assert_string_equal(f.id[0], "<arf-1@example.com>");
	free(m);

	struct in_arf a;
	char err[256];
	const char *fr = "Feedback-Type: auth-failure\r\nUser-Agent: x/1\r\n"
	    "Version: 1\r\nAuth-Failure: dmarc\r\nSource-IP: 192.0.2.9\r\n"
	    "Reported-Domain: example.org\r\n";
	assert_int_equal(in_arf_parse(fr, strlen(fr), &a, err, sizeof(err)),
	    0);
	assert_string_equal(a.feedback_type, "auth-failure");
	assert_string_equal(a.auth_failure, "dmarc");
	assert_string_equal(a.source_ip, "192.0.2.9");
	assert_int_equal(a.incidents, 1);
	in_arf_clear(&a);
	assert_int_equal(in_arf_parse("Version: 1\r\n", 12, &a, err,
	    sizeof(err)), -1);
	in_arf_clear(&a);
}

/* A message with one attachment of type/filename, base64-encoded. */
static char *
make_msg(const char *type, const char *filename, const char *data,
    size_t len, size_t *mlen)
{
	size_t cap = len * 2 + 8;
	char *b64 = xmalloc(cap), *out;
	struct buf b;

	assert_true(base64_encode((const uint8_t *)data, len, b64, cap) >= 0);
	buf_init(&b, 64 << 20);
	buf_printf(&b, "From: DMARC <noreply-dmarc@google.com>\r\n"
	    "Subject: Report domain: example.org\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=\"XyZ\"\r\n\r\n"
	    "--XyZ\r\nContent-Type: text/plain\r\n\r\nhello\r\n--XyZ\r\n"
	    "Content-Type: %s; name=\"%s\"\r\nContent-Disposition: "
	    "attachment; filename=\"%s\"\r\nContent-Transfer-Encoding: "
	    "base64\r\n\r\n", type, filename, filename);
	size_t blen = strlen(b64);
	for (size_t i = 0; i < blen; i += 76) {
		size_t n = blen - i < 76 ? blen - i : 76;
		buf_append(&b, b64 + i, n);
		buf_append_str(&b, "\r\n");
	}
	buf_append_str(&b, "--XyZ--\r\n");
	free(b64);
	*mlen = b.len;
	out = buf_take(&b);
	return out;
}

static void
test_messages(void **state)
{
	struct found f;
	size_t len, mlen;
	char *d, *m;

	(void)state;
	/* Google: a zip attachment. */
	d = load("rfc7489-sample.xml.zip", &len);
	m = make_msg("application/zip", "google.com!example.org!1!2.zip", d,
	    len, &mlen);
	parse_msg(m, mlen, &f);
	assert_int_equal(f.nerr, 0);
	assert_int_equal(f.n, 1);
	assert_string_equal(f.org[0], "google.com");
	free(m);
	free(d);
	/* Microsoft: a gzip attachment. */
	d = load("rfc9990-sample.xml.gz", &len);
	m = make_msg("application/gzip", "r!example.com!1!2.xml.gz", d, len,
	    &mlen);
	parse_msg(m, mlen, &f);
	assert_int_equal(f.n, 1);
	assert_int_equal(f.items[0], 2);
	free(m);
	free(d);
	/* TLS-RPT gzip (RFC 8460 §5.3). */
	d = load("rfc8460-sample.json.gz", &len);
	m = make_msg("application/tlsrpt+gzip", "x.json.gz", d, len, &mlen);
	parse_msg(m, mlen, &f);
	assert_int_equal(f.n, 1);
	assert_int_equal(f.kind[0], INREPORT_TLS);
	free(m);
	free(d);
	/* A plain XML body. */
	d = load("rfc9990-sample.xml", &len);
	struct buf b;
	buf_init(&b, 1 << 20);
	buf_append_str(&b, "From: a@b.example\nContent-Type: text/xml\n\n");
	buf_append(&b, d, len);
	parse_msg((const char *)b.data, b.len, &f);
	assert_int_equal(f.n, 1);
	assert_string_equal(f.org[0], "Sample Reporter");
	buf_clear(&b);
	free(d);
	/* Truncated gzip: one refusal, nothing parsed. */
	d = load("truncated.xml.gz", &len);
	m = make_msg("application/gzip", "t.xml.gz", d, len, &mlen);
	parse_msg(m, mlen, &f);
	assert_int_equal(f.n, 0);
	assert_int_equal(f.nerr, 1);
	assert_non_null(strstr(f.err[0], "truncated"));
	free(m);
	free(d);
	/* Not a report at all. */
	const char *plain = "From: a@b.example\r\n\r\nhello\r\n";
	parse_msg(plain, strlen(plain), &f);
	assert_int_equal(f.n + f.nerr, 0);
}

/* MIME nested deeper than the limit is refused. */
static void
test_mime_depth(void **state)
{
	struct found f;
	struct buf b;

	(void)state;
	buf_init(&b, 1 << 20);
	for (int i = 0; i < 20; i++)
		buf_printf(&b, "Content-Type: multipart/mixed; boundary=b%d"
		    "\r\n\r\n--b%d\r\n", i, i);
	buf_append_str(&b, "Content-Type: text/xml\r\n\r\n<feedback/>\r\n");
	parse_msg((const char *)b.data, b.len, &f);
	assert_int_equal(f.n, 0);
	assert_int_equal(f.nerr, 1);
	assert_non_null(strstr(f.err[0], "MIME"));
	buf_clear(&b);
}

static void
test_mime_param(void **state)
{
	const char *ct = "multipart/mixed; charset=us-ascii;\r\n\t"
	    "boundary=\"a b\\\"c\"; name = plain.xml ;x=\"";
	char out[16];

	(void)state;
	assert_true(in_mime_param(ct, strlen(ct), "BOUNDARY", out,
	    sizeof(out)));
	assert_string_equal(out, "a b\"c");
	assert_true(in_mime_param(ct, strlen(ct), "name", out, sizeof(out)));
	assert_string_equal(out, "plain.xml");
	assert_true(in_mime_param(ct, strlen(ct), "x", out, sizeof(out)));
	assert_string_equal(out, "");
	assert_false(in_mime_param(ct, strlen(ct), "multipart/mixed", out,
	    sizeof(out)));
	assert_false(in_mime_param(ct, strlen(ct), "charset", out, 4));
	assert_true(in_mime_is_report("application/octet-stream",
	    "r.XML.GZ"));
	assert_false(in_mime_is_report("application/octet-stream", "r.exe"));
	assert_false(in_mime_is_report("text/plain", "r.xml"));
}

/* 1 GB of zeros gzipped (about 1 MB), made here in a stream. */
static uint8_t *
gzip_bomb(size_t *len)
{
	static uint8_t zero[1 << 20];
	size_t cap = 4 << 20;
	uint8_t *out = xmalloc(cap);
	z_stream z;

	memset(&z, 0, sizeof(z));
	assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 16 + 15, 9,
	    Z_DEFAULT_STRATEGY), Z_OK);
	z.next_out = out;
	z.avail_out = (uInt)cap;
	for (int i = 0; i < 1024; i++) {
		z.next_in = zero;
		z.avail_in = sizeof(zero);
		assert_int_equal(deflate(&z, i == 1023 ? Z_FINISH : Z_NO_FLUSH),
		    i == 1023 ? Z_STREAM_END : Z_OK);
		assert_int_equal(z.avail_in, 0);
	}
	*len = z.total_out;
	deflateEnd(&z);
	return out;
}

static int
unpack_never(const char *name, const uint8_t *d, size_t n, void *arg)
{
	(void)name;
	(void)d;
	(void)n;
	(void)arg;
	fail_msg("a bomb was unpacked");
	return -1;
}

static void
test_gzip_bomb(void **state)
{
	char err[256];
	size_t len;
	uint8_t *g = gzip_bomb(&len);

	(void)state;
	assert_true(len < 2 << 20);
	assert_int_equal(in_unpack(g, len, unpack_never, NULL, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "past the limit"));
	free(g);
}

static int
unpack_count(const char *name, const uint8_t *d, size_t n, void *arg)
{
	(void)name;
	(void)d;
	(void)n;
	(*(int *)arg)++;
	return 0;
}

/* Broken and oversized zips are refused with a reason. */
static void
test_zip_refused(void **state)
{
	static const char *const cases[][2] = {
		{ "many-entries.zip", "entries" },
		{ "bad-crc.zip", "CRC" },
		{ "truncated.zip", "truncated" },
	};
	char err[256];
	size_t len;
	int n;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *d = load(cases[i][0], &len);
		n = 0;
		err[0] = '\0';
		assert_int_equal(in_unpack((const uint8_t *)d, len,
		    unpack_count, &n, err, sizeof(err)), -1);
		assert_int_equal(n, 0);
		if (strstr(err, cases[i][1]) == NULL)
			fail_msg("%s: \"%s\"", cases[i][0], err);
		free(d);
	}
	/* A zip that is fine gives its one file. */
	char *d = load("rfc7489-sample.xml.zip", &len);
	n = 0;
	assert_int_equal(in_unpack((const uint8_t *)d, len, unpack_count, &n,
	    err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	free(d);
}

static uint8_t *
le(uint8_t *p, uint32_t v, int n)
{
	for (int i = 0; i < n; i++)
		*p++ = (uint8_t)(v >> (8 * i));
	return p;
}

/*
 * A zip whose nentries central directory entries all point at one local
 * entry: usize bytes of text that deflate at an ordinary ratio. Each entry
 * passes every check alone; together they are nentries times the data.
 */
static uint8_t *
zip_overlapping(size_t usize, int nentries, size_t *len)
{
	uint8_t *raw = xmalloc(usize), *z, *p, *zip;
	uLongf clen = compressBound((uLong)usize);
	uint32_t x = 1, crc;
	z_stream zs;

	for (size_t i = 0; i < usize; i++) {
		x = x * 1103515245u + 12345u;
		raw[i] = (uint8_t)('a' + (x >> 16) % 26);
	}
	crc = (uint32_t)crc32(0, raw, (uInt)usize);
	z = xmalloc(clen);
	memset(&zs, 0, sizeof(zs));
	assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, -15, 8,
	    Z_DEFAULT_STRATEGY), Z_OK);
	zs.next_in = raw;
	zs.avail_in = (uInt)usize;
	zs.next_out = z;
	zs.avail_out = (uInt)clen;
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	clen = zs.total_out;
	deflateEnd(&zs);
	free(raw);
	zip = xmalloc(31 + clen + (size_t)nentries * 47 + 22);
	p = le(zip, 0x04034b50, 4);
	p = le(p, 20, 2);
	p = le(p, 0, 2);
	p = le(p, 8, 2);
	p = le(p, 0, 4);
	p = le(p, crc, 4);
	p = le(p, (uint32_t)clen, 4);
	p = le(p, (uint32_t)usize, 4);
	p = le(p, 1, 2);
	p = le(p, 0, 2);
	*p++ = 'r';
	memcpy(p, z, clen);
	p += clen;
	free(z);
	size_t cdoff = (size_t)(p - zip);
	for (int i = 0; i < nentries; i++) {
		p = le(p, 0x02014b50, 4);
		p = le(p, 20, 2);
		p = le(p, 20, 2);
		p = le(p, 0, 2);
		p = le(p, 8, 2);
		p = le(p, 0, 4);
		p = le(p, crc, 4);
		p = le(p, (uint32_t)clen, 4);
		p = le(p, (uint32_t)usize, 4);
		p = le(p, 1, 2);
		p = le(p, 0, 2);
		p = le(p, 0, 2);
		p = le(p, 0, 2);
		p = le(p, 0, 2);
		p = le(p, 0, 4);
		p = le(p, 0, 4);	/* every entry at offset 0 */
		*p++ = 'r';
	}
	size_t cdsize = (size_t)(p - zip) - cdoff;
	p = le(p, 0x06054b50, 4);
	p = le(p, 0, 2);
	p = le(p, 0, 2);
	p = le(p, (uint32_t)nentries, 2);
	p = le(p, (uint32_t)nentries, 2);
	p = le(p, (uint32_t)cdsize, 4);
	p = le(p, (uint32_t)cdoff, 4);
	p = le(p, 0, 2);
	*len = (size_t)(p - zip);
	return zip;
}

/* Entries that share their data (a central directory that lies) cannot
 * multiply the work: the whole zip has the decompressed limit. */
static void
test_zip_overlapping(void **state)
{
	size_t len;
	char err[256] = "";
	int n = 0;
	uint8_t *zip = zip_overlapping(3u << 20, LIMIT_REPORT_ZIP_ENTRIES,
	    &len);

	(void)state;
	assert_int_equal(in_unpack(zip, len, unpack_count, &n, err,
	    sizeof(err)), -1);
	assert_true(n * (3 << 20) <= LIMIT_REPORT_DECOMPRESSED);
	if (strstr(err, "past the limit") == NULL)
		fail_msg("\"%s\"", err);
	free(zip);
	/* Two such entries stay within it. */
	zip = zip_overlapping(3u << 20, 2, &len);
	n = 0;
	assert_int_equal(in_unpack(zip, len, unpack_count, &n, err,
	    sizeof(err)), 0);
	assert_int_equal(n, 2);
	free(zip);
}

static void
test_authenticated(void **state)
{
	const char *ours = "Received: from x\r\nAuthentication-Results: "
	    "mx.example.org; spf=pass smtp.mailfrom=google.com; dkim=pass "
	    "header.d=google.com; dmarc=pass header.from=google.com\r\n";
	const char *fail = "Authentication-Results: mx.example.org; "
	    "dmarc=fail header.from=google.com\r\n";
	const char *other = "Authentication-Results: mx.evil.example; "
	    "dmarc=pass header.from=google.com\r\n";

	(void)state;
	assert_true(inreport_authenticated(ours, strlen(ours),
	    "mx.example.org"));
	assert_false(inreport_authenticated(fail, strlen(fail),
	    "mx.example.org"));
	assert_false(inreport_authenticated(other, strlen(other),
	    "mx.example.org"));
	assert_false(inreport_authenticated("", 0, "mx.example.org"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dmarc_rfc9990),
		cmocka_unit_test(test_dmarc_rfc7489),
		cmocka_unit_test(test_dmarc_hostile),
		cmocka_unit_test(test_tlsrpt_rfc8460),
		cmocka_unit_test(test_tlsrpt_bad),
		cmocka_unit_test(test_arf),
		cmocka_unit_test(test_messages),
		cmocka_unit_test(test_mime_depth),
		cmocka_unit_test(test_mime_param),
		cmocka_unit_test(test_gzip_bomb),
		cmocka_unit_test(test_zip_refused),
		cmocka_unit_test(test_zip_overlapping),
		cmocka_unit_test(test_authenticated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

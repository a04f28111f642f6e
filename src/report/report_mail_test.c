/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for report_mail.c: header folding, the dry run (attachments
 * written under their names, a message without one as QID.eml), the
 * message committed to the spool (sender, NOTIFY=NEVER, MIME parts), and
 * refusal of values that could inject header fields.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"
#include "core/buf.h"
#include "queue/envelope.h"
#include "queue/spool.h"
#include "report/report.h"
#include "report/report_mail.h"

struct mt {
	char		 dir[64];
	struct conf	 conf;
	struct report_run run;
};

static int
mt_setup(void **state)
{
	struct mt *t = calloc(1, sizeof(*t));
	char err[256];

	assert_non_null(t);
	snprintf(t->dir, sizeof(t->dir), "/tmp/sealmail-rmail.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	t->conf.data_dir = t->dir;
	t->conf.reports_from = "noreply-reports@recv.example";
	t->conf.hostname = "mx.recv.example";
	assert_int_equal(spool_init(t->dir, err, sizeof(err)), 0);
	t->run.conf = &t->conf;
	t->run.now = 1796428800;
	*state = t;
	return 0;
}

static int
mt_teardown(void **state)
{
	struct mt *t = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	assert_int_equal(system(cmd), 0);
	free(t);
	return 0;
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	p = malloc((size_t)n + 1);
	assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
	p[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return p;
}

static void
test_field_folding(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 4096);
	assert_int_equal(report_mail_field(&b, "Subject", "Report Domain: "
	    "example.com Submitter: receiver.example Report-ID: "
	    "<0123456789abcdef0123456789abcdef>"), 0);
	/* Folded at the last space that keeps the line within 78. */
	assert_string_equal(buf_cstr(&b), "Subject: Report Domain: "
	    "example.com Submitter: receiver.example Report-ID:\r\n "
	    "<0123456789abcdef0123456789abcdef>\r\n");
	buf_reset(&b);
	assert_int_equal(report_mail_field(&b, "Subject", "short"), 0);
	assert_string_equal(buf_cstr(&b), "Subject: short\r\n");
	buf_clear(&b);
}

static const unsigned char gz[] = { 0x1f, 0x8b, 0x08, 0x00, 0x00, 0xff };

static void
test_to_dir(void **state)
{
	struct mt *t = *state;
	struct report_attachment att = { "application/gzip", "a!b!1!2!x.xml.gz",
	    gz, sizeof(gz), true };
	struct report_mail m = { .to = "d@example.com", .subject = "S",
	    .text = "hello\n", .att = &att, .natt = 1 };
	char err[256], path[256];
	size_t len;
	char *data;

	t->run.to_dir = t->dir;
	assert_int_equal(report_mail_send(&t->run, &m, err, sizeof(err)), 0);
	assert_int_equal(t->run.written, 1);
	assert_int_equal(t->run.sent, 0);
	snprintf(path, sizeof(path), "%s/a!b!1!2!x.xml.gz", t->dir);
	data = slurp(path, &len);
	assert_memory_equal(data, gz, sizeof(gz));
	assert_int_equal(len, sizeof(gz));
	free(data);
	/* Nothing queued. */
	assert_int_equal(spool_list(t->dir, NULL, NULL), 0);
	/* Without a file name: the whole message as QID.eml. */
	att.filename = NULL;
	assert_int_equal(report_mail_send(&t->run, &m, err, sizeof(err)), 0);
	DIR *d = opendir(t->dir);
	struct dirent *e;
	int eml = 0;
	while ((e = readdir(d)) != NULL)
		eml += strstr(e->d_name, ".eml") != NULL;
	closedir(d);
	assert_int_equal(eml, 1);
}

struct found {
	char	qid[IDS_QID_LEN + 1];
	int	n;
};

static void
found_cb(const char *qid, void *arg)
{
	struct found *f = arg;

	snprintf(f->qid, sizeof(f->qid), "%s", qid);
	f->n++;
}

static void
test_queued(void **state)
{
	struct mt *t = *state;
	const char *hdrs[] = { "TLS-Report-Domain: example.com" };
	struct report_attachment att = { "application/gzip", "r.xml.gz", gz,
	    sizeof(gz), true };
	struct report_mail m = { .to = "d@example.com", .subject = "S",
	    .report_type = "tlsrpt", .headers = hdrs, .nheaders = 1,
	    .text = "hello\n", .att = &att, .natt = 1 };
	struct found f = { .n = 0 };
	struct envelope env;
	char err[256];
	int fd;

	assert_int_equal(report_mail_send(&t->run, &m, err, sizeof(err)), 0);
	assert_int_equal(t->run.sent, 1);
	assert_int_equal(spool_list(t->dir, found_cb, &f), 1);
	envelope_init(&env);
	assert_int_equal(spool_env_open(t->dir, f.qid, &env, &fd, err,
	    sizeof(err)), 0);
	assert_string_equal(env.mail_from, "noreply-reports@recv.example");
	assert_int_equal(env.nrcpts, 1);
	assert_string_equal(env.rcpts[0].address, "d@example.com");
	assert_int_equal(env.rcpts[0].notify, ENVELOPE_NOTIFY_NEVER);
	char *msg = calloc(1, env.size + 1);
	assert_int_equal(spool_pread_full(fd, env.size, msg, env.size, 0),
	    (ssize_t)env.size);
	close(fd);
	assert_non_null(strstr(msg, "From: <noreply-reports@recv.example>"
	    "\r\nTo: <d@example.com>\r\n"));
	assert_non_null(strstr(msg, "Auto-Submitted: auto-generated\r\n"));
	assert_non_null(strstr(msg, "TLS-Report-Domain: example.com\r\n"));
	assert_non_null(strstr(msg, "Content-Type: multipart/report; "
	    "report-type=tlsrpt;"));
	assert_non_null(strstr(msg, "Content-Type: text/plain; "
	    "charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
	    "hello\r\n"));
	assert_non_null(strstr(msg, "Content-Disposition: attachment;\r\n"
	    "\tfilename=\"r.xml.gz\"\r\n\r\nH4sIAAD/\r\n"));
	assert_null(strstr(msg, "DKIM-Signature"));	/* no keys */
	free(msg);
	envelope_clear(&env);
}

static void
test_refused(void **state)
{
	struct mt *t = *state;
	const char *bad_hdr[] = { "X: a\r\nBcc: e@evil.example" };
	struct report_mail m = { .to = "d@example.com", .subject = "S",
	    .text = "t" };
	char err[256];

	m.subject = "S\r\nBcc: e@evil.example";
	assert_int_equal(report_mail_send(&t->run, &m, err, sizeof(err)), -1);
	m.subject = "S";
	m.to = "d@example.com>\r\nBcc: <e@evil.example";
	assert_int_equal(report_mail_send(&t->run, &m, err, sizeof(err)), -1);
	m.to = "no-domain";
	assert_int_equal(report_mail_send(&t->run, &m, err, sizeof(err)), -1);
	m.to = "d@example.com";
	m.headers = bad_hdr;
	m.nheaders = 1;
	assert_int_equal(report_mail_send(&t->run, &m, err, sizeof(err)), -1);
	m.nheaders = 0;
	m.text = "caf\xc3\xa9";
	assert_int_equal(report_mail_send(&t->run, &m, err, sizeof(err)), -1);
	assert_int_equal(spool_list(t->dir, NULL, NULL), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_field_folding),
		cmocka_unit_test_setup_teardown(test_to_dir, mt_setup,
		    mt_teardown),
		cmocka_unit_test_setup_teardown(test_queued, mt_setup,
		    mt_teardown),
		cmocka_unit_test_setup_teardown(test_refused, mt_setup,
		    mt_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

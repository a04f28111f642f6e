/* SPDX-License-Identifier: ISC */
/* Unit tests for web/admin_status: numbers on the page, hostile strings
 * escaped, the empty page. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/metrics.h"
#include "store/db.h"
#include "web/admin_status.h"

#define EVIL	"<script>alert(\"x\")</script>&'"

static char *
render(const struct admin_status *st)
{
	struct buf b;

	buf_init(&b, 1 << 20);
	assert_int_equal(admin_status_render(st, &b), 0);
	return buf_take(&b);
}

static void
test_status_numbers(void **state)
{
	struct metrics_snapshot *s = calloc(1, sizeof(*s));
	struct db_dmarc_rate rates[2] = {
		{ .domain = "example.org", .pass = 3, .total = 4 },
		{ .domain = EVIL, .pass = 0, .total = 1 },
	};
	struct admin_status st = { .hostname = "mx." EVIL, .snap = s,
	    .rates = rates, .nrates = 2 };
	char *t;

	(void)state;
	s->now = 1700000000;
	s->queue_known = true;
	s->queue_messages = 2;
	s->queue_oldest = s->now - 125;
	/* 3 accepted this hour, 1 an hour before; 1 rejected. */
	s->hist[METRICS_HIST_N - 1][METRICS_H_ACCEPTED] = 3;
	s->hist[METRICS_HIST_N - 7][METRICS_H_ACCEPTED] = 1;
	s->hist[METRICS_HIST_N - 1][METRICS_H_REJECTED] = 1;
	s->hist[METRICS_HIST_N - 1][METRICS_H_IN_TLS] = 3;
	s->hist[METRICS_HIST_N - 1][METRICS_H_IN_PLAIN] = 1;
	s->hist[METRICS_HIST_N - 1][METRICS_H_IN_DMARC_PASS] = 2;
	s->hist[METRICS_HIST_N - 1][METRICS_H_OUT_AUTH] = 1;
	s->hist[METRICS_HIST_N - 1][METRICS_H_OUT_PLAIN] = 1;
	s->hist[METRICS_HIST_N - 1][METRICS_H_OUT_FAILED] = 1;
	s->nfailures = 1;
	s->failures[0].time = s->now;
	s->failures[0].result = METRICS_DEFERRED;
	snprintf(s->failures[0].rcpt, sizeof(s->failures[0].rcpt), "%s",
	    "u@" EVIL);
	snprintf(s->failures[0].reason, sizeof(s->failures[0].reason), "%s",
	    "451 " EVIL);
	t = render(&st);
	assert_non_null(strstr(t, "name=\"viewport\""));
	assert_non_null(strstr(t, "id=\"q-messages\">2<"));
	assert_non_null(strstr(t, "id=\"q-oldest\">2m<"));
	assert_non_null(strstr(t, "id=\"in-accepted\">4<"));
	assert_non_null(strstr(t, "id=\"in-rejected\">1<"));
	assert_non_null(strstr(t, "id=\"in-encrypted\">75%<"));
	assert_non_null(strstr(t, "id=\"in-authenticated\">50%<"));
	assert_non_null(strstr(t, "id=\"out-delivered\">2<"));
	assert_non_null(strstr(t, "id=\"out-encrypted\">50%<"));
	assert_non_null(strstr(t, "id=\"out-authenticated\">50%<"));
	assert_non_null(strstr(t, "<td>example.org</td><td>3</td><td>4</td>"
	    "<td>75%"));
	/* Two bars in the last hour's column, one an hour before. */
	assert_non_null(strstr(t, "accepted: 3 (0 h ago)"));
	assert_non_null(strstr(t, "accepted: 1 (1 h ago)"));
	assert_non_null(strstr(t, "<svg"));
	/* Hostile text only ever appears escaped; the page has no script. */
	assert_null(strstr(t, "<script"));
	assert_null(strstr(t, "alert(\""));
	assert_non_null(strstr(t, "&lt;script&gt;alert(&quot;x&quot;)"
	    "&lt;/script&gt;&amp;&#39;"));
	free(t);
	free(s);
}

static void
test_status_empty(void **state)
{
	struct metrics_snapshot *s = calloc(1, sizeof(*s));
	struct admin_status st = { .hostname = NULL, .snap = s };
	char *t;

	(void)state;
	s->now = 1700000000;
	t = render(&st);
	assert_non_null(strstr(t, "The queue could not be read."));
	assert_non_null(strstr(t, "id=\"in-encrypted\">&mdash;<"));
	assert_non_null(strstr(t, "None recorded"));
	assert_non_null(strstr(t, "No message from a domain"));
	assert_non_null(strstr(t, "</html>"));
	free(t);
	free(s);
}

static void
test_status_escape(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1024);
	assert_int_equal(admin_status_escape(&b, "a<b>&\"'\r\nc"), 0);
	assert_string_equal(buf_cstr(&b), "a&lt;b&gt;&amp;&quot;&#39;  c");
	buf_clear(&b);
	buf_init(&b, 4);
	assert_int_equal(admin_status_escape(&b, "<<"), -1);
	buf_clear(&b);
}

/* DMARC passes are counted when the checks end, acceptances after the
 * commit: a pass whose commit then failed (451) or that a 451 for another
 * author domain deferred is a pass without an acceptance. The share stays
 * a share. */
static void
test_status_share_bounded(void **state)
{
	struct metrics_snapshot *s = calloc(1, sizeof(*s));
	struct admin_status st = { .hostname = "mx", .snap = s };
	char *t;

	(void)state;
	s->now = 1700000000;
	s->hist[METRICS_HIST_N - 1][METRICS_H_ACCEPTED] = 2;
	s->hist[METRICS_HIST_N - 1][METRICS_H_IN_DMARC_PASS] = 3;
	t = render(&st);
	assert_non_null(strstr(t, "id=\"in-authenticated\">100%<"));
	assert_null(strstr(t, "width:150%"));
	free(t);
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_numbers),
		cmocka_unit_test(test_status_empty),
		cmocka_unit_test(test_status_escape),
		cmocka_unit_test(test_status_share_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

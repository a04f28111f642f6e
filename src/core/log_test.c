/* SPDX-License-Identifier: ISC */
/* Unit tests for core/log: log_quote, the quoting of log field values. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"

static const char *
q(const char *s, char *out, size_t outlen)
{
	return log_quote(s, strlen(s), out, outlen);
}

static void
test_log_quote_plain(void **state)
{
	char out[LOG_QUOTE_SIZE(64)];

	(void)state;
	assert_string_equal(q("alice@example.test", out, sizeof(out)),
	    "\"alice@example.test\"");
	assert_string_equal(q("", out, sizeof(out)), "\"\"");
	/* The forged-field attempt of issue 10 stays one value. */
	assert_string_equal(q("x addr=10.9.9.9 failures=99", out, sizeof(out)),
	    "\"x addr=10.9.9.9 failures=99\"");
}

static void
test_log_quote_escapes(void **state)
{
	char out[LOG_QUOTE_SIZE(64)];

	(void)state;
	assert_string_equal(q("a\"b\\c", out, sizeof(out)),
	    "\"a\\\"b\\\\c\"");
	assert_string_equal(q("x\" addr=\"1.2.3.4", out, sizeof(out)),
	    "\"x\\\" addr=\\\"1.2.3.4\"");
	assert_string_equal(q("l1\r\nl2\t\x7f", out, sizeof(out)),
	    "\"l1\\x0d\\x0al2\\x09\\x7f\"");
	assert_string_equal(q("j\xc3\xbcrgen", out, sizeof(out)),
	    "\"j\\xc3\\xbcrgen\"");
	/* A NUL inside the given length is escaped, not an end. */
	assert_string_equal(log_quote("a\0b", 3, out, sizeof(out)),
	    "\"a\\x00b\"");
}

static void
test_log_quote_bounds(void **state)
{
	char out[64];
	char big[300];

	(void)state;
	/* LOG_QUOTE_SIZE holds the worst case whole. */
	memset(big, 0x01, 10);
	char w[LOG_QUOTE_SIZE(10)];
	log_quote(big, 10, w, sizeof(w));
	assert_int_equal(strlen(w), 42);
	assert_int_equal(w[41], '"');
	assert_memory_equal(w + 37, "\\x01", 4);
	/* Cut text ends in ..." and never overflows. */
	for (size_t n = 6; n <= sizeof(out); n++) {
		memset(big, 'a', sizeof(big));
		big[7] = '"';
		memset(out, 0x55, sizeof(out));
		log_quote(big, sizeof(big), out, n);
		size_t len = strlen(out);
		assert_true(len < n);
		assert_int_equal(out[0], '"');
		assert_int_equal(out[len - 1], '"');
		assert_memory_equal(out + len - 4, "...", 3);
	}
	/* Too small to hold anything: an empty value. */
	assert_string_equal(log_quote("abc", 3, out, 3), "\"\"");
	/* Exactly fitting text is not cut. */
	assert_string_equal(log_quote("abcd", 4, out, 7), "\"abcd\"");
}

static void
test_log_journal_matches(void **state)
{
	(void)state;
	assert_true(log_journal_matches("2049:123456", 2049, 123456));
	assert_false(log_journal_matches("2049:123456", 2049, 123457));
	assert_false(log_journal_matches("2049:123456x", 2049, 123456));
	assert_false(log_journal_matches("2049", 2049, 0));
	assert_false(log_journal_matches("", 0, 0));
	assert_false(log_journal_matches(NULL, 0, 0));
}

/* Log one warning with stderr on a temporary file; its first line. */
static void
log_to_file(bool journal, char *out, size_t outlen)
{
	char path[] = "/tmp/log_test.XXXXXX", stamp[64];
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	struct stat st;
	FILE *fp;

	assert_true(fd >= 0 && saved >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	snprintf(stamp, sizeof(stamp), "%llu:%llu",
	    (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	if (journal)
		setenv("JOURNAL_STREAM", stamp, 1);
	else
		unsetenv("JOURNAL_STREAM");
	fflush(stderr);
	dup2(fd, STDERR_FILENO);
	log_init("logtest", false, false);
	log_warn("disk %s", "full");
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	unsetenv("JOURNAL_STREAM");
	log_init("logtest", false, false);
	assert_non_null(fp = fdopen(fd, "r"));
	rewind(fp);
	assert_non_null(fgets(out, (int)outlen, fp));
	fclose(fp);
	unlink(path);
}

static void
test_log_journal_line(void **state)
{
	char line[256], want[128];

	(void)state;
	/* To the journal: priority prefix (LOG_WARNING), no timestamp. */
	log_to_file(true, line, sizeof(line));
	snprintf(want, sizeof(want), "<4>logtest[%ld]: warning: disk full\n",
	    (long)getpid());
	assert_string_equal(line, want);
	/* Elsewhere: our own UTC timestamp first, then the same text. */
	log_to_file(false, line, sizeof(line));
	snprintf(want, sizeof(want), " logtest[%ld]: warning: disk full\n",
	    (long)getpid());
	assert_true(strlen(line) > strlen(want));
	assert_string_equal(line + strlen(line) - strlen(want), want);
	assert_memory_equal(line + 4, "-", 1);
	assert_int_equal(line[strlen(line) - strlen(want) - 1], 'Z');
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_quote_plain),
		cmocka_unit_test(test_log_quote_escapes),
		cmocka_unit_test(test_log_quote_bounds),
		cmocka_unit_test(test_log_journal_matches),
		cmocka_unit_test(test_log_journal_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

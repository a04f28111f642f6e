/* SPDX-License-Identifier: ISC */
/* Logging sinks (stderr with timestamps, the journal through stderr, or
 * syslog) and the escaping of untrusted text for log lines. */
#include "core/log.h"
#include "core/selfpid.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static const char *log_ident = "sealmail";
static bool log_syslog;
static bool log_debug_on;
static bool log_journal;	/* stderr is systemd-journald's stream */

bool
log_journal_matches(const char *journal_stream, unsigned long long dev,
    unsigned long long ino)
{
	unsigned long long d, i;
	int end = 0;

	if (journal_stream == NULL ||
	    sscanf(journal_stream, "%llu:%llu%n", &d, &i, &end) != 2 ||
	    journal_stream[end] != '\0')
		return false;
	return d == dev && i == ino;
}

void
log_init(const char *ident, bool use_syslog, bool debug)
{
	struct stat st;

	log_ident = ident;
	log_debug_on = debug;
	/* systemd.exec(5): $JOURNAL_STREAM names the stream it connected;
	 * stderr may since have been redirected elsewhere. */
	log_journal = fstat(STDERR_FILENO, &st) == 0 &&
	    log_journal_matches(getenv("JOURNAL_STREAM"),
	    (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	if (use_syslog && !log_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
	log_syslog = use_syslog;
}

static void __attribute__((format(printf, 3, 0)))
log_vwrite(int prio, const char *level, const char *fmt, va_list ap)
{
	char line[2048];

	vsnprintf(line, sizeof(line), fmt, ap);
	if (log_syslog) {
		syslog(prio, "%s", line);
		return;
	}
	if (log_journal) {
		/* journald stamps the time itself and takes the priority from
		 * the "<N>" prefix (sd-daemon(3)); the rest is the same line. */
		fprintf(stderr, "<%d>%s[%ld]: %s%s\n", prio, log_ident,
		    (long)selfpid(), level, line);
		return;
	}
	struct timespec ts;
	struct tm tm;
	char stamp[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ %s[%ld]: %s%s\n", stamp, ts.tv_nsec / 1000000,
	    log_ident, (long)selfpid(), level, line);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_INFO, "", fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_WARNING, "warning: ", fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_debug_on)
		return;
	va_start(ap, fmt);
	log_vwrite(LOG_DEBUG, "debug: ", fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_ERR, "fatal: ", fmt, ap);
	va_end(ap);
	exit(1);
}

void
panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_CRIT, "panic: ", fmt, ap);
	va_end(ap);
	abort();
}

const char *
log_escape(const void *s, size_t len, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = s;
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = p[i];
		size_t need = (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') ?
		    4 : 1;
		if (o + need + 4 > outlen) {	/* room for "..." and NUL */
			if (outlen >= 4) {
				memcpy(out + (o < outlen - 4 ? o : outlen - 4),
				    "...", 3);
				o = (o < outlen - 4 ? o : outlen - 4) + 3;
			}
			break;
		}
		if (need == 4) {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		} else
			out[o++] = (char)c;
	}
	out[o < outlen ? o : outlen - 1] = '\0';
	return out;
}

const char *
log_quote(const void *s, size_t len, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = s;
	size_t o = 0, whole = 3;

	for (size_t i = 0; i < len; i++)
		whole += (p[i] == '"' || p[i] == '\\') ? 2 :
		    (p[i] < 0x20 || p[i] >= 0x7f) ? 4 : 1;
	if (outlen < 6 && whole > outlen) {
		snprintf(out, outlen, "\"\"");
		return out;
	}
	out[o++] = '"';
	for (size_t i = 0; i < len; i++) {
		unsigned char c = p[i];
		char e[4];
		size_t need;

		if (c == '"' || c == '\\') {
			e[0] = '\\';
			e[1] = (char)c;
			need = 2;
		} else if (c < 0x20 || c >= 0x7f) {
			e[0] = '\\';
			e[1] = 'x';
			e[2] = hex[c >> 4];
			e[3] = hex[c & 15];
			need = 4;
		} else {
			e[0] = (char)c;
			need = 1;
		}
		/* Cut: keep room for "...", the closing quote and NUL. */
		if (whole > outlen && o + need + 5 > outlen) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(out + o, e, need);
		o += need;
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}

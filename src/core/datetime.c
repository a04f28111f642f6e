/* SPDX-License-Identifier: ISC */
/* RFC 5322 dates (see datetime.h). */
#include "core/datetime.h"

#include <stdio.h>

void
datetime_rfc5322(time_t when, char *out, size_t outlen)
{
	static const char days[7][4] = {
		"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
	};
	static const char months[12][4] = {
		"Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
	};
	struct tm tm;

	/* Not locale-dependent strftime: header dates are always English. */
	if (gmtime_r(&when, &tm) == NULL || tm.tm_wday < 0 || tm.tm_wday > 6 ||
	    tm.tm_mon < 0 || tm.tm_mon > 11) {
		when = 0;
		gmtime_r(&when, &tm);
	}
	snprintf(out, outlen, "%s, %d %s %d %02d:%02d:%02d +0000",
	    days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
	    tm.tm_hour, tm.tm_min, tm.tm_sec);
}

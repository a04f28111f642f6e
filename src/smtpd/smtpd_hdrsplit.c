/* SPDX-License-Identifier: ISC */
/* Header section / body split of an incoming message (smtpd_hdrsplit.h). */
#include "smtpd/smtpd_hdrsplit.h"

#include <string.h>

size_t
smtpd_hdrsplit_push(struct buf *hdrs, const uint8_t *p, size_t n,
    enum smtpd_hdrsplit *state)
{
	size_t old = hdrs->len, k = old < 3 ? old : 3, m = n < 3 ? n : 3;
	size_t take = n;
	uint8_t win[6];
	const uint8_t *e;

	*state = SMTPD_HDRSPLIT_MORE;
	/* The empty line first: the message has no header section. */
	if (old < 2 && old + n >= 2) {
		if (old > 0)
			memcpy(win, hdrs->data, old);
		memcpy(win + old, p, 2 - old);
		if (memcmp(win, "\r\n", 2) == 0) {
			buf_reset(hdrs);
			*state = SMTPD_HDRSPLIT_END;
			return 2 - old;
		}
	}
	/*
	 * Where the section ends (its last CRLF and the empty line), which
	 * may straddle the previous push. Only the bytes up to there are
	 * kept, so body octets in the same piece never count against the
	 * bound.
	 */
	if (k > 0)
		memcpy(win, hdrs->data + old - k, k);
	if (m > 0)
		memcpy(win + k, p, m);
	if ((e = memmem(win, k + m, "\r\n\r\n", 4)) != NULL)
		take = (size_t)(e - win) + 4 - k;
	else if ((e = memmem(p, n, "\r\n\r\n", 4)) != NULL)
		take = (size_t)(e - p) + 4;
	if (buf_append(hdrs, p, take) == -1) {
		*state = SMTPD_HDRSPLIT_OVERFLOW;
		return n;
	}
	if (e == NULL)
		return n;
	buf_truncate(hdrs, hdrs->len - 2);
	*state = SMTPD_HDRSPLIT_END;
	return take;
}

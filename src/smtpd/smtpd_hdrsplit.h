/* SPDX-License-Identifier: ISC */
/*
 * The split of a message arriving in pieces (as the DATA/BDAT machine
 * emits it: CRLF lines) into its header section and its body. Pure, so it
 * is unit-tested and fuzzed apart from the session.
 */
#ifndef SEALMAIL_SMTPD_SMTPD_HDRSPLIT_H
#define SEALMAIL_SMTPD_SMTPD_HDRSPLIT_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

enum smtpd_hdrsplit {
	SMTPD_HDRSPLIT_MORE,		/* the header section goes on */
	SMTPD_HDRSPLIT_END,		/* hdrs holds the whole section */
	SMTPD_HDRSPLIT_OVERFLOW,	/* the section is over hdrs->max */
};

/*
 * Push the next n message bytes into hdrs (which starts empty; its max
 * bounds the header section) and return how many of them belong to the
 * header section, the empty line that ends it included; the rest is body.
 * *state says what happened: MORE (all n taken), END (hdrs now holds the
 * section up to and including the CRLF of its last field, without the
 * empty line, NUL-terminated; it is empty when the message starts with
 * the empty line), or OVERFLOW (all n taken; the message is to be
 * refused). Call no more after END or OVERFLOW.
 */
size_t smtpd_hdrsplit_push(struct buf *hdrs, const uint8_t *p, size_t n,
    enum smtpd_hdrsplit *state);

#endif

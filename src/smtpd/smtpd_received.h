/* SPDX-License-Identifier: ISC */
/*
 * Formatting of our Received: header (RFC 5321 §4.4) with the RFC 3848
 * protocol type, the RFC 8314 §4.3 tls clause and a comment naming the TLS
 * version, cipher and bits. Pure.
 */
#ifndef SEALMAIL_SMTPD_SMTPD_RECEIVED_H
#define SEALMAIL_SMTPD_SMTPD_RECEIVED_H

#include <stdbool.h>
#include <time.h>

#include "core/buf.h"

struct smtpd_received_info {
	const char	*helo;		/* client's EHLO/HELO argument, or NULL */
	bool		 esmtp;		/* EHLO (true) or HELO */
	const char	*rdns;		/* verified reverse name, or NULL */
	const char	*addr;		/* client IP text ("192.0.2.1", "2001:db8::1") */
	const char	*by;		/* our hostname */
	const char	*qid;
	bool		 authenticated;
	const char	*tls_version;	/* "TLSv1.3", or NULL if plaintext */
	const char	*tls_cipher;	/* IANA name "TLS_AES_256_GCM_SHA384" */
	const char	*tls_group;	/* e.g. "x25519", or NULL */
	int		 tls_bits;	/* cipher strength */
	const char	*for_rcpt;	/* single recipient, or NULL */
	bool		 smtputf8;	/* UTF8SMTP* types (RFC 6531 §3.7.3) */
	time_t		 when;
};

/* Append "Received: ..." folded at about 78 columns and ending in CRLF.
 * Untrusted fields (helo) are sanitised: anything not printable ASCII or
 * that could break the header structure is replaced. -1 if out is full. */
int smtpd_received_format(struct buf *out, const struct smtpd_received_info *ri);

/*
 * The trace of a message submitted on the local socket, naming the user
 * the kernel reported (user: a login name of [A-Za-z0-9._-], or NULL when
 * the uid has none):
 *   Received: from local user alice (uid 1001)
 *   	by BY (sealmail) with local id QID; DATE
 * ("with local", as Exim writes it, marks a hop that never crossed a
 * network: `inspect` does not count it as plaintext). -1 if out is full.
 */
int smtpd_received_format_local(struct buf *out, const char *user,
    unsigned long uid, const char *by, const char *qid, time_t when);

/* The RFC 3848 / RFC 6531 "with" keyword for these properties. */
const char *smtpd_received_protocol(bool esmtp, bool tls, bool auth,
    bool smtputf8);

#endif

/* SPDX-License-Identifier: ISC */
/*
 * DKIM canonicalisation (RFC 6376 §3.4): header fields one at a time, the
 * body as a push-style stream so the SMTP session can feed it while DATA
 * arrives, with the l= body length limit (§3.5, §3.4.5). Also the header
 * section walker shared by the verifier and the signer. Pure: no I/O, no
 * hashing (the body canonicaliser hands its output to a callback).
 *
 * Input is untrusted message text, in CRLF form. A bare CR or LF is not a
 * line break: it is an ordinary octet, as in dkimpy and OpenDKIM. Memory
 * use is constant per canonicaliser; the header output goes into a
 * caller's bounded struct buf.
 */
#ifndef SEALMAIL_AUTH_DKIM_CANON_H
#define SEALMAIL_AUTH_DKIM_CANON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/dkim_sig.h"

struct buf;

/* One header field inside a header section: field[0..len) is the whole
 * field, name, colon, folded lines and its final CRLF; name[0..namelen)
 * is the name as written, without trailing WSP. */
struct dkim_field {
	const char	*field;
	size_t		 len;
	const char	*name;
	size_t		 namelen;
	const char	*value;		/* after the colon, up to the final CRLF */
	size_t		 valuelen;
};

/*
 * Next header field of hdr[0..len) from *pos; returns 1 and advances *pos,
 * or 0 at the end of the section (the end of the data or the empty line
 * that ends it). A line without a colon yields a field with namelen 0.
 */
int dkim_header_next(const char *hdr, size_t len, size_t *pos,
    struct dkim_field *f);

/*
 * Append the canonical form of one header field (§3.4.1 simple, §3.4.2
 * relaxed) to out, ending in CRLF (a field given without a final CRLF
 * gets one). Returns -1 if out would pass its maximum.
 */
int dkim_canon_header(enum dkim_canon_mode mode, const char *field,
    size_t len, struct buf *out);

/* Receives canonical body bytes; n > 0. */
typedef void dkim_canon_out(void *arg, const uint8_t *p, size_t n);

#define DKIM_CANON_OBUF	4096
#define DKIM_CANON_NOLIMIT	UINT64_MAX

/* Embedded body canonicaliser; fields are private. */
struct dkim_body_canon {
	enum dkim_canon_mode	 mode;
	uint64_t		 limit;		/* l=, or DKIM_CANON_NOLIMIT */
	uint64_t		 total;		/* canonical length, unlimited */
	uint64_t		 emitted;	/* given to out, <= limit */
	uint64_t		 crlfs;		/* CRLFs held back */
	bool			 wsp, cr, line_open, any, finished;
	dkim_canon_out		*out;
	void			*arg;
	uint8_t			 obuf[DKIM_CANON_OBUF];
	size_t			 olen;
};

/*
 * Start a body (§3.4.3 simple, §3.4.4 relaxed). At most limit canonical
 * octets reach out (l=); every octet is counted in total. out(arg, ...)
 * is called from push and finish only.
 */
void dkim_body_canon_init(struct dkim_body_canon *c, enum dkim_canon_mode
    mode, uint64_t limit, dkim_canon_out *out, void *arg);
/* Feed body octets (as they arrive after the header's empty line, with
 * SMTP dot-stuffing already removed), any chunking. */
void dkim_body_canon_push(struct dkim_body_canon *c, const void *data,
    size_t len);
/* End of body: trailing empty lines dropped, the final CRLF added as the
 * mode says, everything held back flushed. Further pushes are ignored. */
void dkim_body_canon_finish(struct dkim_body_canon *c);

#endif

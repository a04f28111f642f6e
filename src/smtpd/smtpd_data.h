/* SPDX-License-Identifier: ISC */
/*
 * The DATA and BDAT byte-stream state machine. Pure and push-style: the
 * session pushes raw bytes from the wire, the machine emits message bytes
 * (dot-unstuffed, line ends normalised to CRLF) through a callback and says
 * where the message ended.
 *
 * Anti-smuggling rule (RFC 5321 §4.1.1.4, §2.3.8): only CR LF "." CR LF
 * ends DATA. A bare LF or bare CR is never a line end for that purpose: it
 * is normalised to CRLF inside the message (policy NORMALIZE) or makes the
 * message fail at its end (policy REJECT). Either way "<LF>.<LF>",
 * "<LF>.<CR><LF>", "<CR>.<CR>" and friends never end the message.
 * The initial state counts as "just after CRLF" (DATA's 354 reply).
 * Dot-unstuffing likewise happens only on a line that follows a real CRLF
 * (".." -> ".", "." + anything else -> the dot is dropped); after a bare
 * newline a leading "." is plain content.
 */
#ifndef SEALMAIL_SMTPD_SMTPD_DATA_H
#define SEALMAIL_SMTPD_SMTPD_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum smtpd_data_mode {
	SMTPD_DATA_MODE_DATA,	/* dot-stuffed, ends at CRLF.CRLF */
	SMTPD_DATA_MODE_BDAT,	/* raw chunks; the caller counts sizes */
};

enum smtpd_data_bare {
	SMTPD_DATA_BARE_NORMALIZE,
	SMTPD_DATA_BARE_REJECT,
};

/* Problems found in the message; reported at its end, since the whole
 * message must still be read to stay in sync with the client. */
#define SMTPD_DATA_ERR_BARE_NEWLINE	0x1	/* 550 5.6.0 (REJECT policy) */
#define SMTPD_DATA_ERR_LINE_TOO_LONG	0x2	/* 550 5.6.0 */
#define SMTPD_DATA_ERR_TOO_BIG		0x4	/* 552 5.3.4 */

/* Receives message bytes in order. Return 0, or -1 to stop output (e.g.
 * a write error): further output is then dropped but parsing goes on. */
typedef int smtpd_data_out_cb(const uint8_t *p, size_t n, void *arg);

struct smtpd_data;

/* max_line: longest line in octets including CRLF (0: unlimited);
 * max_size: largest message in octets after unstuffing (0: unlimited). */
struct smtpd_data *smtpd_data_new(enum smtpd_data_mode mode,
    enum smtpd_data_bare bare, size_t max_line, uint64_t max_size,
    smtpd_data_out_cb *out, void *arg);
void smtpd_data_free(struct smtpd_data *d);

/*
 * Push len bytes. Returns the number of bytes consumed. In DATA mode, when
 * the terminating CRLF.CRLF has been consumed, smtpd_data_done() is true and
 * the return value stops right after it (the rest belongs to the next
 * command). In BDAT mode every byte is consumed.
 */
size_t smtpd_data_push(struct smtpd_data *d, const uint8_t *p, size_t len);

/* BDAT LAST: flush a pending bare CR at the very end of the message (as
 * CRLF; REJECT also flags it); smtpd_data_done() is then true. No-op in
 * DATA mode. */
void smtpd_data_finish(struct smtpd_data *d);

bool smtpd_data_done(const struct smtpd_data *d);
/* Bitmask of SMTPD_DATA_ERR_* seen so far. */
unsigned smtpd_data_errors(const struct smtpd_data *d);
/* Message bytes produced so far (after unstuffing and normalisation).
 * Past max_size this keeps counting while output stops: the callback has
 * then received the first max_size octets, less a final CR that would be
 * half of a CRLF, so output never holds a bare CR or LF. */
uint64_t smtpd_data_size(const struct smtpd_data *d);

#endif

/* SPDX-License-Identifier: ISC */
/*
 * The DATA/BDAT byte-stream machine (see smtpd_data.h). Untrusted bytes
 * arrive in pushes of any size, split anywhere; the machine keeps the few
 * bytes of context it needs (a pending CR, a pending dot) in its state, so
 * the output and the end position never depend on how the input was split.
 *
 * The one rule that closes SMTP smuggling: only a real CR LF (a CR
 * immediately followed by LF) starts a line on which "." is special, both
 * for the end of DATA and for dot-unstuffing (RFC 5321 §4.5.2). A bare LF
 * or bare CR ends a line in the output (as CRLF) but the next line is
 * ordinary content, so "<LF>.<CR><LF>", "<CR><LF>.<LF>", "<CR>.<CR>" and
 * friends are content, never the end of the message. Postfix's
 * smtpd_forbid_bare_newline and the 2023 SEC Consult write-up describe
 * the attack.
 *
 * The hot path scans with memchr for CR and LF and hands unchanged runs
 * of input (real CRLFs included) to the callback in one call; only dots,
 * normalised newlines and push boundaries split the output.
 */
#include "smtpd/smtpd_data.h"

#include <stdlib.h>
#include <string.h>

#include "core/xmalloc.h"

enum smtpd_data_state {
	SMTPD_DATA_ST_BOL,	/* just after a real CRLF (or at the start) */
	SMTPD_DATA_ST_MID,	/* inside a line, or after a bare newline */
	SMTPD_DATA_ST_CR,	/* a CR was last; is it followed by LF? */
	SMTPD_DATA_ST_DOT,	/* DATA: "." at the start of a real line */
	SMTPD_DATA_ST_DOT_CR,	/* DATA: ".<CR>" at the start of a real line */
	SMTPD_DATA_ST_DONE,
};

struct smtpd_data {
	enum smtpd_data_mode	 mode;
	enum smtpd_data_bare	 bare;
	size_t			 max_line;
	uint64_t		 max_size;
	smtpd_data_out_cb	*out;
	void			*arg;
	enum smtpd_data_state	 state;
	size_t			 linelen;	/* octets of the line so far */
	uint64_t		 size;		/* message octets produced */
	unsigned		 errors;
	bool			 out_failed;
};

/* Where one push stands: run is the start of input not yet emitted that
 * is passed through unchanged; line the start of the current line's
 * content in this push; lf the next LF at or after p (end if none), kept
 * between scans so that runs of bare CRs do not rescan for it. */
struct smtpd_data_cur {
	const uint8_t	*p, *end, *run, *line, *lf;
	bool		 lf_known;
};

struct smtpd_data *
smtpd_data_new(enum smtpd_data_mode mode, enum smtpd_data_bare bare,
    size_t max_line, uint64_t max_size, smtpd_data_out_cb *out, void *arg)
{
	struct smtpd_data *d = xcalloc(1, sizeof(*d));

	d->mode = mode;
	d->bare = bare;
	d->max_line = max_line;
	d->max_size = max_size;
	d->out = out;
	d->arg = arg;
	d->state = SMTPD_DATA_ST_BOL;
	return d;
}

void
smtpd_data_free(struct smtpd_data *d)
{
	free(d);
}

/*
 * Hand n message bytes to the callback. Past max_size nothing more is
 * emitted: the output is then the first max_size octets, however the
 * input was split, less a final CR that would be half of a CRLF (output
 * never holds a bare CR; callers never see a run end inside a CRLF
 * otherwise). size still counts every octet.
 */
static void
smtpd_data_emit(struct smtpd_data *d, const uint8_t *p, size_t n)
{
	uint64_t before = d->size;

	if (n == 0)
		return;
	d->size += n;
	if (d->max_size != 0 && d->size > d->max_size) {
		d->errors |= SMTPD_DATA_ERR_TOO_BIG;
		n = before < d->max_size ? (size_t)(d->max_size - before) : 0;
		if (n > 0 && p[n - 1] == '\r')
			n--;
	}
	if (n == 0 || d->out_failed || d->out == NULL)
		return;
	if (d->out(p, n, d->arg) == -1)
		d->out_failed = true;
}

/* Emit the pass-through run up to q. */
static void
smtpd_data_flush(struct smtpd_data *d, struct smtpd_data_cur *c,
    const uint8_t *q)
{
	smtpd_data_emit(d, c->run, (size_t)(q - c->run));
	c->run = q;
}

/* RFC 5321 §4.5.3.1.6: a line is at most max_line octets with its CRLF. */
static void
smtpd_data_check_line(struct smtpd_data *d, size_t content)
{
	if (d->max_line != 0 && (uint64_t)content + 2 > d->max_line)
		d->errors |= SMTPD_DATA_ERR_LINE_TOO_LONG;
}

/* A line ended (really or by normalisation) with its content ending at q. */
static void
smtpd_data_line_end(struct smtpd_data *d, struct smtpd_data_cur *c,
    const uint8_t *q)
{
	smtpd_data_check_line(d, d->linelen + (size_t)(q - c->line));
	d->linelen = 0;
}

/*
 * A bare CR or LF: the output gets a CRLF (never the bare byte, so no
 * later consumer can be confused by it), REJECT also records the error,
 * and the new line is not one where "." means anything.
 */
static void
smtpd_data_bare_newline(struct smtpd_data *d, struct smtpd_data_cur *c,
    const uint8_t *content_end, const uint8_t *next)
{
	smtpd_data_flush(d, c, content_end);
	smtpd_data_line_end(d, c, content_end);
	smtpd_data_emit(d, (const uint8_t *)"\r\n", 2);
	if (d->bare == SMTPD_DATA_BARE_REJECT)
		d->errors |= SMTPD_DATA_ERR_BARE_NEWLINE;
	c->p = c->run = c->line = next;
	d->state = SMTPD_DATA_ST_MID;
}

/* Inside a line: find the next CR or LF and act on it. */
static void
smtpd_data_scan(struct smtpd_data *d, struct smtpd_data_cur *c)
{
	if (!c->lf_known || c->lf < c->p) {
		c->lf = memchr(c->p, '\n', (size_t)(c->end - c->p));
		if (c->lf == NULL)
			c->lf = c->end;
		c->lf_known = true;
	}
	const uint8_t *cr = memchr(c->p, '\r', (size_t)(c->lf - c->p));
	if (cr == NULL && c->lf == c->end) {
		c->p = c->end;			/* all plain text */
		return;
	}
	if (cr == NULL) {			/* LF without CR before it */
		smtpd_data_bare_newline(d, c, c->lf, c->lf + 1);
		return;
	}
	if (cr + 1 == c->end) {			/* decided by the next push */
		smtpd_data_flush(d, c, cr);
		d->linelen += (size_t)(cr - c->line);
		c->p = c->run = c->line = c->end;
		d->state = SMTPD_DATA_ST_CR;
		return;
	}
	if (cr[1] != '\n') {			/* CR without LF after it */
		smtpd_data_bare_newline(d, c, cr, cr + 1);
		return;
	}
	/* A real CRLF: it stays in the pass-through run. */
	smtpd_data_line_end(d, c, cr);
	c->p = c->line = cr + 2;
	d->state = SMTPD_DATA_ST_BOL;
}

/* A CR ended the previous push; c->p is the byte after it. */
static void
smtpd_data_pending_cr(struct smtpd_data *d, struct smtpd_data_cur *c)
{
	if (*c->p == '\n') {
		/* The CR's line was accounted for when it was held back. */
		smtpd_data_check_line(d, d->linelen);
		d->linelen = 0;
		smtpd_data_emit(d, (const uint8_t *)"\r\n", 2);
		c->p = c->run = c->line = c->p + 1;
		d->state = SMTPD_DATA_ST_BOL;
		return;
	}
	/* Bare CR; the byte at c->p is not consumed here. */
	smtpd_data_bare_newline(d, c, c->p, c->p);
}

/*
 * DATA mode, at the start of a real line. "." then CR LF ends the
 * message; "." then anything else is a stuffed dot and is removed
 * (RFC 5321 §4.5.2), including before a bare newline.
 */
static void
smtpd_data_dot(struct smtpd_data *d, struct smtpd_data_cur *c)
{
	switch (d->state) {
	case SMTPD_DATA_ST_BOL:
		if (*c->p != '.') {
			d->state = SMTPD_DATA_ST_MID;
			return;
		}
		smtpd_data_flush(d, c, c->p);
		c->p = c->run = c->line = c->p + 1;
		d->state = SMTPD_DATA_ST_DOT;
		return;
	case SMTPD_DATA_ST_DOT:
		if (*c->p != '\r') {
			d->state = SMTPD_DATA_ST_MID;
			return;
		}
		/* Hold the CR back: it is either the end or a bare CR. */
		c->p = c->run = c->line = c->p + 1;
		d->state = SMTPD_DATA_ST_DOT_CR;
		return;
	default:
		if (*c->p == '\n') {
			c->p = c->run = c->line = c->p + 1;
			d->state = SMTPD_DATA_ST_DONE;
			return;
		}
		smtpd_data_bare_newline(d, c, c->p, c->p);
		return;
	}
}

size_t
smtpd_data_push(struct smtpd_data *d, const uint8_t *p, size_t len)
{
	struct smtpd_data_cur c = { p, p + len, p, p, NULL, false };

	if (d->state == SMTPD_DATA_ST_DONE || len == 0)
		return 0;
	while (c.p < c.end && d->state != SMTPD_DATA_ST_DONE) {
		switch (d->state) {
		case SMTPD_DATA_ST_MID:
			smtpd_data_scan(d, &c);
			break;
		case SMTPD_DATA_ST_CR:
			smtpd_data_pending_cr(d, &c);
			break;
		case SMTPD_DATA_ST_BOL:
			if (d->mode == SMTPD_DATA_MODE_BDAT) {
				d->state = SMTPD_DATA_ST_MID;
				break;
			}
			/* FALLTHROUGH */
		default:
			smtpd_data_dot(d, &c);
			break;
		}
	}
	if (d->state != SMTPD_DATA_ST_DONE) {
		smtpd_data_flush(d, &c, c.p);
		d->linelen += (size_t)(c.p - c.line);
		/* Flag an overlong line now, not only when it ends (a line
		 * that has no content yet is decided when it ends, so the
		 * result does not depend on where the input was split). */
		if (d->linelen > 0)
			smtpd_data_check_line(d, d->linelen);
	}
	return d->mode == SMTPD_DATA_MODE_BDAT ? len : (size_t)(c.p - p);
}

void
smtpd_data_finish(struct smtpd_data *d)
{
	if (d->mode != SMTPD_DATA_MODE_BDAT || d->state == SMTPD_DATA_ST_DONE)
		return;
	if (d->state == SMTPD_DATA_ST_CR) {
		/* A CR at the very end of the message is a bare CR; its line
		 * was accounted for when it was held back. */
		smtpd_data_check_line(d, d->linelen);
		d->linelen = 0;
		smtpd_data_emit(d, (const uint8_t *)"\r\n", 2);
		if (d->bare == SMTPD_DATA_BARE_REJECT)
			d->errors |= SMTPD_DATA_ERR_BARE_NEWLINE;
	}
	d->state = SMTPD_DATA_ST_DONE;
}

bool
smtpd_data_done(const struct smtpd_data *d)
{
	return d->state == SMTPD_DATA_ST_DONE;
}

unsigned
smtpd_data_errors(const struct smtpd_data *d)
{
	return d->errors;
}

uint64_t
smtpd_data_size(const struct smtpd_data *d)
{
	return d->size;
}

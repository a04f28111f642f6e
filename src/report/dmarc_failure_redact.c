/* SPDX-License-Identifier: ISC */
/* Which failures are reported, and the redaction of the failed message's
 * header section (see dmarc_failure.h). Pure. */
#include "report/dmarc_failure.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/dmarc_record.h"
#include "core/xmalloc.h"

const char *
dmarc_failure_wanted(const struct dmarc_failure_facts *f)
{
	bool all_failed = !f->dkim_aligned && !f->spf_aligned;
	bool any_failed = !f->dkim_aligned || !f->spf_aligned;

	if ((f->fo & DMARC_FO_0) && all_failed)
		return "dmarc";
	if ((f->fo & DMARC_FO_1) && any_failed)
		return "dmarc";
	if ((f->fo & DMARC_FO_D) && f->dkim_failed)
		return "dkim";
	if ((f->fo & DMARC_FO_S) && f->spf_failed)
		return "spf";
	return NULL;
}

const char *
dmarc_failure_alignment(const struct dmarc_failure_facts *f)
{
	if (!f->dkim_aligned && !f->spf_aligned)
		return "dkim, spf";
	if (!f->dkim_aligned)
		return "dkim";
	if (!f->spf_aligned)
		return "spf";
	return "none";
}

bool
dmarc_failure_dkim_aligned(const char *d, const char *author,
    const char *org, bool strict)
{
	size_t dl = strlen(d), ol = strlen(org);

	if (strcasecmp(d, author) == 0)
		return true;
	if (strict || ol == 0 || dl < ol)
		return false;
	return strcasecmp(d + dl - ol, org) == 0 && (dl == ol ||
	    d[dl - ol - 1] == '.');
}

/* RFC 5322 atext plus '.': what a dot-atom local part is made of. */
static bool
dmarc_failure_is_local_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c >= 0x80 ||
	    (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~.", c) != NULL);
}

/* Where the local part before the '@' at line[at] starts; in tag=value
 * fields the first '=' of the run ends a tag before it ("i=",
 * "smtp.mailfrom="), later ones belong to the local part. */
static size_t
dmarc_failure_local_start(const char *line, size_t at, bool tags)
{
	size_t i = at;

	if (i > 0 && line[i - 1] == '"') {
		/* A quoted string: back to its opening quote (a quote
		 * preceded by a backslash is inside it). */
		for (i = at - 1; i > 0; i--)
			if (line[i - 1] == '"' && (i < 2 || line[i - 2] !=
			    '\\'))
				return i - 1;
		return at;	/* unbalanced: leave it */
	}
	while (i > 0 && dmarc_failure_is_local_char((unsigned char)line[i -
	    1]))
		i--;
	if (tags) {
		size_t t = i;
		while (t < at && (isalnum((unsigned char)line[t]) ||
		    line[t] == '.' || line[t] == '-' || line[t] == '_'))
			t++;
		if (t > i && t < at && line[t] == '=')
			return t + 1;
	}
	return i;
}

/* Whether the field starting at line is one of names[]. */
static bool
dmarc_failure_field_is(const char *line, size_t len,
    const char *const *names, size_t nnames)
{
	for (size_t i = 0; i < nnames; i++) {
		size_t n = strlen(names[i]);
		if (len > n && strncasecmp(line, names[i], n) == 0 &&
		    (line[n] == ':' || line[n] == ' ' || line[n] == '\t'))
			return true;
	}
	return false;
}

/* Message ids, not mailboxes: left as they are. */
static const char *const dmarc_failure_id_fields[] = { "Message-ID",
    "In-Reply-To", "References", "Resent-Message-ID" };
/* tag=value lists, where "i=user@domain" or "smtp.mailfrom=user@domain"
 * keep their tag. */
static const char *const dmarc_failure_tag_fields[] = { "DKIM-Signature",
    "Authentication-Results", "ARC-Authentication-Results",
    "ARC-Message-Signature", "ARC-Seal", "Received-SPF" };

/* Append one line (without its end) with local parts redacted. */
static void
dmarc_failure_line(struct buf *out, const char *line, size_t len,
    bool keep, bool tags)
{
	size_t done = 0;

	for (size_t i = 0; !keep && i < len; i++) {
		size_t s;

		if (line[i] != '@')
			continue;
		s = dmarc_failure_local_start(line, i, tags);
		/* A quoted string holding an '@' ("a@b"@c) starts before
		 * what was already replaced: replace from there on. */
		if (s < done)
			s = done;
		if (s == i)
			continue;	/* "@domain": nothing to hide */
		buf_append(out, line + done, s - done);
		buf_append_str(out, DMARC_FAILURE_REDACTED);
		done = i;
	}
	buf_append(out, line + done, len - done);
}

char *
dmarc_failure_redact(const char *hdr, size_t len, size_t max)
{
	struct buf out;
	size_t i = 0, keep_len = 0;
	bool id_field = false, tag_field = false;

	/* The output grows at most by "redacted" per '@' over the input;
	 * the cut to max happens below, so no append fails. */
	buf_init(&out, SIZE_MAX);
	while (i < len) {
		const char *line = hdr + i, *nl = memchr(line, '\n', len - i);
		size_t n = nl != NULL ? (size_t)(nl - line) : len - i;
		char *clean = xmalloc(n + 1);
		size_t m = 0;

		i += n + (nl != NULL);
		for (size_t k = 0; k < n; k++)
			if (line[k] != '\r' && line[k] != '\0')
				clean[m++] = line[k];
		clean[m] = '\0';
		if (m == 0) {		/* the end of the header section */
			free(clean);
			break;
		}
		if (clean[0] != ' ' && clean[0] != '\t') {
			id_field = dmarc_failure_field_is(clean, m,
			    dmarc_failure_id_fields, 4);
			tag_field = dmarc_failure_field_is(clean, m,
			    dmarc_failure_tag_fields, 6);
		}
		dmarc_failure_line(&out, clean, m, id_field, tag_field);
		buf_append_str(&out, "\r\n");
		free(clean);
		if (out.len <= max)
			keep_len = out.len;
		else
			break;
	}
	buf_truncate(&out, keep_len);
	/* A field cut in the middle of its folded lines stays cut: the
	 * report is diagnostic, not a message to re-parse. */
	char *s = buf_take(&out);
	return s != NULL ? s : xstrdup("");
}

char *
dmarc_failure_redact_addr(const char *addr)
{
	struct buf out;
	char *s;

	buf_init(&out, SIZE_MAX);
	dmarc_failure_line(&out, addr, strlen(addr), false, false);
	s = buf_take(&out);
	return s != NULL ? s : xstrdup("");
}

char *
dmarc_failure_ar_value(const char *fields, size_t len)
{
	static const char name[] = "Authentication-Results:";
	const size_t nlen = sizeof(name) - 1;
	struct buf out;
	size_t i = 0;
	bool in = false;

	buf_init(&out, SIZE_MAX);
	while (i < len) {
		const char *line = fields + i, *nl = memchr(line, '\n', len - i);
		size_t n = nl != NULL ? (size_t)(nl - line) : len - i;

		i += n + (nl != NULL);
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if (in && n > 0 && (line[0] == ' ' || line[0] == '\t')) {
			while (n > 0 && (*line == ' ' || *line == '\t')) {
				line++;
				n--;
			}
			buf_append_str(&out, " ");
			buf_append(&out, line, n);
			continue;
		}
		if (in)
			break;
		if (n >= nlen && strncasecmp(line, name, nlen) == 0) {
			in = true;
			line += nlen;
			n -= nlen;
			while (n > 0 && (*line == ' ' || *line == '\t')) {
				line++;
				n--;
			}
			buf_append(&out, line, n);
		}
	}
	/* smtp.mailfrom= names the envelope sender: redacted too. */
	struct buf red;
	buf_init(&red, SIZE_MAX);
	dmarc_failure_line(&red, out.data != NULL ? (const char *)out.data :
	    "", out.len, false, true);
	buf_clear(&out);
	char *s = buf_take(&red);
	return s != NULL ? s : xstrdup("");
}

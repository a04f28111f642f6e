/* SPDX-License-Identifier: ISC */
/* Reading a message file for the offline tools (inspect, check-auth) and
 * printing untrusted text as JSON strings. */
#include "cli/cli_msg.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli_common.h"

/* Read all of f into b (bounded by b->max); errors name the file (its
 * escaped path), so that one of several files can be told apart. */
static int
cli_read_all(FILE *f, const char *name, struct buf *b)
{
	char chunk[65536];
	size_t n;

	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_append(b, chunk, n) == -1) {
			cli_error("%s: message larger than %zu bytes", name,
			    b->max);
			return -1;
		}
	if (ferror(f)) {
		cli_error("%s: read error: %s", name, strerror(errno));
		return -1;
	}
	return 0;
}

/* Copy p[0..len) into out with every bare LF made CRLF (Maildir files use LF;
 * the DKIM code wants CRLF). */
static void
cli_crlf(const uint8_t *p, size_t len, struct buf *out)
{
	size_t i = 0;

	while (i < len) {
		const uint8_t *nl = memchr(p + i, '\n', len - i);
		size_t run = nl != NULL ? (size_t)(nl - p) - i : len - i;
		/* out->max is twice the raw maximum: this cannot fail. */
		(void)buf_append(out, p + i, run);
		if (nl == NULL)
			break;
		if (run == 0 || p[i + run - 1] != '\r')
			(void)buf_append(out, "\r", 1);
		(void)buf_append(out, "\n", 1);
		i += run + 1;
	}
}

int
cli_read_message(const char *path, size_t max, struct buf *out)
{
	struct buf raw;
	FILE *f = stdin;
	char esc[256];
	int rc;

	cli_escape(strcmp(path, "-") == 0 ? "(stdin)" : path, esc,
	    sizeof(esc));
	if (strcmp(path, "-") != 0 && (f = fopen(path, "rb")) == NULL) {
		cli_error("%s: %s", esc, strerror(errno));
		return -1;
	}
	buf_init(&raw, max);
	rc = cli_read_all(f, esc, &raw);
	if (f != stdin)
		fclose(f);
	if (rc == 0)
		rc = cli_msg_from_bytes(raw.data, raw.len, max, out);
	buf_clear(&raw);
	return rc;
}

int
cli_msg_from_bytes(const void *p, size_t len, size_t max, struct buf *out)
{
	buf_init(out, 2 * max);
	if (len > max)
		return -1;
	cli_crlf(p, len, out);
	return 0;
}

size_t
cli_msg_header_len(const struct buf *msg)
{
	const char *p = (const char *)msg->data;
	const char *end = memmem(p, msg->len, "\r\n\r\n", 4);

	if (msg->len >= 2 && memcmp(p, "\r\n", 2) == 0)
		return 0;
	return end ? (size_t)(end - p) + 2 : msg->len;
}

/* Length (2..4) of the valid UTF-8 sequence at s and its code point, or 0.
 * s is NUL-terminated, which stops a truncated sequence. */
size_t
cli_utf8(const unsigned char *s, uint32_t *cp)
{
	size_t n;
	uint32_t c, min;

	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2, c = s[0] & 0x1f, min = 0x80;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3, c = s[0] & 0x0f, min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4, c = s[0] & 0x07, min = 0x10000;
	} else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/* Code points a terminal must not get from a message: C1 controls and
 * the bidirectional overrides that reorder what is shown. */
static bool
cli_cp_unsafe(uint32_t cp)
{
	return cp < 0xa0 || (cp >= 0x200e && cp <= 0x200f) ||
	    (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) ||
	    cp == 0xfeff;
}

void
cli_put_text(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;
	size_t n;

	while (*p != '\0') {
		if (*p >= 0x20 && *p < 0x7f) {
			putchar(*p++);
			continue;
		}
		if ((n = cli_utf8(p, &cp)) > 0 && !cli_cp_unsafe(cp)) {
			fwrite(p, 1, n, stdout);
			p += n;
			continue;
		}
		printf("\\x%02x", *p++);
	}
}

/* Print s as a JSON string (RFC 8259 §7); invalid UTF-8 becomes U+FFFD.
 * NULL prints null. */
void
cli_json_str(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;
	size_t n;

	if (s == NULL) {
		fputs("null", stdout);
		return;
	}
	putchar('"');
	while (*p != '\0') {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p++);
		else if (*p < 0x20 || *p == 0x7f)
			printf("\\u%04x", *p++);
		else if (*p < 0x80)
			putchar(*p++);
		else if ((n = cli_utf8(p, &cp)) > 0) {
			fwrite(p, 1, n, stdout);
			p += n;
		} else {
			fputs("\\ufffd", stdout);
			p++;
		}
	}
	putchar('"');
}


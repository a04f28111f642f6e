/* SPDX-License-Identifier: ISC */
/*
 * Loop signs in trace fields (see hops.h). Walks header sections with the
 * rfc5322_headers iterator, so its bounds (fields, section size) bound the
 * work here too.
 */
#include "msg/hops.h"

#include <string.h>
#include <strings.h>

#include "core/limits.h"
#include "msg/rfc5322_headers.h"

size_t
hops_received(const void *msg, size_t len, size_t limit)
{
	struct rfc5322_headers h;
	struct rfc5322_field f;
	size_t n = 0;

	rfc5322_headers_init(&h, msg, len);
	while (n < limit &&
	    rfc5322_headers_next(&h, &f) == RFC5322_HEADERS_FIELD)
		if (rfc5322_field_is(&f, "Received"))
			n++;
	return n;
}

bool
hops_too_many(const char *prepend, size_t plen, const void *msg, size_t len,
    unsigned max, size_t *count)
{
	size_t limit = (size_t)max + 1;
	size_t n = prepend != NULL ? hops_received(prepend, plen, limit) : 0;

	if (n < limit)
		n += hops_received(msg, len, limit - n);
	if (count != NULL)
		*count = n;
	return n > max;
}

/* Does the field's value name address? */
static bool
hops_value_is(const struct rfc5322_field *f, const char *address)
{
	struct buf b;
	const char *v;
	size_t n, alen = strlen(address);
	bool same = false;

	buf_init(&b, LIMIT_PATH);
	if (rfc5322_field_unfold(f, &b) == 0 && b.len > 0) {
		v = buf_cstr(&b);
		n = b.len;
		if (n >= 2 && v[0] == '<' && v[n - 1] == '>') {
			v++;
			n -= 2;
		}
		same = n == alen && strncasecmp(v, address, n) == 0;
	}
	buf_clear(&b);
	return same;
}

bool
hops_delivered_to(const void *msg, size_t len, const char *address)
{
	struct rfc5322_headers h;
	struct rfc5322_field f;

	if (address == NULL || *address == '\0')
		return false;
	rfc5322_headers_init(&h, msg, len);
	while (rfc5322_headers_next(&h, &f) == RFC5322_HEADERS_FIELD)
		if (rfc5322_field_is(&f, "Delivered-To") &&
		    hops_value_is(&f, address))
			return true;
	return false;
}

/* No control byte (CR and LF would end the field early). */
static bool
hops_field_safe(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

int
hops_trace_fields(struct buf *out, const char *return_path, const char *rcpt)
{
	size_t at = out->len;

	if (rcpt == NULL || !hops_field_safe(rcpt) ||
	    (return_path != NULL && !hops_field_safe(return_path)))
		return -1;
	if ((return_path != NULL && buf_printf(out, "Return-Path: <%s>\r\n",
	    return_path) == -1) ||
	    buf_printf(out, "Delivered-To: %s\r\n", rcpt) == -1) {
		buf_truncate(out, at);
		return -1;
	}
	return 0;
}

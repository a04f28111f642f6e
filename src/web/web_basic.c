/* SPDX-License-Identifier: ISC */
/* HTTP basic credentials (see web_basic.h). */
#include "web/web_basic.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "core/base64.h"

#define WEB_BASIC_SCHEME	"Basic"
/* user ":" password, and base64 of it. */
#define WEB_BASIC_RAW_MAX	(WEB_USERS_NAME_MAX + 1 + WEB_BASIC_PASS_MAX)
#define WEB_BASIC_B64_MAX	((WEB_BASIC_RAW_MAX + 2) / 3 * 4)

int
web_basic_parse(const char *value, size_t len, struct web_basic *out)
{
	const size_t slen = sizeof(WEB_BASIC_SCHEME) - 1;
	uint8_t raw[WEB_BASIC_RAW_MAX];
	const uint8_t *colon;
	size_t i, ulen, plen;
	long n;

	memset(out, 0, sizeof(*out));
	if (len <= slen || strncasecmp(value, WEB_BASIC_SCHEME, slen) != 0 ||
	    value[slen] != ' ')
		return -1;
	for (i = slen; i < len && value[i] == ' '; i++)
		;
	/* Trailing spaces are the header parser's business; none here. */
	if (len - i > WEB_BASIC_B64_MAX)
		return -1;
	n = base64_decode(value + i, len - i, raw, sizeof(raw));
	if (n <= 0)
		return -1;
	colon = memchr(raw, ':', (size_t)n);
	if (colon == NULL || memchr(raw, '\0', (size_t)n) != NULL)
		goto fail;
	ulen = (size_t)(colon - raw);
	plen = (size_t)n - ulen - 1;
	if (ulen == 0 || ulen > WEB_USERS_NAME_MAX ||
	    plen > WEB_BASIC_PASS_MAX)
		goto fail;
	for (i = 0; i < ulen; i++)
		if (raw[i] < ' ' || raw[i] == 0x7f)
			goto fail;
	memcpy(out->user, raw, ulen);
	memcpy(out->pass, colon + 1, plen);
	explicit_bzero(raw, sizeof(raw));
	return 0;
fail:
	explicit_bzero(raw, sizeof(raw));
	return -1;
}

void
web_basic_clear(struct web_basic *b)
{
	explicit_bzero(b, sizeof(*b));
}

/* SPDX-License-Identifier: ISC */
/* HOST[:PORT] splitting (see hostport.h). */
#include "core/hostport.h"

#include <string.h>

int
hostport_split(const char *s, char *host, size_t hostlen, const char **port,
    bool *bracketed)
{
	const char *h = s, *end, *colon;
	size_t n;

	*port = NULL;
	*bracketed = *s == '[';
	if (*bracketed) {
		h++;
		if ((end = strchr(h, ']')) == NULL ||
		    (end[1] != '\0' && end[1] != ':'))
			return -1;
		colon = end[1] == ':' ? end + 1 : NULL;
	} else {
		colon = strrchr(h, ':');
		end = colon != NULL ? colon : h + strlen(h);
	}
	n = (size_t)(end - h);
	if (n == 0 || n >= hostlen)
		return -1;
	memcpy(host, h, n);
	host[n] = '\0';
	if (colon != NULL)
		*port = colon + 1;
	return 0;
}

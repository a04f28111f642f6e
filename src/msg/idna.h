/* SPDX-License-Identifier: ISC */
/*
 * Internationalized domain names (IDNA2008, RFC 5890-5893, with the UTS #46
 * nontransitional mapping) through libidn2: the one place a domain name
 * changes between its U-label and A-label forms. Pure; input is untrusted.
 */
#ifndef SEALMAIL_MSG_IDNA_H
#define SEALMAIL_MSG_IDNA_H

#include <stdbool.h>
#include <stddef.h>

/* "bücher.example (xn--bcher-kva.example)": a U-label form of a name of
 * LIMIT_DOMAIN octets takes at most 4 octets per A-label octet. */
#define IDNA_DISPLAY_MAX	(255 * 5 + 4)
/* The longest name idna_to_alabels reads: a U-label form of a name of
 * LIMIT_DOMAIN octets. */
#define IDNA_INPUT_MAX		(255 * 4)

/*
 * True if the len octets of s are ASCII with no label starting "xn--"
 * (any case): such a name needs no IDNA processing, and the callers keep
 * their own (faster) rules for it.
 */
bool idna_is_plain(const char *s, size_t len);

/*
 * The A-label form of the domain name s (len octets, UTF-8 or ASCII, no
 * trailing dot) into out (size outlen): lower case, every label that is
 * not LDH ASCII mapped (UTS #46, nontransitional), checked (IDNA2008:
 * disallowed and unassigned code points, NFC, hyphens, leading combining
 * marks, CONTEXTJ, CONTEXTO, the Bidi rule) and Punycode-encoded; an
 * "xn--" label is decoded and checked the same way. A plain name (see
 * idna_is_plain) is only lower-cased. Returns 0; -2 if the result does
 * not fit a domain name (or out), -1 if the name is not valid IDNA; on
 * failure *why (when why is not NULL) is a static reason for logs and
 * A-R comments.
 */
int idna_to_alabels(const char *s, size_t len, char *out, size_t outlen,
    const char **why);

/*
 * The U-label form of the domain name s (A-labels or U-labels) into out
 * (size outlen), for display only: the name is checked as by
 * idna_to_alabels first. Returns 0, or -1 (invalid, or out too small)
 * with *why set as above.
 */
int idna_to_ulabels(const char *s, char *out, size_t outlen,
    const char **why);

/*
 * The name s for people: "bücher.example (xn--bcher-kva.example)" when
 * its U-label form differs from its A-label form, else the name itself
 * (also when it is not valid IDNA: that is reported elsewhere). Not
 * escaped: the caller escapes it where it enters a log line or a reply.
 * Always NUL-terminates out (outlen > 0), truncating if it must.
 */
void idna_display(const char *s, char *out, size_t outlen);

#endif

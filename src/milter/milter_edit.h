/* SPDX-License-Identifier: ISC */
/*
 * A milter's header modifications (add, insert, change, delete) applied
 * to a header section held in a buf: lines ending in CRLF, without the
 * empty line that ends the section. Pure. Names and values come from the
 * milter: names are checked (milter_valid_header_name), values are
 * re-folded so that nothing a milter writes can end the header section
 * early or smuggle a field (bare CR/LF become CRLF plus a tab, control
 * characters are dropped, empty continuation lines skipped).
 */
#ifndef SEALMAIL_MILTER_MILTER_EDIT_H
#define SEALMAIL_MILTER_MILTER_EDIT_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* Each returns 0, or -1 if the section would pass h's max or the name is
 * not a field name (h is unchanged then). */

/* Append "name: value" at the end (SMFIR_ADDHEADER). */
int milter_edit_add(struct buf *h, const char *name, size_t nlen,
    const char *value, size_t vlen);
/* Insert before the field at position index (0: first; past the end:
 * appended) (SMFIR_INSHEADER). */
int milter_edit_insert(struct buf *h, uint32_t index, const char *name,
    size_t nlen, const char *value, size_t vlen);
/* Replace the index-th (from 1) field called name (any case) with the
 * new value, or delete it if vlen is 0; a change of a field that is not
 * there adds it, as Sendmail and Postfix do (SMFIR_CHGHEADER). */
int milter_edit_change(struct buf *h, uint32_t index, const char *name,
    size_t nlen, const char *value, size_t vlen);

#endif

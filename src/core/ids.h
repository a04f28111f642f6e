/* SPDX-License-Identifier: ISC */
/*
 * Identifiers: queue ids (unique, time-sortable, safe as file names) and
 * session ids (random, for log correlation).
 */
#ifndef SEALMAIL_CORE_IDS_H
#define SEALMAIL_CORE_IDS_H

#include <stdbool.h>
#include <stddef.h>

/* 13 hex digits of microseconds since the epoch, then 7 random hex digits. */
#define IDS_QID_LEN	20
/* 16 random hex digits. */
#define IDS_SID_LEN	16

/* Write a new queue id into out[IDS_QID_LEN + 1]. */
void ids_qid_new(char *out);
/* Write a new session id into out[IDS_SID_LEN + 1]. */
void ids_sid_new(char *out);
/* True if s is exactly a syntactically valid queue id (and so a safe file
 * name component). */
bool ids_qid_valid(const char *s);

#endif

/* SPDX-License-Identifier: ISC */
/*
 * What changes when remote delivery sends a copy on for an alias whose
 * target is in another domain ([forwarding]): the copy's envelope sender
 * (SRS, msg/srs.h, so that SPF passes at the next hop and bounces come
 * back through us), and whether it may be forwarded at all (a message
 * that failed DMARC with p=reject never is). The From: field and the rest
 * of the message are not touched. Pure: the SRS key and the time are
 * parameters (deliver/remote.c reads the key from the store).
 */
#ifndef SEALMAIL_DELIVER_REMOTE_FORWARD_H
#define SEALMAIL_DELIVER_REMOTE_FORWARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msg/srs.h"
#include "queue/envelope.h"

struct conf;

/*
 * The envelope sender for a copy of a message from sender (the envelope's
 * MAIL FROM, "" for the null sender) forwarded for alias. True when it is
 * rewritten: out (outlen > LIMIT_PATH) gets SRS0 of the sender (SRS1 when
 * it is SRS already) in the alias's domain. False when the sender is kept,
 * with *why = SRS_OK when that is the rule: [forwarding] srs = no; the
 * null sender (nothing is sent back to a bounce); a sender in one of our
 * own domains (we are authorised to send for them, and their bounces
 * reach them directly). *why is the srs_forward error when SRS cannot
 * wrap the sender (its local part would exceed 64 octets, a quoted local
 * part, an address literal): the copy then keeps its sender, and may
 * fail SPF at the next hop, rather than carry a return path whose bounces
 * we would refuse. key is SRS_SECRET_LEN bytes, unused when srs = no.
 */
bool remote_forward_sender(const struct conf *conf, const uint8_t *key,
    const char *sender, const char *alias, long long now, char *out,
    size_t outlen, enum srs_result *why);

/*
 * True when a copy of env may not be forwarded at all, with the text of
 * the permanent failure ("5.7.1 ...", without a reply code) in text: the
 * message failed DMARC with p=reject and was accepted only because
 * [auth] dmarc_enforce = no (envelope dmarc_reject). The runner bounces it
 * to the sender with a DSN, like any permanent failure.
 */
bool remote_forward_refused(const struct envelope *env, char *text,
    size_t len);

#endif

/* SPDX-License-Identifier: ISC */
/*
 * An in-process keyop backend (see keyop.h): it holds real private keys
 * and signs with them. It serves unit tests, and the daemon until the keys
 * process takes the keys out of the worker.
 */
#ifndef SEALMAIL_KEYS_KEYOP_LOCAL_H
#define SEALMAIL_KEYS_KEYOP_LOCAL_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <openssl/evp.h>

#include "conf/conf.h"
#include "keys/keyop.h"

struct keyop_local;

struct keyop_local *keyop_local_new(void);
void keyop_local_free(struct keyop_local *kl);

/* Hold pk (a reference is taken) under handle; -1 if the handle is
 * taken already. */
int keyop_local_add(struct keyop_local *kl, uint32_t handle, EVP_PKEY *pk);

/*
 * The master's one place that reads the TLS private keys: every [tls]
 * pair's key file, checked against its certificate, held under
 * KEYOP_HANDLE_TLS(i). NULL with a one-line err naming the file.
 */
struct keyop_local *keyop_local_load_tls(const struct conf *conf, char *err,
    size_t errlen);

/* The backend that signs with kl's keys (owned by kl). */
const struct keyop_backend *keyop_local_backend(struct keyop_local *kl);

/* The event loop on which this process's asynchronous results are
 * delivered (one per process: the worker's). Without one, start fails. */
void keyop_local_set_base(struct event_base *base);

/* Operations signed so far in this process, and those of them that were
 * started asynchronously (tests count them). */
unsigned long keyop_local_count(void);
unsigned long keyop_local_count_async(void);

#endif

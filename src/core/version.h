/* SPDX-License-Identifier: ISC */
/* The release: printed by --version, written into the cluster's node
 * registry. `make SEALMAIL_VERSION=...` (CFLAGS) may say more. */
#ifndef SEALMAIL_CORE_VERSION_H
#define SEALMAIL_CORE_VERSION_H

#ifndef SEALMAIL_VERSION
#define SEALMAIL_VERSION	"0.1.0"
#endif

#endif

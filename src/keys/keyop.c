/* SPDX-License-Identifier: ISC */
/* The process's private-key backend (see keyop.h). */
#include "keys/keyop.h"

#include <stddef.h>

static const struct keyop_backend *keyop_current;

void
keyop_set_backend(const struct keyop_backend *b)
{
	keyop_current = b;
}

const struct keyop_backend *
keyop_backend(void)
{
	return keyop_current;
}

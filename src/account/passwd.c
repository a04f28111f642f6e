/* SPDX-License-Identifier: ISC */
/*
 * Password hashing and verification with libxcrypt's crypt_r(3). New
 * hashes are yescrypt ("$y$", libxcrypt's default cost); verification
 * accepts every scheme libxcrypt enables, so hashes from /etc/shadow or
 * Dovecot (sha512-crypt "$6$", bcrypt "$2b$") can be imported. Passwords
 * are untrusted input from AUTH; buffers that held them are wiped.
 */
#include "account/passwd.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "core/xmalloc.h"

/* crypt_r's state is about 32 KiB: keep it off the stack, zeroed as
 * crypt_r requires, and wipe it after use since it held the password. */
static struct crypt_data *
passwd_data_new(void)
{
	return xcalloc(1, sizeof(struct crypt_data));
}

static void
passwd_data_free(struct crypt_data *cd)
{
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
}

/* libxcrypt reports failure with a NULL or a "*"-prefixed token. */
static bool
passwd_failed(const char *s)
{
	return s == NULL || s[0] == '*' || s[0] == '\0';
}

char *
passwd_hash(const char *password)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd;
	const char *h;
	char *out = NULL;

	if (password == NULL)
		return NULL;
	/* NULL random bytes: libxcrypt reads them from the kernel. */
	if (passwd_failed(crypt_gensalt_rn("$y$", 0, NULL, 0, salt,
	    sizeof(salt))))
		return NULL;
	cd = passwd_data_new();
	h = crypt_r(password, salt, cd);
	if (!passwd_failed(h))
		out = xstrdup(h);
	passwd_data_free(cd);
	return out;
}

bool
passwd_verify(const char *password, const char *hash)
{
	struct crypt_data *cd;
	const char *h;
	size_t len;
	bool ok = false;

	/* "*" and "!" mark locked or disabled accounts (shadow(5)); an
	 * empty hash would otherwise match crypt's empty setting. */
	if (password == NULL || hash == NULL || hash[0] == '\0' ||
	    hash[0] == '*' || hash[0] == '!')
		return false;
	len = strlen(hash);
	cd = passwd_data_new();
	h = crypt_r(password, hash, cd);
	/* The length of a hash is public; its bytes are compared in
	 * constant time so timing tells nothing about how much matched. */
	if (!passwd_failed(h) && strlen(h) == len &&
	    CRYPTO_memcmp(h, hash, len) == 0)
		ok = true;
	passwd_data_free(cd);
	return ok;
}

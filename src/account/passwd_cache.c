/* SPDX-License-Identifier: ISC */
/* Verified-login cache (see passwd_cache.h). */
#include "account/passwd_cache.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "core/log.h"

#define PASSWD_CACHE_SLOTS	256

struct passwd_cache_entry {
	unsigned char	 mac[32];	/* keyed digest of user, hash, password */
	time_t		 at;
};

static struct passwd_cache_entry passwd_cache[PASSWD_CACHE_SLOTS];
static unsigned char passwd_cache_key[32];
static bool passwd_cache_keyed;

/* SHA-256(key || user || NUL || hash || NUL || password): equal inputs
 * give equal digests; without the random key nothing can be learnt. */
static void
passwd_cache_mac(const char *user, const char *hash, const char *password,
    unsigned char out[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	if (!passwd_cache_keyed) {
		if (getrandom(passwd_cache_key, sizeof(passwd_cache_key), 0) !=
		    sizeof(passwd_cache_key))
			fatal("getrandom failed");
		passwd_cache_keyed = true;
	}
	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(md, passwd_cache_key, 32) != 1 ||
	    EVP_DigestUpdate(md, user, strlen(user) + 1) != 1 ||
	    EVP_DigestUpdate(md, hash, strlen(hash) + 1) != 1 ||
	    EVP_DigestUpdate(md, password, strlen(password)) != 1 ||
	    EVP_DigestFinal_ex(md, out, NULL) != 1)
		fatal("SHA-256 failed");
	EVP_MD_CTX_free(md);
}

/* The slot of a user: one entry per user bucket, newest wins. */
static struct passwd_cache_entry *
passwd_cache_slot(const char *user)
{
	unsigned h = 2166136261u;

	for (const char *p = user; *p; p++)
		h = (h ^ (unsigned char)(*p | 0x20)) * 16777619u;
	return &passwd_cache[h % PASSWD_CACHE_SLOTS];
}

bool
passwd_cache_hit(const char *user, const char *hash, const char *password)
{
	struct passwd_cache_entry *e = passwd_cache_slot(user);
	unsigned char mac[32];
	bool hit;

	if (e->at == 0 || time(NULL) - e->at > PASSWD_CACHE_TTL)
		return false;
	passwd_cache_mac(user, hash, password, mac);
	hit = CRYPTO_memcmp(mac, e->mac, sizeof(mac)) == 0;
	OPENSSL_cleanse(mac, sizeof(mac));
	return hit;
}

void
passwd_cache_store(const char *user, const char *hash, const char *password)
{
	struct passwd_cache_entry *e = passwd_cache_slot(user);

	passwd_cache_mac(user, hash, password, e->mac);
	e->at = time(NULL);
}

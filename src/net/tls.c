/* SPDX-License-Identifier: ISC */
/* OpenSSL server contexts, certificate selection by SNI (see tls.h). */
#include "net/tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "keys/keyop.h"
#include "keys/keys_provider.h"

/* One context per distinct set of certificate names. */
struct tls_group {
	SSL_CTX	 *ctx;
	char	**names;	/* SAN dNSNames (or the CN), lower case */
	size_t	  nnames;
};

struct tls_server {
	struct tls_group	*groups;	/* groups[0] is the default */
	size_t			 ngroups;
};

void
tls_errstr(char *err, size_t errlen, const char *what, const char *file)
{
	unsigned long e = ERR_get_error();
	char ebuf[256] = "unknown error";

	if (e)
		ERR_error_string_n(e, ebuf, sizeof(ebuf));
	ERR_clear_error();
	snprintf(err, errlen, "%s %s: %s", what, file, ebuf);
}

/* The names a certificate serves: its SAN dNSNames, else its CN. */
static void
tls_cert_names(X509 *x, char ***names, size_t *n)
{
	GENERAL_NAMES *sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL,
	    NULL);

	*names = NULL;
	*n = 0;
	for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
		if (g->type != GEN_DNS)
			continue;
		const unsigned char *d = ASN1_STRING_get0_data(g->d.dNSName);
		int len = ASN1_STRING_length(g->d.dNSName);
		*names = xreallocarray(*names, *n + 1, sizeof(**names));
		(*names)[(*n)++] = xstrndup((const char *)d, (size_t)len);
	}
	GENERAL_NAMES_free(sans);
	if (*n == 0) {
		char cn[256];
		if (X509_NAME_get_text_by_NID(X509_get_subject_name(x),
		    NID_commonName, cn, sizeof(cn)) > 0) {
			*names = xmalloc(sizeof(**names));
			(*names)[(*n)++] = xstrdup(cn);
		}
	}
	for (size_t i = 0; i < *n; i++)
		for (char *p = (*names)[i]; *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
}

static bool
tls_names_equal(char **a, size_t na, char **b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++) {
		bool found = false;
		for (size_t j = 0; j < nb && !found; j++)
			found = strcmp(a[i], b[j]) == 0;
		if (!found)
			return false;
	}
	return true;
}

static bool
tls_name_match(const char *pattern, const char *host)
{
	if (strcasecmp(pattern, host) == 0)
		return true;
	/* RFC 6125 §6.4.3: a wildcard covers exactly one leftmost label. */
	if (pattern[0] == '*' && pattern[1] == '.') {
		const char *dot = strchr(host, '.');
		return dot != NULL && dot != host &&
		    strcasecmp(pattern + 1, dot) == 0;
	}
	return false;
}

static int tls_sni_cb(SSL *ssl, int *alert, void *arg);

static SSL_CTX *
tls_ctx_new(const struct conf *conf, struct tls_server *ts)
{
	/* Its private keys are references into the keys provider. */
	SSL_CTX *ctx = SSL_CTX_new_ex(keys_provider_libctx(), NULL,
	    TLS_server_method());
	static const unsigned char sid_ctx[] = "sealmail";

	if (ctx == NULL)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, conf->min_version);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* Idle sessions keep no TLS buffers (memory per session matters). */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	SSL_CTX_set_cipher_list(ctx,
	    "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:"
	    "ECDHE+AES:!aNULL:!MD5:!DSS:!RC4:!3DES");
	SSL_CTX_set_tlsext_servername_callback(ctx, tls_sni_cb);
	SSL_CTX_set_tlsext_servername_arg(ctx, ts);
	return ctx;
}

/* Put one pair into the group with the same names, or a new group. Its
 * key is a reference to KEYOP_HANDLE_TLS(i) (held elsewhere: see
 * keyop_local_load_tls), with the certificate's public key. */
static int
tls_add_pair(const struct conf *conf, struct tls_server *ts, size_t i,
    char *err, size_t errlen)
{
	const struct conf_certpair *cp = &conf->certs[i];
	FILE *fp = fopen(cp->cert, "r");
	X509 *x;
	char **names;
	size_t n;

	if (fp == NULL) {
		snprintf(err, errlen, "cannot read certificate %s", cp->cert);
		return -1;
	}
	x = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	if (x == NULL) {
		tls_errstr(err, errlen, "bad certificate", cp->cert);
		return -1;
	}
	tls_cert_names(x, &names, &n);
	EVP_PKEY *ref = keys_provider_key_new(KEYOP_HANDLE_TLS(i),
	    X509_get0_pubkey(x));
	X509_free(x);
	if (ref == NULL) {
		tls_errstr(err, errlen, "unsupported key type (RSA, RSA-PSS, "
		    "EC or Ed25519) in certificate", cp->cert);
		for (size_t j = 0; j < n; j++)
			free(names[j]);
		free(names);
		return -1;
	}

	struct tls_group *g = NULL;
	for (size_t j = 0; j < ts->ngroups && g == NULL; j++)
		if (tls_names_equal(ts->groups[j].names, ts->groups[j].nnames,
		    names, n))
			g = &ts->groups[j];
	if (g == NULL) {
		ts->groups = xreallocarray(ts->groups, ts->ngroups + 1,
		    sizeof(*ts->groups));
		g = &ts->groups[ts->ngroups++];
		g->names = names;
		g->nnames = n;
		g->ctx = tls_ctx_new(conf, ts);
		if (g->ctx == NULL) {
			tls_errstr(err, errlen, "cannot create context for",
			    cp->cert);
			EVP_PKEY_free(ref);
			return -1;
		}
	} else {
		for (size_t j = 0; j < n; j++)
			free(names[j]);
		free(names);
	}
	int ok = SSL_CTX_use_certificate_chain_file(g->ctx, cp->cert) == 1;
	if (!ok)
		tls_errstr(err, errlen, "cannot load certificate", cp->cert);
	else if (SSL_CTX_use_PrivateKey(g->ctx, ref) != 1 ||
	    SSL_CTX_check_private_key(g->ctx) != 1) {
		tls_errstr(err, errlen, "certificate changed while loading",
		    cp->cert);
		ok = 0;
	}
	EVP_PKEY_free(ref);
	return ok ? 0 : -1;
}

struct tls_server *
tls_server_new(const struct conf *conf, char *err, size_t errlen)
{
	struct tls_server *ts = xcalloc(1, sizeof(*ts));

	if (conf->ncerts == 0) {
		snprintf(err, errlen, "%s: [tls] has no cert/key pair",
		    conf->path);
		goto fail;
	}
	for (size_t i = 0; i < conf->ncerts; i++)
		if (tls_add_pair(conf, ts, i, err, errlen) == -1)
			goto fail;
	return ts;
fail:
	tls_server_free(ts);
	return NULL;
}

void
tls_server_free(struct tls_server *ts)
{
	if (ts == NULL)
		return;
	for (size_t i = 0; i < ts->ngroups; i++) {
		SSL_CTX_free(ts->groups[i].ctx);
		for (size_t j = 0; j < ts->groups[i].nnames; j++)
			free(ts->groups[i].names[j]);
		free(ts->groups[i].names);
	}
	free(ts->groups);
	free(ts);
}

/* Switch to the group whose certificate names the requested host; the
 * default group answers unknown names (RFC 6066 §3 lets us continue). */
static int
tls_sni_cb(SSL *ssl, int *alert, void *arg)
{
	struct tls_server *ts = arg;
	const char *host = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);

	(void)alert;
	if (host == NULL || ts->ngroups < 2)
		return SSL_TLSEXT_ERR_OK;
	for (size_t i = 0; i < ts->ngroups; i++)
		for (size_t j = 0; j < ts->groups[i].nnames; j++)
			if (tls_name_match(ts->groups[i].names[j], host)) {
				SSL_set_SSL_CTX(ssl, ts->groups[i].ctx);
				return SSL_TLSEXT_ERR_OK;
			}
	return SSL_TLSEXT_ERR_OK;
}

SSL *
tls_server_ssl_new(struct tls_server *ts)
{
	return SSL_new(ts->groups[0].ctx);
}

void
tls_info_get(SSL *ssl, struct tls_info *out)
{
	const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
	int nid = SSL_get_negotiated_group(ssl);

	out->version = SSL_get_version(ssl);
	out->cipher = c ? SSL_CIPHER_standard_name(c) : NULL;
	if (out->cipher == NULL)
		out->cipher = c ? SSL_CIPHER_get_name(c) : "unknown";
	out->bits = c ? SSL_CIPHER_get_bits(c, &out->alg_bits) : 0;
	if (c == NULL)
		out->alg_bits = 0;
	out->group = nid > 0 ? SSL_group_to_name(ssl, nid) : NULL;
}

/* SPDX-License-Identifier: ISC */
/* Asynchronous server handshakes against real clients (threads). */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include <event2/event.h>
#include <openssl/async.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "core/xmalloc.h"
#include "keys/keyop.h"
#include "keys/keyop_local.h"
#include "keys/keys_provider.h"
#include "net/tls_handshake.h"
#include "testcert.h"

/* More than TLS_HS_JOBS_MAX, so some wait for a job. */
#define THT_N	(TLS_HS_JOBS_MAX * 2 + 3)

struct tht_conn {
	int		 fd[2];		/* [0] server, [1] client */
	SSL		*ssl;
	struct tls_hs	*hs;
	pthread_t	 client;
	int		 client_ok;
	int		 done;		/* callbacks seen */
	enum tls_hs_result result;
	int		 version;
};

static struct event_base *tht_base;
static SSL_CTX *tht_sctx;
static struct keyop_local *tht_kl;
static EVP_PKEY *tht_key;
static int tht_pending;

static int
tht_setup(void **state)
{
	EVP_PKEY *ref;
	X509 *x;

	(void)state;
	/* A client writing to a server that hung up (the daemon too). */
	signal(SIGPIPE, SIG_IGN);
	tht_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_non_null(tht_key);
	x = testcert_self_signed(tht_key, "mx.test");
	assert_non_null(x);
	tht_kl = keyop_local_new();
	assert_int_equal(keyop_local_add(tht_kl, KEYOP_HANDLE_TLS(0),
	    tht_key), 0);
	keyop_set_backend(keyop_local_backend(tht_kl));
	tht_base = event_base_new();
	keyop_local_set_base(tht_base);
	tht_sctx = SSL_CTX_new_ex(keys_provider_libctx(), NULL,
	    TLS_server_method());
	ref = keys_provider_key_new(KEYOP_HANDLE_TLS(0), tht_key);
	assert_int_equal(SSL_CTX_use_certificate(tht_sctx, x), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(tht_sctx, ref), 1);
	EVP_PKEY_free(ref);
	X509_free(x);
	return 0;
}

static int
tht_teardown(void **state)
{
	(void)state;
	SSL_CTX_free(tht_sctx);
	keyop_set_backend(NULL);
	keyop_local_free(tht_kl);
	EVP_PKEY_free(tht_key);
	event_base_free(tht_base);
	/* The pool's jobs (tls_handshake bounded it) live as long as the
	 * thread otherwise. */
	ASYNC_cleanup_thread();
	return 0;
}

static void *
tht_client(void *arg)
{
	struct tht_conn *c = arg;
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = SSL_new(cctx);
	char b;

	SSL_CTX_set_min_proto_version(cctx, c->version);
	SSL_CTX_set_max_proto_version(cctx, c->version);
	SSL_set_fd(ssl, c->fd[1]);
	c->client_ok = SSL_connect(ssl) == 1;
	/* Wait for the server to close (a TLS 1.3 client reads tickets). */
	if (c->client_ok)
		(void)SSL_read(ssl, &b, 1);
	SSL_free(ssl);
	SSL_CTX_free(cctx);
	ERR_clear_error();
	return NULL;
}

static void
tht_done(void *arg, enum tls_hs_result r, const char *detail)
{
	struct tht_conn *c = arg;

	(void)detail;
	c->done++;
	c->result = r;
	c->hs = NULL;
	tht_pending--;
	/* The caller owns the SSL and fd again: the session would hand
	 * them to a bufferevent; here, end the connection. */
	shutdown(c->fd[0], SHUT_RDWR);
}

static void
tht_conn_start(struct tht_conn *c, int version)
{
	/* The server's end does not block; the client's does. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, c->fd), 0);
	assert_int_equal(fcntl(c->fd[0], F_SETFL, O_NONBLOCK), 0);
	c->version = version;
	c->ssl = SSL_new(tht_sctx);
	c->hs = tls_hs_start(tht_base, c->fd[0], c->ssl, tht_done, c);
	assert_non_null(c->hs);
	tht_pending++;
	assert_int_equal(pthread_create(&c->client, NULL, tht_client, c), 0);
}

static void
tht_conn_end(struct tht_conn *c)
{
	pthread_join(c->client, NULL);
	SSL_free(c->ssl);
	close(c->fd[0]);
	close(c->fd[1]);
}

/* Many handshakes at once, more than there are jobs: each signature is
 * made on the loop while the handshake's job waits, and all succeed. */
static void
test_concurrent_handshakes(void **state)
{
	struct tht_conn *c = xcalloc(THT_N, sizeof(*c));
	unsigned long before = keyop_local_count_async();

	(void)state;
	for (int i = 0; i < THT_N; i++)
		tht_conn_start(&c[i], i % 2 ? TLS1_3_VERSION : TLS1_2_VERSION);
	while (tht_pending > 0)
		event_base_loop(tht_base, EVLOOP_ONCE);
	for (int i = 0; i < THT_N; i++) {
		tht_conn_end(&c[i]);
		assert_int_equal(c[i].done, 1);
		assert_int_equal(c[i].result, TLS_HS_OK);
		assert_true(c[i].client_ok);
		/* Out of async mode for the bufferevent. */
		assert_false(SSL_get_mode(c[i].ssl) & SSL_MODE_ASYNC);
	}
	assert_int_equal(keyop_local_count_async(), before + THT_N);
	free(c);
}

/* A backend that holds the operation until the test lets it go. */
static struct {
	keyop_done_cb	*cb;
	void		*arg;
	struct keyop	 op;
	uint8_t		 tbs[KEYOP_TBS_MAX];
} tht_held;

static int
tht_hold_start(void *be, const struct keyop *op, keyop_done_cb *cb,
    void *arg)
{
	(void)be;
	tht_held.cb = cb;
	tht_held.arg = arg;
	tht_held.op = *op;
	memcpy(tht_held.tbs, op->tbs, op->tbslen);
	tht_held.op.tbs = tht_held.tbs;
	return 0;
}

/* Cancelled while its signature is outstanding: no callback, the job is
 * let finish when the signature comes, nothing reaches the client. */
static void
test_cancel_while_signing(void **state)
{
	const struct keyop_backend *local = keyop_local_backend(tht_kl);
	const struct keyop_backend hold = { .start = tht_hold_start,
	    .sync = local->sync, .be = local->be };
	uint8_t sig[KEYOP_SIG_MAX];
	size_t siglen = sizeof(sig);
	struct tht_conn c;

	(void)state;
	memset(&c, 0, sizeof(c));
	memset(&tht_held, 0, sizeof(tht_held));
	keyop_set_backend(&hold);
	tht_conn_start(&c, TLS1_3_VERSION);
	while (tht_held.cb == NULL)
		event_base_loop(tht_base, EVLOOP_ONCE);
	/* The job is paused now, waiting for the held signature. */
	tls_hs_cancel(c.hs);
	c.ssl = NULL;		/* the handshake frees it */
	shutdown(c.fd[0], SHUT_RDWR);
	assert_int_equal(local->sync(local->be, &tht_held.op, sig, &siglen),
	    0);
	tht_held.cb(tht_held.arg, sig, siglen);
	for (int i = 0; i < 10; i++)
		event_base_loop(tht_base, EVLOOP_NONBLOCK);
	tht_conn_end(&c);
	assert_int_equal(c.done, 0);
	assert_false(c.client_ok);
	tht_pending--;
	keyop_set_backend(local);
}

/*
 * Cancelled after its signature came but before the loop resumed it (the
 * session timed out in the same loop turn): the job must still run to
 * its end. Freeing the SSL then leaked the paused job, and after
 * TLS_HS_JOBS_MAX such turns no handshake of the process got a job again.
 */
static void
test_cancel_after_signature_came(void **state)
{
	const struct keyop_backend *local = keyop_local_backend(tht_kl);
	const struct keyop_backend hold = { .start = tht_hold_start,
	    .sync = local->sync, .be = local->be };
	uint8_t sig[KEYOP_SIG_MAX];
	size_t siglen;
	struct tht_conn c;

	(void)state;
	keyop_set_backend(&hold);
	for (int n = 0; n < TLS_HS_JOBS_MAX + 1; n++) {
		memset(&c, 0, sizeof(c));
		memset(&tht_held, 0, sizeof(tht_held));
		tht_conn_start(&c, TLS1_3_VERSION);
		for (int i = 0; i < 500 && tht_held.cb == NULL; i++) {
			event_base_loop(tht_base, EVLOOP_NONBLOCK);
			usleep(10000);
		}
		if (tht_held.cb == NULL) {
			tls_hs_cancel(c.hs);
			shutdown(c.fd[0], SHUT_RDWR);
			tht_pending--;
			c.ssl = NULL;
			tht_conn_end(&c);
			keyop_set_backend(local);
			fail_msg("handshake %d never got an ASYNC job", n);
		}
		siglen = sizeof(sig);
		assert_int_equal(local->sync(local->be, &tht_held.op, sig,
		    &siglen), 0);
		/* The signature is in (the resume is due on the loop)... */
		tht_held.cb(tht_held.arg, sig, siglen);
		/* ...and the session goes before the loop turns. */
		tls_hs_cancel(c.hs);
		c.ssl = NULL;
		shutdown(c.fd[0], SHUT_RDWR);
		for (int i = 0; i < 10; i++)
			event_base_loop(tht_base, EVLOOP_NONBLOCK);
		tht_conn_end(&c);
		assert_int_equal(c.done, 0);
		tht_pending--;
	}
	keyop_set_backend(local);

	/* A handshake now still gets a job and completes. */
	memset(&c, 0, sizeof(c));
	tht_conn_start(&c, TLS1_3_VERSION);
	for (int i = 0; i < 500 && tht_pending > 0; i++) {
		event_base_loop(tht_base, EVLOOP_NONBLOCK);
		usleep(10000);
	}
	if (tht_pending > 0) {
		/* Unblock the client so the test can end. */
		tls_hs_cancel(c.hs);
		c.ssl = NULL;
		shutdown(c.fd[0], SHUT_RDWR);
		tht_pending--;
		tht_conn_end(&c);
		fail_msg("the handshake never got an ASYNC job");
	}
	tht_conn_end(&c);
	assert_int_equal(c.done, 1);
	assert_int_equal(c.result, TLS_HS_OK);
}

/* A handshake that fails (the client hangs up) reports it once. */
static void
test_client_gone(void **state)
{
	struct tht_conn c;
	int sv[2];

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
	c.fd[0] = sv[0];
	c.ssl = SSL_new(tht_sctx);
	c.hs = tls_hs_start(tht_base, sv[0], c.ssl, tht_done, &c);
	tht_pending++;
	assert_int_equal(write(sv[1], "EHLO x\r\n", 8), 8);
	close(sv[1]);
	while (tht_pending > 0)
		event_base_loop(tht_base, EVLOOP_ONCE);
	assert_int_equal(c.done, 1);
	assert_int_equal(c.result, TLS_HS_TLS_ERROR);
	SSL_free(c.ssl);
	close(sv[0]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_concurrent_handshakes),
		cmocka_unit_test(test_cancel_while_signing),
		cmocka_unit_test(test_cancel_after_signature_came),
		cmocka_unit_test(test_client_gone),
	};

	return cmocka_run_group_tests(tests, tht_setup, tht_teardown);
}

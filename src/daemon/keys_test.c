/* SPDX-License-Identifier: ISC */
/*
 * The keys process against its real client: keys_main() runs in a forked
 * child; the master's side (keys_ctl) hands it a DKIM key and peers, the
 * client (keys_client) signs through it, blocking and asynchronously. A
 * peer that sends garbage or an oversized frame is closed, and only that
 * one; a LOAD of a bad key is refused with a reason; a password check
 * without a store is a temporary failure.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "account/passwd.h"
#include "core/buf.h"
#include "daemon/keys.h"
#include "daemon/keys_ctl.h"
#include "keys/keys_client.h"

struct fixture {
	char		 dir[64];
	char		 keyfile[128];
	EVP_PKEY	*pk;
	struct conf	 conf;
	struct conf_domain dom;
	struct conf_dkim dkim;
	struct conf_listener lst[2];
	char		 pwfile[128];
	pid_t		 pid;
	int		 ctl;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	FILE *fp;

	snprintf(f->dir, sizeof(f->dir), "/tmp/keys_test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->keyfile, sizeof(f->keyfile), "%s/k.pem", f->dir);
	f->pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	fp = fopen(f->keyfile, "w");
	PEM_write_PrivateKey(fp, f->pk, NULL, NULL, 0, NULL, NULL);
	fclose(fp);
	f->dkim.selector = "s1";
	f->dkim.key = f->keyfile;
	f->dom.name = "example.test";
	f->dom.dkim = &f->dkim;
	f->dom.ndkim = 1;
	f->conf.domains = &f->dom;
	f->conf.ndomains = 1;
	f->conf.data_dir = f->dir;	/* no store in it */
	/* Listener 1 is an admin one with a password_file. */
	snprintf(f->pwfile, sizeof(f->pwfile), "%s/admin.pw", f->dir);
	char *h = passwd_hash("right-one");
	fp = fopen(f->pwfile, "w");
	fprintf(fp, "admin:%s\nother:%s\n", h, h);
	fclose(fp);
	free(h);
	f->lst[0].name = "mx";
	f->lst[0].role = CONF_ROLE_MX;
	f->lst[1].name = "admin";
	f->lst[1].role = CONF_ROLE_ADMIN;
	f->lst[1].password_file = f->pwfile;
	f->conf.listeners = f->lst;
	f->conf.nlisteners = 2;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	EVP_PKEY_free(f->pk);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Fork the keys process; f->ctl is the master's end. */
static void
start_keys(struct fixture *f)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
	    sv), 0);
	f->pid = fork();
	assert_true(f->pid >= 0);
	if (f->pid == 0) {
		close(sv[0]);
		_exit(keys_main(&f->conf, sv[1]));
	}
	close(sv[1]);
	f->ctl = sv[0];
}

/* Closing the control socket retires it; with no peer left it exits. */
static void
stop_keys(struct fixture *f)
{
	int status;

	close(f->ctl);
	assert_int_equal(waitpid(f->pid, &status, 0), f->pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* Whether fd reads EOF within a second (the peer was dropped). */
static bool
closed_soon(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };
	char c;

	return poll(&p, 1, 1000) == 1 && read(fd, &c, 1) == 0;
}

struct async_result {
	uint8_t	 sig[KEYOP_SIG_MAX];
	size_t	 len;
	int	 calls;
	enum keys_passwd_res pw;
	struct event_base *base;
};

static void
async_done(void *arg, const uint8_t *sig, size_t len)
{
	struct async_result *r = arg;

	r->calls++;
	if (sig != NULL)
		memcpy(r->sig, sig, len);
	r->len = sig != NULL ? len : 0;
	event_base_loopbreak(r->base);
}

static void
passwd_done(void *arg, enum keys_passwd_res res)
{
	struct async_result *r = arg;

	r->calls++;
	r->pw = res;
	event_base_loopbreak(r->base);
}

static void
verify(EVP_PKEY *pk, const uint8_t *tbs, const uint8_t *sig, size_t len)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	assert_int_equal(EVP_DigestVerifyInit(md, NULL, NULL, NULL, pk), 1);
	assert_int_equal(EVP_DigestVerify(md, sig, len, tbs, 32), 1);
	EVP_MD_CTX_free(md);
}

static void
test_sign_through_keys_process(void **state)
{
	struct fixture *f = *state;
	enum keys_key_type types[1];
	char err[512];
	uint8_t tbs[32], sig[KEYOP_SIG_MAX];
	size_t siglen = sizeof(sig);
	struct keyop op = { KEYOP_HANDLE_DKIM0, KEYOP_ED25519, "", 0, tbs, 32 };
	struct async_result ar = { .calls = 0 };
	int bad, big, a, s;

	start_keys(f);
	assert_int_equal(keys_ctl_load(f->ctl, &f->conf, types, 1, err,
	    sizeof(err)), 0);
	assert_int_equal(types[0], KEYS_TYPE_ED25519);
	bad = keys_ctl_peer(f->ctl);
	big = keys_ctl_peer(f->ctl);
	a = keys_ctl_peer(f->ctl);
	s = keys_ctl_peer(f->ctl);
	assert_true(bad >= 0 && big >= 0 && a >= 0 && s >= 0);

	/* Garbage (type 99) and a frame announcing 1 MiB: both dropped. */
	static const uint8_t junk[] = { 0, 0, 0, 5, 99, 0, 0, 0, 1 };
	static const uint8_t huge[] = { 0, 0x10, 0, 0 };
	assert_int_equal(write(bad, junk, sizeof(junk)), sizeof(junk));
	assert_int_equal(write(big, huge, sizeof(huge)), sizeof(huge));
	assert_true(closed_soon(bad));
	assert_true(closed_soon(big));

	/* The other peers are served. */
	memset(tbs, 0x5a, sizeof(tbs));
	ar.base = event_base_new();
	keys_client_inherit(a, s);
	struct keys_client *kc = keys_client_open(ar.base);
	assert_non_null(kc);
	assert_ptr_equal(keyop_backend(), keys_client_backend(kc));
	assert_int_equal(keyop_backend()->sync(keyop_backend()->be, &op, sig,
	    &siglen), 0);
	verify(f->pk, tbs, sig, siglen);

	assert_int_equal(keyop_backend()->start(keyop_backend()->be, &op,
	    async_done, &ar), 0);
	assert_int_equal(ar.calls, 0);	/* never from inside start */
	event_base_dispatch(ar.base);
	assert_int_equal(ar.calls, 1);
	assert_int_equal(ar.len, siglen);
	verify(f->pk, tbs, ar.sig, ar.len);

	/* An unknown handle: a failed signature, the connection stays. */
	op.key = 77;
	siglen = sizeof(sig);
	assert_int_equal(keyop_backend()->sync(keyop_backend()->be, &op, sig,
	    &siglen), -1);
	op.key = KEYOP_HANDLE_DKIM0;
	siglen = sizeof(sig);
	assert_int_equal(keyop_backend()->sync(keyop_backend()->be, &op, sig,
	    &siglen), 0);

	/* No store in data_dir: no verdict, a temporary failure. */
	assert_int_not_equal(keys_client_passwd(kc, KEYS_REALM_STORE,
	    "alice@example.test",
	    "secret", passwd_done, &ar), 0);
	event_base_dispatch(ar.base);
	assert_int_equal(ar.calls, 2);
	assert_int_equal(ar.pw, KEYS_PASSWD_TEMP);

	/* The admin listener's password_file: right, wrong, unknown user
	 * (checked against another's hash, never accepted), a listener
	 * without a file. */
	static const struct {
		uint16_t	 realm;
		const char	*user, *pass;
		enum keys_passwd_res want;
	} pw[] = {
		{ KEYS_REALM_ADMIN(1), "admin", "right-one", KEYS_PASSWD_OK },
		{ KEYS_REALM_ADMIN(1), "admin", "wrong-one", KEYS_PASSWD_WRONG },
		{ KEYS_REALM_ADMIN(1), "nobody", "right-one", KEYS_PASSWD_WRONG },
		{ KEYS_REALM_ADMIN(0), "admin", "right-one", KEYS_PASSWD_WRONG },
		{ KEYS_REALM_ADMIN(7), "admin", "right-one", KEYS_PASSWD_WRONG },
	};
	for (size_t i = 0; i < sizeof(pw) / sizeof(pw[0]); i++) {
		ar.calls = 0;
		assert_int_not_equal(keys_client_passwd(kc, pw[i].realm,
		    pw[i].user, pw[i].pass, passwd_done, &ar), 0);
		event_base_dispatch(ar.base);
		assert_int_equal(ar.calls, 1);
		if (ar.pw != pw[i].want)
			fail_msg("case %zu: %d", i, ar.pw);
	}

	keys_client_free(kc);
	assert_null(keyop_backend());
	close(bad);
	close(big);
	event_base_free(ar.base);
	stop_keys(f);
}

/* The keys process goes: what is pending fails, later requests too. */
static void
test_keys_process_lost(void **state)
{
	struct fixture *f = *state;
	enum keys_key_type types[1];
	char err[512];
	uint8_t tbs[32] = { 0 }, sig[KEYOP_SIG_MAX];
	size_t siglen = sizeof(sig);
	struct keyop op = { KEYOP_HANDLE_DKIM0, KEYOP_ED25519, "", 0, tbs, 32 };
	struct async_result ar = { .calls = 0 };
	int status;

	start_keys(f);
	assert_int_equal(keys_ctl_load(f->ctl, &f->conf, types, 1, err,
	    sizeof(err)), 0);
	keys_client_inherit(keys_ctl_peer(f->ctl), keys_ctl_peer(f->ctl));
	ar.base = event_base_new();
	struct keys_client *kc = keys_client_open(ar.base);
	kill(f->pid, SIGKILL);
	assert_int_equal(waitpid(f->pid, &status, 0), f->pid);
	if (keyop_backend()->start(keyop_backend()->be, &op, async_done,
	    &ar) == 0) {
		event_base_dispatch(ar.base);
		assert_int_equal(ar.calls, 1);
		assert_int_equal(ar.len, 0);	/* failed, not hung */
	}
	assert_int_equal(keyop_backend()->sync(keyop_backend()->be, &op, sig,
	    &siglen), -1);
	assert_int_equal(keyop_backend()->start(keyop_backend()->be, &op,
	    async_done, &ar), -1);
	keys_client_free(kc);
	event_base_free(ar.base);
	close(f->ctl);
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Read one whole frame from fd (blocking) into p; its body length. */
static size_t
read_frame(int fd, uint8_t *p, size_t room)
{
	size_t got = 0, want = KEYS_PROTO_HDR;

	while (got < want) {
		ssize_t n = read(fd, p + got, want - got);
		assert_true(n > 0);
		got += (size_t)n;
		if (got == KEYS_PROTO_HDR) {
			want += (size_t)p[0] << 24 | (size_t)p[1] << 16 |
			    (size_t)p[2] << 8 | p[3];
			assert_true(want <= room);
		}
	}
	return want - KEYS_PROTO_HDR;
}

/* n checks (ids 1..n) of a wrong admin password, each a yescrypt. */
static void
put_wrong_passwords(struct buf *b, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		struct keys_msg m = { .type = KEYS_MSG_PASSWD, .id = i + 1,
		    .realm = KEYS_REALM_ADMIN(1),
		    .user = (const uint8_t *)"admin", .userlen = 5,
		    .pass = (const uint8_t *)"wrong-one", .passlen = 9 };
		assert_int_equal(keys_proto_encode(b, &m), 0);
	}
}

/*
 * Start the keys process and queue n wrong admin passwords on a peer of
 * its own: the peer (its first answer read, so all are queued), and in
 * *t0 when they were sent.
 */
static int
start_flood(struct fixture *f, uint32_t n, double *t0)
{
	enum keys_key_type types[1];
	char err[512];
	uint8_t frame[256];
	struct buf b;
	int flood;

	start_keys(f);
	assert_int_equal(keys_ctl_load(f->ctl, &f->conf, types, 1, err,
	    sizeof(err)), 0);
	flood = keys_ctl_peer(f->ctl);
	buf_init(&b, 64 * 1024);
	put_wrong_passwords(&b, n);
	*t0 = now_ms();
	assert_int_equal(write(flood, b.data, b.len), (ssize_t)b.len);
	buf_clear(&b);
	(void)read_frame(flood, frame, sizeof(frame));
	return flood;
}

/*
 * Password checks (yescrypt, slow by design) queued by one peer do not
 * hold up another peer's signatures: a flood of AUTH attempts must not
 * stall every TLS handshake and DKIM signature of the server (nor time
 * out a worker's blocking socket).
 */
static void
test_signature_not_behind_password_checks(void **state)
{
	struct fixture *f = *state;
	uint8_t tbs[32] = { 0 }, sig[KEYOP_SIG_MAX], frame[256];
	size_t siglen = sizeof(sig);
	struct keyop op = { KEYOP_HANDLE_DKIM0, KEYOP_ED25519, "", 0, tbs, 32 };
	enum { NPW = 32 };
	struct keys_msg m;
	double t0, t_sign, t_all;
	int flood;

	flood = start_flood(f, NPW, &t0);
	keys_client_inherit(keys_ctl_peer(f->ctl), keys_ctl_peer(f->ctl));
	struct event_base *base = event_base_new();
	struct keys_client *kc = keys_client_open(base);
	assert_non_null(kc);

	double ts = now_ms();
	assert_int_equal(keyop_backend()->sync(keyop_backend()->be, &op, sig,
	    &siglen), 0);
	t_sign = now_ms() - ts;
	verify(f->pk, tbs, sig, siglen);
	for (int i = 1; i < NPW; i++) {
		size_t body = read_frame(flood, frame, sizeof(frame));
		assert_int_equal(keys_proto_decode(frame + KEYS_PROTO_HDR,
		    body, &m), 0);
		assert_int_equal(m.type, KEYS_MSG_PASSWD_RES);
		assert_int_equal(m.status, KEYS_PASSWD_WRONG);
	}
	t_all = now_ms() - t0;
	print_message("signature %.1f ms behind %d password checks (%.1f ms)\n",
	    t_sign, NPW, t_all);
	assert_true(t_sign * 4 < t_all);

	keys_client_free(kc);
	event_base_free(base);
	close(flood);
	stop_keys(f);
}

/* One SIG answer frame for id, its signature 64 octets of fill. */
static void
put_sig(struct buf *b, uint32_t id, uint8_t fill)
{
	uint8_t sig[64];
	struct keys_msg m = { .type = KEYS_MSG_SIG, .id = id, .data = sig,
	    .datalen = sizeof(sig) };

	memset(sig, fill, sizeof(sig));
	assert_int_equal(keys_proto_encode(b, &m), 0);
}

/*
 * A blocking call that timed out (the keys process was slow, not gone)
 * leaves the socket usable: the late answer is skipped by its id. It
 * used to be closed for good, and every DKIM signature of that worker
 * failed (mail went out unsigned) until it retired.
 */
static void
test_sync_survives_a_late_answer(void **state)
{
	uint8_t tbs[32] = { 0 }, sig[KEYOP_SIG_MAX];
	size_t siglen = sizeof(sig);
	struct keyop op = { KEYOP_HANDLE_DKIM0, KEYOP_ED25519, "", 0, tbs, 32 };
	int as[2], ss[2];
	struct buf b;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, as), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, ss), 0);
	keys_client_inherit(as[0], ss[0]);
	struct event_base *base = event_base_new();
	struct keys_client *kc = keys_client_open(base);
	assert_non_null(kc);

	/* No answer in time: a failure. */
	assert_int_equal(keyop_backend()->sync(keyop_backend()->be, &op, sig,
	    &siglen), -1);
	/* Then the late answer (id 1) comes, and the next call's (id 2). */
	buf_init(&b, 4096);
	put_sig(&b, 1, 0x11);
	put_sig(&b, 2, 0x22);
	assert_int_equal(write(ss[1], b.data, b.len), (ssize_t)b.len);
	buf_clear(&b);
	siglen = sizeof(sig);
	assert_int_equal(keyop_backend()->sync(keyop_backend()->be, &op, sig,
	    &siglen), 0);
	assert_int_equal(siglen, 64);
	assert_int_equal(sig[0], 0x22);

	keys_client_free(kc);
	event_base_free(base);
	close(as[1]);
	close(ss[1]);
}

/*
 * A CANCEL of a check still queued behind others is answered at once:
 * the client's request slot (one of 256, shared with the TLS
 * handshakes' signatures) is not held until the check's turn comes.
 */
static void
test_cancel_answers_at_once(void **state)
{
	struct fixture *f = *state;
	uint8_t frame[256];
	enum { NPW = 24 };
	struct keys_msg m;
	struct buf b;
	double t0;
	int flood, pos = -1;

	flood = start_flood(f, NPW, &t0);
	/* Then the one queued last (a read's checks start newest first) is
	 * cancelled. */
	buf_init(&b, 64);
	memset(&m, 0, sizeof(m));
	m.type = KEYS_MSG_CANCEL;
	m.id = 1;
	assert_int_equal(keys_proto_encode(&b, &m), 0);
	assert_int_equal(write(flood, b.data, b.len), (ssize_t)b.len);
	buf_clear(&b);
	for (int i = 1; i < NPW; i++) {
		size_t body = read_frame(flood, frame, sizeof(frame));
		assert_int_equal(keys_proto_decode(frame + KEYS_PROTO_HDR,
		    body, &m), 0);
		assert_int_equal(m.type, KEYS_MSG_PASSWD_RES);
		if (m.id == 1) {
			assert_int_equal(m.status, KEYS_PASSWD_TEMP);
			pos = i;
		}
	}
	/* Exactly one answer each: nothing more comes. */
	struct pollfd pf = { flood, POLLIN, 0 };
	assert_int_equal(poll(&pf, 1, 300), 0);
	print_message("the cancelled check was answered %d of %d\n", pos,
	    NPW);
	assert_true(pos >= 1 && pos <= 6);
	close(flood);
	stop_keys(f);
}

/*
 * Peers take turns: one that has many checks queued (a flood of logins
 * on one worker, or a compromised worker) does not make another peer's
 * request wait behind all of them.
 */
static void
test_peers_take_turns(void **state)
{
	struct fixture *f = *state;
	uint8_t frame[256];
	enum { NPW = 32 };
	struct async_result ar = { .calls = 0 };
	double t0, t_other, t_all;
	int flood;

	flood = start_flood(f, NPW, &t0);
	keys_client_inherit(keys_ctl_peer(f->ctl), keys_ctl_peer(f->ctl));
	ar.base = event_base_new();
	struct keys_client *kc = keys_client_open(ar.base);
	assert_non_null(kc);

	double ts = now_ms();
	assert_int_not_equal(keys_client_passwd(kc, KEYS_REALM_ADMIN(1),
	    "admin", "right-one", passwd_done, &ar), 0);
	event_base_dispatch(ar.base);
	t_other = now_ms() - ts;
	assert_int_equal(ar.calls, 1);
	assert_int_equal(ar.pw, KEYS_PASSWD_OK);
	for (int i = 1; i < NPW; i++)
		(void)read_frame(flood, frame, sizeof(frame));
	t_all = now_ms() - t0;
	print_message("another peer's check took %.1f ms beside %d (%.1f ms)\n",
	    t_other, NPW, t_all);
	assert_true(t_other * 2 < t_all);

	keys_client_free(kc);
	event_base_free(ar.base);
	close(flood);
	stop_keys(f);
}

/* A key that is not one: LOAD refused, with the file named. */
static void
test_bad_key_refused(void **state)
{
	struct fixture *f = *state;
	enum keys_key_type types[1];
	char err[512];
	FILE *fp = fopen(f->keyfile, "w");

	fputs("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
	    fp);
	fclose(fp);
	start_keys(f);
	assert_int_equal(keys_ctl_load(f->ctl, &f->conf, types, 1, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, f->keyfile));
	assert_non_null(strstr(err, "not a PEM private key"));
	stop_keys(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sign_through_keys_process,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_keys_process_lost, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_signature_not_behind_password_checks, setup, teardown),
		cmocka_unit_test(test_sync_survives_a_late_answer),
		cmocka_unit_test_setup_teardown(test_peers_take_turns, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_cancel_answers_at_once,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_key_refused, setup,
		    teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: ISC */
/* Unit tests for keys/keys_proto: round trips, frame bounds, and the
 * decoder refusing every malformation it is meant to. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "core/buf.h"
#include "keys/keys_proto.h"

/* Encode m, check the frame header, decode the body into *out. */
static int
roundtrip(const struct keys_msg *m, struct keys_msg *out, struct buf *b)
{
	size_t body;

	buf_init(b, 1 << 20);
	if (m->type == KEYS_MSG_LOAD) {
		/* As the master sends it: in pieces, the key and certificate
		 * where they are; the same octets as one encoded frame. */
		static uint8_t big[KEYS_PROTO_CTRL_MAX + 16];
		uint8_t head[KEYS_PROTO_LOAD_HEAD], mid[4];
		struct iovec iov[4];
		long n = keys_proto_load_iov(m, head, mid, iov);
		if (n < 0)
			return -1;
		assert_int_equal(n, keys_proto_frame_size(m));
		assert_ptr_equal(iov[1].iov_base, m->data);
		assert_ptr_equal(iov[3].iov_base, m->cert);
		for (size_t i = 0; i < 4; i++)
			buf_append(b, iov[i].iov_base, iov[i].iov_len);
		assert_int_equal(b->len, (size_t)n);
		assert_int_equal(keys_proto_encode_raw(big, sizeof(big), m), n);
		assert_memory_equal(b->data, big, (size_t)n);
	} else if (keys_proto_encode(b, m) == -1)
		return -1;
	assert_int_equal(keys_proto_frame(b->data, b->len, KEYS_PROTO_CTRL_MAX,
	    &body), 1);
	assert_int_equal(body + KEYS_PROTO_HDR, b->len);
	/* Every shorter prefix asks for more. */
	for (size_t i = 0; i < b->len; i++)
		assert_int_equal(keys_proto_frame(b->data, i,
		    KEYS_PROTO_CTRL_MAX, &body), 0);
	return keys_proto_decode(b->data + KEYS_PROTO_HDR, body, out);
}

static void
test_sign_roundtrip(void **state)
{
	uint8_t tbs[32];
	struct keyop op = { KEYOP_HANDLE_DKIM0 + 3, KEYOP_RSA_PSS, "SHA256",
	    32, tbs, sizeof(tbs) };
	struct keys_msg m, d;
	struct buf b;

	(void)state;
	memset(tbs, 0xab, sizeof(tbs));
	keys_proto_sign_msg(&m, 77, &op);
	assert_int_equal(roundtrip(&m, &d, &b), 0);
	assert_int_equal(d.type, KEYS_MSG_SIGN);
	assert_int_equal(d.id, 77);
	assert_int_equal(d.handle, KEYOP_HANDLE_DKIM0 + 3);
	assert_int_equal(d.alg, KEYOP_RSA_PSS);
	assert_string_equal(d.md, "SHA256");
	assert_int_equal(d.saltlen, 32);
	assert_int_equal(d.datalen, 32);
	assert_memory_equal(d.data, tbs, 32);
	/* Ed25519: no md; a negative saltlen (OpenSSL's "digest length"). */
	op.alg = KEYOP_ED25519;
	op.md[0] = '\0';
	op.saltlen = -1;
	keys_proto_sign_msg(&m, 78, &op);
	buf_clear(&b);
	assert_int_equal(roundtrip(&m, &d, &b), 0);
	assert_string_equal(d.md, "");
	assert_int_equal(d.saltlen, -1);
	buf_clear(&b);
}

static void
test_sign_bounds(void **state)
{
	uint8_t tbs[KEYOP_TBS_MAX + 1] = { 0 };
	struct keyop op = { 1, KEYOP_ECDSA, "SHA384", 0, tbs, KEYOP_TBS_MAX };
	struct keys_msg m, d;
	struct buf b;

	(void)state;
	keys_proto_sign_msg(&m, 1, &op);
	assert_int_equal(roundtrip(&m, &d, &b), 0);
	buf_clear(&b);
	op.tbslen = KEYOP_TBS_MAX + 1;
	keys_proto_sign_msg(&m, 1, &op);
	assert_int_equal(keys_proto_frame_size(&m), -1);
	buf_init(&b, 1 << 16);
	assert_int_equal(keys_proto_encode(&b, &m), -1);
	assert_int_equal(b.len, 0);
	op.tbslen = 0;
	keys_proto_sign_msg(&m, 1, &op);
	assert_int_equal(keys_proto_encode(&b, &m), -1);
	buf_clear(&b);
}

static void
test_other_roundtrips(void **state)
{
	static const uint8_t sig[3] = { 1, 2, 3 };
	struct keys_msg m, d;
	struct buf b;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.type = KEYS_MSG_SIG;
	m.id = 5;
	m.data = sig;
	m.datalen = 3;
	assert_int_equal(roundtrip(&m, &d, &b), 0);
	assert_int_equal(d.status, 0);
	assert_memory_equal(d.data, sig, 3);
	buf_clear(&b);

	memset(&m, 0, sizeof(m));
	m.type = KEYS_MSG_PASSWD;
	m.id = 6;
	m.realm = KEYS_REALM_ADMIN(3);
	m.user = (const uint8_t *)"alice";
	m.userlen = 5;
	m.pass = (const uint8_t *)"s3cret";
	m.passlen = 6;
	assert_int_equal(roundtrip(&m, &d, &b), 0);
	assert_int_equal(d.realm, 4);
	assert_int_equal(d.userlen, 5);
	assert_memory_equal(d.user, "alice", 5);
	assert_memory_equal(d.pass, "s3cret", 6);
	buf_clear(&b);

	memset(&m, 0, sizeof(m));
	m.type = KEYS_MSG_PASSWD_RES;
	m.status = KEYS_PASSWD_TEMP;
	assert_int_equal(roundtrip(&m, &d, &b), 0);
	assert_int_equal(d.status, KEYS_PASSWD_TEMP);
	buf_clear(&b);

	memset(&m, 0, sizeof(m));
	m.type = KEYS_MSG_LOAD;
	m.handle = KEYOP_HANDLE_TLS(2);
	m.kind = KEYS_KIND_TLS;
	m.data = (const uint8_t *)"KEY";
	m.datalen = 3;
	m.cert = (const uint8_t *)"CERT";
	m.certlen = 4;
	assert_int_equal(roundtrip(&m, &d, &b), 0);
	assert_int_equal(d.handle, 2);
	assert_int_equal(d.kind, KEYS_KIND_TLS);
	assert_memory_equal(d.cert, "CERT", 4);
	buf_clear(&b);
	/* keys_proto_encode() refuses LOAD: it must not linger in a buf. */
	buf_init(&b, 1 << 20);
	assert_int_equal(keys_proto_encode(&b, &m), -1);
	buf_clear(&b);
	{
		uint8_t head[KEYS_PROTO_LOAD_HEAD], mid[4];
		struct iovec iov[4];
		struct keys_msg big = m;

		/* Only LOAD goes in pieces; a key over its bound not at all. */
		big.datalen = KEYS_PROTO_PEM_MAX + 1;
		assert_int_equal(keys_proto_load_iov(&big, head, mid, iov), -1);
		big = m;
		big.type = KEYS_MSG_LOADED;
		assert_int_equal(keys_proto_load_iov(&big, head, mid, iov), -1);
	}

	memset(&m, 0, sizeof(m));
	m.type = KEYS_MSG_LOADED;
	m.handle = 9;
	m.status = 1;
	m.text = (const uint8_t *)"key does not match certificate";
	m.textlen = strlen((const char *)m.text);
	assert_int_equal(roundtrip(&m, &d, &b), 0);
	assert_int_equal(d.status, 1);
	assert_int_equal(d.textlen, m.textlen);
	buf_clear(&b);

	memset(&m, 0, sizeof(m));
	m.type = KEYS_MSG_CANCEL;
	m.id = 12;
	assert_int_equal(roundtrip(&m, &d, &b), 0);
	assert_int_equal(d.type, KEYS_MSG_CANCEL);
	assert_int_equal(d.id, 12);
	buf_clear(&b);

	memset(&m, 0, sizeof(m));
	m.type = KEYS_MSG_PEER;
	m.id = 0xffffffffu;
	assert_int_equal(roundtrip(&m, &d, &b), 0);
	assert_int_equal(d.id, 0xffffffffu);
	buf_clear(&b);
}

/* Bodies written by hand that the decoder must refuse. */
static void
test_decode_rejects(void **state)
{
	static const struct {
		const char	*why;
		uint8_t		 body[32];
		size_t		 len;
	} bad[] = {
		{ "empty", { 0 }, 0 },
		{ "no id", { KEYS_MSG_READY, 0, 0 }, 3 },
		{ "unknown type", { 99, 0, 0, 0, 1 }, 5 },
		{ "type past CANCEL", { KEYS_MSG_CANCEL + 1, 0, 0, 0, 1 }, 5 },
		{ "type zero", { 0, 0, 0, 0, 1 }, 5 },
		{ "trailing octet", { KEYS_MSG_READY, 0, 0, 0, 1, 7 }, 6 },
		{ "SIG status 2", { KEYS_MSG_SIG, 0, 0, 0, 1, 2, 0, 0 }, 8 },
		{ "SIG ok without signature", { KEYS_MSG_SIG, 0, 0, 0, 1, 0,
		    0, 0 }, 8 },
		{ "SIG length past end", { KEYS_MSG_SIG, 0, 0, 0, 1, 0, 0, 9,
		    1 }, 9 },
		{ "SIGN alg 0", { KEYS_MSG_SIGN, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0,
		    0, 0, 0, 0, 0, 1, 0xaa }, 18 },
		{ "SIGN alg 5", { KEYS_MSG_SIGN, 0, 0, 0, 1, 0, 0, 0, 1, 5, 0,
		    0, 0, 0, 0, 0, 1, 0xaa }, 18 },
		{ "SIGN empty tbs", { KEYS_MSG_SIGN, 0, 0, 0, 1, 0, 0, 0, 1, 4,
		    0, 0, 0, 0, 0, 0, 0 }, 17 },
		{ "SIGN md with a control char", { KEYS_MSG_SIGN, 0, 0, 0, 1,
		    0, 0, 0, 1, 1, 1, '\n', 0, 0, 0, 0, 0, 1, 0xaa }, 19 },
		{ "SIGN md too long", { KEYS_MSG_SIGN, 0, 0, 0, 1, 0, 0, 0, 1,
		    1, 16, 'S', 'H', 'A' }, 14 },
		{ "PASSWD empty user", { KEYS_MSG_PASSWD, 0, 0, 0, 1, 0, 0, 0,
		    0, 0, 0 }, 11 },
		{ "PASSWD NUL in user", { KEYS_MSG_PASSWD, 0, 0, 0, 1, 0, 0, 0,
		    2, 'a', 0, 0, 0 }, 13 },
		{ "PASSWD without realm", { KEYS_MSG_PASSWD, 0, 0, 0, 1, 0 },
		    6 },
		{ "PASSWD_RES 3", { KEYS_MSG_PASSWD_RES, 0, 0, 0, 1, 3 }, 6 },
		{ "LOAD kind 3", { KEYS_MSG_LOAD, 0, 0, 0, 1, 0, 0, 0, 0, 3, 0,
		    0, 0, 1, 'k', 0, 0, 0, 0 }, 19 },
		{ "LOAD empty key", { KEYS_MSG_LOAD, 0, 0, 0, 1, 0, 0, 0, 0, 2,
		    0, 0, 0, 0, 0, 0, 0, 0 }, 18 },
		{ "LOADED bad text", { KEYS_MSG_LOADED, 0, 0, 0, 1, 0, 0, 0, 0,
		    1, 0, 0, 1, 0x07 }, 14 },
	};
	/* The control: the "SIGN alg 0" body with alg 1 is fine. */
	static const uint8_t good[] = { KEYS_MSG_SIGN, 0, 0, 0, 1, 0, 0, 0, 1,
	    1, 0, 0, 0, 0, 0, 0, 1, 0xaa };
	struct keys_msg m;

	(void)state;
	assert_int_equal(keys_proto_decode(good, sizeof(good), &m), 0);
	assert_int_equal(m.alg, KEYOP_RSA_PKCS1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&m, 0x55, sizeof(m));
		if (keys_proto_decode(bad[i].body, bad[i].len, &m) != -1)
			fail_msg("accepted: %s", bad[i].why);
		assert_int_equal(m.type, 0);
		assert_null(m.data);
	}
}

static void
test_frame_bounds(void **state)
{
	uint8_t hdr[8] = { 0, 0, 0x10, 0x01, 0, 0, 0, 0 };
	size_t n = 0;

	(void)state;
	/* 4097 octets announced: over a peer's bound before any arrive. */
	assert_int_equal(keys_proto_frame(hdr, 4, 4096, &n), -1);
	assert_int_equal(keys_proto_frame(hdr, 4, 8192, &n), 0);
	/* Under the type-and-id minimum. */
	hdr[2] = 0;
	hdr[3] = 4;
	assert_int_equal(keys_proto_frame(hdr, 8, 4096, &n), -1);
	/* A huge length does not wrap. */
	memset(hdr, 0xff, 4);
	assert_int_equal(keys_proto_frame(hdr, 8, KEYS_PROTO_CTRL_MAX, &n),
	    -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sign_roundtrip),
		cmocka_unit_test(test_sign_bounds),
		cmocka_unit_test(test_other_roundtrips),
		cmocka_unit_test(test_decode_rejects),
		cmocka_unit_test(test_frame_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

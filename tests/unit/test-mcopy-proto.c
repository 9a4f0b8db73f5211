/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/unit/test-mcopy-proto.c: the mcopy handshake (both roles, wrong
 * key, replay both ways, refusal, bad messages, byte-at-a-time delivery,
 * deadline under a fake clock, HELLO flags) and the frame codec. Pure: no sockets. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/bytes.h"
#include "migrate/mcopy_proto.h"

#define TIMEOUT (5 * USEC_PER_SEC)

static struct mcopy_key *key, *other_key;
static const struct mcopy_hello hello = {
	.migration_id = 0x1122334455667788ull, .channel = 2, .stream = 1, .streams = 4};

static int group_setup(void **state)
{
	uint8_t k[40], o[40];

	(void)state;
	for (size_t i = 0; i < sizeof(k); i++) {
		k[i] = (uint8_t)(i * 13 + 1);
		o[i] = (uint8_t)(i * 13 + 2);
	}
	if (mcopy_key_new(k, sizeof(k), &key) < 0 || mcopy_key_new(o, sizeof(o), &other_key) < 0)
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	mcopy_key_free(key);
	mcopy_key_free(other_key);
	return 0;
}

static void nonce(uint8_t n[MCOPY_NONCE_LEN], uint8_t seed)
{
	for (size_t i = 0; i < MCOPY_NONCE_LEN; i++)
		n[i] = (uint8_t)(seed + i);
}

/* A recorded transcript: what each side sent, in order. */
struct wire {
	uint8_t c2s[256], s2c[256];
	size_t c2s_len, s2c_len;
};

/* Move pending bytes from `from` into `to` (chunk bytes at a time), recording them. */
static int pump(struct mcopy_hs *from, struct mcopy_hs *to, uint8_t *rec, size_t *rec_len, size_t chunk)
{
	const uint8_t *p;
	size_t n;
	int r = 0;

	while ((n = mcopy_hs_pending(from, &p)) > 0) {
		if (n > chunk)
			n = chunk;
		memcpy(rec + *rec_len, p, n);
		*rec_len += n;
		mcopy_hs_sent(from, n);
		r = mcopy_hs_input(to, rec + *rec_len - n, n, 0);
		if (r < 0)
			return r;
		assert_int_equal(r, (int)n);
	}
	return r;
}

/* Run a handshake to its end; the server accepts with `status`. */
static void run(const struct mcopy_key *ck, const struct mcopy_key *sk, uint32_t status, size_t chunk,
		struct mcopy_hs **ret_c, struct mcopy_hs **ret_s, struct wire *w)
{
	uint8_t nc[MCOPY_NONCE_LEN], ns[MCOPY_NONCE_LEN];
	struct mcopy_hs *c, *s;

	nonce(nc, 1);
	nonce(ns, 100);
	assert_int_equal(mcopy_hs_new(MCOPY_CLIENT, ck, &hello, nc, 0, TIMEOUT, &c), 0);
	assert_int_equal(mcopy_hs_new(MCOPY_SERVER, sk, NULL, ns, 0, TIMEOUT, &s), 0);
	memset(w, 0, sizeof(*w));
	for (int round = 0; round < 8; round++) {
		pump(c, s, w->c2s, &w->c2s_len, chunk);
		if (mcopy_hs_state(s) == MCOPY_HS_DECIDE)
			assert_int_equal(mcopy_hs_decide(s, status), 0);
		pump(s, c, w->s2c, &w->s2c_len, chunk);
	}
	*ret_c = c;
	*ret_s = s;
}

static void test_handshake_ok(void **state)
{
	struct mcopy_hs *c, *s;
	struct mcopy_hello got;
	struct wire w;

	(void)state;
	for (size_t chunk = 1; chunk <= MCOPY_MSG_MAX; chunk += 11) {
		run(key, key, MCOPY_ST_OK, chunk, &c, &s, &w);
		assert_int_equal(mcopy_hs_state(c), MCOPY_HS_DONE);
		assert_int_equal(mcopy_hs_state(s), MCOPY_HS_DONE);
		assert_int_equal(mcopy_hs_hello(s, &got), 0);
		assert_memory_equal(&got, &hello, sizeof(got));
		assert_int_equal(w.c2s_len, MCOPY_HELLO_LEN + MCOPY_AUTH_LEN);
		assert_int_equal(w.s2c_len, MCOPY_CHAL_LEN + MCOPY_RESULT_LEN);
		assert_int_equal(get_u32(w.c2s), MCOPY_MAGIC);
		mcopy_hs_free(c);
		mcopy_hs_free(s);
	}
}

static void test_wrong_key(void **state)
{
	struct mcopy_hs *c, *s;
	struct wire w;

	(void)state;
	run(other_key, key, MCOPY_ST_OK, 64, &c, &s, &w);
	assert_int_equal(mcopy_hs_state(s), MCOPY_HS_FAILED);
	assert_int_equal(mcopy_hs_error(s), -MCOPY_EBADAUTH);
	assert_int_equal(mcopy_hs_state(c), MCOPY_HS_FAILED);
	assert_int_equal(mcopy_hs_error(c), -MCOPY_EBADAUTH);
	mcopy_hs_free(c);
	mcopy_hs_free(s);
}

/* A server with the wrong key cannot make the client send data: even a
 * forged OK status fails the client's check of the server's proof. */
static void test_server_wrong_key_forged_ok(void **state)
{
	uint8_t nc[MCOPY_NONCE_LEN], ns[MCOPY_NONCE_LEN];
	struct mcopy_hs *c, *s;
	struct wire w = {0};

	(void)state;
	nonce(nc, 1);
	nonce(ns, 100);
	assert_int_equal(mcopy_hs_new(MCOPY_CLIENT, key, &hello, nc, 0, TIMEOUT, &c), 0);
	assert_int_equal(mcopy_hs_new(MCOPY_SERVER, other_key, NULL, ns, 0, TIMEOUT, &s), 0);
	pump(c, s, w.c2s, &w.c2s_len, 64);
	pump(s, c, w.s2c, &w.s2c_len, 64);
	pump(c, s, w.c2s, &w.c2s_len, 64);
	/* the server saw a bad proof; instead of refusing, a forger answers OK */
	assert_int_equal(mcopy_hs_state(s), MCOPY_HS_RUNNING);
	{
		uint8_t forged[MCOPY_RESULT_LEN];
		const uint8_t *p;

		assert_int_equal(mcopy_hs_pending(s, &p), MCOPY_RESULT_LEN);
		memcpy(forged, p, sizeof(forged));
		put_u32(forged + MCOPY_HDR_LEN, MCOPY_ST_OK);
		assert_int_equal(mcopy_hs_input(c, forged, sizeof(forged), 0), -MCOPY_EBADAUTH);
	}
	assert_int_equal(mcopy_hs_state(c), MCOPY_HS_FAILED);
	mcopy_hs_free(c);
	mcopy_hs_free(s);
}

/* Replay a recorded client (HELLO + AUTH) to a server with a fresh nonce. */
static void test_replay_to_server(void **state)
{
	uint8_t ns[MCOPY_NONCE_LEN];
	struct mcopy_hs *c, *s, *s2;
	struct wire w;
	int r;

	(void)state;
	run(key, key, MCOPY_ST_OK, 64, &c, &s, &w);
	assert_int_equal(mcopy_hs_state(s), MCOPY_HS_DONE);
	nonce(ns, 200);
	assert_int_equal(mcopy_hs_new(MCOPY_SERVER, key, NULL, ns, 0, TIMEOUT, &s2), 0);
	r = mcopy_hs_input(s2, w.c2s, w.c2s_len, 0);
	assert_int_equal(r, (int)w.c2s_len);
	/* server queued CHALLENGE + refusal; once sent, it has failed */
	while (mcopy_hs_pending(s2, NULL))
		mcopy_hs_sent(s2, 1);
	assert_int_equal(mcopy_hs_state(s2), MCOPY_HS_FAILED);
	assert_int_equal(mcopy_hs_error(s2), -MCOPY_EBADAUTH);
	mcopy_hs_free(c);
	mcopy_hs_free(s);
	mcopy_hs_free(s2);
}

/* Replay a recorded server (CHALLENGE + RESULT) to a client with a fresh nonce. */
static void test_replay_to_client(void **state)
{
	uint8_t nc[MCOPY_NONCE_LEN];
	struct mcopy_hs *c, *s, *c2;
	struct wire w;

	(void)state;
	run(key, key, MCOPY_ST_OK, 64, &c, &s, &w);
	nonce(nc, 50);
	assert_int_equal(mcopy_hs_new(MCOPY_CLIENT, key, &hello, nc, 0, TIMEOUT, &c2), 0);
	while (mcopy_hs_pending(c2, NULL))
		mcopy_hs_sent(c2, 1);
	assert_int_equal(mcopy_hs_input(c2, w.s2c, w.s2c_len, 0), -MCOPY_EBADAUTH);
	assert_int_equal(mcopy_hs_state(c2), MCOPY_HS_FAILED);
	mcopy_hs_free(c);
	mcopy_hs_free(s);
	mcopy_hs_free(c2);
}

/* The server's proof is bound to the stream coordinates: an AUTH for
 * another stream index of the same session does not verify. */
static void test_tampered_hello(void **state)
{
	uint8_t nc[MCOPY_NONCE_LEN], ns[MCOPY_NONCE_LEN], msg[MCOPY_HELLO_LEN];
	struct mcopy_hs *c, *s;
	const uint8_t *p;
	struct wire w = {0};

	(void)state;
	nonce(nc, 1);
	nonce(ns, 100);
	assert_int_equal(mcopy_hs_new(MCOPY_CLIENT, key, &hello, nc, 0, TIMEOUT, &c), 0);
	assert_int_equal(mcopy_hs_new(MCOPY_SERVER, key, NULL, ns, 0, TIMEOUT, &s), 0);
	assert_int_equal(mcopy_hs_pending(c, &p), MCOPY_HELLO_LEN);
	memcpy(msg, p, sizeof(msg));
	mcopy_hs_sent(c, sizeof(msg));
	put_u16(msg + MCOPY_HDR_LEN + 10, 0); /* stream 1 -> 0 in transit */
	assert_int_equal(mcopy_hs_input(s, msg, sizeof(msg), 0), MCOPY_HELLO_LEN);
	pump(s, c, w.s2c, &w.s2c_len, 64);
	pump(c, s, w.c2s, &w.c2s_len, 64);
	while (mcopy_hs_pending(s, NULL))
		mcopy_hs_sent(s, 1);
	assert_int_equal(mcopy_hs_error(s), -MCOPY_EBADAUTH);
	mcopy_hs_free(c);
	mcopy_hs_free(s);
}

static void test_refused(void **state)
{
	struct mcopy_hs *c, *s;
	struct wire w;

	(void)state;
	run(key, key, MCOPY_ST_NO_MIGRATION, 64, &c, &s, &w);
	assert_int_equal(mcopy_hs_error(c), -MCOPY_EREFUSED);
	assert_int_equal(mcopy_hs_status(c), MCOPY_ST_NO_MIGRATION);
	assert_int_equal(mcopy_hs_error(s), -MCOPY_EREFUSED);
	assert_string_equal(mcopy_status_str(MCOPY_ST_NO_MIGRATION), "no such migration on the target");
	mcopy_hs_free(c);
	mcopy_hs_free(s);
}

static void test_bad_messages(void **state)
{
	static const struct {
		size_t off;
		uint8_t val;
	} cases[] = {
		{0, 0x00},                /* magic */
		{4, 1},                   /* version (1: before BACK frames) */
		{5, MCOPY_MSG_AUTH},      /* type */
		{7, MCOPY_HELLO_LEN + 1}, /* length */
		{MCOPY_HDR_LEN + 9, 64},  /* channel >= MCOPY_CHANNEL_MAX */
		{MCOPY_HDR_LEN + 11, 9},  /* stream >= streams */
		{MCOPY_HDR_LEN + 13, 17}, /* streams > MCOPY_STREAM_MAX */
		{MCOPY_HDR_LEN + 15, 1},  /* flags */
	};
	uint8_t nc[MCOPY_NONCE_LEN], ns[MCOPY_NONCE_LEN], msg[MCOPY_HELLO_LEN];
	struct mcopy_hs *c, *s;
	const uint8_t *p;

	(void)state;
	nonce(nc, 1);
	nonce(ns, 100);
	assert_int_equal(mcopy_hs_new(MCOPY_CLIENT, key, &hello, nc, 0, TIMEOUT, &c), 0);
	assert_int_equal(mcopy_hs_pending(c, &p), MCOPY_HELLO_LEN);
	memcpy(msg, p, sizeof(msg));
	mcopy_hs_free(c);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t bad[MCOPY_HELLO_LEN];

		memcpy(bad, msg, sizeof(bad));
		bad[cases[i].off] = cases[i].val;
		assert_int_equal(mcopy_hs_new(MCOPY_SERVER, key, NULL, ns, 0, TIMEOUT, &s), 0);
		assert_int_equal(mcopy_hs_input(s, bad, sizeof(bad), 0), -MCOPY_EBADMSG);
		assert_int_equal(mcopy_hs_state(s), MCOPY_HS_FAILED);
		assert_int_equal(mcopy_hs_pending(s, NULL), 0);
		mcopy_hs_free(s);
	}
	/* a reflected nonce: the server's CHALLENGE carries the client's own nonce */
	assert_int_equal(mcopy_hs_new(MCOPY_CLIENT, key, &hello, nc, 0, TIMEOUT, &c), 0);
	mcopy_hs_sent(c, MCOPY_HELLO_LEN);
	{
		uint8_t chal[MCOPY_CHAL_LEN];

		put_u32(chal, MCOPY_MAGIC);
		chal[4] = MCOPY_VERSION;
		chal[5] = MCOPY_MSG_CHALLENGE;
		put_u16(chal + 6, MCOPY_CHAL_LEN);
		memcpy(chal + MCOPY_HDR_LEN, nc, MCOPY_NONCE_LEN);
		assert_int_equal(mcopy_hs_input(c, chal, sizeof(chal), 0), -MCOPY_EBADAUTH);
	}
	mcopy_hs_free(c);
}

static void test_deadline(void **state)
{
	uint8_t ns[MCOPY_NONCE_LEN], half[4] = {0x4d, 0x43, 0x50, 0x59};
	struct mcopy_hs *s;

	(void)state;
	nonce(ns, 100);
	assert_int_equal(mcopy_hs_new(MCOPY_SERVER, key, NULL, ns, 1000, TIMEOUT, &s), 0);
	assert_int_equal(mcopy_hs_deadline(s), 1000 + TIMEOUT);
	assert_int_equal(mcopy_hs_input(s, half, sizeof(half), 1000 + TIMEOUT - 1), 4);
	assert_int_equal(mcopy_hs_tick(s, 1000 + TIMEOUT - 1), 0);
	assert_int_equal(mcopy_hs_tick(s, 1000 + TIMEOUT), -MCOPY_ETIMEDOUT);
	assert_int_equal(mcopy_hs_state(s), MCOPY_HS_FAILED);
	assert_int_equal(mcopy_hs_input(s, half, sizeof(half), 0), -MCOPY_ETIMEDOUT);
	assert_int_equal(mcopy_hs_deadline(s), USEC_INFINITY);
	mcopy_hs_free(s);
}

static void test_api_edges(void **state)
{
	uint8_t k[MCOPY_KEY_MAX + 1] = {0}, n[MCOPY_NONCE_LEN] = {0};
	struct mcopy_hello bad = hello;
	struct mcopy_key *kk = NULL;
	struct mcopy_hs *hs = NULL;

	(void)state;
	assert_int_equal(mcopy_key_new(k, MCOPY_KEY_MIN - 1, &kk), -EINVAL);
	assert_int_equal(mcopy_key_new(k, MCOPY_KEY_MAX + 1, &kk), -EINVAL);
	assert_null(kk);
	bad.streams = 0;
	assert_int_equal(mcopy_hs_new(MCOPY_CLIENT, key, &bad, n, 0, TIMEOUT, &hs), -EINVAL);
	assert_int_equal(mcopy_hs_new(MCOPY_CLIENT, key, NULL, n, 0, TIMEOUT, &hs), -EINVAL);
	assert_null(hs);
	assert_int_equal(mcopy_hs_new(MCOPY_CLIENT, key, &hello, n, 0, TIMEOUT, &hs), 0);
	assert_int_equal(mcopy_hs_decide(hs, MCOPY_ST_OK), -EINVAL); /* clients do not decide */
	mcopy_hs_free(hs);
	mcopy_hs_free(NULL);
	mcopy_key_free(NULL);
	assert_int_equal(mcopy_nonce_fill(n), 0);
	assert_string_equal(mcopy_strerror(-ENOENT), strerror(ENOENT));
}

/* HELLO flags: raw and rdma travel authenticated to the server; only on one
 * stream, never both, no unknown bits (a client refuses to send them, a
 * server takes them for a malformed HELLO). */
static void test_hello_flags(void **state)
{
	static const struct {
		uint16_t flags, streams;
		int ok;
	} cases[] = {
		{MCOPY_HELLO_RAW, 1, 1},
		{MCOPY_HELLO_RDMA, 1, 1},
		{MCOPY_HELLO_RAW, 4, 0},
		{MCOPY_HELLO_RDMA, 2, 0},
		{MCOPY_HELLO_RAW | MCOPY_HELLO_RDMA, 1, 0},
		{0x0004, 1, 0},
		{0x8000, 4, 0},
	};
	uint8_t nc[MCOPY_NONCE_LEN], ns[MCOPY_NONCE_LEN], msg[MCOPY_HELLO_LEN];
	struct mcopy_hs *c, *s;
	struct mcopy_hello h, got;
	const uint8_t *p;
	struct wire w;

	(void)state;
	nonce(nc, 1);
	nonce(ns, 100);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		h = (struct mcopy_hello){.migration_id = 9,
					 .channel = 0,
					 .stream = 0,
					 .streams = cases[i].streams,
					 .flags = cases[i].flags};
		c = s = NULL;
		if (!cases[i].ok) {
			assert_int_equal(mcopy_hs_new(MCOPY_CLIENT, key, &h, nc, 0, TIMEOUT, &c), -EINVAL);
			/* forged on the wire: the server rejects the HELLO */
			h.flags = 0;
			assert_int_equal(mcopy_hs_new(MCOPY_CLIENT, key, &h, nc, 0, TIMEOUT, &c), 0);
			assert_int_equal(mcopy_hs_new(MCOPY_SERVER, key, NULL, ns, 0, TIMEOUT, &s), 0);
			assert_int_equal(mcopy_hs_pending(c, &p), MCOPY_HELLO_LEN);
			memcpy(msg, p, sizeof(msg));
			put_u16(msg + MCOPY_HDR_LEN + 14, cases[i].flags);
			assert_int_equal(mcopy_hs_input(s, msg, sizeof(msg), 0), -MCOPY_EBADMSG);
			mcopy_hs_free(c);
			mcopy_hs_free(s);
			continue;
		}
		assert_int_equal(mcopy_hs_new(MCOPY_CLIENT, key, &h, nc, 0, TIMEOUT, &c), 0);
		assert_int_equal(mcopy_hs_new(MCOPY_SERVER, key, NULL, ns, 0, TIMEOUT, &s), 0);
		memset(&w, 0, sizeof(w));
		for (int round = 0; round < 4; round++) {
			pump(c, s, w.c2s, &w.c2s_len, 64);
			if (mcopy_hs_state(s) == MCOPY_HS_DECIDE)
				assert_int_equal(mcopy_hs_decide(s, MCOPY_ST_OK), 0);
			pump(s, c, w.s2c, &w.s2c_len, 64);
		}
		assert_int_equal(mcopy_hs_state(c), MCOPY_HS_DONE);
		assert_int_equal(mcopy_hs_hello(s, &got), 0);
		assert_int_equal(got.flags, cases[i].flags);
		mcopy_hs_free(c);
		mcopy_hs_free(s);
	}
	/* a flag flipped in transit breaks the client's proof */
	h = (struct mcopy_hello){.migration_id = 9, .streams = 1, .flags = MCOPY_HELLO_RAW};
	assert_int_equal(mcopy_hs_new(MCOPY_CLIENT, key, &h, nc, 0, TIMEOUT, &c), 0);
	assert_int_equal(mcopy_hs_new(MCOPY_SERVER, key, NULL, ns, 0, TIMEOUT, &s), 0);
	assert_int_equal(mcopy_hs_pending(c, &p), MCOPY_HELLO_LEN);
	memcpy(msg, p, sizeof(msg));
	mcopy_hs_sent(c, sizeof(msg));
	put_u16(msg + MCOPY_HDR_LEN + 14, 0);
	assert_int_equal(mcopy_hs_input(s, msg, sizeof(msg), 0), MCOPY_HELLO_LEN);
	memset(&w, 0, sizeof(w));
	pump(s, c, w.s2c, &w.s2c_len, 64);
	pump(c, s, w.c2s, &w.c2s_len, 64);
	while (mcopy_hs_pending(s, NULL))
		mcopy_hs_sent(s, 1);
	assert_int_equal(mcopy_hs_error(s), -MCOPY_EBADAUTH);
	mcopy_hs_free(c);
	mcopy_hs_free(s);
}

static void test_frames(void **state)
{
	static const struct {
		struct mcopy_frame f;
		int ok;
	} cases[] = {
		{{MCOPY_FRAME_DATA, 1, 0}, 1},
		{{MCOPY_FRAME_DATA, MCOPY_FRAME_MAX, UINT64_MAX}, 1},
		{{MCOPY_FRAME_DATA, 0, 5}, 0},
		{{MCOPY_FRAME_DATA, MCOPY_FRAME_MAX + 1, 5}, 0},
		{{MCOPY_FRAME_END, 0, 42}, 1},
		{{MCOPY_FRAME_END, 1, 42}, 0},
		{{MCOPY_FRAME_DONE, 0, 42}, 1},
		{{MCOPY_FRAME_ABORT, 0, ENOSPC}, 1},
		{{MCOPY_FRAME_BACK, 1, 0}, 1},
		{{MCOPY_FRAME_BACK, MCOPY_BACK_MAX, 7}, 1},
		{{MCOPY_FRAME_BACK, 0, 7}, 0},
		{{MCOPY_FRAME_BACK, MCOPY_BACK_MAX + 1, 7}, 0},
		{{MCOPY_FRAME_RDMA_OFFER, MCOPY_RDMA_OFFER_LEN, 0}, 1},
		{{MCOPY_FRAME_RDMA_OFFER, 0, 0}, 0},
		{{MCOPY_FRAME_RDMA_OFFER, MCOPY_RDMA_OFFER_LEN + 1, 0}, 0},
		{{0, 0, 0}, 0},
		{{7, 0, 0}, 0},
	};
	uint8_t buf[MCOPY_FRAME_HDR_LEN];
	struct mcopy_frame out, sentinel;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = mcopy_frame_encode(&cases[i].f, buf, sizeof(buf));

		if (!cases[i].ok) {
			assert_int_equal(r, -EINVAL);
			continue;
		}
		assert_int_equal(r, MCOPY_FRAME_HDR_LEN);
		assert_int_equal(mcopy_frame_decode(buf, sizeof(buf), &out), 0);
		assert_int_equal(out.type, cases[i].f.type);
		assert_int_equal(out.len, cases[i].f.len);
		assert_true(out.seq == cases[i].f.seq);
		assert_int_equal(mcopy_frame_decode(buf, sizeof(buf) - 1, &out), -MCOPY_EBADFRAME);
		memset(&sentinel, 0x5a, sizeof(sentinel));
		out = sentinel;
		buf[1] = 1; /* flags */
		assert_int_equal(mcopy_frame_decode(buf, sizeof(buf), &out), -MCOPY_EBADFRAME);
		assert_memory_equal(&out, &sentinel, sizeof(out));
	}
	assert_int_equal(mcopy_frame_encode(&cases[0].f, buf, sizeof(buf) - 1), -EINVAL);
}

/* A shared listener routes on the HELLO's migration id before any handshake:
 * the id of a real HELLO, -EAGAIN until it is whole, -MCOPY_EBADMSG for
 * anything else (another message, version, length or magic). */
static void test_hello_peek(void **state)
{
	uint8_t nc[MCOPY_NONCE_LEN], buf[MCOPY_HELLO_LEN], bad[MCOPY_HELLO_LEN];
	const uint8_t *out;
	struct mcopy_hs *c;
	uint64_t id = 42;

	(void)state;
	nonce(nc, 1);
	assert_int_equal(mcopy_hs_new(MCOPY_CLIENT, key, &hello, nc, 0, TIMEOUT, &c), 0);
	assert_int_equal(mcopy_hs_pending(c, &out), MCOPY_HELLO_LEN);
	memcpy(buf, out, sizeof(buf));
	mcopy_hs_free(c);
	for (size_t n = 0; n < MCOPY_HELLO_LEN; n++) {
		assert_int_equal(mcopy_hello_peek(buf, n, &id), -EAGAIN);
		assert_int_equal(id, 42); /* untouched */
	}
	assert_int_equal(mcopy_hello_peek(buf, sizeof(buf), &id), 0);
	assert_true(id == hello.migration_id);
	for (size_t i = 0; i < MCOPY_HDR_LEN; i++) {
		memcpy(bad, buf, sizeof(bad));
		bad[i] ^= 0x01;
		id = 42;
		assert_int_equal(mcopy_hello_peek(bad, sizeof(bad), &id), -MCOPY_EBADMSG);
		assert_int_equal(id, 42);
	}
	/* the header decides at once: no waiting for 56 bytes of garbage */
	assert_int_equal(mcopy_hello_peek((const uint8_t *)"GET / HTTP/1.0\r\n", 16, &id), -MCOPY_EBADMSG);
	assert_int_equal(mcopy_hello_peek(NULL, 0, &id), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake_ok),
		cmocka_unit_test(test_wrong_key),
		cmocka_unit_test(test_server_wrong_key_forged_ok),
		cmocka_unit_test(test_replay_to_server),
		cmocka_unit_test(test_replay_to_client),
		cmocka_unit_test(test_tampered_hello),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_bad_messages),
		cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_api_edges),
		cmocka_unit_test(test_hello_flags),
		cmocka_unit_test(test_frames),
		cmocka_unit_test(test_hello_peek),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

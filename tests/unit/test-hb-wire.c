/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/unit/test-hb-wire.c: the heartbeat packet codec — layout, roundtrip,
 * and a corpus of malformed packets each rejected with its exact error.
 * Pure: no sockets, no clock. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "heartbeat/hb_wire.h"

#define CLUSTER_NAME "test-cluster"

static uint8_t key_bytes[48];
static struct hb_key *key;
static uint32_t cid;

static int group_setup(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(key_bytes); i++)
		key_bytes[i] = (uint8_t)(0xa5 ^ (i * 7));
	cid = hb_cluster_id(CLUSTER_NAME);
	return hb_key_new(key_bytes, sizeof(key_bytes), &key);
}

static int group_teardown(void **state)
{
	(void)state;
	hb_key_free(key);
	return 0;
}

static struct hb_packet sample_packet(void)
{
	return (struct hb_packet){
		.cluster_id = cid,
		.sender = 2,
		.target = 3,
		.link = 1,
		.flags = 0,
		.incarnation = 1700000000123456ull,
		.seq = 42,
		.send_time = 987654321,
		.echo_seq = 41,
		.echo_time = 123456789,
		.echo_hold = 1500,
	};
}

static void encode_sample(uint8_t buf[HB_WIRE_LEN])
{
	struct hb_packet p = sample_packet();

	assert_int_equal(hb_wire_encode(&p, key, buf, HB_WIRE_LEN), HB_WIRE_LEN);
}

/* Independent HMAC: recompute the tag after a test edits the body, so that
 * field checks behind the HMAC can be reached. */
static void resign(uint8_t buf[HB_WIRE_LEN], const uint8_t *k, size_t klen)
{
	uint8_t full[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	assert_non_null(HMAC(EVP_sha256(), k, (int)klen, buf, HB_WIRE_BODY_LEN, full, &n));
	assert_int_equal(n, 32);
	memcpy(buf + HB_WIRE_BODY_LEN, full, HB_WIRE_HMAC_LEN);
}

/* Decode that must fail with `want` and leave the output untouched. */
static void expect_reject(const uint8_t *buf, size_t len, uint32_t cluster, const struct hb_key *k, int want)
{
	struct hb_packet out, sentinel;

	memset(&out, 0x5a, sizeof(out));
	memcpy(&sentinel, &out, sizeof(out));
	assert_int_equal(hb_wire_decode(buf, len, cluster, k, &out), want);
	assert_memory_equal(&out, &sentinel, sizeof(out));
}

/* Field by field: struct padding is not part of the value. */
static void assert_packet_equal(const struct hb_packet *a, const struct hb_packet *b)
{
	assert_int_equal(a->cluster_id, b->cluster_id);
	assert_int_equal(a->sender, b->sender);
	assert_int_equal(a->target, b->target);
	assert_int_equal(a->link, b->link);
	assert_int_equal(a->flags, b->flags);
	assert_int_equal(a->incarnation, b->incarnation);
	assert_int_equal(a->seq, b->seq);
	assert_int_equal(a->send_time, b->send_time);
	assert_int_equal(a->echo_seq, b->echo_seq);
	assert_int_equal(a->echo_time, b->echo_time);
	assert_int_equal(a->echo_hold, b->echo_hold);
}

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void test_layout(void **state)
{
	uint8_t buf[HB_WIRE_LEN], mac[HB_WIRE_LEN];
	struct hb_packet p = sample_packet();

	(void)state;
	encode_sample(buf);
	assert_int_equal(be64(buf) >> 32, HB_WIRE_MAGIC);
	assert_memory_equal(buf, "CLHB", 4);
	assert_int_equal(buf[4], HB_WIRE_VERSION);
	assert_int_equal(buf[5], HB_TYPE_HEARTBEAT);
	assert_int_equal(buf[6] << 8 | buf[7], HB_WIRE_LEN);
	assert_int_equal(be64(buf + 8) >> 32, p.cluster_id);
	assert_int_equal(be64(buf + 8) & 0xffffffffu, p.sender);
	assert_int_equal(be64(buf + 16) >> 32, p.target);
	assert_int_equal(buf[20], p.link);
	assert_int_equal(buf[21], 0);
	assert_int_equal(buf[22] | buf[23], 0);
	assert_int_equal(be64(buf + 24), p.incarnation);
	assert_int_equal(be64(buf + 32), p.seq);
	assert_int_equal(be64(buf + 40), p.send_time);
	assert_int_equal(be64(buf + 48), p.echo_seq);
	assert_int_equal(be64(buf + 56), p.echo_time);
	assert_int_equal(be64(buf + 64) >> 32, p.echo_hold);
	assert_int_equal(be64(buf + 64) & 0xffffffffu, 0);
	/* The tag is plain HMAC-SHA256 over bytes 0..71, truncated to 24. */
	memcpy(mac, buf, sizeof(mac));
	resign(mac, key_bytes, sizeof(key_bytes));
	assert_memory_equal(mac, buf, HB_WIRE_LEN);
}

static void test_roundtrip(void **state)
{
	const struct hb_packet cases[] = {
		sample_packet(),
		{.cluster_id = cid, .sender = 1, .target = 2, .seq = 1},
		{.cluster_id = cid,
		 .sender = UINT32_MAX,
		 .target = UINT32_MAX - 1,
		 .link = 255,
		 .incarnation = UINT64_MAX,
		 .seq = UINT64_MAX,
		 .send_time = UINT64_MAX,
		 .echo_seq = UINT64_MAX,
		 .echo_time = UINT64_MAX,
		 .echo_hold = UINT32_MAX},
		{.cluster_id = cid, .sender = 7, .target = 7, .link = 3, .seq = 1ull << 63, .echo_hold = 1},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t buf[HB_WIRE_LEN + 4], again[HB_WIRE_LEN];
		struct hb_packet out;

		memset(buf, 0xee, sizeof(buf));
		assert_int_equal(hb_wire_encode(&cases[i], key, buf, sizeof(buf)), HB_WIRE_LEN);
		assert_int_equal(buf[HB_WIRE_LEN], 0xee); /* nothing written past the packet */
		memset(&out, 0, sizeof(out));
		assert_int_equal(hb_wire_decode(buf, HB_WIRE_LEN, cid, key, &out), 0);
		assert_packet_equal(&out, &cases[i]);
		assert_int_equal(hb_wire_encode(&out, key, again, sizeof(again)), HB_WIRE_LEN);
		assert_memory_equal(again, buf, HB_WIRE_LEN);
	}
}

static void test_encode_invalid(void **state)
{
	struct hb_packet p = sample_packet(), bad;
	uint8_t buf[HB_WIRE_LEN], ref[HB_WIRE_LEN];

	(void)state;
	memset(buf, 0x77, sizeof(buf));
	memcpy(ref, buf, sizeof(buf));
	assert_int_equal(hb_wire_encode(NULL, key, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(hb_wire_encode(&p, NULL, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(hb_wire_encode(&p, key, NULL, sizeof(buf)), -EINVAL);
	assert_int_equal(hb_wire_encode(&p, key, buf, HB_WIRE_LEN - 1), -EINVAL);
	bad = p, bad.seq = 0;
	assert_int_equal(hb_wire_encode(&bad, key, buf, sizeof(buf)), -EINVAL);
	bad = p, bad.sender = 0;
	assert_int_equal(hb_wire_encode(&bad, key, buf, sizeof(buf)), -EINVAL);
	bad = p, bad.target = 0;
	assert_int_equal(hb_wire_encode(&bad, key, buf, sizeof(buf)), -EINVAL);
	bad = p, bad.flags = 0x80;
	assert_int_equal(hb_wire_encode(&bad, key, buf, sizeof(buf)), -EINVAL);
	assert_memory_equal(buf, ref, sizeof(buf)); /* untouched on failure */
}

static void test_decode_null_args(void **state)
{
	uint8_t buf[HB_WIRE_LEN];
	struct hb_packet out;

	(void)state;
	encode_sample(buf);
	assert_int_equal(hb_wire_decode(NULL, HB_WIRE_LEN, cid, key, &out), -EINVAL);
	assert_int_equal(hb_wire_decode(buf, HB_WIRE_LEN, cid, NULL, &out), -EINVAL);
	assert_int_equal(hb_wire_decode(buf, HB_WIRE_LEN, cid, key, NULL), -EINVAL);
}

static void test_truncated(void **state)
{
	uint8_t buf[HB_WIRE_LEN];

	(void)state;
	encode_sample(buf);
	for (size_t len = 0; len < HB_WIRE_LEN; len++) {
		/* Exact-size heap copy so ASan catches any read past len. */
		uint8_t *copy = malloc(len ? len : 1);

		assert_non_null(copy);
		memcpy(copy, buf, len);
		expect_reject(copy, len, cid, key, -HB_ETOOSHORT);
		free(copy);
	}
}

static void test_oversized(void **state)
{
	const size_t lens[] = {HB_WIRE_LEN + 1, 1500, 65535, 65536};

	(void)state;
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uint8_t *big = calloc(1, lens[i]);

		assert_non_null(big);
		encode_sample(big);
		expect_reject(big, lens[i], cid, key, -HB_ETOOLONG);
		free(big);
	}
}

struct field_case {
	const char *what;
	size_t off, width;
	uint64_t value;
	int want;
};

static void put_be(uint8_t *p, size_t width, uint64_t v)
{
	for (size_t i = 0; i < width; i++)
		p[i] = (uint8_t)(v >> (8 * (width - 1 - i)));
}

/* Header fields checked before the HMAC: corrupted without re-signing. */
static void test_header_fields(void **state)
{
	const struct field_case cases[] = {
		{"magic 0", 0, 4, 0, -HB_EBADMAGIC},
		{"magic byte-swapped", 0, 4, 0x42484c43, -HB_EBADMAGIC},
		{"magic all ones", 0, 4, 0xffffffff, -HB_EBADMAGIC},
		{"version 0", 4, 1, 0, -HB_EBADVERSION},
		{"version 2", 4, 1, 2, -HB_EBADVERSION},
		{"version 255", 4, 1, 255, -HB_EBADVERSION},
		{"type 0", 5, 1, 0, -HB_EBADTYPE},
		{"type 2", 5, 1, 2, -HB_EBADTYPE},
		{"length 0", 6, 2, 0, -HB_EBADLENGTH},
		{"length 8", 6, 2, 8, -HB_EBADLENGTH},
		{"length 95", 6, 2, 95, -HB_EBADLENGTH},
		{"length 97", 6, 2, 97, -HB_EBADLENGTH},
		{"length 65535", 6, 2, 65535, -HB_EBADLENGTH},
		{"cluster 0", 8, 4, 0, -HB_EBADCLUSTER},
		{"cluster other", 8, 4, 0x12345678, -HB_EBADCLUSTER},
		{"sender", 12, 4, 9, -HB_EBADHMAC},
		{"target", 16, 4, 9, -HB_EBADHMAC},
		{"link", 20, 1, 9, -HB_EBADHMAC},
		{"seq", 32, 8, 43, -HB_EBADHMAC},
		{"echo_hold", 64, 4, 0, -HB_EBADHMAC},
		{"hmac", 72, 8, 0, -HB_EBADHMAC},
		{"hmac tail", 88, 8, 0, -HB_EBADHMAC},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t buf[HB_WIRE_LEN];

		encode_sample(buf);
		put_be(buf + cases[i].off, cases[i].width, cases[i].value);
		print_message("  %s\n", cases[i].what);
		expect_reject(buf, sizeof(buf), cid, key, cases[i].want);
	}
}

/* Fields checked after the HMAC: corrupted and re-signed with the right key. */
static void test_bad_fields_authentic(void **state)
{
	const struct field_case cases[] = {
		{"flags 0x01", 21, 1, 0x01, -HB_EBADFIELD},
		{"flags 0x80", 21, 1, 0x80, -HB_EBADFIELD},
		{"reserved 0x0001", 22, 2, 1, -HB_EBADFIELD},
		{"reserved 0x8000", 22, 2, 0x8000, -HB_EBADFIELD},
		{"reserved2 1", 68, 4, 1, -HB_EBADFIELD},
		{"reserved2 high bit", 68, 4, 0x80000000u, -HB_EBADFIELD},
		{"seq 0", 32, 8, 0, -HB_EBADFIELD},
		{"sender 0", 12, 4, 0, -HB_EBADFIELD},
		{"target 0", 16, 4, 0, -HB_EBADFIELD},
		/* control cases: valid values, still accepted after re-signing */
		{"seq 1", 32, 8, 1, 0},
		{"echo zeroes", 48, 8, 0, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t buf[HB_WIRE_LEN];
		struct hb_packet out;

		encode_sample(buf);
		put_be(buf + cases[i].off, cases[i].width, cases[i].value);
		resign(buf, key_bytes, sizeof(key_bytes));
		print_message("  %s\n", cases[i].what);
		if (cases[i].want == 0)
			assert_int_equal(hb_wire_decode(buf, sizeof(buf), cid, key, &out), 0);
		else
			expect_reject(buf, sizeof(buf), cid, key, cases[i].want);
	}
}

/* The error a single-bit flip at `byte` must produce. */
static int flip_class(size_t byte)
{
	if (byte < 4)
		return -HB_EBADMAGIC;
	if (byte == 4)
		return -HB_EBADVERSION;
	if (byte == 5)
		return -HB_EBADTYPE;
	if (byte < 8)
		return -HB_EBADLENGTH;
	if (byte < 12)
		return -HB_EBADCLUSTER;
	return -HB_EBADHMAC; /* everything else is covered by the tag */
}

static void test_every_bit_flip(void **state)
{
	uint8_t buf[HB_WIRE_LEN];

	(void)state;
	encode_sample(buf);
	for (size_t bit = 0; bit < 8 * HB_WIRE_LEN; bit++) {
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		expect_reject(buf, sizeof(buf), cid, key, flip_class(bit / 8));
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	/* and the restored packet still decodes */
	{
		struct hb_packet out;

		assert_int_equal(hb_wire_decode(buf, sizeof(buf), cid, key, &out), 0);
	}
}

static void test_wrong_key(void **state)
{
	uint8_t buf[HB_WIRE_LEN], other[HB_KEY_MIN + 16];
	struct hb_key *k2 = NULL, *k3 = NULL;

	(void)state;
	encode_sample(buf);
	memcpy(other, key_bytes, sizeof(other));
	other[0] ^= 1;
	assert_int_equal(hb_key_new(other, sizeof(other), &k2), 0);
	expect_reject(buf, sizeof(buf), cid, k2, -HB_EBADHMAC);
	/* a prefix of the right key is a different key */
	assert_int_equal(hb_key_new(key_bytes, HB_KEY_MIN, &k3), 0);
	expect_reject(buf, sizeof(buf), cid, k3, -HB_EBADHMAC);
	hb_key_free(k2);
	hb_key_free(k3);
}

static void test_wrong_cluster(void **state)
{
	uint8_t buf[HB_WIRE_LEN];
	struct hb_packet p = sample_packet();

	(void)state;
	encode_sample(buf);
	expect_reject(buf, sizeof(buf), cid + 1, key, -HB_EBADCLUSTER);
	expect_reject(buf, sizeof(buf), hb_cluster_id("other-cluster"), key, -HB_EBADCLUSTER);
	/* authentic packet of another cluster that shares the key: still refused */
	p.cluster_id = hb_cluster_id("other-cluster");
	assert_int_equal(hb_wire_encode(&p, key, buf, sizeof(buf)), HB_WIRE_LEN);
	expect_reject(buf, sizeof(buf), cid, key, -HB_EBADCLUSTER);
}

static void test_key_limits(void **state)
{
	uint8_t big[HB_KEY_MAX + 1];
	struct hb_key *k = (struct hb_key *)&big; /* sentinel: must stay as is */
	struct hb_key *const sentinel = k;
	const size_t bad[] = {0, 1, HB_KEY_MIN - 1, HB_KEY_MAX + 1};
	const size_t good[] = {HB_KEY_MIN, 64, HB_KEY_MAX};

	(void)state;
	memset(big, 0x3c, sizeof(big));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(hb_key_new(big, bad[i], &k), -EINVAL);
		assert_ptr_equal(k, sentinel);
	}
	assert_int_equal(hb_key_new(NULL, HB_KEY_MIN, &k), -EINVAL);
	assert_int_equal(hb_key_new(big, HB_KEY_MIN, NULL), -EINVAL);
	assert_ptr_equal(k, sentinel);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct hb_packet p = sample_packet(), out;
		uint8_t buf[HB_WIRE_LEN];

		k = NULL;
		assert_int_equal(hb_key_new(big, good[i], &k), 0);
		assert_non_null(k);
		assert_int_equal(hb_wire_encode(&p, k, buf, sizeof(buf)), HB_WIRE_LEN);
		assert_int_equal(hb_wire_decode(buf, sizeof(buf), cid, k, &out), 0);
		expect_reject(buf, sizeof(buf), cid, key, -HB_EBADHMAC);
		hb_key_free(k);
	}
	hb_key_free(NULL);
}

static void test_cluster_id(void **state)
{
	(void)state;
	/* FNV-1a 32-bit reference values */
	assert_int_equal(hb_cluster_id(""), 0x811c9dc5u);
	assert_int_equal(hb_cluster_id("a"), 0xe40c292cu);
	assert_int_equal(hb_cluster_id("foobar"), 0xbf9cf968u);
	assert_int_equal(hb_cluster_id(CLUSTER_NAME), hb_cluster_id("test-cluster"));
	assert_int_not_equal(hb_cluster_id("prod"), hb_cluster_id("prod2"));
	assert_int_equal(hb_cluster_id(NULL), hb_cluster_id(""));
	/* "akhnp9x" hashes to 0 under FNV-1a (found by brute force): mapped to 1 */
	assert_int_equal(hb_cluster_id("akhnp9x"), 1);
	assert_int_equal(hb_cluster_id("a-gbn-c"), 1);
}

static void test_strerror(void **state)
{
	(void)state;
	for (int e = HB_ETOOSHORT; e <= HB_EBADFIELD; e++) {
		const char *s = hb_wire_strerror(e);

		assert_non_null(s);
		assert_string_equal(s, hb_wire_strerror(-e));
		assert_string_not_equal(s, hb_wire_strerror(0));
		if (e > HB_ETOOSHORT)
			assert_string_not_equal(s, hb_wire_strerror(e - 1));
	}
	assert_non_null(hb_wire_strerror(0));
	assert_non_null(hb_wire_strerror(-2147483647 - 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout),         cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_encode_invalid), cmocka_unit_test(test_decode_null_args),
		cmocka_unit_test(test_truncated),      cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_header_fields),  cmocka_unit_test(test_bad_fields_authentic),
		cmocka_unit_test(test_every_bit_flip), cmocka_unit_test(test_wrong_key),
		cmocka_unit_test(test_wrong_cluster),  cmocka_unit_test(test_key_limits),
		cmocka_unit_test(test_cluster_id),     cmocka_unit_test(test_strerror),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

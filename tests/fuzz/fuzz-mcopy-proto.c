/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/fuzz/fuzz-mcopy-proto.c: fuzz target for the mcopy wire formats. The
 * input is fed, in chunks whose sizes it chooses, to a server and to a client
 * handshake, decoded as frame headers driving the reassembly machine, and as
 * RDMA credit messages. Invariants: never DONE without the key, states stay
 * consistent. Used by libFuzzer and fuzz-main.c. */
#include <errno.h>
#include <string.h>

#include "migrate/mcopy_proto.h"
#include "migrate/mcopy_ring.h"
#include "migrate/mcopy_stripe.h"
#include "tests/fuzz/fuzz.h"

static struct mcopy_key *key;

static void init_once(void)
{
	uint8_t k[MCOPY_KEY_MIN];

	if (key)
		return;
	for (size_t i = 0; i < sizeof(k); i++)
		k[i] = (uint8_t)(i * 29 + 3);
	FUZZ_CHECK(mcopy_key_new(k, sizeof(k), &key) == 0);
}

static void feed(struct mcopy_hs *hs, const uint8_t *data, size_t size)
{
	size_t off = 0;

	while (off < size) {
		size_t chunk = 1 + data[off] % 64;
		int r;

		if (chunk > size - off)
			chunk = size - off;
		r = mcopy_hs_input(hs, data + off, chunk, 0);
		FUZZ_CHECK(r < 0 || (size_t)r <= chunk);
		if (r < 0) {
			FUZZ_CHECK(mcopy_hs_state(hs) == MCOPY_HS_FAILED && mcopy_hs_error(hs) == r);
			return;
		}
		if (mcopy_hs_state(hs) == MCOPY_HS_DECIDE)
			FUZZ_CHECK(mcopy_hs_decide(hs, data[off] % 2 ? MCOPY_ST_OK : MCOPY_ST_BUSY) == 0);
		while (mcopy_hs_pending(hs, NULL))
			mcopy_hs_sent(hs, 7);
		/* without our key nobody can complete a handshake */
		FUZZ_CHECK(mcopy_hs_state(hs) != MCOPY_HS_DONE);
		off += r ? (size_t)r : chunk;
	}
}

static void fuzz_frames(const uint8_t *data, size_t size)
{
	struct mcopy_rx rx;
	unsigned streams = size ? 1 + data[0] % MCOPY_STREAM_MAX : 1;

	FUZZ_CHECK(mcopy_rx_init(&rx, streams) == 0);
	for (size_t off = 1; off + MCOPY_FRAME_HDR_LEN + 1 <= size; off += MCOPY_FRAME_HDR_LEN + 1) {
		unsigned s = data[off] % streams, st;
		struct mcopy_frame f;
		uint32_t len;
		int r;

		if (mcopy_frame_decode(data + off + 1, MCOPY_FRAME_HDR_LEN, &f) < 0)
			continue;
		if (!mcopy_rx_wants_header(&rx, s))
			continue;
		if (mcopy_rx_header(&rx, s, &f) < 0)
			return;
		while ((r = mcopy_rx_next(&rx, &st, &len)) == MCOPY_RX_DELIVER) {
			FUZZ_CHECK(len > 0 && len <= MCOPY_FRAME_MAX);
			FUZZ_CHECK(mcopy_rx_delivered(&rx, st, len) == 0);
		}
		if (r < 0 || r == MCOPY_RX_COMPLETE)
			return;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t nonce[MCOPY_NONCE_LEN] = {1, 2, 3};
	struct mcopy_hello h = {.migration_id = 9, .channel = 0, .stream = 0, .streams = 1};
	struct mcopy_hs *hs;
	uint64_t c;

	init_once();
	FUZZ_CHECK(mcopy_hs_new(MCOPY_SERVER, key, NULL, nonce, 0, 1000, &hs) == 0);
	feed(hs, data, size);
	mcopy_hs_free(hs);
	FUZZ_CHECK(mcopy_hs_new(MCOPY_CLIENT, key, &h, nonce, 0, 1000, &hs) == 0);
	while (mcopy_hs_pending(hs, NULL))
		mcopy_hs_sent(hs, 5);
	feed(hs, data, size);
	mcopy_hs_free(hs);
	fuzz_frames(data, size);
	if (size >= MCOPY_CREDIT_LEN)
		(void)mcopy_credit_decode(data, MCOPY_CREDIT_LEN, &c);
	return 0;
}

/* Seeds: a well-formed HELLO, a CHALLENGE, frame scripts, a credit. */
size_t fuzz_seed(unsigned i, uint8_t *buf, size_t cap)
{
	uint8_t nonce[MCOPY_NONCE_LEN] = {9};
	struct mcopy_hello h = {.migration_id = 9, .channel = 1, .stream = 0, .streams = 2};
	struct mcopy_hs *hs;
	const uint8_t *p;
	size_t n = 0;

	init_once();
	switch (i) {
	case 0:
	case 1:
		if (mcopy_hs_new(MCOPY_CLIENT, key, &h, nonce, 0, 1000, &hs) < 0)
			return 0;
		n = mcopy_hs_pending(hs, &p);
		memcpy(buf, p, n);
		if (i == 1) { /* HELLO followed by a 40-byte AUTH-shaped message */
			memcpy(buf + n, p, 8);
			buf[n + 5] = MCOPY_MSG_AUTH;
			buf[n + 7] = MCOPY_AUTH_LEN;
			memset(buf + n + 8, 0xab, MCOPY_MAC_LEN);
			n += MCOPY_AUTH_LEN;
		}
		mcopy_hs_free(hs);
		return n;
	case 2: { /* a CHALLENGE + RESULT shape, for the client */
		static const uint8_t hdr[8] = {0x4d, 0x43,          0x50, 0x59, 1, MCOPY_MSG_CHALLENGE,
					       0,    MCOPY_CHAL_LEN};

		memcpy(buf, hdr, 8);
		memset(buf + 8, 0x11, MCOPY_NONCE_LEN);
		memcpy(buf + 40, hdr, 8);
		buf[45] = MCOPY_MSG_RESULT;
		buf[47] = MCOPY_RESULT_LEN;
		memset(buf + 48, 0, 36);
		return 40 + MCOPY_RESULT_LEN;
	}
	case 3:
	case 4: { /* frame scripts over 2 streams: data out of order, then END */
		static const uint64_t seqs[] = {1, 0, 2, 3};
		struct mcopy_frame f;

		buf[n++] = 1; /* 2 streams */
		for (unsigned k = 0; k < 4; k++) {
			f = (struct mcopy_frame){.type = MCOPY_FRAME_DATA, .len = 100 + k, .seq = seqs[k]};
			buf[n++] = (uint8_t)(k % 2);
			mcopy_frame_encode(&f, buf + n, cap - n);
			n += MCOPY_FRAME_HDR_LEN;
		}
		for (unsigned k = 0; k < 2; k++) {
			f = (struct mcopy_frame){.type = i == 3 ? MCOPY_FRAME_END : MCOPY_FRAME_ABORT,
						 .seq = 4};
			buf[n++] = (uint8_t)k;
			mcopy_frame_encode(&f, buf + n, cap - n);
			n += MCOPY_FRAME_HDR_LEN;
		}
		return n;
	}
	case 5:
		return (size_t)mcopy_credit_encode(42, buf, cap);
	default:
		return 0;
	}
}

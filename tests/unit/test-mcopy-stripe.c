/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/unit/test-mcopy-stripe.c: striping and in-order reassembly across
 * streams with every arrival order, the protocol violations it must refuse
 * (duplicate, gap, truncation, END mismatch), and the bandwidth cap under a
 * fake clock. Pure: the "network" is a set of per-stream FIFOs in memory. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "migrate/mcopy_stripe.h"

#define QMAX 512

/* One stream: a FIFO of frames (a payload is its seq's bytes). */
struct fifo {
	struct mcopy_frame f[QMAX];
	unsigned head, tail;
};

static uint64_t rnd_state = 88172645463325252ull;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/* Send `frames` frames over `streams` streams with a random writable mask
 * each time, then deliver with a random choice of which stream's header is
 * read next; the delivered seq order must be 0..frames-1. */
static void transfer(unsigned streams, unsigned frames)
{
	static struct fifo q[MCOPY_STREAM_MAX];
	struct mcopy_tx tx;
	struct mcopy_rx rx;
	struct mcopy_frame f;
	uint64_t delivered = 0, bytes = 0;

	memset(q, 0, sizeof(q));
	mcopy_tx_init(&tx, streams);
	assert_int_equal(mcopy_rx_init(&rx, streams), 0);
	for (unsigned i = 0; i < frames; i++) {
		uint32_t mask;
		int s;

		do
			mask = (uint32_t)rnd() & ((1u << streams) - 1);
		while (!mask);
		s = mcopy_tx_next(&tx, mask, 1 + (uint32_t)(rnd() % 5000), &f);
		assert_true(s >= 0 && (unsigned)s < streams && (mask & (1u << s)));
		assert_int_equal(f.seq, i);
		q[s].f[q[s].tail++] = f;
		bytes += f.len;
	}
	mcopy_tx_end(&tx, &f);
	assert_int_equal(f.seq, frames);
	for (unsigned s = 0; s < streams; s++)
		q[s].f[q[s].tail++] = f;

	for (int guard = 0; guard < 100000; guard++) {
		unsigned s;
		uint32_t len;
		int r = mcopy_rx_next(&rx, &s, &len);

		assert_true(r >= 0);
		if (r == MCOPY_RX_COMPLETE)
			break;
		if (r == MCOPY_RX_DELIVER) {
			/* deliver in one or two pieces */
			uint32_t n = len > 1 && rnd() % 2 ? len / 2 : len;

			if (rx.s[s].state == MCOPY_RXS_PENDING)
				assert_int_equal(rx.s[s].seq, delivered);
			assert_int_equal(mcopy_rx_delivered(&rx, s, n), 0);
			if (n == len)
				delivered++;
			continue;
		}
		/* read one header from a random stream that wants one */
		s = (unsigned)(rnd() % streams);
		for (unsigned k = 0; k < streams && !mcopy_rx_wants_header(&rx, s); k++)
			s = (s + 1) % streams;
		assert_true(mcopy_rx_wants_header(&rx, s));
		assert_true(q[s].head < q[s].tail);
		assert_int_equal(mcopy_rx_header(&rx, s, &q[s].f[q[s].head++]), 0);
	}
	assert_int_equal(delivered, frames);
	assert_true(rx.bytes == bytes);
	for (unsigned s = 0; s < streams; s++) {
		assert_int_equal(q[s].head, q[s].tail);
		assert_int_equal(mcopy_rx_eof(&rx, s, false), 0);
	}
}

static void test_reassembly_random_orders(void **state)
{
	(void)state;
	for (unsigned streams = 1; streams <= MCOPY_STREAM_MAX; streams++)
		for (int rep = 0; rep < 20; rep++)
			transfer(streams, 1 + (unsigned)(rnd() % 300));
}

static void test_tx_round_robin(void **state)
{
	struct mcopy_tx tx;
	struct mcopy_frame f;

	(void)state;
	mcopy_tx_init(&tx, 4);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(mcopy_tx_next(&tx, 0xf, 10, &f), (int)(i % 4));
	/* a slow stream (1) is skipped while it is not writable */
	assert_int_equal(mcopy_tx_next(&tx, 0xd, 10, &f), 0);
	assert_int_equal(mcopy_tx_next(&tx, 0xd, 10, &f), 2);
	assert_int_equal(mcopy_tx_next(&tx, 0, 10, &f), -EAGAIN);
	assert_int_equal(mcopy_tx_next(&tx, 0xf, 0, &f), -EINVAL);
	assert_int_equal(mcopy_tx_next(&tx, 0xf, MCOPY_FRAME_MAX + 1, &f), -EINVAL);
	assert_int_equal(f.seq, 9);
}

static struct mcopy_frame data(uint64_t seq, uint32_t len)
{
	return (struct mcopy_frame){.type = MCOPY_FRAME_DATA, .len = len, .seq = seq};
}

static struct mcopy_frame end(uint64_t total)
{
	return (struct mcopy_frame){.type = MCOPY_FRAME_END, .seq = total};
}

static void test_rx_violations(void **state)
{
	struct mcopy_rx rx;
	struct mcopy_frame f;
	unsigned s;
	uint32_t len;

	(void)state;
	/* duplicate seq on two streams */
	mcopy_rx_init(&rx, 3);
	assert_int_equal(mcopy_rx_header(&rx, 0, &(struct mcopy_frame){MCOPY_FRAME_DATA, 5, 1}), 0);
	f = data(1, 5);
	assert_int_equal(mcopy_rx_header(&rx, 1, &f), -MCOPY_ESEQ);
	/* a header on a stream that already holds one */
	f = data(2, 5);
	assert_int_equal(mcopy_rx_header(&rx, 0, &f), -EINVAL);
	/* seq behind the delivery point */
	f = data(0, 5);
	assert_int_equal(mcopy_rx_header(&rx, 1, &f), 0);
	assert_int_equal(mcopy_rx_next(&rx, &s, &len), MCOPY_RX_DELIVER);
	assert_int_equal(s, 1);
	assert_int_equal(mcopy_rx_delivered(&rx, 1, 5), 0);
	f = data(0, 5);
	assert_int_equal(mcopy_rx_header(&rx, 1, &f), -MCOPY_ESEQ);
	/* more bytes than the frame holds */
	assert_int_equal(mcopy_rx_delivered(&rx, 0, 6), -EINVAL);

	/* gap: every live stream holds a frame, none is next */
	mcopy_rx_init(&rx, 2);
	f = data(1, 5);
	assert_int_equal(mcopy_rx_header(&rx, 0, &f), 0);
	f = data(2, 5);
	assert_int_equal(mcopy_rx_header(&rx, 1, &f), 0);
	assert_int_equal(mcopy_rx_next(&rx, &s, &len), -MCOPY_ESEQ);

	/* END totals must agree; DATA at or after the end is refused */
	mcopy_rx_init(&rx, 3);
	f = end(4);
	assert_int_equal(mcopy_rx_header(&rx, 0, &f), 0);
	f = end(5);
	assert_int_equal(mcopy_rx_header(&rx, 1, &f), -MCOPY_ESEQ);
	f = data(4, 5);
	assert_int_equal(mcopy_rx_header(&rx, 1, &f), -MCOPY_ESEQ);

	/* all streams ended short of the total */
	mcopy_rx_init(&rx, 2);
	f = end(3);
	assert_int_equal(mcopy_rx_header(&rx, 0, &f), 0);
	assert_int_equal(mcopy_rx_header(&rx, 1, &f), 0);
	assert_int_equal(mcopy_rx_next(&rx, &s, &len), -MCOPY_ESEQ);

	/* END below an already pending frame */
	mcopy_rx_init(&rx, 2);
	f = data(2, 5);
	assert_int_equal(mcopy_rx_header(&rx, 0, &f), 0);
	f = end(2);
	assert_int_equal(mcopy_rx_header(&rx, 1, &f), -MCOPY_ESEQ);

	/* ABORT, DONE, bad DATA */
	mcopy_rx_init(&rx, 1);
	f = (struct mcopy_frame){.type = MCOPY_FRAME_ABORT, .seq = 28};
	assert_int_equal(mcopy_rx_header(&rx, 0, &f), -MCOPY_EPEERABORT);
	f = (struct mcopy_frame){.type = MCOPY_FRAME_DONE};
	assert_int_equal(mcopy_rx_header(&rx, 0, &f), -MCOPY_EBADFRAME);
	f = data(0, 0);
	assert_int_equal(mcopy_rx_header(&rx, 0, &f), -MCOPY_EBADFRAME);
	assert_int_equal(mcopy_rx_init(&rx, 0), -EINVAL);
	assert_int_equal(mcopy_rx_init(&rx, MCOPY_STREAM_MAX + 1), -EINVAL);
}

static void test_rx_truncation(void **state)
{
	struct mcopy_rx rx;
	struct mcopy_frame f;

	(void)state;
	mcopy_rx_init(&rx, 2);
	/* EOF before END, EOF inside a header, EOF inside a payload */
	assert_int_equal(mcopy_rx_eof(&rx, 0, false), -MCOPY_ETRUNCATED);
	assert_int_equal(mcopy_rx_eof(&rx, 0, true), -MCOPY_ETRUNCATED);
	f = data(0, 100);
	assert_int_equal(mcopy_rx_header(&rx, 0, &f), 0);
	assert_int_equal(mcopy_rx_delivered(&rx, 0, 50), 0);
	assert_int_equal(mcopy_rx_eof(&rx, 0, false), -MCOPY_ETRUNCATED);
	f = end(1);
	assert_int_equal(mcopy_rx_header(&rx, 1, &f), 0);
	assert_int_equal(mcopy_rx_eof(&rx, 1, false), 0);
	assert_int_equal(mcopy_rx_eof(&rx, 1, true), -MCOPY_ETRUNCATED);
}

static void test_rate(void **state)
{
	struct mcopy_rate r;
	usec_t now = 1000000;
	uint64_t sent = 0;

	(void)state;
	/* unlimited */
	mcopy_rate_init(&r, 0, 0, now);
	assert_int_equal(mcopy_rate_take(&r, UINT32_MAX, now), 0);
	/* 100 MB/s, burst 1 MB: the first MB is free, then 10 ms per MB */
	mcopy_rate_init(&r, 100000000, 1000000, now);
	assert_int_equal(mcopy_rate_take(&r, 1000000, now), 0);
	assert_int_equal(mcopy_rate_take(&r, 1000000, now), 10000);
	/* a second wait queues behind the first */
	assert_int_equal(mcopy_rate_take(&r, 1000000, now), 20000);
	/* over 10 s of simulated time at the cap, the average holds to 1% */
	mcopy_rate_init(&r, 100000000, 0, now);
	for (usec_t t = now; t < now + 10 * USEC_PER_SEC;) {
		usec_t w = mcopy_rate_take(&r, 65536, t);

		sent += 65536;
		t += w ? w : 100;
	}
	assert_true(sent > 990000000ull && sent < 1000000000ull + 20000000ull);
	/* burst defaults to at least a frame */
	mcopy_rate_init(&r, 1000, 0, now);
	assert_int_equal(r.burst, MCOPY_FRAME_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reassembly_random_orders),
		cmocka_unit_test(test_tx_round_robin),
		cmocka_unit_test(test_rx_violations),
		cmocka_unit_test(test_rx_truncation),
		cmocka_unit_test(test_rate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

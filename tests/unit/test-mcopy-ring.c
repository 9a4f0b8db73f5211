/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/unit/test-mcopy-ring.c: the RDMA ring without hardware — credits,
 * slot order, immediate checks, batched completions and credit returns under
 * a fake clock, a long simulated transfer where the "HCA" is a queue, the
 * engine's own ring parameters, the offer codec and the backend choice
 * without a device. The verbs data path itself is NOT exercised here. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <netinet/in.h>
#include <stdio.h>

#include "migrate/mcopy.h"
#include "migrate/mcopy_ring.h"

static void test_tx_credits(void **state)
{
	struct mcopy_ring_tx tx;
	struct mcopy_ring_post p;

	(void)state;
	assert_int_equal(mcopy_ring_tx_init(&tx, 4, 1024, 2, 8), 0);
	for (uint32_t i = 0; i < 4; i++) {
		assert_int_equal(mcopy_ring_tx_post(&tx, 100 + i, false, &p), 0);
		assert_int_equal(p.slot, i);
		assert_int_equal(p.imm, (i << 24) | (100 + i));
		assert_int_equal(p.signaled, (i + 1) % 2 == 0);
	}
	assert_int_equal(mcopy_ring_tx_credits(&tx), 0);
	assert_int_equal(mcopy_ring_tx_post(&tx, 10, false, &p), -EAGAIN);
	/* credits are cumulative, never backwards, never beyond what was sent */
	assert_int_equal(mcopy_ring_tx_credit(&tx, 5), -EPROTO);
	assert_int_equal(mcopy_ring_tx_credit(&tx, 2), 0);
	assert_int_equal(mcopy_ring_tx_credit(&tx, 1), -EPROTO);
	assert_int_equal(mcopy_ring_tx_credit(&tx, 2), 0); /* a duplicate is harmless */
	assert_int_equal(mcopy_ring_tx_credits(&tx), 2);
	assert_int_equal(mcopy_ring_tx_post(&tx, 10, false, &p), 0);
	assert_int_equal(p.slot, 0); /* wrapped */
	assert_int_equal(mcopy_ring_tx_post(&tx, 0, false, &p), -EMSGSIZE);
	assert_int_equal(mcopy_ring_tx_post(&tx, 1025, false, &p), -EMSGSIZE);
	assert_int_equal(mcopy_ring_tx_init(&tx, 4, 1024, 3, 8), -EINVAL); /* 8 % 3 */
	assert_int_equal(mcopy_ring_tx_init(&tx, 0, 1024, 1, 8), -EINVAL);
	assert_int_equal(mcopy_ring_tx_init(&tx, 4, MCOPY_RING_SLOT_MAX + 1, 1, 8), -EINVAL);
}

static void test_tx_completions(void **state)
{
	struct mcopy_ring_tx tx;
	struct mcopy_ring_post p;
	int signaled = 0;

	(void)state;
	/* many slots, small send queue: the queue limits, and a full queue ends signaled */
	assert_int_equal(mcopy_ring_tx_init(&tx, 64, 1024, 4, 8), 0);
	assert_int_equal(mcopy_ring_tx_completion(&tx), -EPROTO); /* nothing signaled yet */
	for (int i = 0; i < 8; i++) {
		assert_int_equal(mcopy_ring_tx_post(&tx, 1, false, &p), 0);
		signaled += p.signaled;
	}
	assert_int_equal(signaled, 2);
	assert_true(p.signaled);
	assert_int_equal(mcopy_ring_tx_post(&tx, 1, false, &p), -EAGAIN);
	assert_int_equal(mcopy_ring_tx_completion(&tx), 0);
	assert_int_equal(tx.retired, 4);
	assert_int_equal(mcopy_ring_tx_completion(&tx), 0);
	assert_int_equal(tx.retired, 8);
	assert_int_equal(mcopy_ring_tx_completion(&tx), -EPROTO);
	/* the last frame is always signaled, so the tail completes */
	assert_int_equal(mcopy_ring_tx_post(&tx, 1, false, &p), 0);
	assert_false(p.signaled);
	assert_int_equal(mcopy_ring_tx_post(&tx, 1, true, &p), 0);
	assert_true(p.signaled);
	assert_int_equal(mcopy_ring_tx_completion(&tx), 0);
	assert_int_equal(tx.retired, 10);
}

static void test_rx_checks(void **state)
{
	struct mcopy_ring_rx rx;
	uint32_t slot, len;
	uint64_t c;

	(void)state;
	assert_int_equal(mcopy_ring_rx_init(&rx, 4, 1000, 50), 0);
	assert_int_equal(mcopy_ring_rx_arrived(&rx, (0u << 24) | 0, &slot, &len), -EPROTO);    /* len 0 */
	assert_int_equal(mcopy_ring_rx_arrived(&rx, (0u << 24) | 1001, &slot, &len), -EPROTO); /* too long */
	assert_int_equal(mcopy_ring_rx_arrived(&rx, (1u << 24) | 10, &slot, &len), -EPROTO);   /* wrong seq */
	for (uint32_t i = 0; i < 4; i++) {
		assert_int_equal(mcopy_ring_rx_arrived(&rx, (i << 24) | 10, &slot, &len), 0);
		assert_int_equal(slot, i);
		assert_int_equal(len, 10);
	}
	/* a fifth WRITE without a credit returned is an overrun */
	assert_int_equal(mcopy_ring_rx_arrived(&rx, (4u << 24) | 10, &slot, &len), -EPROTO);
	/* releases batch: 1 of 4 released, nothing granted until batch (1) ... */
	assert_int_equal(mcopy_ring_rx_deadline(&rx), USEC_INFINITY);
	assert_int_equal(mcopy_ring_rx_release(&rx, 100), 0);
	assert_int_equal(mcopy_ring_rx_grant(&rx, 100, &c), 1); /* batch = slots/4 = 1 */
	assert_int_equal(c, 1);
	assert_int_equal(mcopy_ring_rx_grant(&rx, 100, &c), 0);
	assert_int_equal(mcopy_ring_rx_arrived(&rx, (4u << 24) | 10, &slot, &len), 0);
	assert_int_equal(slot, 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(mcopy_ring_rx_release(&rx, 200), 0);
	assert_int_equal(mcopy_ring_rx_release(&rx, 200), -EPROTO); /* nothing left */
}

static void test_rx_flush_delay(void **state)
{
	struct mcopy_ring_rx rx;
	uint32_t slot, len;
	uint64_t c;

	(void)state;
	assert_int_equal(mcopy_ring_rx_init(&rx, 16, 1000, 50), 0); /* batch 4 */
	for (uint32_t i = 0; i < 3; i++)
		assert_int_equal(mcopy_ring_rx_arrived(&rx, (i << 24) | 10, &slot, &len), 0);
	assert_int_equal(mcopy_ring_rx_release(&rx, 1000), 0);
	assert_int_equal(mcopy_ring_rx_release(&rx, 1010), 0);
	assert_int_equal(mcopy_ring_rx_deadline(&rx), 1050); /* from the oldest ungranted release */
	assert_int_equal(mcopy_ring_rx_grant(&rx, 1049, &c), 0);
	assert_int_equal(mcopy_ring_rx_grant(&rx, 1050, &c), 1);
	assert_int_equal(c, 2);
	assert_int_equal(mcopy_ring_rx_deadline(&rx), USEC_INFINITY);
}

/* A long transfer: the HCA is a FIFO of posted WRITEs delivered in order at
 * random moments, the consumer releases at random moments, credits travel
 * back through another FIFO. Every frame arrives once, in order, with its
 * length; the ring never overruns; the sender never wedges. */
static void test_simulated_transfer(void **state)
{
	enum { FRAMES = 20000, SLOTS = 8 };
	struct mcopy_ring_tx tx;
	struct mcopy_ring_rx rx;
	struct mcopy_ring_post p;
	uint32_t wire_imm[64], wire_n = 0, wire_h = 0, comp_pending = 0;
	uint64_t credit_q[64], arrived_len[FRAMES];
	unsigned cq_n = 0, cq_h = 0;
	uint64_t posted = 0, got = 0, released = 0, s = 12345;
	usec_t now = 0;

	(void)state;
	assert_int_equal(mcopy_ring_tx_init(&tx, SLOTS, 4096, 2, 4), 0);
	assert_int_equal(mcopy_ring_rx_init(&rx, SLOTS, 4096, 20), 0);
	for (int step = 0; got < FRAMES || released < FRAMES; step++) {
		uint32_t slot, len;
		uint64_t c;

		assert_true(step < 10 * FRAMES * 10);
		s ^= s << 13, s ^= s >> 7, s ^= s << 17;
		now += 1 + s % 7;
		switch (s % 5) {
		case 0: /* source posts */
			if (posted < FRAMES && mcopy_ring_tx_post(&tx, 1 + (uint32_t)(posted % 4096),
								  posted == FRAMES - 1, &p) == 0) {
				assert_int_equal(p.slot, posted % SLOTS);
				wire_imm[(wire_h + wire_n++) % 64] = p.imm;
				comp_pending += p.signaled;
				posted++;
			}
			break;
		case 1: /* the HCA delivers a WRITE */
			if (wire_n) {
				assert_int_equal(mcopy_ring_rx_arrived(&rx, wire_imm[wire_h], &slot, &len),
						 0);
				assert_int_equal(slot, got % SLOTS);
				arrived_len[got] = len;
				wire_h = (wire_h + 1) % 64;
				wire_n--;
				got++;
			}
			break;
		case 2: /* a completion (once the WRITE it signals has landed: RC in order) */
			if (comp_pending && tx.signaled_upto <= got) {
				assert_int_equal(mcopy_ring_tx_completion(&tx), 0);
				comp_pending--;
			}
			break;
		case 3: /* the consumer releases, maybe grants */
			if (released < got) {
				assert_int_equal(arrived_len[released], 1 + released % 4096);
				assert_int_equal(mcopy_ring_rx_release(&rx, now), 0);
				released++;
			}
			if (mcopy_ring_rx_grant(&rx, now, &c) == 1) {
				uint8_t msg[MCOPY_CREDIT_LEN];
				uint64_t back;

				assert_int_equal(mcopy_credit_encode(c, msg, sizeof(msg)), MCOPY_CREDIT_LEN);
				assert_int_equal(mcopy_credit_decode(msg, sizeof(msg), &back), 0);
				assert_true(cq_n < 64);
				credit_q[(cq_h + cq_n++) % 64] = back;
			}
			break;
		default: /* a credit message arrives */
			if (cq_n) {
				assert_int_equal(mcopy_ring_tx_credit(&tx, credit_q[cq_h]), 0);
				cq_h = (cq_h + 1) % 64;
				cq_n--;
			}
			break;
		}
	}
	assert_int_equal(posted, FRAMES);
	assert_true(tx.retired <= FRAMES);
}

static void test_credit_codec(void **state)
{
	uint8_t m[MCOPY_CREDIT_LEN];
	uint64_t c = 7;

	(void)state;
	assert_int_equal(mcopy_credit_encode(UINT64_MAX, m, sizeof(m)), MCOPY_CREDIT_LEN);
	assert_int_equal(mcopy_credit_decode(m, sizeof(m), &c), 0);
	assert_true(c == UINT64_MAX);
	c = 7;
	assert_int_equal(mcopy_credit_decode(m, sizeof(m) - 1, &c), -EPROTO);
	m[0] ^= 1;
	assert_int_equal(mcopy_credit_decode(m, sizeof(m), &c), -EPROTO);
	m[0] ^= 1;
	m[5] = 1;
	assert_int_equal(mcopy_credit_decode(m, sizeof(m), &c), -EPROTO);
	assert_int_equal(c, 7);
	assert_int_equal(mcopy_credit_encode(1, m, sizeof(m) - 1), -EINVAL);
}

static void test_offer_codec(void **state)
{
	struct mcopy_rdma_offer o = {.addr = 0x7f0012345000ull,
				     .rkey = 0xdeadbeef,
				     .slots = 16,
				     .slot_size = 1u << 20,
				     .port = 49301};
	struct mcopy_rdma_offer got, sentinel;
	uint8_t m[MCOPY_RDMA_OFFER_LEN], bad[MCOPY_RDMA_OFFER_LEN];
	static const struct {
		size_t at;
		uint8_t v;
	} corrupt[] = {
		{12, 0xff}, /* slots > MCOPY_RING_SLOTS_MAX */
		{16, 0x02}, /* slot_size 32 MiB > 24 bits */
		{22, 0x01}, /* reserved */
	};

	(void)state;
	for (size_t i = 0; i < MCOPY_RDMA_TOKEN_LEN; i++)
		o.token[i] = (uint8_t)(i * 7 + 3);
	assert_int_equal(mcopy_rdma_offer_encode(&o, m, sizeof(m)), MCOPY_RDMA_OFFER_LEN);
	assert_int_equal(mcopy_rdma_offer_decode(m, sizeof(m), &got), 0);
	assert_true(got.addr == o.addr);
	assert_int_equal(got.rkey, o.rkey);
	assert_int_equal(got.slots, 16);
	assert_int_equal(got.slot_size, 1u << 20);
	assert_int_equal(got.port, 49301);
	assert_memory_equal(got.token, o.token, MCOPY_RDMA_TOKEN_LEN);
	memset(&sentinel, 0x5a, sizeof(sentinel));
	for (size_t i = 0; i < sizeof(corrupt) / sizeof(corrupt[0]); i++) {
		memcpy(bad, m, sizeof(m));
		bad[corrupt[i].at] = corrupt[i].v;
		got = sentinel;
		assert_int_equal(mcopy_rdma_offer_decode(bad, sizeof(bad), &got), -EPROTO);
		assert_memory_equal(&got, &sentinel, sizeof(got));
	}
	o.port = 0; /* no port to connect to */
	mcopy_rdma_offer_encode(&o, bad, sizeof(bad));
	assert_int_equal(mcopy_rdma_offer_decode(bad, sizeof(bad), &got), -EPROTO);
	o.port = 1;
	o.slots = 4096; /* 4096 x 1 MiB: more than a source accepts */
	mcopy_rdma_offer_encode(&o, bad, sizeof(bad));
	assert_int_equal(mcopy_rdma_offer_decode(bad, sizeof(bad), &got), -EPROTO);
	assert_int_equal(mcopy_rdma_offer_decode(m, sizeof(m) - 1, &got), -EINVAL);
	assert_int_equal(mcopy_rdma_offer_encode(&o, m, sizeof(m) - 1), -EINVAL);
}

/* The engine's own ring parameters (mcopy_rdma.c: 16 slots of 1 MiB, 16
 * WRITEs in flight signaled one in 4, flush after 1 ms) under the simulated
 * transfer: a slow target releasing slots one at a time, credits batched. */
static void test_engine_parameters(void **state)
{
	struct mcopy_ring_tx tx;
	struct mcopy_ring_rx rx;
	struct mcopy_ring_post post;
	uint64_t consumed, wrote = 0;
	usec_t now = 1000;
	uint32_t slot, len;

	(void)state;
	assert_int_equal(mcopy_ring_tx_init(&tx, 16, 1u << 20, 4, 16), 0);
	assert_int_equal(mcopy_ring_rx_init(&rx, 16, 1u << 20, USEC_PER_MSEC), 0);
	for (int round = 0; round < 1000; round++) {
		/* the source posts while it may */
		while (mcopy_ring_tx_post(&tx, (uint32_t)(round % 7 + 1) << 17, false, &post) == 0) {
			assert_int_equal(mcopy_ring_rx_arrived(&rx, post.imm, &slot, &len), 0);
			assert_int_equal(slot, post.slot);
			if (post.signaled)
				assert_int_equal(mcopy_ring_tx_completion(&tx), 0);
			wrote++;
		}
		assert_true(tx.sent - tx.consumed <= 16);
		/* the target hands one slot on per round, credits when batched or late */
		if (rx.consumed < rx.arrived)
			assert_int_equal(mcopy_ring_rx_release(&rx, now), 0);
		now += 300;
		if (mcopy_ring_rx_grant(&rx, now, &consumed) == 1)
			assert_int_equal(mcopy_ring_tx_credit(&tx, consumed), 0);
	}
	assert_true(wrote > 900);
	assert_true(rx.consumed <= rx.arrived);
}

/* Backend choice where there is no RDMA device (as on the machines this was
 * written on): auto says tcp and why, rdma is an error. With a device the
 * probe would resolve: those asserts are skipped and said so. */
static void test_backend_choice(void **state)
{
	struct sockaddr_in peer = {.sin_family = AF_INET,
				   .sin_port = htons(MCOPY_DEFAULT_PORT),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	enum mcopy_backend got = MCOPY_BACKEND_AUTO;
	char why[256];
	int r;

	(void)state;
	assert_int_equal(mcopy_backend_choose(MCOPY_BACKEND_TCP, NULL, 0, &got, why, sizeof(why)), 0);
	assert_int_equal(got, MCOPY_BACKEND_TCP);
	assert_int_equal(mcopy_backend_choose(MCOPY_BACKEND_AUTO, NULL, 0, &got, why, sizeof(why)), -EINVAL);
	r = mcopy_backend_choose(MCOPY_BACKEND_AUTO, (struct sockaddr *)&peer, sizeof(peer), &got, why,
				 sizeof(why));
	assert_int_equal(r, 0);
	printf("test-mcopy-ring: auto -> %s (%s)\n", mcopy_backend_name(got), why);
	if (got == MCOPY_BACKEND_RDMA) {
		printf("test-mcopy-ring: an RDMA device reaches 127.0.0.1: no-device checks skipped\n");
		return;
	}
	assert_non_null(strstr(why, "tcp, because"));
	r = mcopy_backend_choose(MCOPY_BACKEND_RDMA, (struct sockaddr *)&peer, sizeof(peer), &got, why,
				 sizeof(why));
	assert_true(r == -ENODEV || r == -EOPNOTSUPP);
	printf("test-mcopy-ring: rdma -> %s (%s)\n", strerror(-r), why);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tx_credits),         cmocka_unit_test(test_tx_completions),
		cmocka_unit_test(test_rx_checks),          cmocka_unit_test(test_rx_flush_delay),
		cmocka_unit_test(test_simulated_transfer), cmocka_unit_test(test_credit_codec),
		cmocka_unit_test(test_offer_codec),        cmocka_unit_test(test_engine_parameters),
		cmocka_unit_test(test_backend_choice),
	};

	printf("test-mcopy-ring: ring, credit, completion and offer logic only. The RDMA hardware\n"
	       "test-mcopy-ring: path (verbs, rdma_cm, mcopy_rdma.c's data path) was NOT exercised:\n"
	       "test-mcopy-ring: it needs an RDMA device (or rxe/siw), and there was none here.\n");

	return cmocka_run_group_tests(tests, NULL, NULL);
}

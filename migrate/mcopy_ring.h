/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* migrate/mcopy_ring.h: the RDMA backend's ring, credit and completion
 * logic — pure state machines with an injected clock, so that they are
 * proven by unit tests on machines without RDMA hardware. No verbs here.
 *
 * The target registers a ring of `slots` slots of `slot_size` bytes. The
 * source RDMA-WRITEs (with immediate) each frame into the next slot, in
 * order, only while it holds a credit (one per free slot). The immediate
 * carries the payload length (low 24 bits) and the frame seq mod 256 (high
 * 8 bits), checked by the target. The target hands slots to QEMU in order
 * and returns credits as a cumulative count of consumed slots in a small
 * SEND (mcopy_credit_encode), batched: when a quarter of the ring is free
 * or after flush_delay. The source signals one WRITE in every `signal_every`
 * (and the last) and retires completions in batches; it never has more
 * than sq_depth WRITEs in flight.
 */
#ifndef MCOPY_RING_H
#define MCOPY_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/time.h"

#define MCOPY_RING_SLOTS_MAX 4096
#define MCOPY_RING_SLOT_MAX  (1u << 24) /* 24 bits of length in the immediate */
#define MCOPY_CREDIT_LEN     16

struct mcopy_ring_tx {
	uint32_t slots, slot_size, signal_every, sq_depth;
	uint64_t sent;          /* WRITEs posted (= frames) */
	uint64_t consumed;      /* cumulative credit from the target */
	uint64_t retired;       /* WRITEs whose completion was seen */
	uint64_t signaled_upto; /* count of WRITEs up to the last signaled one */
};

struct mcopy_ring_post {
	uint32_t slot; /* slot index: the remote address is base + slot * slot_size */
	uint32_t imm;  /* immediate data (host order; the verbs layer does htonl) */
	int signaled;  /* 1: post with IBV_SEND_SIGNALED */
};

/* -EINVAL unless 1 <= slots <= MCOPY_RING_SLOTS_MAX, 1 <= slot_size <= MCOPY_RING_SLOT_MAX,
 * signal_every >= 1 and sq_depth a multiple of it. */
int mcopy_ring_tx_init(struct mcopy_ring_tx *tx, uint32_t slots, uint32_t slot_size, uint32_t signal_every,
		       uint32_t sq_depth);
/* Reserve the next slot for len bytes (last: the final frame, always
 * signaled): 0 with *ret_post filled, -EAGAIN without a credit or send-queue
 * room, -EMSGSIZE if len is 0 or > slot_size. */
int mcopy_ring_tx_post(struct mcopy_ring_tx *tx, uint32_t len, bool last, struct mcopy_ring_post *ret_post);
/* A credit update: cumulative consumed slots. -EPROTO if it goes backwards
 * or beyond what was sent (a confused or lying peer). */
int mcopy_ring_tx_credit(struct mcopy_ring_tx *tx, uint64_t consumed);
/* A signaled completion arrived: every WRITE up to and including it is done. */
int mcopy_ring_tx_completion(struct mcopy_ring_tx *tx);
uint32_t mcopy_ring_tx_credits(const struct mcopy_ring_tx *tx);

struct mcopy_ring_rx {
	uint32_t slots, slot_size, batch;
	usec_t flush_delay;
	uint64_t arrived, consumed, granted;
	usec_t first_ungranted; /* when the oldest not-yet-granted release happened */
};

int mcopy_ring_rx_init(struct mcopy_ring_rx *rx, uint32_t slots, uint32_t slot_size, usec_t flush_delay);
/* A WRITE-with-immediate completed: validates imm, returns the slot and length. -EPROTO for a
 * bad length, a seq that is not the next, or an overrun (no credit was granted for it). */
int mcopy_ring_rx_arrived(struct mcopy_ring_rx *rx, uint32_t imm, uint32_t *ret_slot, uint32_t *ret_len);
/* The oldest arrived slot was handed on; its credit may be returned. -EPROTO if none arrived. */
int mcopy_ring_rx_release(struct mcopy_ring_rx *rx, usec_t now);
/* Should a credit update be sent now? 1 with *ret_consumed (batch full or
 * flush_delay passed), 0 if not yet. Marks it as granted. */
int mcopy_ring_rx_grant(struct mcopy_ring_rx *rx, usec_t now, uint64_t *ret_consumed);
/* When mcopy_ring_rx_grant will say 1 without more releases (USEC_INFINITY: never). */
usec_t mcopy_ring_rx_deadline(const struct mcopy_ring_rx *rx);

/* Credit message: u32 magic "MCCR", u32 0, u64 consumed. */
int mcopy_credit_encode(uint64_t consumed, uint8_t *buf, size_t len);
int mcopy_credit_decode(const uint8_t *buf, size_t len, uint64_t *ret_consumed);

/* The target's offer, the payload of an RDMA_OFFER frame (MCOPY_RDMA_OFFER_LEN,
 * 56 bytes, big-endian): u64 ring address, u32 rkey, u32 slots, u32
 * slot_size, u16 rdma_cm port, u16 0, u8[32] token. The source connects to
 * port on the address of its authenticated TCP stream and presents token as
 * the connection's private data; the target accepts no other connection. */
#define MCOPY_RDMA_TOKEN_LEN 32
#define MCOPY_RING_BYTES_MAX (256u << 20) /* slots * slot_size a source accepts */

struct mcopy_rdma_offer {
	uint64_t addr;
	uint32_t rkey, slots, slot_size;
	uint16_t port;
	uint8_t token[MCOPY_RDMA_TOKEN_LEN];
};

int mcopy_rdma_offer_encode(const struct mcopy_rdma_offer *o, uint8_t *buf, size_t len);
/* -EPROTO for a ring the tx side could not use (slots, slot_size, their
 * product, port 0, reserved bits), -EINVAL for a short buffer. */
int mcopy_rdma_offer_decode(const uint8_t *buf, size_t len, struct mcopy_rdma_offer *ret_offer);

#endif

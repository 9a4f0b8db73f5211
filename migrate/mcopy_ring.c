/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* migrate/mcopy_ring.c: RDMA ring slots, credits, batched completions and
 * credit returns (contract in mcopy_ring.h). Pure: no verbs, no clock reads,
 * no logging; every value from the peer is checked against the state. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "common/bytes.h"
#include "migrate/mcopy_proto.h"
#include "migrate/mcopy_ring.h"

#define CREDIT_MAGIC 0x4d434352u /* "MCCR" */
#define IMM_LEN_MASK 0x00ffffffu

int mcopy_ring_tx_init(struct mcopy_ring_tx *tx, uint32_t slots, uint32_t slot_size, uint32_t signal_every,
		       uint32_t sq_depth)
{
	if (!tx || slots < 1 || slots > MCOPY_RING_SLOTS_MAX || slot_size < 1 ||
	    slot_size > MCOPY_RING_SLOT_MAX || signal_every < 1 || sq_depth < signal_every ||
	    sq_depth % signal_every != 0)
		return -EINVAL;
	memset(tx, 0, sizeof(*tx));
	tx->slots = slots;
	tx->slot_size = slot_size;
	tx->signal_every = signal_every;
	tx->sq_depth = sq_depth;
	return 0;
}

uint32_t mcopy_ring_tx_credits(const struct mcopy_ring_tx *tx)
{
	return (uint32_t)(tx->slots - (tx->sent - tx->consumed));
}

int mcopy_ring_tx_post(struct mcopy_ring_tx *tx, uint32_t len, bool last, struct mcopy_ring_post *ret_post)
{
	if (!tx || !ret_post)
		return -EINVAL;
	if (len == 0 || len > tx->slot_size)
		return -EMSGSIZE;
	/* Both a free slot and send-queue room. As sq_depth is a multiple of
	 * signal_every and completions retire up to a signaled WRITE, a full
	 * queue always ends with a signaled WRITE: it cannot wedge. */
	if (mcopy_ring_tx_credits(tx) == 0 || tx->sent - tx->retired >= tx->sq_depth)
		return -EAGAIN;
	ret_post->slot = (uint32_t)(tx->sent % tx->slots);
	ret_post->imm = (uint32_t)(tx->sent & 0xff) << 24 | len;
	tx->sent++;
	ret_post->signaled = tx->sent % tx->signal_every == 0 || last;
	if (ret_post->signaled)
		tx->signaled_upto = tx->sent;
	return 0;
}

int mcopy_ring_tx_credit(struct mcopy_ring_tx *tx, uint64_t consumed)
{
	if (!tx)
		return -EINVAL;
	if (consumed < tx->consumed || consumed > tx->sent)
		return -EPROTO;
	tx->consumed = consumed;
	return 0;
}

int mcopy_ring_tx_completion(struct mcopy_ring_tx *tx)
{
	uint64_t next;

	if (!tx)
		return -EINVAL;
	if (tx->signaled_upto <= tx->retired)
		return -EPROTO; /* a completion for nothing we signaled */
	/* Completions come in post order: this one is the first signaled WRITE
	 * after `retired` — the next multiple of signal_every, or the forced
	 * signal of the last frame. Everything up to it is done. */
	next = (tx->retired / tx->signal_every + 1) * tx->signal_every;
	if (next > tx->signaled_upto)
		next = tx->signaled_upto;
	tx->retired = next;
	return 0;
}

int mcopy_ring_rx_init(struct mcopy_ring_rx *rx, uint32_t slots, uint32_t slot_size, usec_t flush_delay)
{
	if (!rx || slots < 1 || slots > MCOPY_RING_SLOTS_MAX || slot_size < 1 ||
	    slot_size > MCOPY_RING_SLOT_MAX)
		return -EINVAL;
	memset(rx, 0, sizeof(*rx));
	rx->slots = slots;
	rx->slot_size = slot_size;
	rx->batch = slots / 4 ? slots / 4 : 1;
	rx->flush_delay = flush_delay;
	rx->first_ungranted = USEC_INFINITY;
	return 0;
}

int mcopy_ring_rx_arrived(struct mcopy_ring_rx *rx, uint32_t imm, uint32_t *ret_slot, uint32_t *ret_len)
{
	uint32_t len = imm & IMM_LEN_MASK;

	if (!rx || !ret_slot || !ret_len)
		return -EINVAL;
	if (len == 0 || len > rx->slot_size || (imm >> 24) != (rx->arrived & 0xff))
		return -EPROTO;
	/* The source may only use slots we granted: arrived - granted < slots. */
	if (rx->arrived - rx->granted >= rx->slots)
		return -EPROTO;
	*ret_slot = (uint32_t)(rx->arrived % rx->slots);
	*ret_len = len;
	rx->arrived++;
	return 0;
}

int mcopy_ring_rx_release(struct mcopy_ring_rx *rx, usec_t now)
{
	if (!rx)
		return -EINVAL;
	if (rx->consumed >= rx->arrived)
		return -EPROTO;
	if (rx->consumed == rx->granted)
		rx->first_ungranted = now;
	rx->consumed++;
	return 0;
}

usec_t mcopy_ring_rx_deadline(const struct mcopy_ring_rx *rx)
{
	if (!rx || rx->consumed == rx->granted)
		return USEC_INFINITY;
	if (rx->consumed - rx->granted >= rx->batch)
		return 0;
	return rx->first_ungranted + rx->flush_delay;
}

int mcopy_ring_rx_grant(struct mcopy_ring_rx *rx, usec_t now, uint64_t *ret_consumed)
{
	if (!rx || !ret_consumed)
		return -EINVAL;
	if (rx->consumed == rx->granted || now < mcopy_ring_rx_deadline(rx))
		return 0;
	rx->granted = rx->consumed;
	rx->first_ungranted = USEC_INFINITY;
	*ret_consumed = rx->granted;
	return 1;
}

int mcopy_credit_encode(uint64_t consumed, uint8_t *buf, size_t len)
{
	if (!buf || len < MCOPY_CREDIT_LEN)
		return -EINVAL;
	put_u32(buf, CREDIT_MAGIC);
	put_u32(buf + 4, 0);
	put_u64(buf + 8, consumed);
	return MCOPY_CREDIT_LEN;
}

int mcopy_credit_decode(const uint8_t *buf, size_t len, uint64_t *ret_consumed)
{
	if (!buf || !ret_consumed)
		return -EINVAL;
	if (len != MCOPY_CREDIT_LEN || get_u32(buf) != CREDIT_MAGIC || get_u32(buf + 4) != 0)
		return -EPROTO;
	*ret_consumed = get_u64(buf + 8);
	return 0;
}

int mcopy_rdma_offer_encode(const struct mcopy_rdma_offer *o, uint8_t *buf, size_t len)
{
	if (!o || !buf || len < MCOPY_RDMA_OFFER_LEN)
		return -EINVAL;
	put_u64(buf, o->addr);
	put_u32(buf + 8, o->rkey);
	put_u32(buf + 12, o->slots);
	put_u32(buf + 16, o->slot_size);
	put_u16(buf + 20, o->port);
	put_u16(buf + 22, 0);
	memcpy(buf + 24, o->token, MCOPY_RDMA_TOKEN_LEN);
	return MCOPY_RDMA_OFFER_LEN;
}

int mcopy_rdma_offer_decode(const uint8_t *buf, size_t len, struct mcopy_rdma_offer *ret_offer)
{
	struct mcopy_rdma_offer o;

	if (!buf || !ret_offer || len != MCOPY_RDMA_OFFER_LEN)
		return -EINVAL;
	o.addr = get_u64(buf);
	o.rkey = get_u32(buf + 8);
	o.slots = get_u32(buf + 12);
	o.slot_size = get_u32(buf + 16);
	o.port = get_u16(buf + 20);
	memcpy(o.token, buf + 24, MCOPY_RDMA_TOKEN_LEN);
	if (get_u16(buf + 22) != 0 || o.port == 0 || o.slots < 1 || o.slots > MCOPY_RING_SLOTS_MAX ||
	    o.slot_size < 1 || o.slot_size > MCOPY_RING_SLOT_MAX ||
	    (uint64_t)o.slots * o.slot_size > MCOPY_RING_BYTES_MAX)
		return -EPROTO;
	*ret_offer = o;
	return 0;
}

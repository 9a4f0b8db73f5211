/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* migrate/mcopy_stripe.c: sender stream choice, receiver reassembly in seq
 * order across streams, token-bucket bandwidth cap. Pure and total: every
 * frame from the peer is checked against the state before it is accepted. */
#include <errno.h>
#include <string.h>

#include "migrate/mcopy_stripe.h"

void mcopy_tx_init(struct mcopy_tx *tx, unsigned streams)
{
	memset(tx, 0, sizeof(*tx));
	tx->streams = streams < 1 ? 1 : streams > MCOPY_STREAM_MAX ? MCOPY_STREAM_MAX : streams;
	tx->last = tx->streams - 1;
}

int mcopy_tx_next(struct mcopy_tx *tx, uint32_t writable, uint32_t len, struct mcopy_frame *ret_frame)
{
	if (!tx || !ret_frame || len == 0 || len > MCOPY_FRAME_MAX)
		return -EINVAL;
	for (unsigned i = 1; i <= tx->streams; i++) {
		unsigned s = (tx->last + i) % tx->streams;

		if (!(writable & (1u << s)))
			continue;
		ret_frame->type = MCOPY_FRAME_DATA;
		ret_frame->len = len;
		ret_frame->seq = tx->next_seq++;
		tx->bytes += len;
		tx->last = s;
		return (int)s;
	}
	return -EAGAIN;
}

void mcopy_tx_end(const struct mcopy_tx *tx, struct mcopy_frame *ret_frame)
{
	ret_frame->type = MCOPY_FRAME_END;
	ret_frame->len = 0;
	ret_frame->seq = tx->next_seq;
}

int mcopy_rx_init(struct mcopy_rx *rx, unsigned streams)
{
	if (!rx || streams < 1 || streams > MCOPY_STREAM_MAX)
		return -EINVAL;
	memset(rx, 0, sizeof(*rx));
	rx->streams = streams;
	return 0;
}

bool mcopy_rx_wants_header(const struct mcopy_rx *rx, unsigned stream)
{
	return rx && stream < rx->streams && rx->s[stream].state == MCOPY_RXS_IDLE;
}

int mcopy_rx_header(struct mcopy_rx *rx, unsigned stream, const struct mcopy_frame *f)
{
	if (!rx || !f || !mcopy_rx_wants_header(rx, stream))
		return -EINVAL;
	switch (f->type) {
	case MCOPY_FRAME_DATA:
		if (f->len == 0 || f->len > MCOPY_FRAME_MAX)
			return -MCOPY_EBADFRAME;
		if (f->seq < rx->next_seq || (rx->end_seen && f->seq >= rx->end_total))
			return -MCOPY_ESEQ;
		for (unsigned i = 0; i < rx->streams; i++)
			if (rx->s[i].state == MCOPY_RXS_PENDING && rx->s[i].seq == f->seq)
				return -MCOPY_ESEQ; /* duplicate */
		rx->s[stream].state = MCOPY_RXS_PENDING;
		rx->s[stream].seq = f->seq;
		rx->s[stream].left = f->len;
		return 0;
	case MCOPY_FRAME_END:
		if (rx->end_seen ? f->seq != rx->end_total : f->seq < rx->next_seq)
			return -MCOPY_ESEQ;
		for (unsigned i = 0; i < rx->streams; i++)
			if (rx->s[i].state == MCOPY_RXS_PENDING && rx->s[i].seq >= f->seq)
				return -MCOPY_ESEQ;
		rx->end_seen = true;
		rx->end_total = f->seq;
		rx->s[stream].state = MCOPY_RXS_ENDED;
		return 0;
	case MCOPY_FRAME_ABORT:
		return -MCOPY_EPEERABORT;
	default:
		return -MCOPY_EBADFRAME; /* DONE only travels target -> source */
	}
}

int mcopy_rx_next(const struct mcopy_rx *rx, unsigned *ret_stream, uint32_t *ret_len)
{
	unsigned ended = 0, pending = 0;

	if (!rx || !ret_stream || !ret_len)
		return -EINVAL;
	for (unsigned i = 0; i < rx->streams; i++) {
		switch (rx->s[i].state) {
		case MCOPY_RXS_ACTIVE:
			*ret_stream = i;
			*ret_len = rx->s[i].left;
			return MCOPY_RX_DELIVER;
		case MCOPY_RXS_PENDING:
			if (rx->s[i].seq == rx->next_seq) {
				*ret_stream = i;
				*ret_len = rx->s[i].left;
				return MCOPY_RX_DELIVER;
			}
			pending++;
			break;
		case MCOPY_RXS_ENDED:
			ended++;
			break;
		default:
			break;
		}
	}
	if (ended == rx->streams)
		return rx->next_seq == rx->end_total ? MCOPY_RX_COMPLETE : -MCOPY_ESEQ;
	if (ended + pending == rx->streams)
		return -MCOPY_ESEQ; /* the next frame can never arrive: a gap */
	if (rx->end_seen && rx->next_seq == rx->end_total && pending > 0)
		return -MCOPY_ESEQ;
	return MCOPY_RX_NEED_HEADERS;
}

int mcopy_rx_delivered(struct mcopy_rx *rx, unsigned stream, uint32_t n)
{
	if (!rx || stream >= rx->streams || n == 0)
		return -EINVAL;
	if (rx->s[stream].state == MCOPY_RXS_PENDING && rx->s[stream].seq == rx->next_seq)
		rx->s[stream].state = MCOPY_RXS_ACTIVE;
	if (rx->s[stream].state != MCOPY_RXS_ACTIVE || n > rx->s[stream].left)
		return -EINVAL;
	rx->s[stream].left -= n;
	rx->bytes += n;
	if (rx->s[stream].left == 0) {
		rx->s[stream].state = MCOPY_RXS_IDLE;
		rx->next_seq++;
	}
	return 0;
}

int mcopy_rx_eof(const struct mcopy_rx *rx, unsigned stream, bool partial_header)
{
	if (!rx || stream >= rx->streams)
		return -EINVAL;
	return rx->s[stream].state == MCOPY_RXS_ENDED && !partial_header ? 0 : -MCOPY_ETRUNCATED;
}

void mcopy_rate_init(struct mcopy_rate *r, uint64_t bytes_per_sec, uint64_t burst, usec_t now)
{
	memset(r, 0, sizeof(*r));
	r->bytes_per_sec = bytes_per_sec;
	if (burst == 0) {
		burst = bytes_per_sec / 10;
		if (burst < MCOPY_FRAME_MAX)
			burst = MCOPY_FRAME_MAX;
	}
	r->burst = burst;
	r->tokens = burst;
	r->last = now;
}

usec_t mcopy_rate_take(struct mcopy_rate *r, uint64_t n, usec_t now)
{
	uint64_t add, deficit;
	usec_t base;

	if (!r || r->bytes_per_sec == 0)
		return 0;
	if (now > r->last) {
		/* µs * B/s / 1e6, without overflow for any sane rate and gap */
		usec_t dt = now - r->last;

		if (dt > 100 * USEC_PER_SEC)
			dt = 100 * USEC_PER_SEC;
		add = (uint64_t)((unsigned __int128)dt * r->bytes_per_sec / USEC_PER_SEC);
		r->tokens = r->tokens + add > r->burst ? r->burst : r->tokens + add;
		r->last = now;
	}
	if (r->tokens >= n) {
		r->tokens -= n;
		return 0;
	}
	deficit = n - r->tokens;
	r->tokens = 0;
	/* The deficit is paid for by the time after max(now, last): earlier
	 * waits that have not elapsed yet come first. */
	base = r->last > now ? r->last : now;
	r->last = base + (usec_t)(((unsigned __int128)deficit * USEC_PER_SEC + r->bytes_per_sec - 1) /
				  r->bytes_per_sec);
	return r->last - now;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* migrate/mcopy_stripe.h: striping one QEMU connection (a channel) over
 * several streams — the sender's sequence numbers and stream choice, the
 * receiver's in-order reassembly, and the bandwidth cap. Pure state machines:
 * no I/O, no clock reads (time is passed in), no logging. */
#ifndef MCOPY_STRIPE_H
#define MCOPY_STRIPE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/time.h"
#include "migrate/mcopy_proto.h"

/* ---- sender ---- */

struct mcopy_tx {
	unsigned streams;
	unsigned last;     /* stream of the previous frame */
	uint64_t next_seq; /* seq of the next DATA frame */
	uint64_t bytes;    /* payload bytes framed so far */
};

void mcopy_tx_init(struct mcopy_tx *tx, unsigned streams);
/* Pick the stream for the next frame among those whose bit is set in
 * writable (bit i = stream i can take data now), round-robin from the one
 * after the previous pick, so that a slow link gets fewer frames. Fills the
 * DATA header for len payload bytes. Returns the stream, -EAGAIN when no
 * stream is writable, -EINVAL for a bad len. */
int mcopy_tx_next(struct mcopy_tx *tx, uint32_t writable, uint32_t len, struct mcopy_frame *ret_frame);
/* The END frame every stream carries once the channel's input has ended. */
void mcopy_tx_end(const struct mcopy_tx *tx, struct mcopy_frame *ret_frame);

/* ---- receiver ---- */

/*
 * The receiver never copies a payload into a reorder buffer: it reads one
 * frame header per stream and leaves the payload in that stream's socket
 * until its seq is the next to deliver (each stream is FIFO and the sender
 * sends in seq order, so the next seq is always at the head of some stream).
 * Cost: O(streams) per call.
 */
enum mcopy_rx_stream_state {
	MCOPY_RXS_IDLE,    /* wants a frame header */
	MCOPY_RXS_PENDING, /* header read, payload waits for its turn */
	MCOPY_RXS_ACTIVE,  /* payload being delivered */
	MCOPY_RXS_ENDED,   /* END seen */
};

struct mcopy_rx {
	unsigned streams;
	uint64_t next_seq;  /* next seq to deliver */
	uint64_t end_total; /* frames in the channel, once an END was seen */
	bool end_seen;
	uint64_t bytes; /* payload bytes delivered */
	struct {
		enum mcopy_rx_stream_state state;
		uint64_t seq;
		uint32_t left; /* payload bytes not yet delivered */
	} s[MCOPY_STREAM_MAX];
};

enum mcopy_rx_action {
	MCOPY_RX_NEED_HEADERS, /* read headers on the streams mcopy_rx_wants_header says */
	MCOPY_RX_DELIVER,      /* deliver *ret_len payload bytes from *ret_stream */
	MCOPY_RX_COMPLETE,     /* every frame delivered and every stream ended */
};

int mcopy_rx_init(struct mcopy_rx *rx, unsigned streams);
bool mcopy_rx_wants_header(const struct mcopy_rx *rx, unsigned stream);
/* A frame header arrived on stream. 0, or -MCOPY_ESEQ (duplicate, behind,
 * after END, END totals disagree), -MCOPY_EBADFRAME (not DATA/END here),
 * -MCOPY_EPEERABORT (ABORT), -EINVAL (stream not waiting for a header). */
int mcopy_rx_header(struct mcopy_rx *rx, unsigned stream, const struct mcopy_frame *f);
/* What to do next; an impossible state (every live stream holds a frame
 * and none is next, or all ended short) is -MCOPY_ESEQ. */
int mcopy_rx_next(const struct mcopy_rx *rx, unsigned *ret_stream, uint32_t *ret_len);
/* n payload bytes of the active frame on stream were delivered. */
int mcopy_rx_delivered(struct mcopy_rx *rx, unsigned stream, uint32_t n);
/* Stream hit EOF; partial_header: some bytes of a header had been read.
 * 0 if it had ended properly, else -MCOPY_ETRUNCATED. */
int mcopy_rx_eof(const struct mcopy_rx *rx, unsigned stream, bool partial_header);

/* ---- bandwidth cap (token bucket) ---- */

struct mcopy_rate {
	uint64_t bytes_per_sec; /* 0: unlimited */
	uint64_t burst;         /* bucket size in bytes */
	uint64_t tokens;
	usec_t last;
};

/* burst 0: a default of 100 ms at the rate (at least MCOPY_FRAME_MAX). */
void mcopy_rate_init(struct mcopy_rate *r, uint64_t bytes_per_sec, uint64_t burst, usec_t now);
/* Take n bytes at time now: returns 0 when they may be sent now, else how
 * many µs to wait before they may (the bytes are then already taken). */
usec_t mcopy_rate_take(struct mcopy_rate *r, uint64_t n, usec_t now);

#endif

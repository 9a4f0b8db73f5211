/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* migrate/mcopy_proto.h: the mcopy wire protocol — the per-stream
 * challenge-response handshake on the cluster key (a pure state machine
 * under an injected clock) and the 16-byte frame header codec. No I/O, no
 * logging, no clock reads; decoders never read past len nor trust a field. */
#ifndef MCOPY_PROTO_H
#define MCOPY_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/time.h"

/*
 * Handshake, once per TCP stream, before any byte reaches QEMU. Every message
 * starts with an 8-byte header (big-endian):
 *   0 u32 magic "MCPY"   4 u8 version (2)   5 u8 type   6 u16 total length
 * HELLO     (client->server, 56): u64 migration id, u16 channel, u16 stream,
 *           u16 streams (per channel), u16 flags (MCOPY_HELLO_*), u8[32] client nonce
 * CHALLENGE (server->client, 40): u8[32] server nonce
 * AUTH      (client->server, 40): u8[32] HMAC-SHA256(key, "mcopy1 client" |
 *           HELLO body | server nonce)
 * RESULT    (server->client, 44): u32 status (MCOPY_ST_*), u8[32]
 *           HMAC-SHA256(key, "mcopy1 server" | HELLO body | server nonce | status)
 * Both sides prove the key over both fresh nonces, the migration id and the
 * stream coordinates, so a recorded handshake replayed to either side fails.
 * The client sends data only after a RESULT with status OK and a valid MAC.
 */
#define MCOPY_MAGIC       0x4d435059u /* "MCPY" */
#define MCOPY_VERSION     2           /* 2: BACK frames (the target's return path) */
#define MCOPY_HDR_LEN     8
#define MCOPY_NONCE_LEN   32
#define MCOPY_MAC_LEN     32
#define MCOPY_HELLO_LEN   56
#define MCOPY_CHAL_LEN    40
#define MCOPY_AUTH_LEN    40
#define MCOPY_RESULT_LEN  44
#define MCOPY_MSG_MAX     MCOPY_HELLO_LEN
#define MCOPY_KEY_MIN     32
#define MCOPY_KEY_MAX     1024
#define MCOPY_CHANNEL_MAX 64 /* QEMU connections per migration (multifd + main) */
#define MCOPY_STREAM_MAX  16 /* TCP streams per channel */

enum mcopy_msg_type {
	MCOPY_MSG_HELLO = 1,
	MCOPY_MSG_CHALLENGE = 2,
	MCOPY_MSG_AUTH = 3,
	MCOPY_MSG_RESULT = 4,
};

/* RESULT status: why the server refused an authenticated (or not) stream. */
enum mcopy_status {
	MCOPY_ST_OK = 0,
	MCOPY_ST_BADAUTH = 1,      /* the client's proof did not verify */
	MCOPY_ST_NO_MIGRATION = 2, /* no such migration on this node */
	MCOPY_ST_BAD_STREAM = 3,   /* channel/stream out of range or duplicate */
	MCOPY_ST_BUSY = 4,         /* out of resources */
	MCOPY_ST_NO_RDMA = 5,      /* RDMA data path asked for, not available on the target */
};

/* Protocol errors, returned negated (-MCOPY_E…) alongside plain -errno. */
enum mcopy_error {
	MCOPY_EBADMSG = 2000, /* malformed handshake message (magic, version, type, length, field) */
	MCOPY_EBADAUTH,       /* the peer does not know the cluster key (or replayed a handshake) */
	MCOPY_EREFUSED,       /* the server refused the stream (status in mcopy_hs_status) */
	MCOPY_ETIMEDOUT,      /* the handshake deadline passed */
	MCOPY_EBADFRAME,      /* malformed frame header */
	MCOPY_ESEQ,           /* frame out of sequence, duplicate or gap */
	MCOPY_ETRUNCATED,     /* stream ended inside a frame or before END */
	MCOPY_EPEERABORT,     /* the peer aborted the channel (its reason in the frame) */
};

/* Text for -errno or -MCOPY_E* (never NULL). */
const char *mcopy_strerror(int err);
const char *mcopy_status_str(uint32_t status);

struct mcopy_key; /* opaque: the cluster key, wiped on free */
int mcopy_key_new(const uint8_t *bytes, size_t len, struct mcopy_key **ret_key);
void mcopy_key_free(struct mcopy_key *key);

/* Fill buf with a fresh random nonce (RAND_bytes). 0 or -EIO. */
int mcopy_nonce_fill(uint8_t nonce[MCOPY_NONCE_LEN]);

/* HELLO flags: how the channel's data travels after the handshake. Both need
 * streams == 1 and exclude each other; other bits are a malformed HELLO. */
#define MCOPY_HELLO_RAW   0x0001 /* unframed source->target (tcp splice path); see below */
#define MCOPY_HELLO_RDMA  0x0002 /* data by RDMA WRITE; this stream carries control frames */
#define MCOPY_HELLO_KNOWN (MCOPY_HELLO_RAW | MCOPY_HELLO_RDMA)

struct mcopy_hello {
	uint64_t migration_id;
	uint16_t channel; /* < MCOPY_CHANNEL_MAX */
	uint16_t stream;  /* < streams */
	uint16_t streams; /* 1..MCOPY_STREAM_MAX */
	uint16_t flags;   /* MCOPY_HELLO_* */
};

enum mcopy_role { MCOPY_CLIENT, MCOPY_SERVER };

enum mcopy_hs_state {
	MCOPY_HS_RUNNING, /* exchanging messages */
	MCOPY_HS_DECIDE,  /* server only: client authenticated, call mcopy_hs_decide */
	MCOPY_HS_DONE,    /* authenticated both ways, status OK: data may flow */
	MCOPY_HS_FAILED,  /* see mcopy_hs_error */
};

struct mcopy_hs; /* one handshake, one stream */

/* hello: the client's stream coordinates (NULL for a server). nonce: this
 * side's fresh nonce (mcopy_nonce_fill; injected for tests). The handshake
 * fails with -MCOPY_ETIMEDOUT once now >= start + timeout. The key must
 * outlive the handshake. */
int mcopy_hs_new(enum mcopy_role role, const struct mcopy_key *key, const struct mcopy_hello *hello,
		 const uint8_t nonce[MCOPY_NONCE_LEN], usec_t now, usec_t timeout, struct mcopy_hs **ret_hs);
void mcopy_hs_free(struct mcopy_hs *hs);

/* Bytes waiting to be sent (may be 0); after writing n of them, mcopy_hs_sent(n). */
size_t mcopy_hs_pending(const struct mcopy_hs *hs, const uint8_t **ret_buf);
void mcopy_hs_sent(struct mcopy_hs *hs, size_t n);

/* Feed received bytes. Consumes at most up to the end of the message the
 * handshake is waiting for (never bytes that follow the handshake); returns
 * the number consumed, or the handshake's error once it has failed. */
int mcopy_hs_input(struct mcopy_hs *hs, const uint8_t *buf, size_t len, usec_t now);

/* Check the deadline: 0, or -MCOPY_ETIMEDOUT (the handshake fails). */
int mcopy_hs_tick(struct mcopy_hs *hs, usec_t now);
usec_t mcopy_hs_deadline(const struct mcopy_hs *hs);

/* Server, in MCOPY_HS_DECIDE: accept (MCOPY_ST_OK) or refuse the stream;
 * queues the RESULT. Refusing makes the state FAILED with -MCOPY_EREFUSED
 * once the RESULT has been sent (pending is 0). */
int mcopy_hs_decide(struct mcopy_hs *hs, uint32_t status);

enum mcopy_hs_state mcopy_hs_state(const struct mcopy_hs *hs);
int mcopy_hs_error(const struct mcopy_hs *hs);       /* 0 unless FAILED */
uint32_t mcopy_hs_status(const struct mcopy_hs *hs); /* the RESULT status sent/received */
/* The client's hello as received (server: valid from DECIDE on). */
int mcopy_hs_hello(const struct mcopy_hs *hs, struct mcopy_hello *ret_hello);

/*
 * Frames, after the handshake, on every stream (16-byte header, big-endian):
 *   0 u8 type   1 u8 flags (0)   2 u16 reserved (0)   4 u32 len   8 u64 seq
 * DATA  (source->target): len payload bytes follow; seq numbers the frames of
 *       one channel from 0 across all its streams (the target reorders).
 * END   (source->target, on every stream): len 0, seq = frames in the channel.
 * DONE  (target->source, on every stream): len 0, seq = frames delivered.
 * ABORT (either way): len 0, seq = the positive errno that ended the channel.
 * BACK  (target->source, stream 0 only): len (1..MCOPY_BACK_MAX) payload
 *       bytes that QEMU wrote on the target's side of the channel (its return
 *       path: libvirt always enables it), seq numbers them from 0.
 * A MCOPY_HELLO_RAW stream carries no frames source->target: the bytes as
 * they are, ended by the source's FIN (shutdown) after its input ended
 * cleanly. The source's socket has SO_LINGER 0 from its creation, so any
 * other close — failure, process death — is a reset: the target tells
 * "truncated" (RST) from "complete" (FIN) without frames. Target->source it
 * is framed as usual: BACK (QEMU's return path, as on a framed stream),
 * then DONE, whose seq is then the byte count; or ABORT. The source's FIN
 * ends only its own direction: the target carries QEMU's return path on
 * until QEMU closes it, and only then sends DONE.
 * RDMA_OFFER (target->source, MCOPY_HELLO_RDMA streams only): len =
 *       MCOPY_RDMA_OFFER_LEN, the ring to write into (mcopy_ring.h).
 */
#define MCOPY_FRAME_HDR_LEN 16
#define MCOPY_FRAME_MAX     (4u << 20)  /* largest DATA payload */
#define MCOPY_BACK_MAX      (64u << 10) /* largest BACK payload */

enum mcopy_frame_type {
	MCOPY_FRAME_DATA = 1,
	MCOPY_FRAME_END = 2,
	MCOPY_FRAME_DONE = 3,
	MCOPY_FRAME_ABORT = 4,
	MCOPY_FRAME_BACK = 5,
	MCOPY_FRAME_RDMA_OFFER = 6,
};
#define MCOPY_RDMA_OFFER_LEN 56 /* the payload of an RDMA_OFFER frame */

struct mcopy_frame {
	uint8_t type;
	uint32_t len;
	uint64_t seq;
};

/* Encode into buf[MCOPY_FRAME_HDR_LEN]; -EINVAL for a frame the decoder would reject. */
int mcopy_frame_encode(const struct mcopy_frame *f, uint8_t *buf, size_t buflen);
/* Decode exactly MCOPY_FRAME_HDR_LEN bytes: 0 or -MCOPY_EBADFRAME (*ret_f untouched). */
int mcopy_frame_decode(const uint8_t *buf, size_t len, struct mcopy_frame *ret_f);

/* The migration id of a stream's first message, read without running a
 * handshake (a listener shared by several migrations routes on it; the
 * engine then checks everything). buf: the first len bytes received. 0, or
 * -EAGAIN (fewer than MCOPY_HELLO_LEN bytes yet), or -MCOPY_EBADMSG (not a
 * HELLO of this version); *ret_id untouched on failure. Unauthenticated. */
int mcopy_hello_peek(const uint8_t *buf, size_t len, uint64_t *ret_id);

#endif

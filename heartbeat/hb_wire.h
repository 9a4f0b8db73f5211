/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* heartbeat/hb_wire.h: the heartbeat packet — encoder and a decoder that is
 * total on any input (never reads past len, never trusts a field before the
 * HMAC checks out). Pure: no I/O, no clock, no logging. */
#ifndef HB_WIRE_H
#define HB_WIRE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Layout (all integers big-endian), HB_WIRE_LEN = 96 bytes:
 *   0  u32 magic          HB_WIRE_MAGIC ("CLHB")
 *   4  u8  version        HB_WIRE_VERSION
 *   5  u8  type           HB_TYPE_HEARTBEAT
 *   6  u16 length         total packet length (HB_WIRE_LEN for version 1)
 *   8  u32 cluster_id     hb_cluster_id(cluster name)
 *  12  u32 sender         sender node id
 *  16  u32 target         target node id
 *  20  u8  link           link id (index of the network in the config)
 *  21  u8  flags          HB_FLAG_* (none defined in version 1: must be 0)
 *  22  u16 reserved       0
 *  24  u64 incarnation    sender's start time (realtime µs); a restarted
 *                         sender has a larger one, so old packets cannot be replayed
 *  32  u64 seq            per (sender, target, link), starts at 1
 *  40  u64 send_time      sender's monotonic µs when sent
 *  48  u64 echo_seq       last seq the sender received from the target on this link (0: none)
 *  56  u64 echo_time      the send_time that packet carried (target's clock)
 *  64  u32 echo_hold      µs between the sender receiving echo_seq and sending this
 *  68  u32 reserved2      0
 *  72  u8[24] hmac        HMAC-SHA256 over bytes 0..71 with the cluster key, truncated
 * RTT at the target = now - echo_time - echo_hold (target's clock only).
 */
#define HB_WIRE_MAGIC     0x434c4842u
#define HB_WIRE_VERSION   1
#define HB_TYPE_HEARTBEAT 1
#define HB_WIRE_HMAC_LEN  24
#define HB_WIRE_BODY_LEN  72
#define HB_WIRE_LEN       (HB_WIRE_BODY_LEN + HB_WIRE_HMAC_LEN)
#define HB_KEY_MIN        32
#define HB_KEY_MAX        1024

struct hb_packet {
	uint32_t cluster_id;
	uint32_t sender;
	uint32_t target;
	uint8_t link;
	uint8_t flags;
	uint64_t incarnation;
	uint64_t seq;
	uint64_t send_time;
	uint64_t echo_seq;
	uint64_t echo_time;
	uint32_t echo_hold;
};

/* Why a packet was rejected; returned negated (-HB_EBADMAGIC …) by hb_wire_decode. */
enum hb_wire_error {
	HB_ETOOSHORT = 1000, /* shorter than a header / than its length field */
	HB_ETOOLONG,         /* longer than its length field / HB_WIRE_LEN */
	HB_EBADMAGIC,
	HB_EBADVERSION,
	HB_EBADTYPE,
	HB_EBADLENGTH,  /* length field not HB_WIRE_LEN */
	HB_EBADCLUSTER, /* cluster_id differs from ours */
	HB_EBADHMAC,    /* wrong key or tampered */
	HB_EBADFIELD,   /* reserved bits set, seq 0, sender 0 … */
};

struct hb_key; /* opaque, holds the HMAC key */

/* key: raw bytes, HB_KEY_MIN..HB_KEY_MAX long. -EINVAL on bad length, -ENOMEM. */
int hb_key_new(const uint8_t *key, size_t len, struct hb_key **ret_key);
void hb_key_free(struct hb_key *key); /* NULL is fine; wipes the key */

/* Stable 32-bit id of a cluster name (FNV-1a); never 0. */
uint32_t hb_cluster_id(const char *cluster_name);

/* Encode pkt into buf (at least HB_WIRE_LEN bytes). Returns HB_WIRE_LEN, or
 * -EINVAL (NULL argument, short buf, seq/sender/target 0, flags set: the same
 * field checks as the decoder), -EIO if libcrypto fails; buf untouched on failure. */
int hb_wire_encode(const struct hb_packet *pkt, const struct hb_key *key, uint8_t *buf, size_t buflen);

/* Decode and authenticate. On success fills *ret_pkt and returns 0; on any
 * failure returns -HB_E* (or -EINVAL for NULL arguments) and leaves *ret_pkt
 * untouched. Checks, in order: length, magic, version, type, length field,
 * cluster id, HMAC (constant time), then field sanity. */
int hb_wire_decode(const uint8_t *buf, size_t len, uint32_t cluster_id, const struct hb_key *key,
		   struct hb_packet *ret_pkt);

/* Human-readable name of an hb_wire_error (positive value). */
const char *hb_wire_strerror(int err);

#endif

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* heartbeat/hb_wire.c: encode, authenticate and decode the 96-byte heartbeat
 * packet (layout in hb_wire.h). Pure and total: no I/O, no clock, no logging;
 * the decoder reads nothing past len and trusts no field before the HMAC. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/bytes.h"
#include "heartbeat/hb_wire.h"

/* Bytes the decoder needs before it can look at magic, version, type, length. */
#define HB_WIRE_HDR_LEN 8

struct hb_key {
	size_t len;
	uint8_t bytes[]; /* len bytes of key, wiped on free */
};

int hb_key_new(const uint8_t *key, size_t len, struct hb_key **ret_key)
{
	struct hb_key *k;

	if (!key || !ret_key || len < HB_KEY_MIN || len > HB_KEY_MAX)
		return -EINVAL;
	k = malloc(sizeof(*k) + len);
	if (!k)
		return -ENOMEM;
	k->len = len;
	memcpy(k->bytes, key, len);
	*ret_key = k;
	return 0;
}

void hb_key_free(struct hb_key *key)
{
	if (!key)
		return;
	OPENSSL_cleanse(key, sizeof(*key) + key->len);
	free(key);
}

uint32_t hb_cluster_id(const char *cluster_name)
{
	const unsigned char *p = (const unsigned char *)(cluster_name ? cluster_name : "");
	uint32_t h = 2166136261u; /* FNV-1a 32-bit offset basis */

	for (; *p; p++) {
		h ^= *p;
		h *= 16777619u; /* FNV 32-bit prime */
	}
	return h ? h : 1;
}

/* Field sanity shared by encoder and decoder, so that we never send what a
 * peer would reject. Version 1 defines no flags: all flag bits are reserved. */
static bool packet_sane(const struct hb_packet *pkt)
{
	return pkt->seq != 0 && pkt->sender != 0 && pkt->target != 0 && pkt->flags == 0;
}

/* HMAC-SHA256 of the body, truncated. Returns false if libcrypto fails. */
static bool body_mac(const struct hb_key *key, const uint8_t *body, uint8_t mac[HB_WIRE_HMAC_LEN])
{
	uint8_t full[EVP_MAX_MD_SIZE];
	unsigned int full_len = 0;
	bool ok;

	ok = HMAC(EVP_sha256(), key->bytes, (int)key->len, body, HB_WIRE_BODY_LEN, full, &full_len) &&
	     full_len >= HB_WIRE_HMAC_LEN;
	if (ok)
		memcpy(mac, full, HB_WIRE_HMAC_LEN);
	OPENSSL_cleanse(full, sizeof(full));
	return ok;
}

int hb_wire_encode(const struct hb_packet *pkt, const struct hb_key *key, uint8_t *buf, size_t buflen)
{
	uint8_t out[HB_WIRE_LEN];

	if (!pkt || !key || !buf || buflen < HB_WIRE_LEN || !packet_sane(pkt))
		return -EINVAL;

	put_u32(out + 0, HB_WIRE_MAGIC);
	out[4] = HB_WIRE_VERSION;
	out[5] = HB_TYPE_HEARTBEAT;
	put_u16(out + 6, HB_WIRE_LEN);
	put_u32(out + 8, pkt->cluster_id);
	put_u32(out + 12, pkt->sender);
	put_u32(out + 16, pkt->target);
	out[20] = pkt->link;
	out[21] = pkt->flags;
	put_u16(out + 22, 0);
	put_u64(out + 24, pkt->incarnation);
	put_u64(out + 32, pkt->seq);
	put_u64(out + 40, pkt->send_time);
	put_u64(out + 48, pkt->echo_seq);
	put_u64(out + 56, pkt->echo_time);
	put_u32(out + 64, pkt->echo_hold);
	put_u32(out + 68, 0);
	if (!body_mac(key, out, out + HB_WIRE_BODY_LEN))
		return -EIO;

	/* Built on the stack first so buf is untouched on failure. */
	memcpy(buf, out, HB_WIRE_LEN);
	return HB_WIRE_LEN;
}

int hb_wire_decode(const uint8_t *buf, size_t len, uint32_t cluster_id, const struct hb_key *key,
		   struct hb_packet *ret_pkt)
{
	uint8_t mac[HB_WIRE_HMAC_LEN];
	struct hb_packet pkt;
	uint16_t length;

	if (!buf || !key || !ret_pkt)
		return -EINVAL;

	/* 1. Overall size, before reading anything. */
	if (len < HB_WIRE_HDR_LEN)
		return -HB_ETOOSHORT;
	if (len > HB_WIRE_LEN)
		return -HB_ETOOLONG;

	/* 2. Fixed header. */
	if (get_u32(buf) != HB_WIRE_MAGIC)
		return -HB_EBADMAGIC;
	if (buf[4] != HB_WIRE_VERSION)
		return -HB_EBADVERSION;
	if (buf[5] != HB_TYPE_HEARTBEAT)
		return -HB_EBADTYPE;
	length = get_u16(buf + 6);
	if (length != HB_WIRE_LEN)
		return -HB_EBADLENGTH;
	if (len < length)
		return -HB_ETOOSHORT;

	/* 3. Cluster, then authenticity; nothing else is read before this passes. */
	if (get_u32(buf + 8) != cluster_id)
		return -HB_EBADCLUSTER;
	if (!body_mac(key, buf, mac) || CRYPTO_memcmp(mac, buf + HB_WIRE_BODY_LEN, HB_WIRE_HMAC_LEN) != 0)
		return -HB_EBADHMAC;

	/* 4. Authentic: parse and check field sanity. */
	if (get_u16(buf + 22) != 0 || get_u32(buf + 68) != 0)
		return -HB_EBADFIELD;
	pkt = (struct hb_packet){
		.cluster_id = get_u32(buf + 8),
		.sender = get_u32(buf + 12),
		.target = get_u32(buf + 16),
		.link = buf[20],
		.flags = buf[21],
		.incarnation = get_u64(buf + 24),
		.seq = get_u64(buf + 32),
		.send_time = get_u64(buf + 40),
		.echo_seq = get_u64(buf + 48),
		.echo_time = get_u64(buf + 56),
		.echo_hold = get_u32(buf + 64),
	};
	if (!packet_sane(&pkt))
		return -HB_EBADFIELD;

	*ret_pkt = pkt;
	return 0;
}

const char *hb_wire_strerror(int err)
{
	if (err < 0)
		err = err == INT_MIN ? 0 : -err;
	switch (err) {
	case HB_ETOOSHORT:
		return "packet too short";
	case HB_ETOOLONG:
		return "packet too long";
	case HB_EBADMAGIC:
		return "bad magic";
	case HB_EBADVERSION:
		return "unsupported version";
	case HB_EBADTYPE:
		return "unknown packet type";
	case HB_EBADLENGTH:
		return "bad length field";
	case HB_EBADCLUSTER:
		return "wrong cluster id";
	case HB_EBADHMAC:
		return "authentication failed (wrong key or tampered)";
	case HB_EBADFIELD:
		return "invalid field (reserved bits, zero seq or node id)";
	default:
		return "unknown heartbeat wire error";
	}
}

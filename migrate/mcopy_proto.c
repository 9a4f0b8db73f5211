/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* migrate/mcopy_proto.c: the mcopy handshake state machine and frame codec
 * (layouts in mcopy_proto.h). Pure: no I/O, no clock, no logging; nothing
 * from the peer is trusted before its length and MAC have been checked. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "common/bytes.h"
#include "migrate/mcopy_proto.h"

#define HELLO_BODY_LEN (MCOPY_HELLO_LEN - MCOPY_HDR_LEN)

struct mcopy_key {
	size_t len;
	uint8_t bytes[];
};

/* What the handshake waits for next. */
enum hs_step {
	STEP_WAIT_HELLO,     /* server */
	STEP_WAIT_CHALLENGE, /* client */
	STEP_WAIT_AUTH,      /* server */
	STEP_WAIT_RESULT,    /* client */
	STEP_DECIDE,         /* server: caller decides */
	STEP_FINISHING,      /* server: RESULT queued, then DONE or FAILED */
	STEP_END,
};

struct mcopy_hs {
	enum mcopy_role role;
	enum hs_step step;
	enum mcopy_hs_state state;
	int error;
	uint32_t status;
	const struct mcopy_key *key;
	usec_t deadline;
	uint8_t hello_body[HELLO_BODY_LEN]; /* as sent/received, for the MACs */
	uint8_t nonce_s[MCOPY_NONCE_LEN];
	uint8_t own_nonce[MCOPY_NONCE_LEN];
	struct mcopy_hello hello;
	uint8_t out[MCOPY_MSG_MAX]; /* one message at a time: the protocol is lock-step */
	size_t out_len, out_off;
	uint8_t in[MCOPY_MSG_MAX];
	size_t in_len;
};

const char *mcopy_strerror(int err)
{
	switch (-err) {
	case MCOPY_EBADMSG:
		return "malformed handshake message";
	case MCOPY_EBADAUTH:
		return "authentication failed (wrong cluster key or replayed handshake)";
	case MCOPY_EREFUSED:
		return "stream refused by the target";
	case MCOPY_ETIMEDOUT:
		return "handshake timed out";
	case MCOPY_EBADFRAME:
		return "malformed frame";
	case MCOPY_ESEQ:
		return "frame out of sequence";
	case MCOPY_ETRUNCATED:
		return "stream truncated (ended inside a frame or before its end marker)";
	case MCOPY_EPEERABORT:
		return "the peer aborted the transfer";
	default:
		return strerror(-err);
	}
}

const char *mcopy_status_str(uint32_t status)
{
	switch (status) {
	case MCOPY_ST_OK:
		return "accepted";
	case MCOPY_ST_BADAUTH:
		return "authentication failed";
	case MCOPY_ST_NO_MIGRATION:
		return "no such migration on the target";
	case MCOPY_ST_BAD_STREAM:
		return "channel or stream out of range or duplicate";
	case MCOPY_ST_BUSY:
		return "target out of resources";
	case MCOPY_ST_NO_RDMA:
		return "the target cannot take the RDMA data path";
	default:
		return "unknown status";
	}
}

int mcopy_key_new(const uint8_t *bytes, size_t len, struct mcopy_key **ret_key)
{
	struct mcopy_key *k;

	if (!bytes || !ret_key || len < MCOPY_KEY_MIN || len > MCOPY_KEY_MAX)
		return -EINVAL;
	k = malloc(sizeof(*k) + len);
	if (!k)
		return -ENOMEM;
	k->len = len;
	memcpy(k->bytes, bytes, len);
	*ret_key = k;
	return 0;
}

void mcopy_key_free(struct mcopy_key *key)
{
	if (!key)
		return;
	OPENSSL_cleanse(key, sizeof(*key) + key->len);
	free(key);
}

int mcopy_nonce_fill(uint8_t nonce[MCOPY_NONCE_LEN])
{
	return RAND_bytes(nonce, MCOPY_NONCE_LEN) == 1 ? 0 : -EIO;
}

static bool hello_sane(const struct mcopy_hello *h)
{
	if (h->flags & ~MCOPY_HELLO_KNOWN)
		return false;
	if (h->flags && (h->streams != 1 || h->flags == MCOPY_HELLO_KNOWN))
		return false; /* raw and rdma: one stream, one of them */
	return h->channel < MCOPY_CHANNEL_MAX && h->streams >= 1 && h->streams <= MCOPY_STREAM_MAX &&
	       h->stream < h->streams;
}

/* HMAC-SHA256(key, label | hello body | server nonce [| status]). */
static bool hs_mac(const struct mcopy_hs *hs, const char *label, const uint8_t *status4,
		   uint8_t mac[MCOPY_MAC_LEN])
{
	uint8_t msg[16 + HELLO_BODY_LEN + MCOPY_NONCE_LEN + 4];
	size_t n = strlen(label), len;
	unsigned int mac_len = 0;
	bool ok;

	memcpy(msg, label, n);
	memcpy(msg + n, hs->hello_body, HELLO_BODY_LEN);
	memcpy(msg + n + HELLO_BODY_LEN, hs->nonce_s, MCOPY_NONCE_LEN);
	len = n + HELLO_BODY_LEN + MCOPY_NONCE_LEN;
	if (status4) {
		memcpy(msg + len, status4, 4);
		len += 4;
	}
	ok = HMAC(EVP_sha256(), hs->key->bytes, (int)hs->key->len, msg, len, mac, &mac_len) &&
	     mac_len == MCOPY_MAC_LEN;
	OPENSSL_cleanse(msg, sizeof(msg));
	return ok;
}

static void put_hdr(uint8_t *p, uint8_t type, uint16_t len)
{
	put_u32(p, MCOPY_MAGIC);
	p[4] = MCOPY_VERSION;
	p[5] = type;
	put_u16(p + 6, len);
}

static void queue(struct mcopy_hs *hs, size_t len)
{
	hs->out_len = len;
	hs->out_off = 0;
}

static int fail(struct mcopy_hs *hs, int err)
{
	hs->state = MCOPY_HS_FAILED;
	hs->step = STEP_END;
	hs->error = err;
	hs->out_len = hs->out_off = 0;
	return err;
}

int mcopy_hs_new(enum mcopy_role role, const struct mcopy_key *key, const struct mcopy_hello *hello,
		 const uint8_t nonce[MCOPY_NONCE_LEN], usec_t now, usec_t timeout, struct mcopy_hs **ret_hs)
{
	struct mcopy_hs *hs;

	if (!key || !nonce || !ret_hs || (role == MCOPY_CLIENT && (!hello || !hello_sane(hello))) ||
	    (role != MCOPY_CLIENT && role != MCOPY_SERVER))
		return -EINVAL;
	hs = calloc(1, sizeof(*hs));
	if (!hs)
		return -ENOMEM;
	hs->role = role;
	hs->key = key;
	hs->state = MCOPY_HS_RUNNING;
	hs->deadline = timeout > USEC_INFINITY - now ? USEC_INFINITY : now + timeout;
	memcpy(hs->own_nonce, nonce, MCOPY_NONCE_LEN);
	if (role == MCOPY_CLIENT) {
		uint8_t *b = hs->out + MCOPY_HDR_LEN;

		hs->hello = *hello;
		put_hdr(hs->out, MCOPY_MSG_HELLO, MCOPY_HELLO_LEN);
		put_u64(b, hello->migration_id);
		put_u16(b + 8, hello->channel);
		put_u16(b + 10, hello->stream);
		put_u16(b + 12, hello->streams);
		put_u16(b + 14, hello->flags);
		memcpy(b + 16, nonce, MCOPY_NONCE_LEN);
		memcpy(hs->hello_body, b, HELLO_BODY_LEN);
		queue(hs, MCOPY_HELLO_LEN);
		hs->step = STEP_WAIT_CHALLENGE;
	} else {
		memcpy(hs->nonce_s, nonce, MCOPY_NONCE_LEN);
		hs->step = STEP_WAIT_HELLO;
	}
	*ret_hs = hs;
	return 0;
}

void mcopy_hs_free(struct mcopy_hs *hs)
{
	if (!hs)
		return;
	OPENSSL_cleanse(hs, sizeof(*hs));
	free(hs);
}

size_t mcopy_hs_pending(const struct mcopy_hs *hs, const uint8_t **ret_buf)
{
	if (!hs || hs->out_off >= hs->out_len) {
		if (ret_buf)
			*ret_buf = NULL;
		return 0;
	}
	if (ret_buf)
		*ret_buf = hs->out + hs->out_off;
	return hs->out_len - hs->out_off;
}

void mcopy_hs_sent(struct mcopy_hs *hs, size_t n)
{
	if (!hs)
		return;
	if (n > hs->out_len - hs->out_off)
		n = hs->out_len - hs->out_off;
	hs->out_off += n;
	if (hs->out_off < hs->out_len || hs->step != STEP_FINISHING)
		return;
	/* The server's RESULT is out: the handshake is over. */
	hs->step = STEP_END;
	if (hs->status == MCOPY_ST_OK) {
		hs->state = MCOPY_HS_DONE;
	} else {
		hs->state = MCOPY_HS_FAILED;
		hs->error = hs->status == MCOPY_ST_BADAUTH ? -MCOPY_EBADAUTH : -MCOPY_EREFUSED;
	}
}

/* Size of the message expected in the current step (0: none expected). */
static size_t expected_len(const struct mcopy_hs *hs)
{
	switch (hs->step) {
	case STEP_WAIT_HELLO:
		return MCOPY_HELLO_LEN;
	case STEP_WAIT_CHALLENGE:
		return MCOPY_CHAL_LEN;
	case STEP_WAIT_AUTH:
		return MCOPY_AUTH_LEN;
	case STEP_WAIT_RESULT:
		return MCOPY_RESULT_LEN;
	default:
		return 0;
	}
}

static uint8_t expected_type(const struct mcopy_hs *hs)
{
	switch (hs->step) {
	case STEP_WAIT_HELLO:
		return MCOPY_MSG_HELLO;
	case STEP_WAIT_CHALLENGE:
		return MCOPY_MSG_CHALLENGE;
	case STEP_WAIT_AUTH:
		return MCOPY_MSG_AUTH;
	default:
		return MCOPY_MSG_RESULT;
	}
}

/* A complete message of the expected length is in hs->in. */
static int hs_process(struct mcopy_hs *hs)
{
	const uint8_t *b = hs->in + MCOPY_HDR_LEN;
	uint8_t mac[MCOPY_MAC_LEN], st[4];
	struct mcopy_hello h;

	switch (hs->step) {
	case STEP_WAIT_HELLO:
		h.migration_id = get_u64(b);
		h.channel = get_u16(b + 8);
		h.stream = get_u16(b + 10);
		h.streams = get_u16(b + 12);
		h.flags = get_u16(b + 14);
		if (!hello_sane(&h))
			return fail(hs, -MCOPY_EBADMSG);
		memcpy(hs->hello_body, b, HELLO_BODY_LEN);
		hs->hello = h;
		put_hdr(hs->out, MCOPY_MSG_CHALLENGE, MCOPY_CHAL_LEN);
		memcpy(hs->out + MCOPY_HDR_LEN, hs->nonce_s, MCOPY_NONCE_LEN);
		queue(hs, MCOPY_CHAL_LEN);
		hs->step = STEP_WAIT_AUTH;
		return 0;
	case STEP_WAIT_CHALLENGE:
		memcpy(hs->nonce_s, b, MCOPY_NONCE_LEN);
		if (!CRYPTO_memcmp(hs->nonce_s, hs->own_nonce, MCOPY_NONCE_LEN))
			return fail(hs, -MCOPY_EBADAUTH); /* a reflected nonce */
		put_hdr(hs->out, MCOPY_MSG_AUTH, MCOPY_AUTH_LEN);
		if (!hs_mac(hs, "mcopy1 client", NULL, hs->out + MCOPY_HDR_LEN))
			return fail(hs, -EIO);
		queue(hs, MCOPY_AUTH_LEN);
		hs->step = STEP_WAIT_RESULT;
		return 0;
	case STEP_WAIT_AUTH:
		if (!hs_mac(hs, "mcopy1 client", NULL, mac))
			return fail(hs, -EIO);
		if (CRYPTO_memcmp(mac, b, MCOPY_MAC_LEN) != 0) {
			/* Tell the client, then fail once the RESULT is out. */
			hs->step = STEP_DECIDE;
			hs->state = MCOPY_HS_DECIDE;
			return mcopy_hs_decide(hs, MCOPY_ST_BADAUTH);
		}
		hs->step = STEP_DECIDE;
		hs->state = MCOPY_HS_DECIDE;
		return 0;
	case STEP_WAIT_RESULT: {
		uint32_t status = get_u32(b);
		bool mac_ok;

		memcpy(st, b, 4);
		if (!hs_mac(hs, "mcopy1 server", st, mac))
			return fail(hs, -EIO);
		mac_ok = CRYPTO_memcmp(mac, b + 4, MCOPY_MAC_LEN) == 0;
		hs->status = status;
		if (status == MCOPY_ST_BADAUTH)
			return fail(hs,
				    -MCOPY_EBADAUTH); /* unverifiable when keys differ; a refusal anyway */
		if (!mac_ok)
			return fail(hs, -MCOPY_EBADAUTH);
		if (status != MCOPY_ST_OK)
			return fail(hs, -MCOPY_EREFUSED);
		hs->step = STEP_END;
		hs->state = MCOPY_HS_DONE;
		return 0;
	}
	default:
		return fail(hs, -MCOPY_EBADMSG);
	}
}

int mcopy_hs_input(struct mcopy_hs *hs, const uint8_t *buf, size_t len, usec_t now)
{
	size_t want, take, used = 0;
	int r;

	if (!hs || (!buf && len))
		return -EINVAL;
	if (hs->state == MCOPY_HS_FAILED)
		return hs->error;
	r = mcopy_hs_tick(hs, now);
	if (r < 0)
		return r;
	while (used < len) {
		want = expected_len(hs);
		if (want == 0)
			break; /* not expecting anything: leave the bytes to the caller */
		/* the header first, so that a bad length is refused before we wait for more */
		take = (hs->in_len < MCOPY_HDR_LEN ? MCOPY_HDR_LEN : want) - hs->in_len;
		if (take > len - used)
			take = len - used;
		memcpy(hs->in + hs->in_len, buf + used, take);
		hs->in_len += take;
		used += take;
		if (hs->in_len == MCOPY_HDR_LEN) {
			if (get_u32(hs->in) != MCOPY_MAGIC || hs->in[4] != MCOPY_VERSION ||
			    hs->in[5] != expected_type(hs) || get_u16(hs->in + 6) != want)
				return fail(hs, -MCOPY_EBADMSG);
		}
		if (hs->in_len < want)
			continue;
		hs->in_len = 0;
		r = hs_process(hs);
		if (r < 0)
			return r;
	}
	return (int)used;
}

int mcopy_hs_tick(struct mcopy_hs *hs, usec_t now)
{
	if (!hs)
		return -EINVAL;
	if (hs->state == MCOPY_HS_FAILED)
		return hs->error;
	if (hs->state != MCOPY_HS_DONE && now >= hs->deadline)
		return fail(hs, -MCOPY_ETIMEDOUT);
	return 0;
}

usec_t mcopy_hs_deadline(const struct mcopy_hs *hs)
{
	if (!hs || hs->state == MCOPY_HS_DONE || hs->state == MCOPY_HS_FAILED)
		return USEC_INFINITY;
	return hs->deadline;
}

int mcopy_hs_decide(struct mcopy_hs *hs, uint32_t status)
{
	uint8_t *b;

	if (!hs || hs->role != MCOPY_SERVER || hs->step != STEP_DECIDE)
		return -EINVAL;
	b = hs->out + MCOPY_HDR_LEN;
	put_hdr(hs->out, MCOPY_MSG_RESULT, MCOPY_RESULT_LEN);
	put_u32(b, status);
	if (!hs_mac(hs, "mcopy1 server", b, b + 4))
		return fail(hs, -EIO);
	queue(hs, MCOPY_RESULT_LEN);
	hs->status = status;
	hs->step = STEP_FINISHING;
	hs->state = MCOPY_HS_RUNNING;
	return 0;
}

enum mcopy_hs_state mcopy_hs_state(const struct mcopy_hs *hs)
{
	return hs ? hs->state : MCOPY_HS_FAILED;
}

int mcopy_hs_error(const struct mcopy_hs *hs)
{
	return hs ? hs->error : -EINVAL;
}

uint32_t mcopy_hs_status(const struct mcopy_hs *hs)
{
	return hs ? hs->status : MCOPY_ST_BUSY;
}

int mcopy_hs_hello(const struct mcopy_hs *hs, struct mcopy_hello *ret_hello)
{
	if (!hs || !ret_hello)
		return -EINVAL;
	if (hs->role == MCOPY_SERVER && (hs->step == STEP_WAIT_HELLO || hs->step == STEP_WAIT_AUTH))
		return -EAGAIN;
	*ret_hello = hs->hello;
	return 0;
}

/* Known type, and a length its type allows. */
static bool frame_ok(const struct mcopy_frame *f)
{
	switch (f->type) {
	case MCOPY_FRAME_DATA:
		return f->len > 0 && f->len <= MCOPY_FRAME_MAX;
	case MCOPY_FRAME_BACK:
		return f->len > 0 && f->len <= MCOPY_BACK_MAX;
	case MCOPY_FRAME_RDMA_OFFER:
		return f->len == MCOPY_RDMA_OFFER_LEN;
	case MCOPY_FRAME_END:
	case MCOPY_FRAME_DONE:
	case MCOPY_FRAME_ABORT:
		return f->len == 0;
	default:
		return false;
	}
}

int mcopy_frame_encode(const struct mcopy_frame *f, uint8_t *buf, size_t buflen)
{
	if (!f || !buf || buflen < MCOPY_FRAME_HDR_LEN)
		return -EINVAL;
	if (!frame_ok(f))
		return -EINVAL;
	buf[0] = f->type;
	buf[1] = 0;
	put_u16(buf + 2, 0);
	put_u32(buf + 4, f->len);
	put_u64(buf + 8, f->seq);
	return MCOPY_FRAME_HDR_LEN;
}

int mcopy_frame_decode(const uint8_t *buf, size_t len, struct mcopy_frame *ret_f)
{
	struct mcopy_frame f;

	if (!buf || !ret_f)
		return -EINVAL;
	if (len != MCOPY_FRAME_HDR_LEN || buf[1] != 0 || get_u16(buf + 2) != 0)
		return -MCOPY_EBADFRAME;
	f.type = buf[0];
	f.len = get_u32(buf + 4);
	f.seq = get_u64(buf + 8);
	if (!frame_ok(&f))
		return -MCOPY_EBADFRAME;
	*ret_f = f;
	return 0;
}

int mcopy_hello_peek(const uint8_t *buf, size_t len, uint64_t *ret_id)
{
	if (!buf || !ret_id)
		return -EINVAL;
	if (len < MCOPY_HDR_LEN)
		return -EAGAIN;
	if (get_u32(buf) != MCOPY_MAGIC || buf[4] != MCOPY_VERSION || buf[5] != MCOPY_MSG_HELLO ||
	    get_u16(buf + 6) != MCOPY_HELLO_LEN)
		return -MCOPY_EBADMSG;
	if (len < MCOPY_HELLO_LEN)
		return -EAGAIN;
	*ret_id = get_u64(buf + MCOPY_HDR_LEN);
	return 0;
}

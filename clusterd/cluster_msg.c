/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd/cluster_msg.c: encoder and total decoder of the CPG messages (see
 * cluster_msg.h for the layout). Every length and range is checked before a
 * field is trusted. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clusterd/cluster_msg.h"
#include "common/bytes.h"
#include "heartbeat/hb_monitor.h"

/* The common header of every message (length already checked by the caller). */
static void put_header(uint8_t *buf, uint8_t type, size_t len, uint32_t sender)
{
	put_u32(buf, CLM_MAGIC);
	buf[4] = CLM_VERSION;
	buf[5] = type;
	put_u32(buf + 8, (uint32_t)len);
	put_u32(buf + 12, sender);
}

void clm_put_header(uint8_t *buf, uint8_t type, size_t len, uint32_t sender)
{
	memset(buf + 6, 0, 2); /* flags */
	put_header(buf, type, len, sender);
}

static size_t view_len(uint16_t count)
{
	return CLM_HEADER_LEN + CLM_VIEW_HEADER_LEN + (size_t)count * CLM_VIEW_ENTRY_LEN;
}

int clm_encode_link_view(const struct clm_link_view *v, uint8_t *buf, size_t cap)
{
	size_t len;
	uint8_t *p;

	if (!v || !buf || v->sender == 0 || v->count > CLM_MAX_VIEW_ENTRIES)
		return -EINVAL;
	len = view_len(v->count);
	if (cap < len)
		return -EMSGSIZE;
	memset(buf, 0, len);
	put_header(buf, CLM_LINK_VIEW, len, v->sender);
	put_u32(buf + 16, v->generation);
	put_u16(buf + 20, v->count);
	p = buf + CLM_HEADER_LEN + CLM_VIEW_HEADER_LEN;
	for (uint16_t i = 0; i < v->count; i++, p += CLM_VIEW_ENTRY_LEN) {
		const struct clm_view_entry *e = &v->entries[i];
		put_u32(p, e->peer);
		p[4] = e->link;
		p[5] = e->state;
		p[6] = e->cls;
		p[7] = (uint8_t)(e->health | (e->rising ? CLM_PEER_RISING : 0));
		put_u32(p + 8, (uint32_t)e->rtt_us);
		put_u16(p + 12, e->loss_permille);
	}
	return (int)len;
}

int clm_peek(const uint8_t *buf, size_t len, uint8_t *ret_type, uint32_t *ret_sender)
{
	if (!buf || len < CLM_HEADER_LEN || get_u32(buf) != CLM_MAGIC)
		return -EBADMSG;
	if (buf[4] != CLM_VERSION)
		return -EPROTONOSUPPORT;
	if (get_u16(buf + 6) != 0 || get_u32(buf + 8) != len || get_u32(buf + 12) == 0)
		return -EBADMSG;
	if (ret_type)
		*ret_type = buf[5];
	if (ret_sender)
		*ret_sender = get_u32(buf + 12);
	return 0;
}

int clm_decode_link_view(const uint8_t *buf, size_t len, struct clm_link_view *ret)
{
	struct clm_link_view v;
	const uint8_t *p;
	uint8_t type;
	int r;

	r = clm_peek(buf, len, &type, &v.sender);
	if (r < 0)
		return r;
	if (type != CLM_LINK_VIEW || len < CLM_HEADER_LEN + CLM_VIEW_HEADER_LEN)
		return -EBADMSG;
	v.generation = get_u32(buf + 16);
	v.count = get_u16(buf + 20);
	if (get_u16(buf + 22) != 0 || v.count > CLM_MAX_VIEW_ENTRIES || view_len(v.count) != len)
		return -EBADMSG;
	p = buf + CLM_HEADER_LEN + CLM_VIEW_HEADER_LEN;
	for (uint16_t i = 0; i < v.count; i++, p += CLM_VIEW_ENTRY_LEN) {
		struct clm_view_entry *e = &v.entries[i];

		e->peer = get_u32(p);
		e->link = p[4];
		e->state = p[5];
		e->cls = p[6];
		e->health = p[7] & 0x07;
		e->rising = (p[7] & CLM_PEER_RISING) != 0;
		e->rtt_us = (int32_t)get_u32(p + 8);
		e->loss_permille = get_u16(p + 12);
		if (e->peer == 0 || e->state > HB_LINK_DOWN || e->cls > HB_CLASS_CROSS_SUBNET ||
		    e->health > HB_NODE_DOWN || (p[7] & ~(0x07 | CLM_PEER_RISING)) != 0 || e->rtt_us < -1 ||
		    e->loss_permille > 1000 || get_u16(p + 14) != 0)
			return -EBADMSG;
	}
	*ret = v;
	return 0;
}

static size_t inv_len(uint16_t count)
{
	return CLM_HEADER_LEN + CLM_INV_HEADER_LEN + (size_t)count * CLM_INV_ENTRY_LEN;
}

/* a C string of at most max-1 bytes, NUL-padded to max */
static bool field_ok(const uint8_t *p, size_t max)
{
	size_t n = strnlen((const char *)p, max);

	if (n == 0 || n == max)
		return false;
	for (size_t i = n; i < max; i++)
		if (p[i] != 0)
			return false;
	return true;
}

int clm_encode_inventory(const struct clm_inventory *v, uint8_t *buf, size_t cap)
{
	size_t len;
	uint8_t *p;

	if (!v || !buf || v->sender == 0 || v->count > CLM_MAX_INV_ENTRIES)
		return -EINVAL;
	for (uint16_t i = 0; i < v->count; i++)
		if (!field_ok((const uint8_t *)v->vms[i].name, CLM_VM_NAME_MAX) ||
		    strnlen(v->vms[i].uuid, CLM_VM_UUID_LEN) != CLM_VM_UUID_LEN - 1 ||
		    v->vms[i].state > CLM_VM_CRASHED)
			return -EINVAL;
	len = inv_len(v->count);
	if (cap < len)
		return -EMSGSIZE;
	memset(buf, 0, len);
	put_header(buf, CLM_INVENTORY, len, v->sender);
	put_u32(buf + 16, v->generation);
	put_u16(buf + 20, v->count);
	buf[22] = v->libvirt_up ? CLM_INV_LIBVIRT_UP : 0;
	put_u64(buf + 24, v->host_free_kib);
	put_u32(buf + 32, v->host_cpus);
	p = buf + CLM_HEADER_LEN + CLM_INV_HEADER_LEN;
	for (uint16_t i = 0; i < v->count; i++, p += CLM_INV_ENTRY_LEN) {
		const struct clm_vm *m = &v->vms[i];
		memcpy(p, m->name, strnlen(m->name, CLM_VM_NAME_MAX));
		memcpy(p + 64, m->uuid, CLM_VM_UUID_LEN - 1);
		p[101] = m->state;
		p[102] = m->persistent ? CLM_VM_PERSISTENT : 0;
		put_u32(p + 108, m->vcpus);
		put_u64(p + 112, m->mem_kib);
	}
	return (int)len;
}

int clm_decode_inventory(const uint8_t *buf, size_t len, struct clm_inventory *ret)
{
	struct clm_inventory *v;
	const uint8_t *p;
	uint8_t type;
	int r;

	if (!ret)
		return -EINVAL;
	v = malloc(sizeof(*v));
	if (!v)
		return -ENOMEM;
	r = clm_peek(buf, len, &type, &v->sender);
	if (r < 0)
		goto out;
	r = -EBADMSG;
	if (type != CLM_INVENTORY || len < CLM_HEADER_LEN + CLM_INV_HEADER_LEN)
		goto out;
	v->generation = get_u32(buf + 16);
	v->count = get_u16(buf + 20);
	if ((buf[22] & ~CLM_INV_LIBVIRT_UP) != 0 || buf[23] != 0 || get_u32(buf + 36) != 0 ||
	    v->count > CLM_MAX_INV_ENTRIES || inv_len(v->count) != len)
		goto out;
	v->libvirt_up = buf[22] & CLM_INV_LIBVIRT_UP;
	v->host_free_kib = get_u64(buf + 24);
	v->host_cpus = get_u32(buf + 32);
	p = buf + CLM_HEADER_LEN + CLM_INV_HEADER_LEN;
	for (uint16_t i = 0; i < v->count; i++, p += CLM_INV_ENTRY_LEN) {
		struct clm_vm *m = &v->vms[i];

		if (!field_ok(p, CLM_VM_NAME_MAX) ||
		    strnlen((const char *)p + 64, CLM_VM_UUID_LEN) != CLM_VM_UUID_LEN - 1 ||
		    p[101] > CLM_VM_CRASHED || (p[102] & ~CLM_VM_PERSISTENT) != 0 || p[103] || p[104] ||
		    p[105] || p[106] || p[107] || get_u32(p + 120) != 0)
			goto out;
		memcpy(m->name, p, CLM_VM_NAME_MAX);
		memcpy(m->uuid, p + 64, CLM_VM_UUID_LEN);
		m->state = p[101];
		m->persistent = p[102] & CLM_VM_PERSISTENT;
		m->vcpus = get_u32(p + 108);
		m->mem_kib = get_u64(p + 112);
	}
	memcpy(ret, v, sizeof(*v));
	r = 0;
out:
	free(v);
	return r;
}

static bool zeros(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

int clm_encode_migrate(const struct clm_migrate *m, uint8_t *buf, size_t cap)
{
	uint8_t *p = buf + CLM_HEADER_LEN;

	if (!m || !buf || !m->sender || !m->id || !m->source || !m->target || m->source == m->target ||
	    m->kind > CLM_KIND_START || !field_ok((const uint8_t *)m->name, CLM_VM_NAME_MAX) ||
	    strnlen(m->uuid, CLM_VM_UUID_LEN) != CLM_VM_UUID_LEN - 1)
		return -EINVAL;
	if (cap < CLM_MIGRATE_LEN)
		return -EMSGSIZE;
	memset(buf, 0, CLM_MIGRATE_LEN);
	put_header(buf, CLM_MIGRATE, CLM_MIGRATE_LEN, m->sender);
	put_u64(p, m->id);
	put_u32(p + 8, m->source);
	put_u32(p + 12, m->target);
	memcpy(p + 16, m->uuid, CLM_VM_UUID_LEN - 1);
	memcpy(p + 53, m->name, strnlen(m->name, CLM_VM_NAME_MAX));
	p[117] = m->kind;
	put_u64(p + 124, m->drain);
	return CLM_MIGRATE_LEN;
}

int clm_decode_migrate(const uint8_t *buf, size_t len, struct clm_migrate *ret)
{
	struct clm_migrate m = {0};
	const uint8_t *p = buf + CLM_HEADER_LEN;
	uint8_t type;
	int r = clm_peek(buf, len, &type, &m.sender);

	if (r < 0)
		return r;
	if (type != CLM_MIGRATE || len != CLM_MIGRATE_LEN)
		return -EBADMSG;
	m.id = get_u64(p);
	m.source = get_u32(p + 8);
	m.target = get_u32(p + 12);
	if (!m.id || !m.source || !m.target || m.source == m.target ||
	    strnlen((const char *)p + 16, CLM_VM_UUID_LEN) != CLM_VM_UUID_LEN - 1 ||
	    !field_ok(p + 53, CLM_VM_NAME_MAX) || p[117] > CLM_KIND_START || !zeros(p + 118, 6))
		return -EBADMSG;
	memcpy(m.uuid, p + 16, CLM_VM_UUID_LEN);
	memcpy(m.name, p + 53, CLM_VM_NAME_MAX);
	m.kind = p[117];
	m.drain = get_u64(p + 124);
	*ret = m;
	return 0;
}

int clm_encode_mig_report(const struct clm_mig_report *m, uint8_t *buf, size_t cap)
{
	uint8_t *p = buf + CLM_HEADER_LEN;

	if (!m || !buf || !m->sender || !m->id || m->state > CLM_MIG_FAILED ||
	    strnlen(m->reason, CLM_REASON_MAX) == CLM_REASON_MAX)
		return -EINVAL;
	if (cap < CLM_MIG_STATE_LEN)
		return -EMSGSIZE;
	memset(buf, 0, CLM_MIG_STATE_LEN);
	put_header(buf, CLM_MIG_STATE, CLM_MIG_STATE_LEN, m->sender);
	put_u64(p, m->id);
	p[8] = m->state;
	put_u64(p + 16, m->processed);
	put_u64(p + 24, m->remaining);
	put_u64(p + 32, m->total);
	memcpy(p + 40, m->reason, strnlen(m->reason, CLM_REASON_MAX));
	put_u64(p + 208, m->dirty_rate);
	put_u32(p + 216, m->iteration);
	put_u32(p + 220, (uint32_t)m->eta_s);
	return CLM_MIG_STATE_LEN;
}

int clm_decode_mig_report(const uint8_t *buf, size_t len, struct clm_mig_report *ret)
{
	struct clm_mig_report m = {0};
	const uint8_t *p = buf + CLM_HEADER_LEN;
	uint8_t type;
	size_t rl;
	int r = clm_peek(buf, len, &type, &m.sender);

	if (r < 0)
		return r;
	if (type != CLM_MIG_STATE || len != CLM_MIG_STATE_LEN)
		return -EBADMSG;
	m.id = get_u64(p);
	m.state = p[8];
	rl = strnlen((const char *)p + 40, CLM_REASON_MAX);
	if (!m.id || m.state > CLM_MIG_FAILED || !zeros(p + 9, 7) || rl == CLM_REASON_MAX ||
	    !zeros(p + 40 + rl, CLM_REASON_MAX - rl))
		return -EBADMSG;
	m.processed = get_u64(p + 16);
	m.remaining = get_u64(p + 24);
	m.total = get_u64(p + 32);
	memcpy(m.reason, p + 40, rl);
	m.dirty_rate = get_u64(p + 208);
	m.iteration = get_u32(p + 216);
	m.eta_s = (int32_t)get_u32(p + 220);
	if (m.eta_s < -1)
		return -EBADMSG;
	*ret = m;
	return 0;
}

static bool mig_copy_valid(const struct clm_mig_copy *m)
{
	return m->id && m->backend <= CLM_COPY_RDMA && m->links >= 1 && m->links <= CLM_COPY_LINKS_MAX &&
	       m->streams >= 1 && m->channels >= 1 && m->up <= m->channels &&
	       !(m->flags & ~CLM_COPY_FLAGS_ALL) && (m->flags & CLM_COPY_FLAGS_ALL) != CLM_COPY_FLAGS_ALL;
}

int clm_encode_mig_copy(const struct clm_mig_copy *m, uint8_t *buf, size_t cap)
{
	uint8_t *p = buf + CLM_HEADER_LEN;

	if (!m || !buf || !m->sender || !mig_copy_valid(m))
		return -EINVAL;
	if (cap < CLM_MIG_COPY_LEN)
		return -EMSGSIZE;
	memset(buf, 0, CLM_MIG_COPY_LEN);
	put_header(buf, CLM_MIG_COPY, CLM_MIG_COPY_LEN, m->sender);
	put_u64(p, m->id);
	put_u64(p + 8, m->bytes);
	put_u64(p + 16, m->copy_us);
	put_u16(p + 24, m->channels);
	put_u16(p + 26, m->up);
	p[28] = m->backend;
	p[29] = m->links;
	p[30] = m->streams;
	p[31] = m->flags;
	return CLM_MIG_COPY_LEN;
}

int clm_decode_mig_copy(const uint8_t *buf, size_t len, struct clm_mig_copy *ret)
{
	struct clm_mig_copy m = {0};
	const uint8_t *p = buf + CLM_HEADER_LEN;
	uint8_t type;
	int r = clm_peek(buf, len, &type, &m.sender);

	if (r < 0)
		return r;
	if (type != CLM_MIG_COPY || len != CLM_MIG_COPY_LEN || !zeros(p + 32, 8))
		return -EBADMSG;
	m.id = get_u64(p);
	m.bytes = get_u64(p + 8);
	m.copy_us = get_u64(p + 16);
	m.channels = get_u16(p + 24);
	m.up = get_u16(p + 26);
	m.backend = p[28];
	m.links = p[29];
	m.streams = p[30];
	m.flags = p[31];
	if (!mig_copy_valid(&m))
		return -EBADMSG;
	*ret = m;
	return 0;
}

const char *clm_copy_backend_name(uint8_t b)
{
	static const char *const names[] = {"direct", "tcp unframed", "tcp framed", "rdma"};

	return b < sizeof(names) / sizeof(names[0]) ? names[b] : "?";
}

int clm_encode_admin(const struct clm_admin_msg *m, uint8_t *buf, size_t cap)
{
	uint8_t *p = buf + CLM_HEADER_LEN;

	if (!m || !buf || !m->sender || !m->node || m->state > CLM_ADMIN_QUARANTINED || !m->version ||
	    (m->flags & ~CLM_ADM_FLAGS_ALL) || strnlen(m->reason, CLM_REASON_MAX) == CLM_REASON_MAX)
		return -EINVAL;
	if (cap < CLM_ADMIN_LEN)
		return -EMSGSIZE;
	memset(buf, 0, CLM_ADMIN_LEN);
	put_header(buf, CLM_ADMIN, CLM_ADMIN_LEN, m->sender);
	put_u32(p, m->node);
	p[4] = m->state;
	p[5] = m->flags;
	put_u64(p + 8, m->version);
	put_u64(p + 16, m->if_version);
	put_u64(p + 24, m->drain);
	memcpy(p + 40, m->reason, strnlen(m->reason, CLM_REASON_MAX));
	return CLM_ADMIN_LEN;
}

int clm_decode_admin(const uint8_t *buf, size_t len, struct clm_admin_msg *ret)
{
	struct clm_admin_msg m = {0};
	const uint8_t *p = buf + CLM_HEADER_LEN;
	uint8_t type;
	size_t rl;
	int r = clm_peek(buf, len, &type, &m.sender);

	if (r < 0)
		return r;
	if (type != CLM_ADMIN || len != CLM_ADMIN_LEN)
		return -EBADMSG;
	m.node = get_u32(p);
	m.state = p[4];
	m.flags = p[5];
	m.version = get_u64(p + 8);
	m.if_version = get_u64(p + 16);
	m.drain = get_u64(p + 24);
	rl = strnlen((const char *)p + 40, CLM_REASON_MAX);
	if (!m.node || m.state > CLM_ADMIN_QUARANTINED || (m.flags & ~CLM_ADM_FLAGS_ALL) || !m.version ||
	    !zeros(p + 6, 2) || !zeros(p + 32, 8) || rl == CLM_REASON_MAX ||
	    !zeros(p + 40 + rl, CLM_REASON_MAX - rl))
		return -EBADMSG;
	memcpy(m.reason, p + 40, rl);
	*ret = m;
	return 0;
}

int clm_encode_fence(const struct clm_fence_msg *m, uint8_t *buf, size_t cap)
{
	uint8_t *p = buf + CLM_HEADER_LEN;

	if (!m || !buf || !m->sender || !m->node || m->state > CLM_FENCE_FENCED ||
	    m->how > CLM_FENCED_ADMIN || (m->state == CLM_FENCE_FENCED) != (m->how != CLM_FENCED_NOT) ||
	    !m->version || strnlen(m->reason, CLM_REASON_MAX) == CLM_REASON_MAX)
		return -EINVAL;
	if (cap < CLM_FENCE_LEN)
		return -EMSGSIZE;
	memset(buf, 0, CLM_FENCE_LEN);
	put_header(buf, CLM_FENCE, CLM_FENCE_LEN, m->sender);
	put_u32(p, m->node);
	p[4] = m->state;
	p[5] = m->how;
	put_u64(p + 8, m->version);
	memcpy(p + 16, m->reason, strnlen(m->reason, CLM_REASON_MAX));
	return CLM_FENCE_LEN;
}

int clm_decode_fence(const uint8_t *buf, size_t len, struct clm_fence_msg *ret)
{
	struct clm_fence_msg m = {0};
	const uint8_t *p = buf + CLM_HEADER_LEN;
	uint8_t type;
	size_t rl;
	int r = clm_peek(buf, len, &type, &m.sender);

	if (r < 0)
		return r;
	if (type != CLM_FENCE || len != CLM_FENCE_LEN)
		return -EBADMSG;
	m.node = get_u32(p);
	m.state = p[4];
	m.how = p[5];
	m.version = get_u64(p + 8);
	rl = strnlen((const char *)p + 16, CLM_REASON_MAX);
	if (!m.node || m.state > CLM_FENCE_FENCED || m.how > CLM_FENCED_ADMIN ||
	    (m.state == CLM_FENCE_FENCED) != (m.how != CLM_FENCED_NOT) || !m.version || !zeros(p + 6, 2) ||
	    rl == CLM_REASON_MAX || !zeros(p + 16 + rl, CLM_REASON_MAX - rl))
		return -EBADMSG;
	memcpy(m.reason, p + 16, rl);
	*ret = m;
	return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd/ha.c: the HA VM registry (see ha.h) — its CPG message codec, the
 * last-writer-wins table, and its JSON file. Does not log; touches files
 * only in ha_registry_save and ha_registry_load. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clusterd/cluster_msg.h"
#include "clusterd/ha.h"
#include "common/bytes.h"

/* offsets from the start of the message (see ha.h) */
#define OFF_VERSION   (CLM_HEADER_LEN + 0)
#define OFF_OP        (CLM_HEADER_LEN + 8)
#define OFF_RESERVED  (CLM_HEADER_LEN + 9)
#define OFF_UUID      (CLM_HEADER_LEN + 11)
#define OFF_NAME      (CLM_HEADER_LEN + 48)
#define OFF_PRIORITY  (CLM_HEADER_LEN + 112)
#define OFF_PREFERRED (CLM_HEADER_LEN + 116)
#define OFF_FORBIDDEN (CLM_HEADER_LEN + 148)
#define OFF_XML_LEN   (CLM_HEADER_LEN + 180)
_Static_assert(OFF_XML_LEN + 4 == HA_MSG_FIXED_LEN, "the fixed part of an HA message is 200 bytes");

struct entry {
	struct ha_vm vm;
	bool removed; /* a tombstone: only uuid, name and version matter */
};

struct ha_registry {
	struct entry *v; /* live entries first, in list order; then tombstones by uuid */
	size_t n, cap;
	size_t n_live;
};

bool ha_uuid_valid(const char *uuid)
{
	if (!uuid)
		return false;
	/* stops at the first bad character, so never reads past a NUL */
	for (int i = 0; i < HA_UUID_LEN - 1; i++) {
		char c = uuid[i];

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return false;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
			return false;
		}
	}
	return uuid[HA_UUID_LEN - 1] == '\0';
}

/* node ids, 0-terminated unless full, zeros after the end, no id twice */
static bool nodes_ok(const uint32_t *l)
{
	size_t n = 0;

	while (n < HA_NODES_MAX && l[n])
		n++;
	for (size_t i = n; i < HA_NODES_MAX; i++)
		if (l[i])
			return false;
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (l[i] == l[j])
				return false;
	return true;
}

static bool nodes_disjoint(const uint32_t *a, const uint32_t *b)
{
	for (size_t i = 0; i < HA_NODES_MAX && a[i]; i++)
		for (size_t j = 0; j < HA_NODES_MAX && b[j]; j++)
			if (a[i] == b[j])
				return false;
	return true;
}

/* strlen of the XML, capped at HA_XML_MAX + 1 (too long either way) */
static size_t xml_len(const struct ha_vm *vm)
{
	return vm->xml ? strnlen(vm->xml, HA_XML_MAX + 1) : 0;
}

/* The rules of ha.h, shared by the encoder, the decoder, apply and load. */
static bool msg_ok(uint8_t op, const struct ha_vm *vm, size_t xl)
{
	size_t nl = strnlen(vm->name, HA_NAME_MAX);

	if (vm->version == 0 || !ha_uuid_valid(vm->uuid) || nl == 0 || nl == HA_NAME_MAX ||
	    !nodes_ok(vm->preferred) || !nodes_ok(vm->forbidden) ||
	    !nodes_disjoint(vm->preferred, vm->forbidden))
		return false;
	if (op == HA_OP_SET)
		return xl >= 1 && xl <= HA_XML_MAX;
	if (op == HA_OP_REMOVE)
		return xl == 0 && vm->priority == 0 && !vm->preferred[0] && !vm->forbidden[0];
	return false;
}

/* a C string of 1 to max-1 bytes, NUL-padded to max */
static bool field_ok(const uint8_t *p, size_t max)
{
	size_t n = strnlen((const char *)p, max);

	if (n == 0 || n == max)
		return false;
	for (size_t i = n; i < max; i++)
		if (p[i])
			return false;
	return true;
}

size_t ha_msg_len(const struct ha_msg *m)
{
	return HA_MSG_FIXED_LEN + (m ? xml_len(&m->vm) : 0);
}

int ha_msg_encode(const struct ha_msg *m, uint8_t *buf, size_t cap)
{
	size_t xl, len;

	if (!m || !buf || !m->sender)
		return -EINVAL;
	xl = xml_len(&m->vm);
	if (!msg_ok(m->op, &m->vm, xl))
		return -EINVAL;
	len = HA_MSG_FIXED_LEN + xl;
	if (cap < len)
		return -EMSGSIZE;
	memset(buf, 0, HA_MSG_FIXED_LEN);
	clm_put_header(buf, HA_MSG_TYPE, len, m->sender);
	put_u64(buf + OFF_VERSION, m->vm.version);
	buf[OFF_OP] = m->op;
	memcpy(buf + OFF_UUID, m->vm.uuid, HA_UUID_LEN - 1);
	memcpy(buf + OFF_NAME, m->vm.name, strnlen(m->vm.name, HA_NAME_MAX));
	put_u32(buf + OFF_PRIORITY, (uint32_t)m->vm.priority);
	for (size_t i = 0; i < HA_NODES_MAX; i++) {
		put_u32(buf + OFF_PREFERRED + 4 * i, m->vm.preferred[i]);
		put_u32(buf + OFF_FORBIDDEN + 4 * i, m->vm.forbidden[i]);
	}
	put_u32(buf + OFF_XML_LEN, (uint32_t)xl);
	if (xl)
		memcpy(buf + HA_MSG_FIXED_LEN, m->vm.xml, xl);
	return (int)len;
}

int ha_msg_decode(const uint8_t *buf, size_t len, struct ha_msg *ret)
{
	struct ha_msg m = {0};
	uint8_t type;
	uint32_t xl;
	int r;

	if (!ret)
		return -EINVAL;
	r = clm_peek(buf, len, &type, &m.sender);
	if (r < 0)
		return r;
	if (type != HA_MSG_TYPE || len < HA_MSG_FIXED_LEN)
		return -EBADMSG;
	xl = get_u32(buf + OFF_XML_LEN);
	if (xl > HA_XML_MAX || len - HA_MSG_FIXED_LEN != xl || buf[OFF_RESERVED] || buf[OFF_RESERVED + 1] ||
	    buf[OFF_UUID + HA_UUID_LEN - 1] || !field_ok(buf + OFF_NAME, HA_NAME_MAX) ||
	    memchr(buf + HA_MSG_FIXED_LEN, 0, xl))
		return -EBADMSG;
	m.op = buf[OFF_OP];
	m.vm.version = get_u64(buf + OFF_VERSION);
	memcpy(m.vm.uuid, buf + OFF_UUID, HA_UUID_LEN);
	memcpy(m.vm.name, buf + OFF_NAME, HA_NAME_MAX);
	m.vm.priority = (int32_t)get_u32(buf + OFF_PRIORITY);
	for (size_t i = 0; i < HA_NODES_MAX; i++) {
		m.vm.preferred[i] = get_u32(buf + OFF_PREFERRED + 4 * i);
		m.vm.forbidden[i] = get_u32(buf + OFF_FORBIDDEN + 4 * i);
	}
	if (!msg_ok(m.op, &m.vm, xl))
		return -EBADMSG;
	if (xl) {
		m.vm.xml = malloc((size_t)xl + 1);
		if (!m.vm.xml)
			return -ENOMEM;
		memcpy(m.vm.xml, buf + HA_MSG_FIXED_LEN, xl);
		m.vm.xml[xl] = '\0';
	}
	*ret = m;
	return 0;
}

void ha_msg_clear(struct ha_msg *m)
{
	if (!m)
		return;
	free(m->vm.xml);
	memset(m, 0, sizeof(*m));
}

int ha_registry_new(struct ha_registry **ret_reg)
{
	struct ha_registry *reg;

	if (!ret_reg)
		return -EINVAL;
	reg = calloc(1, sizeof(*reg));
	if (!reg)
		return -ENOMEM;
	*ret_reg = reg;
	return 0;
}

void ha_registry_free(struct ha_registry *reg)
{
	if (!reg)
		return;
	for (size_t i = 0; i < reg->n; i++)
		free(reg->v[i].vm.xml);
	free(reg->v);
	free(reg);
}

static ssize_t find_entry(const struct ha_registry *reg, const char *uuid)
{
	for (size_t i = 0; i < reg->n; i++)
		if (strcmp(reg->v[i].vm.uuid, uuid) == 0)
			return (ssize_t)i;
	return -1;
}

/* list order: live first by priority (higher first), name, uuid; then
 * tombstones by uuid */
static int entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int c;

	if (x->removed != y->removed)
		return x->removed ? 1 : -1;
	if (!x->removed) {
		if (x->vm.priority != y->vm.priority)
			return x->vm.priority > y->vm.priority ? -1 : 1;
		c = strcmp(x->vm.name, y->vm.name);
		if (c)
			return c;
	}
	return strcmp(x->vm.uuid, y->vm.uuid);
}

int ha_registry_apply(struct ha_registry *reg, const struct ha_msg *m)
{
	struct entry e = {0};
	ssize_t i;
	size_t xl;

	if (!reg || !m)
		return -EINVAL;
	xl = xml_len(&m->vm);
	if (!msg_ok(m->op, &m->vm, xl))
		return -EINVAL;
	i = find_entry(reg, m->vm.uuid);
	if (i >= 0 && reg->v[i].vm.version >= m->vm.version)
		return 0;
	e.vm = m->vm;
	e.vm.xml = NULL;
	e.removed = m->op == HA_OP_REMOVE;
	if (!e.removed) {
		e.vm.xml = strndup(m->vm.xml, xl);
		if (!e.vm.xml)
			return -ENOMEM;
	}
	if (i < 0) {
		if (reg->n == reg->cap) {
			size_t cap = reg->cap ? 2 * reg->cap : 16;
			struct entry *v = realloc(reg->v, cap * sizeof(*v));

			if (!v) {
				free(e.vm.xml);
				return -ENOMEM;
			}
			reg->v = v;
			reg->cap = cap;
		}
		i = (ssize_t)reg->n++;
	} else {
		free(reg->v[i].vm.xml);
		if (!reg->v[i].removed)
			reg->n_live--;
	}
	reg->v[i] = e;
	if (!e.removed)
		reg->n_live++;
	qsort(reg->v, reg->n, sizeof(*reg->v), entry_cmp);
	return 1;
}

const struct ha_vm *ha_registry_find(const struct ha_registry *reg, const char *uuid)
{
	ssize_t i;

	if (!reg || !uuid)
		return NULL;
	i = find_entry(reg, uuid);
	return i >= 0 && !reg->v[i].removed ? &reg->v[i].vm : NULL;
}

const struct ha_vm *ha_registry_find_by_name(const struct ha_registry *reg, const char *name)
{
	if (!reg || !name)
		return NULL;
	for (size_t i = 0; i < reg->n_live; i++)
		if (strcmp(reg->v[i].vm.name, name) == 0)
			return &reg->v[i].vm;
	return NULL;
}

uint64_t ha_registry_version(const struct ha_registry *reg, const char *uuid)
{
	ssize_t i;

	if (!reg || !uuid)
		return 0;
	i = find_entry(reg, uuid);
	return i >= 0 ? reg->v[i].vm.version : 0;
}

size_t ha_registry_count(const struct ha_registry *reg)
{
	return reg ? reg->n_live : 0;
}

const struct ha_vm *ha_registry_list(const struct ha_registry *reg, size_t index)
{
	return reg && index < reg->n_live ? &reg->v[index].vm : NULL;
}

int ha_registry_entry_msg(const struct ha_registry *reg, size_t index, struct ha_msg *ret)
{
	struct ha_msg m = {0};

	if (!reg || !ret)
		return -EINVAL;
	if (index >= reg->n)
		return -ENOENT;
	m.op = reg->v[index].removed ? HA_OP_REMOVE : HA_OP_SET;
	m.vm = reg->v[index].vm;
	m.vm.xml = NULL;
	if (!reg->v[index].removed) {
		m.vm.xml = strdup(reg->v[index].vm.xml);
		if (!m.vm.xml)
			return -ENOMEM;
	}
	*ret = m;
	return 0;
}

/* ---- the file ---- */

/* Add v under key; consumes v. -ENOMEM if v is NULL or adding fails. */
static int add(struct json_object *o, const char *key, struct json_object *v)
{
	if (!v)
		return -ENOMEM;
	if (json_object_object_add(o, key, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

static struct json_object *nodes_to_json(const uint32_t *l)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; a && i < HA_NODES_MAX && l[i]; i++) {
		struct json_object *id = json_object_new_int64(l[i]);

		if (!id || json_object_array_add(a, id) < 0) {
			json_object_put(id);
			json_object_put(a);
			return NULL;
		}
	}
	return a;
}

static int entry_to_json(const struct entry *e, struct json_object **ret)
{
	struct json_object *o = json_object_new_object();
	int r;

	if (!o)
		return -ENOMEM;
	if ((r = add(o, "uuid", json_object_new_string(e->vm.uuid))) < 0 ||
	    (r = add(o, "name", json_object_new_string(e->vm.name))) < 0 ||
	    (r = add(o, "version", json_object_new_uint64(e->vm.version))) < 0)
		goto fail;
	if (e->removed)
		r = add(o, "removed", json_object_new_boolean(true));
	else if ((r = add(o, "priority", json_object_new_int(e->vm.priority))) == 0 &&
		 (r = add(o, "preferred", nodes_to_json(e->vm.preferred))) == 0 &&
		 (r = add(o, "forbidden", nodes_to_json(e->vm.forbidden))) == 0)
		r = add(o, "xml", json_object_new_string(e->vm.xml));
	if (r < 0)
		goto fail;
	*ret = o;
	return 0;
fail:
	json_object_put(o);
	return r;
}

static int registry_to_json(const struct ha_registry *reg, struct json_object **ret)
{
	struct json_object *root = json_object_new_object(), *vms;
	int r = -ENOMEM;

	if (!root)
		return -ENOMEM;
	if ((r = add(root, "format", json_object_new_string(HA_REGISTRY_FORMAT))) < 0 ||
	    (r = add(root, "version", json_object_new_int(HA_REGISTRY_VERSION))) < 0 ||
	    (r = add(root, "vms", json_object_new_array())) < 0)
		goto fail;
	vms = json_object_object_get(root, "vms");
	for (size_t i = 0; i < reg->n; i++) {
		struct json_object *o;

		r = entry_to_json(&reg->v[i], &o);
		if (r < 0)
			goto fail;
		if (json_object_array_add(vms, o) < 0) {
			json_object_put(o);
			r = -ENOMEM;
			goto fail;
		}
	}
	*ret = root;
	return 0;
fail:
	json_object_put(root);
	return r;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int ha_registry_save(const struct ha_registry *reg, const char *dir)
{
	struct json_object *root = NULL;
	const char *text;
	bool tmp_made = false;
	int dfd = -1, fd = -1, r;

	if (!reg || !dir)
		return -EINVAL;
	r = registry_to_json(reg, &root);
	if (r < 0)
		goto out;
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	r = -ENOMEM;
	if (!text)
		goto out;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		goto fail_errno;
	/* a stray temporary file is an earlier save cut short: start afresh,
	 * whatever it is (even a symlink: O_EXCL never follows one) */
	if (unlinkat(dfd, HA_REGISTRY_TMP, 0) < 0 && errno != ENOENT)
		goto fail_errno;
	fd = openat(dfd, HA_REGISTRY_TMP, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		goto fail_errno;
	tmp_made = true;
	if ((r = write_all(fd, text, strlen(text))) < 0 || (r = write_all(fd, "\n", 1)) < 0)
		goto out;
	if (fsync(fd) < 0)
		goto fail_errno;
	r = close(fd);
	fd = -1;
	if (r < 0)
		goto fail_errno;
	if (renameat(dfd, HA_REGISTRY_TMP, dfd, HA_REGISTRY_FILE) < 0)
		goto fail_errno;
	tmp_made = false;
	/* the rename itself is durable only once the directory is */
	r = fsync(dfd) < 0 ? -errno : 0;
	goto out;
fail_errno:
	r = -errno;
out:
	if (fd >= 0)
		close(fd);
	if (tmp_made)
		unlinkat(dfd, HA_REGISTRY_TMP, 0);
	if (dfd >= 0)
		close(dfd);
	json_object_put(root);
	return r;
}

static bool key_in(const char *key, const char *const *keys)
{
	for (; *keys; keys++)
		if (strcmp(key, *keys) == 0)
			return true;
	return false;
}

static bool only_keys(struct json_object *o, const char *const *keys)
{
	json_object_object_foreach(o, key, val)
	{
		(void)val;
		if (!key_in(key, keys))
			return false;
	}
	return true;
}

static bool json_u64(struct json_object *o, uint64_t *ret)
{
	/* get_int64 is INT64_MAX for a uint64 above it, negative for a negative */
	if (!json_object_is_type(o, json_type_int) || json_object_get_int64(o) < 0)
		return false;
	*ret = json_object_get_uint64(o);
	return true;
}

/* A string of 1 to size-1 bytes without a NUL, copied into dst[size] */
static bool json_str(struct json_object *o, char *dst, size_t size)
{
	size_t n;

	if (!json_object_is_type(o, json_type_string))
		return false;
	n = (size_t)json_object_get_string_len(o);
	if (n == 0 || n >= size || strlen(json_object_get_string(o)) != n)
		return false;
	memcpy(dst, json_object_get_string(o), n + 1);
	return true;
}

static bool json_nodes(struct json_object *a, uint32_t *l)
{
	size_t n;

	if (!json_object_is_type(a, json_type_array))
		return false;
	n = json_object_array_length(a);
	if (n > HA_NODES_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		uint64_t id;

		if (!json_u64(json_object_array_get_idx(a, i), &id) || id == 0 || id > UINT32_MAX)
			return false;
		l[i] = (uint32_t)id;
	}
	return true;
}

/* One element of "vms" into *m (m->vm.xml malloc'd for a SET): 0, -EBADMSG,
 * -ENOMEM; *m holds nothing to free on failure. */
static int entry_from_json(struct json_object *o, struct ha_msg *m)
{
	static const char *const live_keys[] = {"uuid",      "name",      "version", "priority",
						"preferred", "forbidden", "xml",     NULL};
	static const char *const dead_keys[] = {"uuid", "name", "version", "removed", NULL};
	struct json_object *removed, *prio, *xml = NULL;
	size_t xl = 0;
	int64_t p;

	memset(m, 0, sizeof(*m));
	if (!json_object_is_type(o, json_type_object))
		return -EBADMSG;
	m->op = HA_OP_SET;
	if (json_object_object_get_ex(o, "removed", &removed)) {
		if (!json_object_is_type(removed, json_type_boolean) || !json_object_get_boolean(removed))
			return -EBADMSG;
		m->op = HA_OP_REMOVE;
	}
	if (!only_keys(o, m->op == HA_OP_SET ? live_keys : dead_keys) ||
	    !json_str(json_object_object_get(o, "uuid"), m->vm.uuid, sizeof(m->vm.uuid)) ||
	    !json_str(json_object_object_get(o, "name"), m->vm.name, sizeof(m->vm.name)) ||
	    !json_u64(json_object_object_get(o, "version"), &m->vm.version))
		return -EBADMSG;
	if (m->op == HA_OP_SET) {
		prio = json_object_object_get(o, "priority");
		xml = json_object_object_get(o, "xml");
		if (!json_object_is_type(prio, json_type_int) || !json_object_is_type(xml, json_type_string))
			return -EBADMSG;
		p = json_object_get_int64(prio);
		xl = (size_t)json_object_get_string_len(xml);
		if (p < INT32_MIN || p > INT32_MAX || xl == 0 || xl > HA_XML_MAX ||
		    strlen(json_object_get_string(xml)) != xl ||
		    !json_nodes(json_object_object_get(o, "preferred"), m->vm.preferred) ||
		    !json_nodes(json_object_object_get(o, "forbidden"), m->vm.forbidden))
			return -EBADMSG;
		m->vm.priority = (int32_t)p;
	}
	if (!msg_ok(m->op, &m->vm, xl))
		return -EBADMSG;
	if (m->op == HA_OP_SET) {
		m->vm.xml = strdup(json_object_get_string(xml));
		if (!m->vm.xml)
			return -ENOMEM;
	}
	return 0;
}

/* Parse a registry file's text into the empty registry out: 0, -EBADMSG, -ENOMEM. */
static int registry_from_text(const char *text, size_t len, struct ha_registry *out)
{
	static const char *const root_keys[] = {"format", "version", "vms", NULL};
	struct json_tokener *tok;
	struct json_object *root = NULL, *format, *version, *vms;
	size_t end;
	int r = -EBADMSG;

	if (len > INT_MAX)
		return -EBADMSG;
	tok = json_tokener_new();
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT); /* no comments, no single quotes */
	root = json_tokener_parse_ex(tok, text, (int)len);
	if (!root || json_tokener_get_error(tok) != json_tokener_success)
		goto out;
	/* nothing but white space after the document */
	for (end = json_tokener_get_parse_end(tok); end < len; end++)
		if (text[end] != ' ' && text[end] != '\t' && text[end] != '\r' && text[end] != '\n')
			goto out;
	if (!json_object_is_type(root, json_type_object) || !only_keys(root, root_keys) ||
	    !json_object_object_get_ex(root, "format", &format) ||
	    !json_object_object_get_ex(root, "version", &version) ||
	    !json_object_object_get_ex(root, "vms", &vms) || !json_object_is_type(format, json_type_string) ||
	    strcmp(json_object_get_string(format), HA_REGISTRY_FORMAT) != 0 ||
	    !json_object_is_type(version, json_type_int) ||
	    json_object_get_int64(version) != HA_REGISTRY_VERSION ||
	    !json_object_is_type(vms, json_type_array))
		goto out;
	for (size_t i = 0; i < json_object_array_length(vms); i++) {
		struct ha_msg m;

		r = entry_from_json(json_object_array_get_idx(vms, i), &m);
		if (r < 0)
			goto out;
		/* a uuid twice: the file was not written by us */
		r = find_entry(out, m.vm.uuid) >= 0 ? -EBADMSG : ha_registry_apply(out, &m);
		ha_msg_clear(&m);
		if (r < 0)
			goto out;
	}
	r = 0;
out:
	json_object_put(root);
	json_tokener_free(tok);
	return r;
}

/* Read dir/HA_REGISTRY_FILE whole: 0 and a malloc'd *ret_text, 1 if there is
 * no such file, -errno. */
static int read_file(const char *dir, char **ret_text, size_t *ret_len)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int dfd, fd, r = 0;

	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	fd = openat(dfd, HA_REGISTRY_FILE, O_RDONLY | O_CLOEXEC);
	r = fd < 0 ? (errno == ENOENT ? 1 : -errno) : 0;
	close(dfd);
	if (fd < 0)
		return r;
	for (;;) {
		ssize_t n;

		if (len == cap) {
			size_t ncap = cap ? 2 * cap : 64 * 1024;
			char *nbuf = realloc(buf, ncap);

			if (!nbuf) {
				r = -ENOMEM;
				break;
			}
			buf = nbuf;
			cap = ncap;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (r < 0) {
		free(buf);
		return r;
	}
	*ret_text = buf;
	*ret_len = len;
	return 0;
}

int ha_registry_load(struct ha_registry *reg, const char *dir)
{
	struct ha_registry *fresh = NULL, swap;
	char *text = NULL;
	size_t len = 0;
	int r;

	if (!reg || !dir)
		return -EINVAL;
	r = read_file(dir, &text, &len);
	if (r != 0)
		return r > 0 ? 0 : r;
	r = ha_registry_new(&fresh);
	if (r < 0)
		goto out;
	r = registry_from_text(text, len, fresh);
	if (r < 0)
		goto out;
	/* merge what reg already holds, by the same LWW rule, into the fresh
	 * copy, then swap: reg is untouched unless everything worked */
	for (size_t i = 0; i < reg->n; i++) {
		struct ha_msg m;

		r = ha_registry_entry_msg(reg, i, &m);
		if (r < 0)
			goto out;
		r = ha_registry_apply(fresh, &m);
		ha_msg_clear(&m);
		if (r < 0)
			goto out;
	}
	swap = *reg;
	*reg = *fresh;
	*fresh = swap;
	r = 0;
out:
	ha_registry_free(fresh);
	free(text);
	return r;
}

/* The text of the first <tag …>TEXT</tag> (attributes in *ret_attrs). */
static const char *xml_elem(const char *xml, const char *tag, const char **ret_attrs, size_t *ret_alen)
{
	size_t tl = strlen(tag);

	for (const char *p = xml; (p = strchr(p, '<')); p++) {
		const char *e;

		if (strncmp(p + 1, tag, tl) != 0 || (p[1 + tl] != '>' && p[1 + tl] != ' '))
			continue;
		e = strchr(p, '>');
		if (!e || e[-1] == '/')
			return NULL;
		*ret_attrs = p + 1 + tl;
		*ret_alen = (size_t)(e - (p + 1 + tl));
		return e + 1;
	}
	return NULL;
}

int ha_xml_size(const char *xml, uint64_t *ret_mem_kib, uint32_t *ret_vcpus)
{
	static const struct {
		const char *unit;
		unsigned shift; /* to bytes */
	} units[] = {{"b", 0},  {"bytes", 0}, {"KiB", 10}, {"k", 10},   {"MiB", 20},
		     {"M", 20}, {"GiB", 30},  {"G", 30},   {"TiB", 40}, {"T", 40}};
	const char *attrs, *text;
	size_t alen;
	unsigned shift = 10;
	unsigned long long v;
	char *end;

	if (!xml)
		return -EINVAL;
	text = xml_elem(xml, "memory", &attrs, &alen);
	if (!text)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		char want[32];

		snprintf(want, sizeof(want), "unit='%s'", units[i].unit);
		if (memmem(attrs, alen, want, strlen(want))) {
			shift = units[i].shift;
			break;
		}
		snprintf(want, sizeof(want), "unit=\"%s\"", units[i].unit);
		if (memmem(attrs, alen, want, strlen(want))) {
			shift = units[i].shift;
			break;
		}
	}
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || end == text || *end != '<' || v > (1ull << 50))
		return -EINVAL;
	*ret_mem_kib = shift >= 10 ? (uint64_t)v << (shift - 10) : (uint64_t)v >> 10;
	*ret_vcpus = 1;
	text = xml_elem(xml, "vcpu", &attrs, &alen);
	if (text) {
		unsigned long n = strtoul(text, &end, 10);
		if (end != text && *end == '<' && n > 0 && n < 4096)
			*ret_vcpus = (uint32_t)n;
	}
	return 0;
}

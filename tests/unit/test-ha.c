/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/unit/test-ha.c: the HA VM registry — its CPG message (round trip,
 * every malformed variant rejected), last-writer-wins with tombstones, list
 * order, re-sending the whole registry, and its file (round trip, a save cut
 * short, corrupt files, unusable directories) in a mkdtemp directory. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "clusterd/cluster_msg.h"
#include "clusterd/ha.h"
#include "common/bytes.h"

#define U1 "11111111-2222-4333-8444-555555555555"
#define U2 "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
#define U3 "01234567-89ab-4cde-8f01-23456789abcd"
#define U4 "fedcba98-7654-4321-8fed-cba987654321"

#define XML1 "<domain type='kvm'><name>web</name></domain>"

/* body offsets as ha.h documents them, from the start of the message */
#define O_VERSION   (CLM_HEADER_LEN + 0)
#define O_OP        (CLM_HEADER_LEN + 8)
#define O_RESERVED  (CLM_HEADER_LEN + 9)
#define O_UUID      (CLM_HEADER_LEN + 11)
#define O_NAME      (CLM_HEADER_LEN + 48)
#define O_PRIORITY  (CLM_HEADER_LEN + 112)
#define O_PREFERRED (CLM_HEADER_LEN + 116)
#define O_FORBIDDEN (CLM_HEADER_LEN + 148)
#define O_XML_LEN   (CLM_HEADER_LEN + 180)

static char dir[] = "/tmp/test-ha.XXXXXX";

/* A SET of uuid; the XML is borrowed (never ha_msg_clear this). */
static struct ha_msg set_msg(const char *uuid, const char *name, uint64_t version, int32_t prio,
			     const char *xml)
{
	struct ha_msg m = {.sender = 1, .op = HA_OP_SET};

	snprintf(m.vm.uuid, sizeof(m.vm.uuid), "%s", uuid);
	snprintf(m.vm.name, sizeof(m.vm.name), "%s", name);
	m.vm.version = version;
	m.vm.priority = prio;
	m.vm.xml = (char *)xml;
	return m;
}

static struct ha_msg remove_msg(const char *uuid, const char *name, uint64_t version)
{
	struct ha_msg m = set_msg(uuid, name, version, 0, NULL);

	m.op = HA_OP_REMOVE;
	return m;
}

static int apply(struct ha_registry *reg, struct ha_msg m)
{
	return ha_registry_apply(reg, &m);
}

static void path_of(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", dir, name);
}

static void write_text(const char *name, const char *text, size_t len)
{
	char path[256];
	FILE *f;

	path_of(path, sizeof(path), name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* The whole file as a malloc'd string. */
static char *read_text(const char *name, size_t *ret_len)
{
	char path[256], *buf = malloc(1 << 20);
	size_t n;
	FILE *f;

	assert_non_null(buf);
	path_of(path, sizeof(path), name);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, (1 << 20) - 1, f);
	fclose(f);
	buf[n] = '\0';
	*ret_len = n;
	return buf;
}

static void remove_file(const char *name)
{
	char path[256];

	path_of(path, sizeof(path), name);
	assert_true(unlink(path) == 0 || errno == ENOENT);
}

static int setup(void **state)
{
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_message_round_trip(void **state)
{
	static uint8_t buf[HA_MSG_FIXED_LEN + 256], again[sizeof(buf)];
	struct ha_msg m = set_msg(U1, "web-01", 0x0102030405060708ull, -7, XML1 "\n<!-- déjà -->"), back;
	int len;

	m.sender = 3;
	m.vm.preferred[0] = 2;
	m.vm.preferred[1] = 5;
	m.vm.forbidden[0] = 4;
	len = ha_msg_encode(&m, buf, sizeof(buf));
	assert_int_equal(len, HA_MSG_FIXED_LEN + strlen(m.vm.xml));
	assert_int_equal(ha_msg_len(&m), (size_t)len);
	/* the layout of ha.h, field by field */
	assert_int_equal(get_u32(buf), CLM_MAGIC);
	assert_int_equal(buf[5], HA_MSG_TYPE);
	assert_int_equal(get_u32(buf + 8), len);
	assert_int_equal(get_u32(buf + 12), 3);
	assert_true(get_u64(buf + O_VERSION) == 0x0102030405060708ull);
	assert_int_equal(buf[O_OP], HA_OP_SET);
	assert_memory_equal(buf + O_UUID, U1, HA_UUID_LEN);
	assert_string_equal((const char *)buf + O_NAME, "web-01");
	assert_int_equal((int32_t)get_u32(buf + O_PRIORITY), -7);
	assert_int_equal(get_u32(buf + O_PREFERRED + 4), 5);
	assert_int_equal(get_u32(buf + O_FORBIDDEN), 4);
	assert_int_equal(get_u32(buf + O_XML_LEN), strlen(m.vm.xml));
	assert_memory_equal(buf + HA_MSG_FIXED_LEN, m.vm.xml, strlen(m.vm.xml));

	assert_int_equal(ha_msg_decode(buf, (size_t)len, &back), 0);
	assert_int_equal(back.sender, 3);
	assert_int_equal(back.op, HA_OP_SET);
	assert_string_equal(back.vm.uuid, U1);
	assert_string_equal(back.vm.name, "web-01");
	assert_true(back.vm.version == 0x0102030405060708ull);
	assert_int_equal(back.vm.priority, -7);
	assert_memory_equal(back.vm.preferred, m.vm.preferred, sizeof(m.vm.preferred));
	assert_memory_equal(back.vm.forbidden, m.vm.forbidden, sizeof(m.vm.forbidden));
	assert_string_equal(back.vm.xml, m.vm.xml);
	assert_int_equal(ha_msg_encode(&back, again, sizeof(again)), len);
	assert_memory_equal(again, buf, (size_t)len);
	ha_msg_clear(&back);
	assert_null(back.vm.xml);

	/* a REMOVE: no XML on the wire, none decoded */
	m = remove_msg(U2, "db", 9);
	len = ha_msg_encode(&m, buf, sizeof(buf));
	assert_int_equal(len, HA_MSG_FIXED_LEN);
	assert_int_equal(ha_msg_decode(buf, (size_t)len, &back), 0);
	assert_int_equal(back.op, HA_OP_REMOVE);
	assert_null(back.vm.xml);
	assert_string_equal(back.vm.uuid, U2);
	assert_true(back.vm.version == 9);
	ha_msg_clear(&back);
	ha_msg_clear(NULL);
}

static void test_message_largest_xml(void **state)
{
	size_t cap = HA_MSG_MAX + 1;
	uint8_t *buf = malloc(cap);
	char *xml = malloc(HA_XML_MAX + 2);
	struct ha_msg m, back;

	assert_non_null(buf);
	assert_non_null(xml);
	memset(xml, 'x', HA_XML_MAX);
	xml[HA_XML_MAX] = '\0';
	m = set_msg(U1, "big", 1, 0, xml);
	assert_int_equal(ha_msg_encode(&m, buf, HA_MSG_MAX - 1), -EMSGSIZE);
	assert_int_equal(ha_msg_encode(&m, buf, cap), HA_MSG_MAX);
	assert_int_equal(ha_msg_decode(buf, HA_MSG_MAX, &back), 0);
	assert_int_equal(strlen(back.vm.xml), HA_XML_MAX);
	ha_msg_clear(&back);

	/* one byte more: the encoder refuses it, and so does the decoder */
	xml[HA_XML_MAX] = 'x';
	xml[HA_XML_MAX + 1] = '\0';
	assert_int_equal(ha_msg_encode(&m, buf, cap), -EINVAL);
	memset(buf + HA_MSG_FIXED_LEN, 'x', HA_XML_MAX + 1);
	put_u32(buf + 8, HA_MSG_MAX + 1);
	put_u32(buf + O_XML_LEN, HA_XML_MAX + 1);
	assert_int_equal(ha_msg_decode(buf, cap, &back), -EBADMSG);
	free(xml);
	free(buf);
}

/* One broken variant of a good SET per case; false past the last one. */
static bool broken(int i, struct ha_msg *m, const char **ret_what)
{
	*m = set_msg(U1, "web", 5, 0, XML1);
	switch (i) {
	case 0:
		*ret_what = "sender 0";
		m->sender = 0;
		return true;
	case 1:
		*ret_what = "version 0";
		m->vm.version = 0;
		return true;
	case 2:
		*ret_what = "uuid in upper case";
		m->vm.uuid[3] = 'A';
		return true;
	case 3:
		*ret_what = "uuid without a dash";
		m->vm.uuid[8] = 'a';
		return true;
	case 4:
		*ret_what = "uuid short";
		m->vm.uuid[35] = '\0';
		return true;
	case 5:
		*ret_what = "name empty";
		m->vm.name[0] = '\0';
		return true;
	case 6:
		*ret_what = "name without a NUL";
		memset(m->vm.name, 'n', sizeof(m->vm.name));
		return true;
	case 7:
		*ret_what = "SET without XML";
		m->vm.xml = NULL;
		return true;
	case 8:
		*ret_what = "SET with empty XML";
		m->vm.xml = (char *)"";
		return true;
	case 9:
		*ret_what = "op 0";
		m->op = 0;
		return true;
	case 10:
		*ret_what = "op 3";
		m->op = 3;
		return true;
	case 11:
		*ret_what = "a node twice";
		m->vm.preferred[0] = m->vm.preferred[1] = 2;
		return true;
	case 12:
		*ret_what = "a node after the end of the list";
		m->vm.preferred[1] = 2;
		return true;
	case 13:
		*ret_what = "a node preferred and forbidden";
		m->vm.preferred[0] = m->vm.forbidden[0] = 2;
		return true;
	case 14:
		*ret_what = "REMOVE with XML";
		m->op = HA_OP_REMOVE;
		return true;
	case 15:
		*ret_what = "REMOVE with a priority";
		*m = remove_msg(U1, "web", 5);
		m->vm.priority = 1;
		return true;
	case 16:
		*ret_what = "REMOVE with forbidden nodes";
		*m = remove_msg(U1, "web", 5);
		m->vm.forbidden[0] = 1;
		return true;
	default:
		return false;
	}
}

static void test_encode_rejects(void **state)
{
	static uint8_t buf[HA_MSG_FIXED_LEN + 256];
	struct ha_registry *reg;
	const char *what;
	struct ha_msg m;
	int i;

	assert_int_equal(ha_registry_new(&reg), 0);
	for (i = 0; broken(i, &m, &what); i++) {
		if (ha_msg_encode(&m, buf, sizeof(buf)) != -EINVAL)
			fail_msg("encoded: %s", what);
		/* apply takes what the encoder takes (it ignores the sender) */
		if (m.sender && ha_registry_apply(reg, &m) != -EINVAL)
			fail_msg("applied: %s", what);
	}
	assert_int_equal(i, 17);
	assert_int_equal(ha_registry_count(reg), 0);
	assert_true(ha_registry_version(reg, U1) == 0);
	ha_registry_free(reg);
	assert_int_equal(ha_msg_encode(NULL, buf, sizeof(buf)), -EINVAL);
	m = set_msg(U1, "web", 5, 0, XML1);
	assert_int_equal(ha_msg_encode(&m, NULL, sizeof(buf)), -EINVAL);
	assert_int_equal(ha_msg_encode(&m, buf, HA_MSG_FIXED_LEN + strlen(XML1) - 1), -EMSGSIZE);
	/* eight ids fill a list: no terminator needed */
	for (uint32_t k = 0; k < HA_NODES_MAX; k++)
		m.vm.preferred[k] = k + 1;
	assert_int_equal(ha_msg_encode(&m, buf, sizeof(buf)), HA_MSG_FIXED_LEN + strlen(XML1));
}

/* Every truncation fails, with the header's length left alone or made to
 * agree (then the body's own checks must catch it). */
static void test_decode_truncated(void **state)
{
	static uint8_t buf[HA_MSG_FIXED_LEN + 256], cut[sizeof(buf)];
	struct ha_msg m = set_msg(U1, "web", 5, 3, XML1), back;
	int len = ha_msg_encode(&m, buf, sizeof(buf));

	assert_true(len > 0);
	for (int l = 0; l < len; l++) {
		assert_true(ha_msg_decode(buf, (size_t)l, &back) < 0);
		memcpy(cut, buf, (size_t)l);
		if (l >= CLM_HEADER_LEN) {
			put_u32(cut + 8, (uint32_t)l);
			assert_int_equal(ha_msg_decode(cut, (size_t)l, &back), -EBADMSG);
		}
	}
	/* longer than it says, too */
	memcpy(cut, buf, (size_t)len);
	cut[len] = 'x';
	put_u32(cut + 8, (uint32_t)len + 1);
	assert_int_equal(ha_msg_decode(cut, (size_t)len + 1, &back), -EBADMSG);
	assert_int_equal(ha_msg_decode(buf, (size_t)len, NULL), -EINVAL);
}

static void test_decode_rejects_each_field(void **state)
{
	static const struct {
		const char *what;
		size_t off;
		uint8_t val;
		int err;
	} bad[] = {
		{"bad magic", 0, 'X', -EBADMSG},
		{"other header version", 4, 2, -EPROTONOSUPPORT},
		{"wrong type", 5, CLM_MIG_STATE, -EBADMSG},
		{"header flags", 7, 1, -EBADMSG},
		{"version 0", O_VERSION + 7, 0, -EBADMSG},
		{"op 0", O_OP, 0, -EBADMSG},
		{"op 3", O_OP, 3, -EBADMSG},
		{"reserved 1", O_RESERVED, 1, -EBADMSG},
		{"reserved 2", O_RESERVED + 1, 0x80, -EBADMSG},
		{"uuid upper case", O_UUID + 2, 'B', -EBADMSG},
		{"uuid no dash", O_UUID + 13, '4', -EBADMSG},
		{"uuid short", O_UUID + 35, 0, -EBADMSG},
		{"uuid no NUL", O_UUID + 36, 'a', -EBADMSG},
		{"uuid not hex", O_UUID, 'g', -EBADMSG},
		{"name empty", O_NAME, 0, -EBADMSG},
		{"name not padded", O_NAME + 40, 'x', -EBADMSG},
		{"name padding end", O_NAME + 63, 'x', -EBADMSG},
		{"preferred after end", O_PREFERRED + 4 * 3 + 3, 7, -EBADMSG},
		{"preferred twice", O_PREFERRED + 4 + 3, 2, -EBADMSG},
		{"preferred and forbidden", O_FORBIDDEN + 3, 2, -EBADMSG},
		{"xml_len one more", O_XML_LEN + 3, (uint8_t)(strlen(XML1) + 1), -EBADMSG},
		{"xml_len one less", O_XML_LEN + 3, (uint8_t)(strlen(XML1) - 1), -EBADMSG},
		{"xml_len huge", O_XML_LEN, 0xff, -EBADMSG},
		{"xml_len 0", O_XML_LEN + 3, 0, -EBADMSG},
		{"NUL inside xml", HA_MSG_FIXED_LEN + 5, 0, -EBADMSG},
		{"NUL ending xml", HA_MSG_FIXED_LEN + strlen(XML1) - 1, 0, -EBADMSG},
	};
	static uint8_t buf[HA_MSG_FIXED_LEN + 256], mod[sizeof(buf)];
	struct ha_msg m = set_msg(U1, "web", 5, 3, XML1), back;
	int len;

	m.vm.preferred[0] = 2;
	m.vm.preferred[1] = 3;
	m.vm.forbidden[0] = 4;
	len = ha_msg_encode(&m, buf, sizeof(buf));
	assert_true(len > 0);
	assert_int_equal(ha_msg_decode(buf, (size_t)len, &back), 0);
	ha_msg_clear(&back);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(mod, buf, (size_t)len);
		assert_int_not_equal(mod[bad[i].off], bad[i].val); /* the case changes something */
		mod[bad[i].off] = bad[i].val;
		back.sender = 0xdead;
		if (ha_msg_decode(mod, (size_t)len, &back) != bad[i].err)
			fail_msg("%s: not rejected with %d", bad[i].what, bad[i].err);
		assert_int_equal(back.sender, 0xdead); /* untouched */
	}
	/* a name without a NUL */
	memcpy(mod, buf, (size_t)len);
	memset(mod + O_NAME, 'n', HA_NAME_MAX);
	assert_int_equal(ha_msg_decode(mod, (size_t)len, &back), -EBADMSG);
	/* a sender of 0 */
	memcpy(mod, buf, (size_t)len);
	put_u32(mod + 12, 0);
	assert_int_equal(ha_msg_decode(mod, (size_t)len, &back), -EBADMSG);
	/* a REMOVE that carries XML, or a priority */
	m = remove_msg(U1, "web", 5);
	len = ha_msg_encode(&m, buf, sizeof(buf));
	assert_int_equal(len, HA_MSG_FIXED_LEN);
	memcpy(mod, buf, (size_t)len);
	mod[len] = 'x';
	put_u32(mod + 8, (uint32_t)len + 1);
	put_u32(mod + O_XML_LEN, 1);
	assert_int_equal(ha_msg_decode(mod, (size_t)len + 1, &back), -EBADMSG);
	memcpy(mod, buf, (size_t)len);
	mod[O_PRIORITY + 3] = 1;
	assert_int_equal(ha_msg_decode(mod, (size_t)len, &back), -EBADMSG);
}

static void test_uuid_valid(void **state)
{
	assert_true(ha_uuid_valid(U1));
	assert_true(ha_uuid_valid(U3));
	assert_false(ha_uuid_valid(NULL));
	assert_false(ha_uuid_valid(""));
	assert_false(ha_uuid_valid("11111111222243338444555555555555"));      /* no dashes */
	assert_false(ha_uuid_valid("11111111-2222-4333-8444-5555555555550")); /* too long */
	assert_false(ha_uuid_valid("11111111-2222-4333-8444-55555555555"));   /* too short */
	assert_false(ha_uuid_valid("11111111-2222-4333-8444-55555555555F"));
}

static void test_lww(void **state)
{
	struct ha_registry *reg;
	const struct ha_vm *vm;

	assert_int_equal(ha_registry_new(&reg), 0);
	assert_int_equal(apply(reg, set_msg(U1, "web", 2, 0, "<domain>v2</domain>")), 1);
	vm = ha_registry_find(reg, U1);
	assert_non_null(vm);
	assert_string_equal(vm->xml, "<domain>v2</domain>");
	/* older and equal versions change nothing */
	assert_int_equal(apply(reg, set_msg(U1, "web", 1, 0, "<domain>v1</domain>")), 0);
	assert_int_equal(apply(reg, set_msg(U1, "web", 2, 9, "<domain>other v2</domain>")), 0);
	vm = ha_registry_find(reg, U1);
	assert_string_equal(vm->xml, "<domain>v2</domain>");
	assert_int_equal(vm->priority, 0);
	/* newer replaces */
	assert_int_equal(apply(reg, set_msg(U1, "web", 3, 5, "<domain>v3</domain>")), 1);
	vm = ha_registry_find(reg, U1);
	assert_string_equal(vm->xml, "<domain>v3</domain>");
	assert_int_equal(vm->priority, 5);
	assert_true(ha_registry_version(reg, U1) == 3);
	/* an older REMOVE is ignored, a newer one leaves a tombstone */
	assert_int_equal(apply(reg, remove_msg(U1, "web", 3)), 0);
	assert_non_null(ha_registry_find(reg, U1));
	assert_int_equal(apply(reg, remove_msg(U1, "web", 4)), 1);
	assert_null(ha_registry_find(reg, U1));
	assert_null(ha_registry_find_by_name(reg, "web"));
	assert_int_equal(ha_registry_count(reg), 0);
	assert_null(ha_registry_list(reg, 0));
	assert_true(ha_registry_version(reg, U1) == 4);
	/* a late SET from before the REMOVE does not resurrect it */
	assert_int_equal(apply(reg, set_msg(U1, "web", 3, 5, "<domain>v3</domain>")), 0);
	assert_int_equal(apply(reg, set_msg(U1, "web", 4, 5, "<domain>v4</domain>")), 0);
	assert_null(ha_registry_find(reg, U1));
	/* a newer SET does */
	assert_int_equal(apply(reg, set_msg(U1, "web2", 5, 1, "<domain>v5</domain>")), 1);
	vm = ha_registry_find(reg, U1);
	assert_non_null(vm);
	assert_string_equal(vm->name, "web2");
	assert_string_equal(vm->xml, "<domain>v5</domain>");
	assert_int_equal(ha_registry_count(reg), 1);
	/* a REMOVE of a uuid never seen still leaves a tombstone */
	assert_int_equal(apply(reg, remove_msg(U2, "db", 7)), 1);
	assert_int_equal(apply(reg, set_msg(U2, "db", 6, 0, "<domain/>")), 0);
	assert_null(ha_registry_find(reg, U2));
	assert_int_equal(ha_registry_count(reg), 1);
	assert_true(ha_registry_version(reg, U2) == 7);
	assert_true(ha_registry_version(reg, U3) == 0);
	/* what the encoder refuses, apply refuses */
	assert_int_equal(apply(reg, set_msg(U3, "x", 0, 0, "<domain/>")), -EINVAL);
	assert_int_equal(apply(reg, set_msg("not-a-uuid", "x", 1, 0, "<domain/>")), -EINVAL);
	assert_int_equal(apply(reg, set_msg(U3, "x", 1, 0, NULL)), -EINVAL);
	assert_int_equal(ha_registry_apply(reg, NULL), -EINVAL);
	assert_int_equal(ha_registry_apply(NULL, NULL), -EINVAL);
	assert_true(ha_registry_version(reg, U3) == 0);
	ha_registry_free(reg);
	ha_registry_free(NULL);
}

static void expect_order(const struct ha_registry *reg, const char *const *names, size_t n)
{
	assert_int_equal(ha_registry_count(reg), n);
	for (size_t i = 0; i < n; i++) {
		const struct ha_vm *vm = ha_registry_list(reg, i);

		assert_non_null(vm);
		assert_string_equal(vm->name, names[i]);
	}
	assert_null(ha_registry_list(reg, n));
}

static void test_list_order(void **state)
{
	static const char *const first[] = {"b-high", "c-high", "a-mid", "z-low", "a-last"};
	static const char *const second[] = {"a-last", "b-high", "c-high", "z-low"};
	struct ha_registry *reg;

	assert_int_equal(ha_registry_new(&reg), 0);
	assert_int_equal(apply(reg, set_msg(U1, "z-low", 1, 0, "<domain/>")), 1);
	assert_int_equal(apply(reg, set_msg(U2, "c-high", 1, 10, "<domain/>")), 1);
	assert_int_equal(apply(reg, set_msg(U3, "b-high", 1, 10, "<domain/>")), 1);
	assert_int_equal(apply(reg, set_msg(U4, "a-last", 1, -5, "<domain/>")), 1);
	assert_int_equal(
		apply(reg, set_msg("99999999-0000-4000-8000-000000000000", "a-mid", 1, 3, "<domain/>")), 1);
	expect_order(reg, first, 5);
	assert_string_equal(ha_registry_find_by_name(reg, "c-high")->uuid, U2);
	/* a newer SET moves a VM; a removed one leaves the list */
	assert_int_equal(apply(reg, set_msg(U4, "a-last", 2, 100, "<domain/>")), 1);
	assert_int_equal(apply(reg, remove_msg("99999999-0000-4000-8000-000000000000", "a-mid", 2)), 1);
	expect_order(reg, second, 4);
	assert_null(ha_registry_list(NULL, 0));
	assert_int_equal(ha_registry_count(NULL), 0);
	ha_registry_free(reg);
}

/* A snapshot of a registry to compare two of them, tombstones included. */
static void expect_same(const struct ha_registry *a, const struct ha_registry *b)
{
	struct ha_msg ma, mb;
	size_t i;

	assert_int_equal(ha_registry_count(a), ha_registry_count(b));
	for (i = 0; ha_registry_entry_msg(a, i, &ma) == 0; i++) {
		assert_int_equal(ha_registry_entry_msg(b, i, &mb), 0);
		assert_int_equal(ma.op, mb.op);
		assert_string_equal(ma.vm.uuid, mb.vm.uuid);
		assert_string_equal(ma.vm.name, mb.vm.name);
		assert_true(ma.vm.version == mb.vm.version);
		assert_int_equal(ma.vm.priority, mb.vm.priority);
		assert_memory_equal(ma.vm.preferred, mb.vm.preferred, sizeof(ma.vm.preferred));
		assert_memory_equal(ma.vm.forbidden, mb.vm.forbidden, sizeof(ma.vm.forbidden));
		if (ma.vm.xml)
			assert_string_equal(ma.vm.xml, mb.vm.xml);
		else
			assert_null(mb.vm.xml);
		ha_msg_clear(&ma);
		ha_msg_clear(&mb);
	}
	assert_int_equal(ha_registry_entry_msg(b, i, &mb), -ENOENT);
}

static struct ha_registry *sample(void)
{
	struct ha_registry *reg;
	struct ha_msg m = set_msg(U1, "web", 3, 2,
				  "<domain type=\"kvm\">\n  <name>web</name>\n  "
				  "<description>a/b \\ 'q' \t é</description>\n</domain>\n");

	assert_int_equal(ha_registry_new(&reg), 0);
	m.vm.preferred[0] = 2;
	m.vm.preferred[1] = 3;
	m.vm.forbidden[0] = 1;
	assert_int_equal(ha_registry_apply(reg, &m), 1);
	assert_int_equal(apply(reg, set_msg(U2, "db", 1, -1, "<domain><name>db</name></domain>")), 1);
	assert_int_equal(apply(reg, remove_msg(U3, "gone", 0xfffffffffffffff0ull)), 1);
	return reg;
}

/* The coordinator re-sends every entry; a joiner ends up with the same
 * registry, a stale member drops what was removed, and a second re-send
 * changes nothing anywhere. */
static void test_resend_whole_registry(void **state)
{
	static uint8_t buf[HA_MSG_FIXED_LEN + 512];
	struct ha_registry *a = sample(), *joiner, *stale;
	struct ha_msg m, back;
	size_t i;

	assert_int_equal(ha_registry_new(&joiner), 0);
	assert_int_equal(ha_registry_new(&stale), 0);
	assert_int_equal(apply(stale, set_msg(U3, "gone", 1, 0, "<domain/>")), 1);
	for (int round = 0; round < 2; round++) {
		for (i = 0; ha_registry_entry_msg(a, i, &m) == 0; i++) {
			int len;

			assert_int_equal(m.sender, 0);
			m.sender = 1;
			len = ha_msg_encode(&m, buf, sizeof(buf));
			assert_true(len > 0);
			assert_int_equal(ha_msg_decode(buf, (size_t)len, &back), 0);
			assert_int_equal(ha_registry_apply(joiner, &back), round == 0 ? 1 : 0);
			assert_int_equal(ha_registry_apply(stale, &back), round == 0 ? 1 : 0);
			assert_int_equal(ha_registry_apply(a, &back), 0);
			ha_msg_clear(&back);
			ha_msg_clear(&m);
		}
		assert_int_equal(i, 3);
	}
	expect_same(a, joiner);
	expect_same(a, stale);
	assert_null(ha_registry_find(stale, U3));
	assert_int_equal(ha_registry_entry_msg(a, 3, &m), -ENOENT);
	assert_int_equal(ha_registry_entry_msg(NULL, 0, &m), -EINVAL);
	ha_registry_free(a);
	ha_registry_free(joiner);
	ha_registry_free(stale);
}

static void test_save_load_round_trip(void **state)
{
	struct ha_registry *a = sample(), *b;
	struct stat st;
	char path[256], *text;
	size_t len;

	assert_int_equal(ha_registry_save(a, dir), 0);
	path_of(path, sizeof(path), HA_REGISTRY_FILE);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600); /* the XML may hold passwords */
	path_of(path, sizeof(path), HA_REGISTRY_TMP);
	assert_int_equal(stat(path, &st), -1); /* no temporary file left */
	text = read_text(HA_REGISTRY_FILE, &len);
	assert_non_null(strstr(text, "\"format\":\"" HA_REGISTRY_FORMAT "\""));
	assert_non_null(strstr(text, "\"removed\":true"));
	assert_non_null(strstr(text, "18446744073709551600")); /* a u64 version, exactly */
	assert_true(len > 0 && text[len - 1] == '\n');
	free(text);

	assert_int_equal(ha_registry_new(&b), 0);
	assert_int_equal(ha_registry_load(b, dir), 0);
	expect_same(a, b);
	/* the tombstone came back with its version: it still blocks */
	assert_true(ha_registry_version(b, U3) == 0xfffffffffffffff0ull);
	assert_int_equal(apply(b, set_msg(U3, "gone", 5, 0, "<domain/>")), 0);
	/* saving what was loaded writes the same bytes */
	assert_int_equal(ha_registry_save(b, dir), 0);
	text = read_text(HA_REGISTRY_FILE, &len);
	{
		char *again;
		size_t len2;

		assert_int_equal(ha_registry_save(a, dir), 0);
		again = read_text(HA_REGISTRY_FILE, &len2);
		assert_int_equal(len, len2);
		assert_memory_equal(text, again, len);
		free(again);
	}
	free(text);
	ha_registry_free(a);
	ha_registry_free(b);
	remove_file(HA_REGISTRY_FILE);
}

static void test_load_missing_file_is_empty(void **state)
{
	struct ha_registry *reg;

	remove_file(HA_REGISTRY_FILE);
	assert_int_equal(ha_registry_new(&reg), 0);
	assert_int_equal(ha_registry_load(reg, dir), 0);
	assert_int_equal(ha_registry_count(reg), 0);
	assert_int_equal(ha_registry_load(NULL, dir), -EINVAL);
	assert_int_equal(ha_registry_load(reg, NULL), -EINVAL);
	/* an empty registry saves and loads as empty */
	assert_int_equal(ha_registry_save(reg, dir), 0);
	assert_int_equal(ha_registry_load(reg, dir), 0);
	assert_int_equal(ha_registry_count(reg), 0);
	assert_int_equal(ha_registry_entry_msg(reg, 0, &(struct ha_msg){0}), -ENOENT);
	ha_registry_free(reg);
	remove_file(HA_REGISTRY_FILE);
}

/* A crash after writing the temporary file but before the rename leaves
 * it behind: the old file is what counts, and the next save replaces the
 * stray (even a symlink, which it must not write through). */
static void test_save_cut_short_keeps_old_file(void **state)
{
	static const char half[] = "{\"format\":\"clusterd-ha-registry\",\"version\":1,\"vms\":[{\"uu";
	struct ha_registry *a = sample(), *b;
	char path[256], target[256], *text;
	size_t len;

	assert_int_equal(ha_registry_save(a, dir), 0);
	write_text(HA_REGISTRY_TMP, half, strlen(half));
	assert_int_equal(ha_registry_new(&b), 0);
	assert_int_equal(ha_registry_load(b, dir), 0);
	expect_same(a, b);
	ha_registry_free(b);

	/* the next save goes through and leaves no stray behind */
	assert_int_equal(apply(a, set_msg(U4, "new", 1, 0, "<domain/>")), 1);
	path_of(target, sizeof(target), "elsewhere");
	write_text("elsewhere", "precious", 8);
	path_of(path, sizeof(path), HA_REGISTRY_TMP);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(ha_registry_save(a, dir), 0);
	assert_int_equal(access(path, F_OK), -1);
	text = read_text("elsewhere", &len);
	assert_string_equal(text, "precious");
	free(text);
	assert_int_equal(ha_registry_new(&b), 0);
	assert_int_equal(ha_registry_load(b, dir), 0);
	assert_non_null(ha_registry_find(b, U4));
	expect_same(a, b);
	ha_registry_free(a);
	ha_registry_free(b);
	remove_file("elsewhere");
	remove_file(HA_REGISTRY_FILE);
}

#define GOOD_VM                                                                                              \
	"{\"uuid\":\"" U1 "\",\"name\":\"web\",\"version\":3,\"priority\":0,\"preferred\":[],"               \
	"\"forbidden\":[],\"xml\":\"<domain/>\"}"
#define DOC(vms) "{\"format\":\"clusterd-ha-registry\",\"version\":1,\"vms\":[" vms "]}"

static void test_corrupt_file_rejected_whole(void **state)
{
	static const char *const bad[] = {
		"",
		"{",
		"garbage",
		"[]",
		"{\"format\":\"clusterd-ha-registry\",\"version\":1}",
		"{\"format\":\"something-else\",\"version\":1,\"vms\":[]}",
		"{\"format\":\"clusterd-ha-registry\",\"version\":2,\"vms\":[]}",
		"{\"format\":\"clusterd-ha-registry\",\"version\":1,\"vms\":{}}",
		"{\"format\":\"clusterd-ha-registry\",\"version\":1,\"vms\":[],\"extra\":0}",
		DOC(GOOD_VM) " trailing",
		DOC(GOOD_VM "," GOOD_VM), /* a uuid twice */
		DOC(GOOD_VM ",1"),
		DOC("{\"uuid\":\"" U2 "\",\"name\":\"db\",\"version\":3,\"priority\":0,\"preferred\":[],"
		    "\"forbidden\":[],\"xml\":\"<domain/>\",\"surprise\":1}"),
		DOC("{\"uuid\":\"" U2 "\",\"name\":\"db\",\"version\":3,\"priority\":0,\"preferred\":[],"
		    "\"forbidden\":[]}"),
		DOC("{\"uuid\":\"" U2 "\",\"name\":\"db\",\"version\":3,\"priority\":0,\"preferred\":[],"
		    "\"forbidden\":[],\"xml\":\"\"}"),
		DOC("{\"uuid\":\"" U2 "\",\"name\":\"db\",\"version\":3,\"priority\":0,\"preferred\":[],"
		    "\"forbidden\":[],\"xml\":\"<a>\\u0000</a>\"}"),
		DOC("{\"uuid\":\"" U2 "\",\"name\":\"db\",\"version\":-3,\"priority\":0,\"preferred\":[],"
		    "\"forbidden\":[],\"xml\":\"<domain/>\"}"),
		DOC("{\"uuid\":\"" U2 "\",\"name\":\"db\",\"version\":0,\"priority\":0,\"preferred\":[],"
		    "\"forbidden\":[],\"xml\":\"<domain/>\"}"),
		DOC("{\"uuid\":\"" U2 "\",\"name\":\"db\",\"version\":3.5,\"priority\":0,\"preferred\":[],"
		    "\"forbidden\":[],\"xml\":\"<domain/>\"}"),
		DOC("{\"uuid\":\"" U2
		    "\",\"name\":\"db\",\"version\":3,\"priority\":2147483648,\"preferred\":[],"
		    "\"forbidden\":[],\"xml\":\"<domain/>\"}"),
		DOC("{\"uuid\":\"" U2
		    "\",\"name\":\"db\",\"version\":3,\"priority\":0,\"preferred\":[1,2,3,4,5,6,7,8,9],"
		    "\"forbidden\":[],\"xml\":\"<domain/>\"}"),
		DOC("{\"uuid\":\"" U2 "\",\"name\":\"db\",\"version\":3,\"priority\":0,\"preferred\":[0],"
		    "\"forbidden\":[],\"xml\":\"<domain/>\"}"),
		DOC("{\"uuid\":\"" U2
		    "\",\"name\":\"db\",\"version\":3,\"priority\":0,\"preferred\":[4294967296],"
		    "\"forbidden\":[],\"xml\":\"<domain/>\"}"),
		DOC("{\"uuid\":\"" U2 "\",\"name\":\"db\",\"version\":3,\"priority\":0,\"preferred\":[2],"
		    "\"forbidden\":[2],\"xml\":\"<domain/>\"}"),
		DOC("{\"uuid\":\"AAAAAAAA-bbbb-4ccc-8ddd-eeeeeeeeeeee\",\"name\":\"db\",\"version\":3,"
		    "\"priority\":0,"
		    "\"preferred\":[],\"forbidden\":[],\"xml\":\"<domain/>\"}"),
		DOC("{\"uuid\":\"" U2 "\",\"name\":\"\",\"version\":3,\"priority\":0,\"preferred\":[],"
		    "\"forbidden\":[],\"xml\":\"<domain/>\"}"),
		DOC("{\"uuid\":\"" U2
		    "\",\"name\":\"0123456789012345678901234567890123456789012345678901234567890123\","
		    "\"version\":3,\"priority\":0,\"preferred\":[],\"forbidden\":[],\"xml\":\"<domain/>\"}"),
		DOC("{\"uuid\":\"" U2 "\",\"name\":\"db\",\"version\":3,\"removed\":false}"),
		DOC("{\"uuid\":\"" U2
		    "\",\"name\":\"db\",\"version\":3,\"removed\":true,\"xml\":\"<domain/>\"}"),
	};
	struct ha_registry *reg;
	struct ha_msg m;

	assert_int_equal(ha_registry_new(&reg), 0);
	assert_int_equal(apply(reg, set_msg(U4, "keep", 1, 0, "<domain>keep</domain>")), 1);
	/* the good document loads: every bad one differs from it in one way */
	write_text(HA_REGISTRY_FILE, DOC(GOOD_VM), strlen(DOC(GOOD_VM)));
	assert_int_equal(ha_registry_load(reg, dir), 0);
	assert_int_equal(ha_registry_count(reg), 2);
	assert_int_equal(apply(reg, remove_msg(U1, "web", 4)), 1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_text(HA_REGISTRY_FILE, bad[i], strlen(bad[i]));
		if (ha_registry_load(reg, dir) != -EBADMSG)
			fail_msg("loaded: %s", bad[i]);
		/* nothing applied */
		assert_int_equal(ha_registry_count(reg), 1);
		assert_string_equal(ha_registry_list(reg, 0)->xml, "<domain>keep</domain>");
		assert_true(ha_registry_version(reg, U1) == 4);
		assert_true(ha_registry_version(reg, U2) == 0);
		assert_int_equal(ha_registry_entry_msg(reg, 2, &m), -ENOENT);
	}
	/* a NUL byte in the file, and a file cut in half */
	write_text(HA_REGISTRY_FILE, DOC(GOOD_VM) "\0", strlen(DOC(GOOD_VM)) + 1);
	assert_int_equal(ha_registry_load(reg, dir), -EBADMSG);
	write_text(HA_REGISTRY_FILE, DOC(GOOD_VM), strlen(DOC(GOOD_VM)) / 2);
	assert_int_equal(ha_registry_load(reg, dir), -EBADMSG);
	assert_int_equal(ha_registry_count(reg), 1);
	ha_registry_free(reg);
	remove_file(HA_REGISTRY_FILE);
}

/* Load merges by LWW: the newer of memory and file wins, per uuid. */
static void test_load_merges(void **state)
{
	static const char file[] =
		DOC("{\"uuid\":\"" U1 "\",\"name\":\"web\",\"version\":5,\"priority\":0,\"preferred\":[],"
		    "\"forbidden\":[],\"xml\":\"<file/>\"},"
		    "{\"uuid\":\"" U2 "\",\"name\":\"db\",\"version\":5,\"priority\":0,\"preferred\":[],"
		    "\"forbidden\":[],\"xml\":\"<file/>\"}");
	struct ha_registry *reg;

	assert_int_equal(ha_registry_new(&reg), 0);
	assert_int_equal(apply(reg, set_msg(U1, "web", 4, 0, "<memory/>")), 1);
	assert_int_equal(apply(reg, set_msg(U2, "db", 6, 0, "<memory/>")), 1);
	assert_int_equal(apply(reg, remove_msg(U3, "x", 2)), 1);
	write_text(HA_REGISTRY_FILE, file, strlen(file));
	assert_int_equal(ha_registry_load(reg, dir), 0);
	assert_string_equal(ha_registry_find(reg, U1)->xml, "<file/>");
	assert_string_equal(ha_registry_find(reg, U2)->xml, "<memory/>");
	assert_true(ha_registry_version(reg, U3) == 2);
	assert_int_equal(ha_registry_count(reg), 2);
	ha_registry_free(reg);
	remove_file(HA_REGISTRY_FILE);
}

static void test_unusable_dir(void **state)
{
	struct ha_registry *reg = sample();
	char path[256], sub[256];

	assert_int_equal(ha_registry_save(reg, "/nonexistent/clusterd-test-ha"), -ENOENT);
	assert_int_equal(ha_registry_load(reg, "/nonexistent/clusterd-test-ha"), -ENOENT);
	/* a file where the directory should be */
	write_text("plain", "x", 1);
	path_of(path, sizeof(path), "plain");
	assert_int_equal(ha_registry_save(reg, path), -ENOTDIR);
	assert_int_equal(ha_registry_load(reg, path), -ENOTDIR);
	/* a directory where the file should be */
	path_of(sub, sizeof(sub), HA_REGISTRY_FILE);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(ha_registry_load(reg, dir), -EISDIR);
	assert_int_not_equal(ha_registry_save(reg, dir), 0); /* cannot rename over it */
	assert_int_equal(rmdir(sub), 0);
	/* permissions (root ignores them) */
	path_of(sub, sizeof(sub), "locked");
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(ha_registry_save(reg, sub), 0);
	assert_int_equal(chmod(sub, 0), 0);
	if (geteuid() != 0) {
		assert_int_equal(ha_registry_load(reg, sub), -EACCES);
		assert_int_equal(ha_registry_save(reg, sub), -EACCES);
	} else {
		printf("(root: permission checks do not apply, not tested)\n");
	}
	assert_int_equal(chmod(sub, 0700), 0);
	assert_int_equal(ha_registry_count(reg), 2);
	assert_int_equal(ha_registry_save(NULL, dir), -EINVAL);
	ha_registry_free(reg);
	remove_file("plain");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_message_round_trip),
		cmocka_unit_test(test_message_largest_xml),
		cmocka_unit_test(test_encode_rejects),
		cmocka_unit_test(test_decode_truncated),
		cmocka_unit_test(test_decode_rejects_each_field),
		cmocka_unit_test(test_uuid_valid),
		cmocka_unit_test(test_lww),
		cmocka_unit_test(test_list_order),
		cmocka_unit_test(test_resend_whole_registry),
		cmocka_unit_test(test_save_load_round_trip),
		cmocka_unit_test(test_load_missing_file_is_empty),
		cmocka_unit_test(test_save_cut_short_keeps_old_file),
		cmocka_unit_test(test_corrupt_file_rejected_whole),
		cmocka_unit_test(test_load_merges),
		cmocka_unit_test(test_unusable_dir),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

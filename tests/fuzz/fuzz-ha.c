/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/fuzz/fuzz-ha.c: fuzz target for the HA registry's CPG message: the
 * decoder must be total and re-encode what it accepted byte for byte, and
 * applying it to a registry must keep last-writer-wins (a second apply
 * changes nothing), the list order, and an entry set that re-sends
 * cleanly. */
#include <string.h>

#include "clusterd/ha.h"
#include "tests/fuzz/fuzz.h"

#define U1 "11111111-2222-4333-8444-555555555555"
#define U2 "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"

static struct ha_msg msg(uint8_t op, const char *uuid, const char *name, uint64_t version, const char *xml)
{
	struct ha_msg m = {.sender = 2, .op = op};

	snprintf(m.vm.uuid, sizeof(m.vm.uuid), "%s", uuid);
	snprintf(m.vm.name, sizeof(m.vm.name), "%s", name);
	m.vm.version = version;
	m.vm.xml = (char *)xml;
	return m;
}

/* The registry a joining node might already hold: one live VM, one removed. */
static void preload(struct ha_registry *reg)
{
	struct ha_msg set = msg(HA_OP_SET, U1, "web", 5, "<domain type='kvm'><name>web</name></domain>");
	struct ha_msg rm = msg(HA_OP_REMOVE, U2, "db", 5, NULL);

	FUZZ_CHECK(ha_registry_apply(reg, &set) == 1);
	FUZZ_CHECK(ha_registry_apply(reg, &rm) == 1);
}

static void check_registry(const struct ha_registry *reg)
{
	static uint8_t buf[HA_MSG_MAX];
	const struct ha_vm *prev = NULL, *vm;
	struct ha_msg m, back;
	size_t i, live = 0;

	for (i = 0; (vm = ha_registry_list(reg, i)); i++, prev = vm) {
		FUZZ_CHECK(ha_registry_find(reg, vm->uuid) == vm);
		FUZZ_CHECK(vm->xml && strlen(vm->xml) <= HA_XML_MAX);
		if (prev)
			FUZZ_CHECK(prev->priority > vm->priority ||
				   (prev->priority == vm->priority && strcmp(prev->name, vm->name) <= 0));
	}
	FUZZ_CHECK(i == ha_registry_count(reg));
	for (i = 0; ha_registry_entry_msg(reg, i, &m) == 0; i++) {
		int len;

		live += m.op == HA_OP_SET;
		FUZZ_CHECK(ha_registry_version(reg, m.vm.uuid) == m.vm.version);
		m.sender = 1;
		len = ha_msg_encode(&m, buf, sizeof(buf));
		FUZZ_CHECK(len > 0 && (size_t)len == ha_msg_len(&m));
		FUZZ_CHECK(ha_msg_decode(buf, (size_t)len, &back) == 0);
		FUZZ_CHECK(back.op == m.op && back.vm.version == m.vm.version);
		FUZZ_CHECK(strcmp(back.vm.uuid, m.vm.uuid) == 0);
		ha_msg_clear(&back);
		ha_msg_clear(&m);
	}
	FUZZ_CHECK(live == ha_registry_count(reg));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ha_registry *reg;
	struct ha_msg m;
	uint8_t *again;
	int r;

	FUZZ_CHECK(ha_registry_new(&reg) == 0);
	preload(reg);
	if (ha_msg_decode(data, size, &m) == 0) {
		uint64_t before = ha_registry_version(reg, m.vm.uuid);

		again = malloc(size);
		FUZZ_CHECK(again != NULL);
		FUZZ_CHECK(ha_msg_len(&m) == size);
		FUZZ_CHECK(ha_msg_encode(&m, again, size) == (int)size);
		FUZZ_CHECK(memcmp(again, data, size) == 0);
		free(again);

		r = ha_registry_apply(reg, &m);
		FUZZ_CHECK(r == (m.vm.version > before ? 1 : 0));
		FUZZ_CHECK(ha_registry_apply(reg, &m) == 0);
		if (r == 1) {
			const struct ha_vm *vm = ha_registry_find(reg, m.vm.uuid);

			FUZZ_CHECK(ha_registry_version(reg, m.vm.uuid) == m.vm.version);
			if (m.op == HA_OP_SET)
				FUZZ_CHECK(vm && strcmp(vm->xml, m.vm.xml) == 0 &&
					   vm->priority == m.vm.priority);
			else
				FUZZ_CHECK(vm == NULL);
		}
		ha_msg_clear(&m);
	}
	check_registry(reg);
	ha_registry_free(reg);
	return 0;
}

size_t fuzz_seed(unsigned i, uint8_t *buf, size_t cap)
{
	struct ha_msg m;
	int len;

	switch (i) {
	case 0: /* a newer SET of a known VM */
		m = msg(HA_OP_SET, U1, "web", 6,
			"<domain type='kvm'><name>web</name><vcpu>2</vcpu></domain>");
		m.vm.priority = 10;
		m.vm.preferred[0] = 2;
		m.vm.preferred[1] = 3;
		m.vm.forbidden[0] = 1;
		break;
	case 1: /* a late SET of a removed one */
		m = msg(HA_OP_SET, U2, "db", 4, "<domain/>");
		break;
	case 2: /* a new VM */
		m = msg(HA_OP_SET, "01234567-89ab-4cde-8f01-23456789abcd", "new", 1, "<domain>\n</domain>\n");
		m.vm.priority = -3;
		break;
	case 3:
		m = msg(HA_OP_REMOVE, U1, "web", 9, NULL);
		break;
	case 4: /* a stale REMOVE */
		m = msg(HA_OP_REMOVE, U1, "web", 5, NULL);
		break;
	default:
		return 0;
	}
	len = ha_msg_encode(&m, buf, cap);
	return len > 0 ? (size_t)len : 0;
}

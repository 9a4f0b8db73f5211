/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd/ha.h: the HA VM registry — which VMs the cluster restarts
 * elsewhere, with each one's domain XML — its CPG message, last-writer-wins
 * replication by version, and its file under the state directory. Pure: no
 * logging; file I/O only in ha_registry_save/ha_registry_load. */
#ifndef CL_HA_H
#define CL_HA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * HA_MSG_TYPE message: the 16-byte header of cluster_msg.h (clm_peek), then
 * a body of HA_MSG_FIXED_LEN - 16 = 184 bytes and the XML, big-endian:
 *    0 u64 version (> 0)        8 u8 op (HA_OP_*)      9 u8 reserved[2] (0)
 *   11 uuid[37] (canonical lower-case text, NUL at 36)
 *   48 name[64] (non-empty, NUL-terminated, NUL-padded)
 *  112 i32 priority           116 u32 preferred[8]   148 u32 forbidden[8]
 *  180 u32 xml_len            184 xml (xml_len bytes, no NUL, no terminator)
 * Node lists: node ids, a 0 ends the list and everything after it is 0; no
 * id twice, none in both lists. SET: 1 <= xml_len <= HA_XML_MAX. REMOVE:
 * xml_len 0, priority 0, both lists empty. The message is exactly
 * HA_MSG_FIXED_LEN + xml_len bytes.
 */
#define HA_MSG_TYPE      6
#define HA_MSG_FIXED_LEN 200
#define HA_XML_MAX       (256 * 1024)
#define HA_MSG_MAX       (HA_MSG_FIXED_LEN + HA_XML_MAX)
#define HA_UUID_LEN      37 /* 36 characters and the NUL */
#define HA_NAME_MAX      64 /* with the NUL */
#define HA_NODES_MAX     8

#define HA_OP_SET    1
#define HA_OP_REMOVE 2

/* The registry's file under the state directory, and the temporary file a
 * save writes first (a stray one is a save cut short: never read). */
#define HA_REGISTRY_FILE    "ha-registry"
#define HA_REGISTRY_TMP     "ha-registry.tmp"
#define HA_REGISTRY_FORMAT  "clusterd-ha-registry"
#define HA_REGISTRY_VERSION 1

struct ha_vm {
	char uuid[HA_UUID_LEN];
	char name[HA_NAME_MAX];
	int32_t priority;                 /* higher is restarted first; default 0 */
	uint32_t preferred[HA_NODES_MAX]; /* node ids, 0-terminated unless full */
	uint32_t forbidden[HA_NODES_MAX];
	uint64_t version; /* last writer wins: higher replaces lower */
	char *xml;        /* malloc'd domain XML, NUL-terminated; NULL in a REMOVE */
};

struct ha_msg {
	uint32_t sender; /* header: the CPG sender, never 0 */
	uint8_t op;      /* HA_OP_SET or HA_OP_REMOVE */
	struct ha_vm vm;
};

struct ha_registry;

/* A canonical uuid: 36 characters, lower-case hex, dashes at 8, 13, 18, 23. */
bool ha_uuid_valid(const char *uuid);

/* The encoded length of m (HA_MSG_FIXED_LEN + strlen(xml)), whatever m holds. */
size_t ha_msg_len(const struct ha_msg *m);

/* Encode m into buf: the length, or -EINVAL (m breaks a rule above, sender
 * 0) or -EMSGSIZE (cap too small). Nothing written on failure. */
int ha_msg_encode(const struct ha_msg *m, uint8_t *buf, size_t cap);

/* Decode a whole message: 0, or -EBADMSG (any rule broken, other type),
 * -EPROTONOSUPPORT (other header version), -ENOMEM. On success ret->vm.xml
 * is malloc'd (NULL for a REMOVE): release it with ha_msg_clear. *ret is
 * untouched on failure. Never reads outside buf[0..len). */
int ha_msg_decode(const uint8_t *buf, size_t len, struct ha_msg *ret);

/* Free m's XML and zero m. NULL is fine. */
void ha_msg_clear(struct ha_msg *m);

int ha_registry_new(struct ha_registry **ret_reg);
void ha_registry_free(struct ha_registry *reg); /* NULL is fine */

/* Apply a SET or REMOVE (m as ha_msg_encode accepts it; sender ignored).
 * It takes effect only if m's version is higher than the version known for
 * that uuid, live or removed: a REMOVE leaves a tombstone with its version,
 * so a late older SET does not bring the VM back, and a newer SET does.
 * Returns 1 if the registry changed (the caller saves it), 0 if m was stale
 * (equal version included), -EINVAL, -ENOMEM (registry unchanged). The XML
 * is copied. O(n log n) in entries when it changes, O(n) otherwise. */
int ha_registry_apply(struct ha_registry *reg, const struct ha_msg *m);

/* Live entries only (NULL if unknown or removed). Pointers stay valid until
 * the next apply or load. O(n). find_by_name returns the first in list
 * order if two VMs share a name. */
const struct ha_vm *ha_registry_find(const struct ha_registry *reg, const char *uuid);
const struct ha_vm *ha_registry_find_by_name(const struct ha_registry *reg, const char *name);

/* The version known for uuid, live or removed; 0 if never seen. A new SET
 * or REMOVE for uuid needs a higher one. */
uint64_t ha_registry_version(const struct ha_registry *reg, const char *uuid);

/* Number of live entries, and the index-th of them in list order: priority
 * (higher first), then name, then uuid. NULL past the end. O(1). */
size_t ha_registry_count(const struct ha_registry *reg);
const struct ha_vm *ha_registry_list(const struct ha_registry *reg, size_t index);

/* The index-th entry of ALL entries (live ones in list order, then
 * tombstones) as the SET or REMOVE that recreates it, for re-multicasting
 * the whole registry after a membership change (harmless under LWW). The
 * XML is copied: ha_msg_clear(ret) after use. ret->sender is 0: set it
 * before encoding. 0, -ENOENT past the last entry, -ENOMEM. */
int ha_registry_entry_msg(const struct ha_registry *reg, size_t index, struct ha_msg *ret);

/*
 * dir/HA_REGISTRY_FILE is one JSON document (json-c):
 *   {"format": "clusterd-ha-registry", "version": 1, "vms": [
 *     {"uuid": "…", "name": "…", "version": 7, "priority": 0,
 *      "preferred": [2, 3], "forbidden": [], "xml": "<domain …>"},
 *     {"uuid": "…", "name": "…", "version": 9, "removed": true}, … ]}
 * Tombstones keep their version. Unknown keys are errors (a newer format
 * changes "version").
 *
 * Save writes dir/HA_REGISTRY_TMP (mode 0600: the XML may hold secrets),
 * fsyncs it, renames it over the file and fsyncs dir: a crash leaves the
 * old file or the new one, never a mix. 0 or -errno.
 *
 * Load merges the file into reg by LWW (into an empty registry: restores
 * it). 0 (a missing file is an empty registry), -EBADMSG (not a registry
 * file, a rule broken, a uuid twice), -ENOMEM or -errno from the file
 * system. All or nothing: reg is unchanged on failure.
 */
/* The memory (KiB) and vCPUs a domain XML asks for: <memory unit='…'>N</memory>
 * (unit b, KiB (default), MiB, GiB …) and <vcpu …>N</vcpu> (default 1).
 * 0, or -EINVAL when there is no readable <memory>. Not a full XML parser:
 * enough for libvirt's own output. */
int ha_xml_size(const char *xml, uint64_t *ret_mem_kib, uint32_t *ret_vcpus);

int ha_registry_save(const struct ha_registry *reg, const char *dir);
int ha_registry_load(struct ha_registry *reg, const char *dir);

#endif

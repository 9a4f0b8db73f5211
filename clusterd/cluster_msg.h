/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd/cluster_msg.h: the messages clusterd nodes multicast to each
 * other through corosync CPG — versioned, length- and range-checked before
 * any field is used; unknown types are reported so the caller can log and
 * ignore them (rolling upgrades). Pure: no I/O, no logging. */
#ifndef CL_CLUSTER_MSG_H
#define CL_CLUSTER_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Header, 16 bytes, big-endian:
 *   0 u32 magic CLM_MAGIC ("CLST")   4 u8 version CLM_VERSION   5 u8 type
 *   6 u16 flags (0)                  8 u32 length (whole message)
 *  12 u32 sender node id (must equal the CPG sender)
 * CLM_LINK_VIEW body: u32 generation, u16 count, u16 reserved (0), then
 * count entries of 16 bytes:
 *   u32 peer, u8 link, u8 state (enum hb_link_state), u8 class (enum
 *   hb_class), u8 peer (bits 0-2: the sender's node health of `peer`, enum
 *   hb_node_health; bit 3: this link is DOWN but rising again; others 0),
 *   i32 rtt_us (-1 unknown), u16 loss_permille (0..1000), u16 reserved
 */
#define CLM_MAGIC            0x434c5354u
#define CLM_VERSION          1
#define CLM_HEADER_LEN       16
#define CLM_VIEW_HEADER_LEN  8
#define CLM_VIEW_ENTRY_LEN   16
#define CLM_MAX_VIEW_ENTRIES 256 /* 32 nodes x 8 links */
#define CLM_PEER_RISING      0x08

/*
 * CLM_INVENTORY body: u32 generation, u16 count, u8 flags (CLM_INV_*),
 * u8 reserved (0), u64 host_free_kib (memory free for new domains on the
 * sender's host), u32 host_cpus, u32 reserved (0), then count entries of
 * CLM_INV_ENTRY_LEN (124) bytes:
 *   name[64] (NUL-padded, NUL-terminated), uuid[37] (canonical text,
 *   NUL-terminated), u8 state (enum clm_vm_state), u8 flags (CLM_VM_*),
 *   u8 reserved[5] (0), u32 vcpus, u64 mem_kib, u32 reserved (0)
 */
#define CLM_INV_HEADER_LEN  24
#define CLM_INV_ENTRY_LEN   124
#define CLM_MAX_INV_ENTRIES 256
#define CLM_INV_LIBVIRT_UP  0x01 /* the sender's libvirt is connected: the list is real */
#define CLM_VM_PERSISTENT   0x01
#define CLM_VM_NAME_MAX     64
#define CLM_VM_UUID_LEN     37

enum clm_vm_state { CLM_VM_OTHER = 0, CLM_VM_RUNNING, CLM_VM_PAUSED, CLM_VM_SHUTOFF, CLM_VM_CRASHED };

/*
 * CLM_MIGRATE body (CLM_MIGRATE_LEN - header = 132 bytes): u64 id, u32
 * source node, u32 target node, uuid[37], name[64], u8 kind (CLM_KIND_*),
 * u8 reserved[6] (0), u64 drain (the id of the drain that ordered it; 0:
 * asked by an admin). A CLM_KIND_START is a restart of an HA VM from the
 * registry's XML on `target` (evacuation): `source` is the failed node it
 * ran on; the target runs and reports it.
 * CLM_MIG_STATE body (224 bytes): u64 id, u8 state (enum clm_mig_state),
 * u8 reserved[7] (0), u64 processed, u64 remaining, u64 total (bytes),
 * reason[168] (NUL-terminated; "" unless failed), u64 dirty_rate (bytes/s),
 * u32 iteration (memory pass), i32 eta_s (-1 unknown).
 */
#define CLM_MIGRATE_LEN   (CLM_HEADER_LEN + 132)
#define CLM_MIG_STATE_LEN (CLM_HEADER_LEN + 224)
#define CLM_REASON_MAX    168

/*
 * CLM_MIG_COPY body (CLM_MIG_COPY_LEN - header = 40 bytes): what carries a
 * live migration's stream and how far it got, from its source, sent just
 * before each of its CLM_MIG_STATE reports (a separate type, not a longer
 * CLM_MIG_STATE: a node without it drops an unknown type and still applies
 * the state reports, where a longer report would be malformed to it).
 *   u64 id, u64 bytes (payload carried so far), u64 copy_us (time since the
 *   first channel came up, frozen when the copy ended; 0: not yet),
 *   u16 channels (QEMU connections), u16 up (channels that came up, <=
 *   channels), u8 backend (enum clm_copy_backend), u8 links (networks the
 *   channels are spread over, 1..CLM_COPY_LINKS_MAX), u8 streams (TCP
 *   streams per channel, >= 1), u8 flags (CLM_COPY_*), u8 reserved[8] (0).
 * A direct migration (QEMU's own TCP) says so with backend DIRECT and zeros.
 */
#define CLM_MIG_COPY_LEN   (CLM_HEADER_LEN + 40)
#define CLM_COPY_LINKS_MAX 8
#define CLM_COPY_DONE      0x01 /* every channel finished: the counters are final */
#define CLM_COPY_FAILED    0x02 /* the copy failed: the counters are where it stopped */
#define CLM_COPY_FLAGS_ALL (CLM_COPY_DONE | CLM_COPY_FAILED)

enum clm_copy_backend {
	CLM_COPY_DIRECT = 0,     /* QEMU's own TCP: no engine, no counters */
	CLM_COPY_TCP_RAW = 1,    /* mcopy, one unframed TCP stream per channel */
	CLM_COPY_TCP_FRAMED = 2, /* mcopy, framed, striped over `streams` streams per channel */
	CLM_COPY_RDMA = 3,
};

enum clm_mig_state { CLM_MIG_REQUESTED = 0, CLM_MIG_RUNNING, CLM_MIG_SUCCEEDED, CLM_MIG_FAILED };

/*
 * CLM_ADMIN body (CLM_ADMIN_LEN - header = 208 bytes): u32 node, u8 state
 * (enum clm_admin), u8 flags (CLM_ADM_*), u16 reserved (0), u64 version,
 * u64 if_version, u64 drain, u8 reserved[8] (0), reason[168] (NUL-terminated).
 * A node's admin state is a last-writer-wins register: a message applies
 * when its version is newer than the node's, and, if if_version is not 0,
 * only while the node's version is still if_version (the coordinator's
 * "DRAINING -> DRAINED" must not undo an undrain that overtook it). `drain`
 * names the drain (its first DRAINING version); migrations carry it.
 */
#define CLM_ADMIN_LEN     (CLM_HEADER_LEN + 208)
#define CLM_ADM_ABORT     0x01 /* DRAINING -> NONE: cancel the drain's migrations */
#define CLM_ADM_BLOCKED   0x02 /* DRAINING, but nothing more can move: see reason */
#define CLM_ADM_FLAGS_ALL (CLM_ADM_ABORT | CLM_ADM_BLOCKED)

enum clm_admin { CLM_ADMIN_NONE = 0, CLM_ADMIN_DRAINING, CLM_ADMIN_DRAINED, CLM_ADMIN_QUARANTINED };

enum clm_kind { CLM_KIND_MIGRATE = 0, CLM_KIND_START = 1 };

/*
 * CLM_FENCE body (CLM_FENCE_LEN - header = 184 bytes): u32 node, u8 state
 * (enum clm_fence), u8 how (enum clm_fence_how), u16 reserved (0), u64
 * version, reason[168] (NUL-terminated). A node's fence record: FENCED
 * means it is certainly not running anything (its agent succeeded, the
 * self-fence wait passed, or an admin confirmed it). Applied only while the
 * node is outside the membership; cleared when it rejoins.
 */
#define CLM_FENCE_LEN (CLM_HEADER_LEN + 184)

enum clm_fence { CLM_FENCE_NONE = 0, CLM_FENCE_FENCED };
enum clm_fence_how { CLM_FENCED_NOT = 0, CLM_FENCED_AGENT, CLM_FENCED_SELF_WAIT, CLM_FENCED_ADMIN };

struct clm_fence_msg {
	uint32_t sender;
	uint32_t node;
	uint8_t state, how;
	uint64_t version;
	char reason[CLM_REASON_MAX];
};

enum clm_type {
	CLM_LINK_VIEW = 1,
	CLM_INVENTORY = 2,
	CLM_MIGRATE = 3,
	CLM_MIG_STATE = 4,
	CLM_ADMIN = 5,
	CLM_HA = 6,
	CLM_FENCE = 7,
	CLM_MIG_COPY = 8,
};

struct clm_admin_msg {
	uint32_t sender;
	uint32_t node;
	uint8_t state; /* enum clm_admin */
	uint8_t flags;
	uint64_t version, if_version, drain;
	char reason[CLM_REASON_MAX];
};

struct clm_migrate {
	uint32_t sender;
	uint64_t id;
	uint32_t source, target;
	char uuid[CLM_VM_UUID_LEN];
	char name[CLM_VM_NAME_MAX];
	uint8_t kind;   /* enum clm_kind */
	uint64_t drain; /* 0: not part of a drain */
};

struct clm_mig_report {
	uint32_t sender;
	uint64_t id;
	uint8_t state;
	uint64_t processed, remaining, total;
	char reason[CLM_REASON_MAX];
	uint64_t dirty_rate;
	uint32_t iteration;
	int32_t eta_s;
};

struct clm_mig_copy {
	uint32_t sender;
	uint64_t id;
	uint64_t bytes;
	uint64_t copy_us;
	uint16_t channels, up;
	uint8_t backend; /* enum clm_copy_backend */
	uint8_t links, streams;
	uint8_t flags; /* CLM_COPY_* */
};

struct clm_vm {
	char name[CLM_VM_NAME_MAX];
	char uuid[CLM_VM_UUID_LEN];
	uint8_t state; /* enum clm_vm_state */
	bool persistent;
	uint32_t vcpus;
	uint64_t mem_kib;
};

struct clm_inventory {
	uint32_t sender;
	uint32_t generation;
	bool libvirt_up;
	uint16_t count;
	uint64_t host_free_kib; /* 0: unknown */
	uint32_t host_cpus;     /* 0: unknown */
	struct clm_vm vms[CLM_MAX_INV_ENTRIES];
};

struct clm_view_entry {
	uint32_t peer;
	uint8_t link;
	uint8_t state;
	uint8_t cls;
	uint8_t health; /* enum hb_node_health of peer, as the sender sees it */
	bool rising;    /* DOWN, but good heartbeats are arriving again */
	int32_t rtt_us;
	uint16_t loss_permille;
};

struct clm_link_view {
	uint32_t sender;
	uint32_t generation; /* the sender's view counter: newer replaces older */
	uint16_t count;
	struct clm_view_entry entries[CLM_MAX_VIEW_ENTRIES];
};

/* Encode; returns the length or -EMSGSIZE (buffer too small) / -EINVAL. */
int clm_encode_link_view(const struct clm_link_view *v, uint8_t *buf, size_t cap);

/* Read the header: 0 and *ret_type, or -EBADMSG (short, bad magic, length
 * mismatch, flags set, sender 0), -EPROTONOSUPPORT (other version). An
 * unknown type is not an error here: the caller decides. */
int clm_peek(const uint8_t *buf, size_t len, uint8_t *ret_type, uint32_t *ret_sender);

/* Write the header of a message of another module (e.g. ha.h) into buf,
 * which holds at least CLM_HEADER_LEN bytes; len is the whole message. */
void clm_put_header(uint8_t *buf, uint8_t type, size_t len, uint32_t sender);

/* Decode a CLM_LINK_VIEW: 0 or -EBADMSG; *ret untouched on failure. */
int clm_decode_link_view(const uint8_t *buf, size_t len, struct clm_link_view *ret);

/* Encode / decode a CLM_MIGRATE and a CLM_MIG_STATE report (fixed sizes). */
int clm_encode_migrate(const struct clm_migrate *m, uint8_t *buf, size_t cap);
int clm_decode_migrate(const uint8_t *buf, size_t len, struct clm_migrate *ret);
int clm_encode_mig_report(const struct clm_mig_report *m, uint8_t *buf, size_t cap);
int clm_decode_mig_report(const uint8_t *buf, size_t len, struct clm_mig_report *ret);
/* Encode / decode a CLM_MIG_COPY (fixed size); -EINVAL for fields out of range. */
int clm_encode_mig_copy(const struct clm_mig_copy *m, uint8_t *buf, size_t cap);
int clm_decode_mig_copy(const uint8_t *buf, size_t len, struct clm_mig_copy *ret);
/* "direct", "tcp unframed", "tcp framed", "rdma"; "?" out of range. */
const char *clm_copy_backend_name(uint8_t b);

/* Encode / decode a CLM_FENCE (fixed size). */
int clm_encode_fence(const struct clm_fence_msg *m, uint8_t *buf, size_t cap);
int clm_decode_fence(const uint8_t *buf, size_t len, struct clm_fence_msg *ret);

/* Encode / decode a CLM_ADMIN (fixed size). */
int clm_encode_admin(const struct clm_admin_msg *m, uint8_t *buf, size_t cap);
int clm_decode_admin(const uint8_t *buf, size_t len, struct clm_admin_msg *ret);

/* Encode / decode a CLM_INVENTORY, as for link views. Names and uuids must
 * be NUL-terminated within their fields; the decoder checks every byte. */
int clm_encode_inventory(const struct clm_inventory *v, uint8_t *buf, size_t cap);
int clm_decode_inventory(const uint8_t *buf, size_t len, struct clm_inventory *ret);

#endif

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* migrate/mcopy.h: the migration copy engine — carries QEMU's migration
 * connections (channels) between two nodes over authenticated TCP streams,
 * driven by the caller's event loop; per-channel data-path worker threads
 * report back through a pipe. A library: never logs, reports events. The
 * process must ignore SIGPIPE (splice to a closed peer raises it). */
#ifndef MCOPY_H
#define MCOPY_H

#include <stdint.h>
#include <sys/socket.h>

#include "common/loop.h"
#include "common/time.h"
#include "migrate/mcopy_proto.h"

#define MCOPY_LINK_MAX         4
#define MCOPY_DEFAULT_PORT     49300
#define MCOPY_DEFAULT_TIMEOUT  (10 * USEC_PER_SEC) /* handshake, connect, no progress mid-frame */
#define MCOPY_DEFAULT_SETUP    (60 * USEC_PER_SEC) /* until every channel is up */
#define MCOPY_DEFAULT_SOCK_BUF 0                   /* 0: kernel autotuning */

enum mcopy_backend {
	MCOPY_BACKEND_AUTO,
	MCOPY_BACKEND_TCP,
	MCOPY_BACKEND_RDMA,
};

struct mcopy_params {
	enum mcopy_role role;  /* MCOPY_CLIENT: the source (send), MCOPY_SERVER: the target (recv) */
	uint64_t migration_id; /* both sides must agree */
	unsigned channels;     /* QEMU connections to carry, 1..MCOPY_CHANNEL_MAX */
	unsigned streams;      /* send: TCP streams per channel, 1..MCOPY_STREAM_MAX */
	unsigned n_links;      /* send: target addresses (1..MCOPY_LINK_MAX); recv: listen addresses
				* (0..MCOPY_LINK_MAX; 0: streams come through mcopy_engine_adopt) */
	struct sockaddr_storage links[MCOPY_LINK_MAX];
	socklen_t link_lens[MCOPY_LINK_MAX];
	const char *unix_path; /* send: listen here for QEMU; recv: connect to QEMU here (again
				* every 50 ms while it is not there, until setup_timeout) */
	int io_fd;             /* or (-1 if unused) one channel read from / written to this fd */
	uint64_t bandwidth;    /* bytes per second for the whole migration; 0: no cap */
	usec_t timeout;        /* connect, handshake, stalled frame, final acknowledgement */
	usec_t setup_timeout;  /* from start until every channel is up */
	int sock_buf;          /* SO_SNDBUF/SO_RCVBUF in bytes; 0: autotuning */
	/* TCP congestion control of every stream (TCP_CONGESTION, e.g. "reno"),
	 * or NULL: the host's default. Must outlive the engine. It matters: on
	 * a 2-CPU VM the sending engine used 4-5x the CPU per GB with bbr (the
	 * host's default there) that it used with reno (docs/BENCHMARKS.md). */
	const char *congestion;
	const struct mcopy_key *key;
	/* send: MCOPY_BACKEND_TCP (default) or _RDMA, as mcopy_backend_choose
	 * resolved it (AUTO is -EINVAL here); RDMA needs streams == 1.
	 * recv: AUTO (default) takes what each source asks for, TCP refuses RDMA. */
	enum mcopy_backend backend;
	/* send, tcp: frame a channel even on a single stream. By default a
	 * 1-stream channel is carried unframed (splice through a pipe, see
	 * MCOPY_HELLO_RAW); framing is for striping over several streams. */
	bool framed;
};

/* Defaults for everything but role, id, links, key and the QEMU side. */
void mcopy_params_init(struct mcopy_params *p, enum mcopy_role role);

enum mcopy_event_type {
	MCOPY_EV_REFUSED,      /* recv: a peer's stream failed the handshake or was refused; dropped */
	MCOPY_EV_CHANNEL_UP,   /* every stream of a channel authenticated; data flows */
	MCOPY_EV_CHANNEL_DONE, /* a channel finished and was acknowledged */
	MCOPY_EV_FAILED,       /* the migration failed; the engine stopped */
	MCOPY_EV_DONE,         /* every channel finished */
};

struct mcopy_event {
	enum mcopy_event_type type;
	int error;             /* -errno or -MCOPY_E* (FAILED, REFUSED) */
	int peer_error;        /* positive errno the peer reported in an ABORT, or 0 */
	const char *what;      /* the operation that failed, e.g. "writing to the target" */
	const char *peer;      /* "address:port" of the peer stream concerned, or NULL */
	unsigned channel;      /* CHANNEL_*, FAILED: the channel concerned */
	unsigned stream;       /* REFUSED, FAILED */
	uint64_t bytes;        /* CHANNEL_DONE, DONE: payload bytes carried */
	uint64_t migration_id; /* REFUSED: the id the peer asked for */
};

struct mcopy_engine;
typedef void (*mcopy_event_cb)(struct mcopy_engine *e, const struct mcopy_event *ev, void *userdata);

/* Validates p (copied; the key must outlive the engine), opens the listening
 * sockets and registers with loop. Events are delivered from loop callbacks.
 * -EINVAL for bad parameters, -errno from socket/bind/listen. */
int mcopy_engine_new(struct ev_loop *loop, const struct mcopy_params *p, mcopy_event_cb cb, void *userdata,
		     struct mcopy_engine **ret_engine);
/* Stops the workers (they see the stop eventfd within one poll), joins them,
 * closes every fd. NULL is fine. Not from inside the event callback. */
void mcopy_engine_free(struct mcopy_engine *e);

/* recv: a stream accepted elsewhere (a listener shared by several
 * migrations, mcopy_listen) joins this engine, which runs its handshake as if
 * it had accepted it. Takes fd in every case (closed on failure). -EINVAL
 * (not a recv engine), -ECANCELED (the engine has stopped), -errno. */
int mcopy_engine_adopt(struct mcopy_engine *e, int fd, const struct sockaddr *peer, socklen_t len);

/* What an engine has done so far, readable at any time from the loop. */
struct mcopy_stats {
	uint64_t bytes;    /* payload carried so far, every channel (QEMU's return path not counted);
			    * tcp counts each chunk as it goes, rdma a channel at its end */
	unsigned channels; /* channels to carry */
	unsigned up;       /* channels whose data flows (or flowed) */
	unsigned done;     /* channels finished and acknowledged */
};

/* O(channels), no lock: the byte count is a relaxed atomic the workers add
 * to. Leaves *ret untouched when e or ret is NULL. */
void mcopy_engine_stats(const struct mcopy_engine *e, struct mcopy_stats *ret);

/* Whether streams may use congestion control name (mcopy_params.congestion;
 * NULL is the default, always fine): 0, -ENOENT (not available here),
 * -EPERM (not allowed: net.ipv4.tcp_allowed_congestion_control, without
 * CAP_NET_ADMIN), -EINVAL (not a name). Opens and closes a socket. */
int mcopy_congestion_check(const char *name);
/* What mcopy_congestion_check's error means, for a message that names the
 * setting: "not available here (net.ipv4.tcp_available_congestion_control;
 * ...)", "not allowed (...)", or strerror. */
const char *mcopy_congestion_strerror(int err);

/* The TCP port actually bound for link i (recv side; useful with port 0). */
int mcopy_engine_port(const struct mcopy_engine *e, unsigned link);

/* Which backend carries traffic to peer: RDMA when requested or (auto) when
 * an RDMA device reaches the peer (rdma_resolve_addr succeeds within 500 ms),
 * else TCP. why: one human sentence saying which and why. Returns 0, or
 * -ENODEV (rdma requested, no device reaches the peer) / -EOPNOTSUPP (rdma
 * requested, not built). Blocks up to the resolve deadline. */
int mcopy_backend_choose(enum mcopy_backend want, const struct sockaddr *peer, socklen_t len,
			 enum mcopy_backend *ret_backend, char *why, size_t whylen);
const char *mcopy_backend_name(enum mcopy_backend b);

#endif

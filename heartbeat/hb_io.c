/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* heartbeat/hb_io.c: UDP sockets for heartbeats. Reads in batches with
 * recvmmsg, drops anything that does not decode, authenticate and come from
 * the sender's configured address on that link; sends what the monitor says
 * is due. Peer lookup is a linear scan: <= 32 nodes x 8 links. Never logs. */
#include <errno.h>
#include <netinet/ip.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "heartbeat/hb_io.h"

#define HB_IO_MAX_LINKS 256
#define HB_IO_BATCH     32

struct hb_io_link {
	uint8_t link;
	int fd;
	struct hb_addr local;
};

struct hb_io_peer {
	uint32_t node_id;
	uint8_t link;
	struct hb_addr addr;
	struct sockaddr_storage sa;
	socklen_t salen;
};

struct hb_io {
	struct hb_monitor *m;
	const struct hb_key *key;
	uint32_t cluster_id;
	struct hb_io_link *links;
	size_t n_links;
	struct hb_io_peer *peers;
	size_t n_peers;
	struct hb_io_counters counters;
};

int hb_io_new(struct hb_monitor *m, const struct hb_key *key, uint32_t cluster_id, struct hb_io **ret_io)
{
	struct hb_io *io;

	if (!m || !key || !ret_io)
		return -EINVAL;
	io = calloc(1, sizeof(*io));
	if (!io)
		return -ENOMEM;
	io->m = m;
	io->key = key;
	io->cluster_id = cluster_id;
	*ret_io = io;
	return 0;
}

void hb_io_free(struct hb_io *io)
{
	if (!io)
		return;
	for (size_t i = 0; i < io->n_links; i++)
		close(io->links[i].fd);
	free(io->links);
	free(io->peers);
	free(io);
}

static struct hb_io_link *find_link(struct hb_io *io, uint8_t link)
{
	for (size_t i = 0; i < io->n_links; i++)
		if (io->links[i].link == link)
			return &io->links[i];
	return NULL;
}

static struct hb_io_peer *find_peer(struct hb_io *io, uint32_t node_id, uint8_t link)
{
	for (size_t i = 0; i < io->n_peers; i++)
		if (io->peers[i].node_id == node_id && io->peers[i].link == link)
			return &io->peers[i];
	return NULL;
}

static int open_socket(const struct hb_addr *local, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1, tos = IPTOS_PREC_INTERNETCONTROL, prio = 6;

	fd = socket(local->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* best effort: heartbeats are network control traffic (DSCP CS6) */
	if (local->family == AF_INET)
		(void)setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof(tos));
	else
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof(tos));
	(void)setsockopt(fd, SOL_SOCKET, SO_PRIORITY, &prio, sizeof(prio));
	if (local->family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	hb_addr_to_sockaddr(local, port, &ss, &len);
	if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

int hb_io_add_link(struct hb_io *io, uint8_t link, const struct hb_addr *local, uint16_t port)
{
	struct hb_io_link *v;
	int fd;

	if (!io || !local || port == 0)
		return -EINVAL;
	if (find_link(io, link))
		return -EEXIST;
	if (io->n_links >= HB_IO_MAX_LINKS)
		return -ENOSPC;
	v = realloc(io->links, (io->n_links + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	io->links = v;
	fd = open_socket(local, port);
	if (fd < 0)
		return fd;
	io->links[io->n_links++] = (struct hb_io_link){.link = link, .fd = fd, .local = *local};
	return fd;
}

int hb_io_add_peer(struct hb_io *io, uint32_t node_id, uint8_t link, const struct hb_addr *addr,
		   uint16_t port)
{
	struct hb_io_link *l;
	struct hb_io_peer *v, p = {.node_id = node_id, .link = link};

	if (!io || !addr || port == 0 || node_id == 0)
		return -EINVAL;
	l = find_link(io, link);
	if (!l)
		return -ENOENT;
	if (addr->family != l->local.family)
		return -EAFNOSUPPORT;
	if (find_peer(io, node_id, link))
		return -EEXIST;
	v = realloc(io->peers, (io->n_peers + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	io->peers = v;
	p.addr = *addr;
	hb_addr_to_sockaddr(addr, port, &p.sa, &p.salen);
	io->peers[io->n_peers++] = p;
	return 0;
}

static void handle_datagram(struct hb_io *io, const struct hb_io_link *l, const uint8_t *buf, size_t len,
			    const struct sockaddr_storage *from, socklen_t fromlen, usec_t now)
{
	struct hb_packet pkt;
	struct hb_addr src;
	const struct hb_io_peer *p;
	int r;

	r = hb_wire_decode(buf, len, io->cluster_id, io->key, &pkt);
	if (r < 0) {
		int e = -r - HB_ETOOSHORT;
		if (e >= 0 &&
		    e < (int)(sizeof(io->counters.decode_errors) / sizeof(io->counters.decode_errors[0])))
			io->counters.decode_errors[e]++;
		return;
	}
	/* authentic, but it must also come from where that sender lives on
	 * this link: catches miswired configs and reflected packets */
	p = find_peer(io, pkt.sender, pkt.link);
	if (pkt.link != l->link || !p ||
	    hb_addr_from_sockaddr((const struct sockaddr *)from, fromlen, &src, NULL) < 0 ||
	    !hb_addr_equal(&src, &p->addr)) {
		io->counters.wrong_source++;
		return;
	}
	r = hb_monitor_rx(io->m, &pkt, now);
	if (r >= 0 && r < (int)(sizeof(io->counters.verdicts) / sizeof(io->counters.verdicts[0])))
		io->counters.verdicts[r]++;
}

int hb_io_recv(struct hb_io *io, int fd, usec_t now)
{
	uint8_t bufs[HB_IO_BATCH][HB_WIRE_LEN + 1];
	struct sockaddr_storage from[HB_IO_BATCH];
	struct mmsghdr msgs[HB_IO_BATCH];
	struct iovec iov[HB_IO_BATCH];
	struct hb_io_link *l = NULL;
	int total = 0;

	if (!io)
		return -EINVAL;
	for (size_t i = 0; i < io->n_links; i++)
		if (io->links[i].fd == fd)
			l = &io->links[i];
	if (!l)
		return -ENOENT;
	for (;;) {
		int n;

		memset(msgs, 0, sizeof(msgs));
		for (int i = 0; i < HB_IO_BATCH; i++) {
			/* one byte more than a packet, so an oversized one shows as too long */
			iov[i] = (struct iovec){.iov_base = bufs[i], .iov_len = sizeof(bufs[i])};
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			msgs[i].msg_hdr.msg_name = &from[i];
			msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
		}
		n = recvmmsg(fd, msgs, HB_IO_BATCH, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EINTR)
				continue;
			io->counters.rx_errors++;
			/* ICMP errors (ECONNREFUSED …) are queued on UDP sockets: keep reading */
			if (errno == ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH)
				continue;
			return total ? total : -errno;
		}
		for (int i = 0; i < n; i++) {
			size_t len = msgs[i].msg_len;
			if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC)
				len = sizeof(bufs[i]); /* longer than we read: too long anyway */
			handle_datagram(io, l, bufs[i], len, &from[i], msgs[i].msg_hdr.msg_namelen, now);
		}
		io->counters.rx_datagrams += (uint64_t)n;
		total += n;
		if (n < HB_IO_BATCH)
			break;
	}
	return total;
}

int hb_io_send_due(struct hb_io *io, usec_t now)
{
	struct hb_tx tx[HB_IO_BATCH];
	int sent = 0;
	size_t n;

	if (!io)
		return -EINVAL;
	while ((n = hb_monitor_poll_tx(io->m, now, tx, HB_IO_BATCH)) > 0) {
		for (size_t i = 0; i < n; i++) {
			uint8_t buf[HB_WIRE_LEN];
			const struct hb_io_peer *p = find_peer(io, tx[i].pkt.target, tx[i].pkt.link);
			const struct hb_io_link *l = find_link(io, tx[i].pkt.link);
			int len;

			if (!p || !l) {
				io->counters.tx_errors++;
				continue;
			}
			len = hb_wire_encode(&tx[i].pkt, io->key, buf, sizeof(buf));
			if (len < 0 || sendto(l->fd, buf, (size_t)len, MSG_DONTWAIT,
					      (const struct sockaddr *)&p->sa, p->salen) < 0) {
				io->counters.tx_errors++;
				continue;
			}
			io->counters.tx_datagrams++;
			sent++;
		}
	}
	return sent;
}

const struct hb_io_counters *hb_io_get_counters(const struct hb_io *io)
{
	return &io->counters;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* heartbeat/hb_net.h: IPv4/IPv6 addresses and prefixes, and the same- vs
 * cross-subnet classification of a (local address, peer) pair. Pure except
 * hb_net_local_prefixlen, which reads the interface table. */
#ifndef HB_NET_H
#define HB_NET_H

#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "heartbeat/hb_monitor.h"

struct hb_addr {
	int family; /* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} u;
};

#define HB_ADDR_STRLEN INET6_ADDRSTRLEN

/* "192.0.2.1" or "2001:db8::1". 0 or -EINVAL; *ret untouched on failure. */
int hb_addr_parse(const char *s, struct hb_addr *ret_addr);
/* "192.0.2.0/24" or "2001:db8::/64"; host bits must be zero. 0 or -EINVAL. */
int hb_prefix_parse(const char *s, struct hb_addr *ret_addr, unsigned *ret_len);
bool hb_addr_equal(const struct hb_addr *a, const struct hb_addr *b);
bool hb_prefix_contains(const struct hb_addr *prefix, unsigned len, const struct hb_addr *a);
/* Writes a NUL-terminated string into buf (HB_ADDR_STRLEN bytes); returns buf. */
const char *hb_addr_str(const struct hb_addr *a, char *buf, size_t len);

/* sockaddr conversions (port in host order). */
void hb_addr_to_sockaddr(const struct hb_addr *a, uint16_t port, struct sockaddr_storage *ss,
			 socklen_t *ret_len);
int hb_addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct hb_addr *ret_addr,
			  uint16_t *ret_port);

/* same-subnet when peer lies inside local/prefixlen, else cross-subnet. */
enum hb_class hb_net_classify(const struct hb_addr *local, unsigned prefixlen, const struct hb_addr *peer);

/* Prefix length of the interface address equal to `local` (getifaddrs), or
 * failing that of an interface prefix containing it (e.g. 127.0.1.1 on
 * lo's 127.0.0.1/8). -ENOENT when no interface has it. */
int hb_net_local_prefixlen(const struct hb_addr *local, unsigned *ret_len);

/* The same over a given interface list (pure; what the two above use):
 * *ret_exact tells whether the address itself was found. 0 or -ENOENT. */
struct ifaddrs;
int hb_net_prefixlen_in(const struct ifaddrs *ifs, const struct hb_addr *local, unsigned *ret_len,
			bool *ret_exact);

/* true when `a` is configured on one of this host's interfaces (exactly). */
bool hb_net_addr_is_local(const struct hb_addr *a);

#endif

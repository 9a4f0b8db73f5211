/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* heartbeat/hb_net.c: address and prefix parsing, prefix matching and the
 * same-/cross-subnet classification. Pure except the getifaddrs() lookup in
 * hb_net_local_prefixlen. Never logs. */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heartbeat/hb_net.h"

int hb_addr_parse(const char *s, struct hb_addr *ret_addr)
{
	struct hb_addr a;

	if (!s || !ret_addr)
		return -EINVAL;
	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, s, &a.u.v4) == 1)
		a.family = AF_INET;
	else if (inet_pton(AF_INET6, s, &a.u.v6) == 1)
		a.family = AF_INET6;
	else
		return -EINVAL;
	*ret_addr = a;
	return 0;
}

static unsigned addr_bits(const struct hb_addr *a)
{
	return a->family == AF_INET ? 32 : 128;
}

static const uint8_t *addr_bytes(const struct hb_addr *a)
{
	return a->family == AF_INET ? (const uint8_t *)&a->u.v4 : (const uint8_t *)&a->u.v6;
}

/* true when the first `len` bits of a and b agree (same family assumed) */
static bool bits_equal(const uint8_t *a, const uint8_t *b, unsigned len)
{
	unsigned full = len / 8, rest = len % 8;

	if (memcmp(a, b, full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (a[full] & mask) == (b[full] & mask);
}

int hb_prefix_parse(const char *s, struct hb_addr *ret_addr, unsigned *ret_len)
{
	char buf[HB_ADDR_STRLEN + 8];
	struct hb_addr a;
	uint8_t masked[16] = {0};
	unsigned nbytes;
	const char *slash;
	char *end;
	unsigned long len;

	if (!s || !ret_addr || !ret_len)
		return -EINVAL;
	slash = strchr(s, '/');
	if (!slash || (size_t)(slash - s) >= sizeof(buf) || slash[1] < '0' || slash[1] > '9')
		return -EINVAL;
	memcpy(buf, s, (size_t)(slash - s));
	buf[slash - s] = '\0';
	if (hb_addr_parse(buf, &a) < 0)
		return -EINVAL;
	errno = 0;
	len = strtoul(slash + 1, &end, 10);
	if (errno || *end != '\0' || len > addr_bits(&a))
		return -EINVAL;
	/* host bits must be zero: the address masked to len must equal itself */
	nbytes = addr_bits(&a) / 8;
	memcpy(masked, addr_bytes(&a), nbytes);
	for (unsigned i = 0; i < nbytes; i++) {
		unsigned bit0 = i * 8;
		if (bit0 >= len)
			masked[i] = 0;
		else if (bit0 + 8 > len)
			masked[i] &= (uint8_t)(0xff << (8 - (len - bit0)));
	}
	if (memcmp(masked, addr_bytes(&a), nbytes) != 0)
		return -EINVAL;
	*ret_addr = a;
	*ret_len = (unsigned)len;
	return 0;
}

bool hb_addr_equal(const struct hb_addr *a, const struct hb_addr *b)
{
	return a->family == b->family && memcmp(addr_bytes(a), addr_bytes(b), addr_bits(a) / 8) == 0;
}

bool hb_prefix_contains(const struct hb_addr *prefix, unsigned len, const struct hb_addr *a)
{
	if (prefix->family != a->family || len > addr_bits(prefix))
		return false;
	return bits_equal(addr_bytes(prefix), addr_bytes(a), len);
}

const char *hb_addr_str(const struct hb_addr *a, char *buf, size_t len)
{
	if (!inet_ntop(a->family, addr_bytes(a), buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

void hb_addr_to_sockaddr(const struct hb_addr *a, uint16_t port, struct sockaddr_storage *ss,
			 socklen_t *ret_len)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sin->sin_addr = a->u.v4;
		*ret_len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		sin6->sin6_addr = a->u.v6;
		*ret_len = sizeof(*sin6);
	}
}

int hb_addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct hb_addr *ret_addr,
			  uint16_t *ret_port)
{
	struct hb_addr a;
	uint16_t port;

	memset(&a, 0, sizeof(a));
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		a.family = AF_INET;
		a.u.v4 = sin->sin_addr;
		port = ntohs(sin->sin_port);
	} else if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
		a.family = AF_INET6;
		a.u.v6 = sin6->sin6_addr;
		port = ntohs(sin6->sin6_port);
		/* an IPv4-mapped source on a dual-stack socket is the IPv4 peer */
		if (IN6_IS_ADDR_V4MAPPED(&a.u.v6)) {
			struct in_addr v4;
			memcpy(&v4, &a.u.v6.s6_addr[12], 4);
			a.family = AF_INET;
			a.u.v4 = v4;
		}
	} else {
		return -EAFNOSUPPORT;
	}
	*ret_addr = a;
	if (ret_port)
		*ret_port = port;
	return 0;
}

enum hb_class hb_net_classify(const struct hb_addr *local, unsigned prefixlen, const struct hb_addr *peer)
{
	return hb_prefix_contains(local, prefixlen, peer) ? HB_CLASS_SAME_SUBNET : HB_CLASS_CROSS_SUBNET;
}

static unsigned netmask_len(const struct sockaddr *mask)
{
	const uint8_t *p;
	unsigned n, len = 0;

	if (mask->sa_family == AF_INET) {
		p = (const uint8_t *)&((const struct sockaddr_in *)mask)->sin_addr;
		n = 4;
	} else {
		p = (const uint8_t *)&((const struct sockaddr_in6 *)mask)->sin6_addr;
		n = 16;
	}
	for (unsigned i = 0; i < n; i++)
		len += (unsigned)__builtin_popcount(p[i]);
	return len;
}

int hb_net_prefixlen_in(const struct ifaddrs *ifs, const struct hb_addr *local, unsigned *ret_len,
			bool *ret_exact)
{
	const struct ifaddrs *i;
	int exact = -1, containing = -1;

	if (!local || !ret_len || !ret_exact)
		return -EINVAL;
	for (i = ifs; i; i = i->ifa_next) {
		struct hb_addr a;
		unsigned len;

		if (!i->ifa_addr || !i->ifa_netmask || i->ifa_addr->sa_family != local->family)
			continue;
		if (hb_addr_from_sockaddr(i->ifa_addr,
					  i->ifa_addr->sa_family == AF_INET ? sizeof(struct sockaddr_in)
									    : sizeof(struct sockaddr_in6),
					  &a, NULL) < 0)
			continue;
		len = netmask_len(i->ifa_netmask);
		if (hb_addr_equal(&a, local)) {
			exact = (int)len;
			break;
		}
		if (containing < 0 && hb_prefix_contains(&a, len, local))
			containing = (int)len;
	}
	if (exact < 0 && containing < 0)
		return -ENOENT;
	*ret_len = (unsigned)(exact >= 0 ? exact : containing);
	*ret_exact = exact >= 0;
	return 0;
}

static int scan_ifaddrs(const struct hb_addr *local, unsigned *ret_len, bool *ret_exact)
{
	struct ifaddrs *ifs;
	int r;

	if (getifaddrs(&ifs) < 0)
		return -errno;
	r = hb_net_prefixlen_in(ifs, local, ret_len, ret_exact);
	freeifaddrs(ifs);
	return r;
}

int hb_net_local_prefixlen(const struct hb_addr *local, unsigned *ret_len)
{
	bool exact;

	if (!local || !ret_len)
		return -EINVAL;
	return scan_ifaddrs(local, ret_len, &exact);
}

bool hb_net_addr_is_local(const struct hb_addr *a)
{
	unsigned len;
	bool exact = false;

	return a && scan_ifaddrs(a, &len, &exact) == 0 && exact;
}

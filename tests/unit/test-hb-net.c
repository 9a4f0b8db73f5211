/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/unit/test-hb-net.c: address/prefix parsing, prefix matching, the
 * same-/cross-subnet classification and sockaddr conversions, IPv4 and IPv6;
 * the interface lookups against loopback, which every namespace has. */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "heartbeat/hb_net.h"

static struct hb_addr A(const char *s) {
	struct hb_addr a;

	assert_int_equal(hb_addr_parse(s, &a), 0);
	return a;
}

static void
test_addr_parse(void **state)
{
	struct hb_addr a, untouched;
	char buf[HB_ADDR_STRLEN];
	static const char *const bad[] = {"",    "1.2.3", "1.2.3.256", "1.2.3.4 ", " 1.2.3.4", "10.0.0.1/24",
					  "::g", "hv1",   "1.2.3.4.5", "01.2.3.4x"};

	a = A("192.0.2.1");
	assert_int_equal(a.family, AF_INET);
	assert_string_equal(hb_addr_str(&a, buf, sizeof(buf)), "192.0.2.1");
	a = A("2001:db8::1");
	assert_int_equal(a.family, AF_INET6);
	assert_string_equal(hb_addr_str(&a, buf, sizeof(buf)), "2001:db8::1");
	memset(&untouched, 0x5a, sizeof(untouched));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct hb_addr b = untouched;
		assert_int_equal(hb_addr_parse(bad[i], &b), -EINVAL);
		assert_memory_equal(&b, &untouched, sizeof(b)); /* never half-filled */
	}
	assert_int_equal(hb_addr_parse(NULL, &a), -EINVAL);
}

static void test_prefix_parse(void **state)
{
	static const struct {
		const char *s;
		int ret;
		unsigned len;
	} cases[] = {
		{"10.0.0.0/8", 0, 8},           {"10.99.1.0/24", 0, 24},        {"0.0.0.0/0", 0, 0},
		{"192.0.2.1/32", 0, 32},        {"10.99.1.1/24", -EINVAL, 0}, /* host bits set */
		{"10.99.1.0/33", -EINVAL, 0},   {"10.99.1.0/", -EINVAL, 0},     {"10.99.1.0", -EINVAL, 0},
		{"10.99.1.0/-1", -EINVAL, 0},   {"10.99.1.0/2x", -EINVAL, 0},   {"2001:db8::/64", 0, 64},
		{"2001:db8::1/64", -EINVAL, 0}, {"2001:db8::/129", -EINVAL, 0}, {"10.99.1.128/25", 0, 25},
		{"10.99.1.64/25", -EINVAL, 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct hb_addr a;
		unsigned len = 999;
		int r = hb_prefix_parse(cases[i].s, &a, &len);

		if (r != cases[i].ret)
			fail_msg("%s: got %d, want %d", cases[i].s, r, cases[i].ret);
		if (r == 0)
			assert_int_equal(len, cases[i].len);
		else
			assert_int_equal(len, 999);
	}
}

static void test_contains_and_classify(void **state)
{
	struct hb_addr net, net6;
	unsigned len, len6;

	assert_int_equal(hb_prefix_parse("10.99.1.0/24", &net, &len), 0);
	assert_true(hb_prefix_contains(&net, len, &(struct hb_addr){0}) == false);
	{
		struct hb_addr in = A("10.99.1.200"), out = A("10.99.11.2"), v6 = A("::1");
		assert_true(hb_prefix_contains(&net, len, &in));
		assert_false(hb_prefix_contains(&net, len, &out));
		assert_false(hb_prefix_contains(&net, len, &v6)); /* other family */
	}
	assert_int_equal(hb_prefix_parse("2001:db8:1::/48", &net6, &len6), 0);
	{
		struct hb_addr in = A("2001:db8:1:ffff::9"), out = A("2001:db8:2::9");
		assert_true(hb_prefix_contains(&net6, len6, &in));
		assert_false(hb_prefix_contains(&net6, len6, &out));
	}
	{
		struct hb_addr local = A("10.99.1.1"), same = A("10.99.1.3"), cross = A("10.99.11.3");
		assert_int_equal(hb_net_classify(&local, 24, &same), HB_CLASS_SAME_SUBNET);
		assert_int_equal(hb_net_classify(&local, 24, &cross), HB_CLASS_CROSS_SUBNET);
		assert_int_equal(hb_net_classify(&local, 16, &cross), HB_CLASS_SAME_SUBNET);
		/* a /25 boundary splits 10.99.1.0/24 */
		struct hb_addr hi = A("10.99.1.200");
		assert_int_equal(hb_net_classify(&local, 25, &hi), HB_CLASS_CROSS_SUBNET);
		assert_int_equal(hb_net_classify(&local, 32, &local), HB_CLASS_SAME_SUBNET);
	}
	assert_string_equal(hb_class_name(HB_CLASS_SAME_SUBNET), "same-subnet");
	assert_string_equal(hb_class_name(HB_CLASS_CROSS_SUBNET), "cross-subnet");
}

static void test_sockaddr_roundtrip(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct hb_addr a = A("10.1.2.3"), b, c = A("fe80::7"), m;
	uint16_t port = 0;

	hb_addr_to_sockaddr(&a, 3343, &ss, &len);
	assert_int_equal(len, sizeof(struct sockaddr_in));
	assert_int_equal(hb_addr_from_sockaddr((struct sockaddr *)&ss, len, &b, &port), 0);
	assert_true(hb_addr_equal(&a, &b));
	assert_int_equal(port, 3343);
	hb_addr_to_sockaddr(&c, 1, &ss, &len);
	assert_int_equal(len, sizeof(struct sockaddr_in6));
	assert_int_equal(hb_addr_from_sockaddr((struct sockaddr *)&ss, len, &b, &port), 0);
	assert_true(hb_addr_equal(&c, &b));
	/* an IPv4-mapped source is reported as the IPv4 address */
	m = A("::ffff:10.1.2.3");
	hb_addr_to_sockaddr(&m, 9, &ss, &len);
	assert_int_equal(hb_addr_from_sockaddr((struct sockaddr *)&ss, len, &b, NULL), 0);
	assert_true(hb_addr_equal(&a, &b));
	/* truncated sockaddr */
	assert_int_equal(hb_addr_from_sockaddr((struct sockaddr *)&ss, 4, &b, NULL), -EAFNOSUPPORT);
}

/* A fake interface table: eth1 10.99.1.1/24, eth2 10.99.2.1/16 (listed
 * first, so "first containing prefix" is tested), lo6 2001:db8::1/64. */
static void test_prefixlen_in_fake_table(void **state)
{
	struct sockaddr_in a1 = {.sin_family = AF_INET}, m1 = {.sin_family = AF_INET};
	struct sockaddr_in a2 = {.sin_family = AF_INET}, m2 = {.sin_family = AF_INET};
	struct sockaddr_in6 a3 = {.sin6_family = AF_INET6}, m3 = {.sin6_family = AF_INET6};
	struct ifaddrs e3 = {
		.ifa_name = "lo6", .ifa_addr = (struct sockaddr *)&a3, .ifa_netmask = (struct sockaddr *)&m3};
	struct ifaddrs e1 = {.ifa_next = &e3,
			     .ifa_name = "eth1",
			     .ifa_addr = (struct sockaddr *)&a1,
			     .ifa_netmask = (struct sockaddr *)&m1};
	struct ifaddrs e2 = {.ifa_next = &e1,
			     .ifa_name = "eth2",
			     .ifa_addr = (struct sockaddr *)&a2,
			     .ifa_netmask = (struct sockaddr *)&m2};
	struct ifaddrs none = {.ifa_next = &e2, .ifa_name = "noaddr"}; /* no address: skipped */
	unsigned len = 0;
	bool exact = true;
	struct hb_addr x;

	inet_pton(AF_INET, "10.99.1.1", &a1.sin_addr);
	inet_pton(AF_INET, "255.255.255.0", &m1.sin_addr);
	inet_pton(AF_INET, "10.99.2.1", &a2.sin_addr);
	inet_pton(AF_INET, "255.255.0.0", &m2.sin_addr);
	inet_pton(AF_INET6, "2001:db8::1", &a3.sin6_addr);
	inet_pton(AF_INET6, "ffff:ffff:ffff:ffff::", &m3.sin6_addr);

	x = A("10.99.1.1"); /* exact match wins over the /16 listed earlier */
	assert_int_equal(hb_net_prefixlen_in(&none, &x, &len, &exact), 0);
	assert_int_equal(len, 24);
	assert_true(exact);
	x = A("10.99.7.7"); /* only inside eth2's /16 */
	assert_int_equal(hb_net_prefixlen_in(&none, &x, &len, &exact), 0);
	assert_int_equal(len, 16);
	assert_false(exact);
	x = A("2001:db8::9");
	assert_int_equal(hb_net_prefixlen_in(&none, &x, &len, &exact), 0);
	assert_int_equal(len, 64);
	assert_false(exact);
	x = A("192.0.2.77");
	len = 5;
	assert_int_equal(hb_net_prefixlen_in(&none, &x, &len, &exact), -ENOENT);
	assert_int_equal(len, 5); /* untouched */
	assert_int_equal(hb_net_prefixlen_in(NULL, &x, &len, &exact), -ENOENT);
}

/* The live table: loopback has 127.0.0.1/8 in every namespace that is up. */
static void test_local_lookups(void **state)
{
	struct hb_addr lo = A("127.0.0.1"), lo_other = A("127.0.1.1");
	unsigned len = 0;

	assert_int_equal(hb_net_local_prefixlen(&lo, &len), 0);
	assert_int_equal(len, 8);
	len = 0;
	assert_int_equal(hb_net_local_prefixlen(&lo_other, &len), 0); /* inside lo's 127/8 */
	assert_int_equal(len, 8);
	assert_true(hb_net_addr_is_local(&lo));
	assert_false(hb_net_addr_is_local(&lo_other)); /* contained, but not configured */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_parse),
		cmocka_unit_test(test_prefix_parse),
		cmocka_unit_test(test_contains_and_classify),
		cmocka_unit_test(test_sockaddr_roundtrip),
		cmocka_unit_test(test_prefixlen_in_fake_table),
		cmocka_unit_test(test_local_lookups),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/unit/test-hb-io.c: the UDP layer between two monitors on loopback
 * addresses (127.0.0.1 and 127.0.0.2): heartbeats flow both ways and bring
 * the links UP; garbage, wrong-key and wrong-source datagrams are counted and
 * dropped. Loopback sends are queued before sendto returns, so no waiting. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "heartbeat/hb_io.h"

struct side {
	struct hb_monitor *m;
	struct hb_io *io;
	int fd;
	int events;
	int last_state;
};

static const uint8_t key_bytes[40] = "0123456789abcdef0123456789abcdef-test-k";
static struct hb_key *key;
static uint16_t port;

static void on_event(const struct hb_event *ev, void *ud)
{
	struct side *s = ud;

	if (ev->kind == HB_EV_LINK) {
		s->events++;
		s->last_state = ev->new_state;
	}
}

static uint16_t free_port(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

static void side_init(struct side *s, uint32_t self, uint32_t peer, const char *local, const char *remote)
{
	struct hb_monitor_params p = {
		.local_id = self,
		.cluster_id = hb_cluster_id("unit"),
		.incarnation = 1000 + self,
		.cls = {{100, 5}, {100, 10}},
		.rise = 3,
		.history_len = 10,
	};
	struct hb_addr la, ra;

	memset(s, 0, sizeof(*s));
	s->last_state = -1;
	assert_int_equal(hb_addr_parse(local, &la), 0);
	assert_int_equal(hb_addr_parse(remote, &ra), 0);
	assert_int_equal(hb_monitor_new(&p, &s->m), 0);
	hb_monitor_set_event_cb(s->m, on_event, s);
	assert_int_equal(hb_io_new(s->m, key, p.cluster_id, &s->io), 0);
	s->fd = hb_io_add_link(s->io, 0, &la, port);
	assert_true(s->fd >= 0);
	assert_int_equal(hb_monitor_add_link(s->m, peer, 0, HB_CLASS_SAME_SUBNET, 0), 0);
	assert_int_equal(hb_io_add_peer(s->io, peer, 0, &ra, port), 0);
}

static void side_free(struct side *s)
{
	hb_io_free(s->io);
	hb_monitor_free(s->m);
}

static int setup(void **state)
{
	port = free_port();
	return hb_key_new(key_bytes, sizeof(key_bytes), &key);
}

static int teardown(void **state)
{
	hb_key_free(key);
	return 0;
}

static void test_heartbeats_flow_both_ways(void **state)
{
	struct side a, b;
	struct hb_link_stats st;

	side_init(&a, 1, 2, "127.0.0.1", "127.0.0.2");
	side_init(&b, 2, 1, "127.0.0.2", "127.0.0.1");
	for (usec_t now = 0; now <= 500 * USEC_PER_MSEC; now += 100 * USEC_PER_MSEC) {
		assert_int_equal(hb_io_send_due(a.io, now), 1);
		assert_int_equal(hb_io_send_due(b.io, now), 1);
		assert_int_equal(hb_io_recv(b.io, b.fd, now + 10), 1);
		assert_int_equal(hb_io_recv(a.io, a.fd, now + 10), 1);
		hb_monitor_tick(a.m, now + 10);
		hb_monitor_tick(b.m, now + 10);
	}
	assert_int_equal(hb_monitor_link_stats(a.m, 2, 0, &st), 0);
	assert_int_equal(st.state, HB_LINK_UP);
	assert_int_equal(st.rx, 6);
	assert_int_equal(a.last_state, HB_LINK_UP);
	assert_int_equal(hb_monitor_link_stats(b.m, 1, 0, &st), 0);
	assert_int_equal(st.state, HB_LINK_UP);
	assert_true(st.rtt_us >= 0); /* echo fields made it through the wire */
	assert_int_equal(hb_io_get_counters(a.io)->tx_datagrams, 6);
	assert_int_equal(hb_io_get_counters(b.io)->verdicts[HB_RX_OK], 6);
	/* nothing pending: recv returns 0, not an error */
	assert_int_equal(hb_io_recv(a.io, a.fd, 0), 0);
	assert_int_equal(hb_io_recv(a.io, 12345, 0), -ENOENT);
	side_free(&a);
	side_free(&b);
}

static void send_raw(const char *from, const void *buf, size_t len)
{
	struct sockaddr_in src = {.sin_family = AF_INET},
			   dst = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	inet_pton(AF_INET, from, &src.sin_addr);
	inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
	assert_int_equal(bind(fd, (struct sockaddr *)&src, sizeof(src)), 0);
	assert_int_equal(sendto(fd, buf, len, 0, (struct sockaddr *)&dst, sizeof(dst)), (ssize_t)len);
	close(fd);
}

static void test_bad_datagrams_dropped_and_counted(void **state)
{
	struct side a;
	struct hb_packet pkt = {
		.cluster_id = hb_cluster_id("unit"),
		.sender = 2,
		.target = 1,
		.link = 0,
		.incarnation = 5,
		.seq = 1,
		.send_time = 1,
	};
	uint8_t good[HB_WIRE_LEN], big[HB_WIRE_LEN + 50] = {0}, junk[7] = "garbage";
	const uint8_t other_key_bytes[40] = "another key, another cluster, same size";
	struct hb_key *other;
	const struct hb_io_counters *c;
	struct hb_link_stats st;

	side_init(&a, 1, 2, "127.0.0.1", "127.0.0.2");
	c = hb_io_get_counters(a.io);
	assert_int_equal(hb_wire_encode(&pkt, key, good, sizeof(good)), HB_WIRE_LEN);

	send_raw("127.0.0.2", junk, sizeof(junk));
	send_raw("127.0.0.2", big, sizeof(big));
	send_raw("127.0.0.3", good, sizeof(good)); /* authentic but from the wrong address */
	assert_int_equal(hb_key_new(other_key_bytes, sizeof(other_key_bytes), &other), 0);
	pkt.seq = 2;
	assert_int_equal(hb_wire_encode(&pkt, other, good, sizeof(good)), HB_WIRE_LEN);
	send_raw("127.0.0.2", good, sizeof(good)); /* wrong key */
	hb_key_free(other);

	assert_int_equal(hb_io_recv(a.io, a.fd, 1000), 4);
	assert_int_equal(c->rx_datagrams, 4);
	assert_int_equal(c->decode_errors[HB_ETOOSHORT - HB_ETOOSHORT], 1);
	assert_int_equal(c->decode_errors[HB_ETOOLONG - HB_ETOOSHORT], 1);
	assert_int_equal(c->decode_errors[HB_EBADHMAC - HB_ETOOSHORT], 1);
	assert_int_equal(c->wrong_source, 1);
	assert_int_equal(a.events, 0); /* nothing was trusted */
	assert_int_equal(hb_monitor_link_stats(a.m, 2, 0, &st), 0);
	assert_int_equal(st.rx, 0);
	assert_int_equal(st.state, HB_LINK_UNKNOWN);

	/* the genuine one from the right place is accepted */
	pkt.seq = 3;
	assert_int_equal(hb_wire_encode(&pkt, key, good, sizeof(good)), HB_WIRE_LEN);
	send_raw("127.0.0.2", good, sizeof(good));
	assert_int_equal(hb_io_recv(a.io, a.fd, 2000), 1);
	assert_int_equal(hb_monitor_link_stats(a.m, 2, 0, &st), 0);
	assert_int_equal(st.state, HB_LINK_UP);
	side_free(&a);
}

static void test_setup_errors(void **state)
{
	struct side a;
	struct hb_addr doc, lo2;

	side_init(&a, 1, 2, "127.0.0.1", "127.0.0.2");
	assert_int_equal(hb_addr_parse("192.0.2.99", &doc), 0);
	assert_int_equal(hb_addr_parse("127.0.0.2", &lo2), 0);
	assert_int_equal(hb_io_add_link(a.io, 1, &doc, port), -EADDRNOTAVAIL);
	assert_int_equal(hb_io_add_link(a.io, 0, &lo2, port), -EEXIST);
	assert_int_equal(hb_io_add_peer(a.io, 3, 7, &lo2, port), -ENOENT);
	assert_int_equal(hb_io_add_peer(a.io, 2, 0, &lo2, port), -EEXIST);
	assert_int_equal(hb_io_add_peer(a.io, 0, 0, &lo2, port), -EINVAL);
	side_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_heartbeats_flow_both_ways),
		cmocka_unit_test(test_bad_datagrams_dropped_and_counted),
		cmocka_unit_test(test_setup_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

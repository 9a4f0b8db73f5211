/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/unit/test-virt.c: the libvirt client and its event bridge against
 * libvirt's in-process test driver (test:///default): the inventory at
 * connect, lifecycle events dispatched by OUR loop (no libvirt event thread),
 * transient domains leaving the inventory, host info, and a URI that cannot
 * connect (backoff, one "disconnected"). Waits are for events, with deadlines. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <libvirt/libvirt.h>

#include "clusterd/virt.h"
#include "clusterd/virt_event.h"
#include "common/log.h"

struct seen {
	int connected, disconnected, domain_events;
	char last_name[VIRT_NAME_MAX];
	bool last_gone;
	enum virt_dom_state last_state;
};

static void cb_connected(void *ud, usec_t now)
{
	((struct seen *)ud)->connected++;
}

static void cb_disconnected(void *ud, const char *why, usec_t now)
{
	((struct seen *)ud)->disconnected++;
}

static void cb_domain(void *ud, const struct virt_domain *d, bool gone, usec_t now)
{
	struct seen *s = ud;

	s->domain_events++;
	snprintf(s->last_name, sizeof(s->last_name), "%s", d->name);
	s->last_gone = gone;
	s->last_state = d->state;
}

static const struct virt_callbacks cbs = {cb_connected, cb_disconnected, cb_domain};
static struct ev_loop *loop;

/* Run the loop until *counter reaches want (5 s deadline). */
static void run_until(const int *counter, int want)
{
	usec_t deadline = time_now_usec() + 5 * USEC_PER_SEC;

	while (*counter < want && time_now_usec() < deadline)
		assert_true(ev_loop_run_once(loop, 50 * USEC_PER_MSEC) >= 0);
	assert_int_equal(*counter, want);
}

static int setup(void **state)
{
	log_open("test-virt", true, LOG_LVL_ERR);
	return ev_loop_new(NULL, &loop);
}

static const struct virt_domain *find(struct virt_client *v, const char *name)
{
	const struct virt_domain *d;
	size_t n = virt_client_domains(v, &d);

	for (size_t i = 0; i < n; i++)
		if (strcmp(d[i].name, name) == 0)
			return &d[i];
	return NULL;
}

static void test_inventory_and_events(void **state)
{
	static const char xml[] = "<domain type='test'><name>vm1</name><memory unit='KiB'>131072</memory>"
				  "<vcpu>2</vcpu><os><type>hvm</type></os></domain>";
	struct seen s = {0};
	struct virt_client *v;
	struct virt_host h;
	virConnectPtr other;
	virDomainPtr dom;
	const struct virt_domain *d;

	assert_int_equal(virt_client_new(loop, "test:///default", &cbs, &s, &v), 0);
	assert_int_equal(s.connected, 0); /* callbacks only from the loop */
	run_until(&s.connected, 1);
	assert_true(virt_client_connected(v));
	d = find(v, "test"); /* the test driver's built-in running domain */
	assert_non_null(d);
	assert_int_equal(d->state, VIRT_DOM_RUNNING);
	assert_true(d->persistent);
	assert_true(cl_virt_event_count() > 0); /* libvirt registered with our bridge */

	/* another client (same process, same test driver) starts a transient domain */
	other = virConnectOpen("test:///default");
	assert_non_null(other);
	dom = virDomainCreateXML(other, xml, 0);
	assert_non_null(dom);
	run_until(&s.domain_events, 1); /* dispatched by our loop */
	assert_string_equal(s.last_name, "vm1");
	assert_false(s.last_gone);
	d = find(v, "vm1");
	assert_non_null(d);
	assert_int_equal(d->mem_kib, 131072);
	assert_int_equal(d->vcpus, 2);
	assert_false(d->persistent);

	assert_int_equal(virDomainDestroy(dom), 0); /* transient: gone */
	run_until(&s.domain_events, 2);
	assert_true(s.last_gone);
	assert_null(find(v, "vm1"));
	virDomainFree(dom);
	virConnectClose(other);

	assert_int_equal(virt_client_host(v, &h), 0);
	assert_true(h.total_mem_kib > 0);
	assert_true(h.cpus > 0);
	virt_client_free(v);
	assert_int_equal(s.disconnected, 0);
}

static void test_unreachable_uri(void **state)
{
	struct seen s = {0};
	struct virt_client *v;
	const struct virt_domain *d;
	struct virt_host h;

	assert_int_equal(virt_client_new(loop, "test:///nonexistent/clusterd-no-such-file.xml", &cbs, &s, &v),
			 0);
	assert_int_equal(s.disconnected, 0); /* callbacks only from the loop */
	run_until(&s.disconnected, 1);
	assert_int_equal(s.connected, 0);
	assert_false(virt_client_connected(v));
	assert_int_equal(virt_client_domains(v, &d), 0);
	assert_int_equal(virt_client_host(v, &h), -ENOTCONN);
	/* the retries (200 ms, 400 ms …) fail quietly: still one "disconnected" */
	for (int i = 0; i < 12; i++)
		ev_loop_run_once(loop, 100 * USEC_PER_MSEC);
	assert_int_equal(s.disconnected, 1);
	assert_int_equal(s.connected, 0);
	virt_client_free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inventory_and_events),
		cmocka_unit_test(test_unreachable_uri),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}

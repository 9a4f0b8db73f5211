/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/unit/test-virt-xml.c: fetching a domain's XML for the HA registry,
 * against libvirt's in-process test driver: by name and by uuid, the XML
 * defined again on another (file-backed) test "host", a missing domain and
 * an unreachable URI; and `clusterd-virt --dumpxml` end to end. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <libvirt/libvirt.h>

#include "clusterd/virt_xml.h"

/* no libvirtd behind it: the remote driver fails at once, quietly */
#define DEAD_URI  "qemu+unix:///system?socket=/nonexistent/clusterd-test.sock"
#define TEST_UUID "6695eb01-f6a4-8304-79aa-97f2502e193f" /* the test driver's domain "test" */

static char dir[] = "/tmp/test-virt-xml.XXXXXX";

static int setup(void **state)
{
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_by_name_and_uuid(void **state)
{
	char why[256], *a = NULL, *b = NULL;

	assert_int_equal(virt_domain_xml("test:///default", "test", &a, why, sizeof(why)), 0);
	assert_non_null(strstr(a, "<name>test</name>"));
	assert_non_null(strstr(a, "<uuid>" TEST_UUID "</uuid>"));
	assert_null(strstr(a, "<domain type='test' id=")); /* the persistent definition, not the live one */
	assert_int_equal(virt_domain_xml("test:///default", TEST_UUID, &b, why, sizeof(why)), 0);
	assert_string_equal(a, b);
	free(a);
	free(b);
}

/* What we replicate must define on another host: a second test driver,
 * backed by a node file of our own with no domains. */
static void test_defines_elsewhere(void **state)
{
	char why[256], node[300], uri[320], *xml = NULL;
	virConnectPtr other;
	virDomainPtr dom;
	FILE *f;

	snprintf(node, sizeof(node), "%s/node.xml", dir);
	f = fopen(node, "w");
	assert_non_null(f);
	fprintf(f, "<node></node>\n");
	assert_int_equal(fclose(f), 0);
	snprintf(uri, sizeof(uri), "test://%s", node);

	assert_int_equal(virt_domain_xml("test:///default", "test", &xml, why, sizeof(why)), 0);
	other = virConnectOpen(uri);
	assert_non_null(other);
	assert_null(virDomainLookupByName(other, "test"));
	dom = virDomainDefineXML(other, xml);
	assert_non_null(dom);
	assert_string_equal(virDomainGetName(dom), "test");
	assert_int_equal(virDomainIsPersistent(dom), 1);
	virDomainFree(dom);
	virConnectClose(other);
	free(xml);
}

static void test_errors(void **state)
{
	char why[256], *xml = NULL;

	assert_int_equal(virt_domain_xml("test:///default", "no-such-vm", &xml, why, sizeof(why)), -ENOENT);
	assert_null(xml);
	assert_non_null(strstr(why, "no-such-vm"));
	assert_int_equal(virt_domain_xml("test:///default", "00000000-0000-4000-8000-000000000000", &xml, why,
					 sizeof(why)),
			 -ENOENT);
	assert_int_equal(virt_domain_xml(DEAD_URI, "test", &xml, why, sizeof(why)), -ENOTCONN);
	assert_null(xml);
	assert_non_null(strstr(why, "cannot connect"));
	assert_int_equal(virt_domain_xml("test:///default", "", &xml, why, sizeof(why)), -EINVAL);
	assert_int_equal(virt_domain_xml("test:///default", "test", NULL, why, sizeof(why)), -EINVAL);
}

/* Run clusterd-virt with args; its exit code, and its stdout or stderr. */
static int run_helper(const char *args, bool want_stderr, char *out, size_t size)
{
	const char *top = getenv("top_builddir");
	char cmd[1024];
	size_t n;
	FILE *p;
	int status;

	snprintf(cmd, sizeof(cmd), "'%s/clusterd/clusterd-virt' %s %s", top ? top : ".", args,
		 want_stderr ? "2>&1 >/dev/null" : "2>/dev/null");
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, size - 1, p);
	out[n] = '\0';
	status = pclose(p);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void test_helper_dumpxml(void **state)
{
	static char out[64 * 1024];

	assert_int_equal(run_helper("--dumpxml test:///default test", false, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "<domain type='test'>"));
	assert_non_null(strstr(out, "<name>test</name>"));
	assert_non_null(strstr(out, "</domain>"));

	/* one line on stderr, exit 1 */
	assert_int_equal(run_helper("--dumpxml test:///default no-such-vm", true, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "clusterd-virt: no domain"));
	assert_non_null(strchr(out, '\n'));
	assert_string_equal(strchr(out, '\n'), "\n");
	assert_int_equal(run_helper("--dumpxml '" DEAD_URI "' test", true, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "clusterd-virt: cannot connect"));
	assert_string_equal(strchr(out, '\n'), "\n");
	/* usage */
	assert_int_equal(run_helper("--dumpxml test:///default", true, out, sizeof(out)), 2);
	assert_non_null(strstr(out, "usage:"));
}

static void test_mark_prepared(void **state)
{
	char *out = NULL;

	/* no <metadata>: one is made, just before </domain> */
	assert_int_equal(virt_xml_mark_prepared("<domain type='kvm'><name>a</name></domain>", &out), 0);
	assert_string_equal(out, "<domain type='kvm'><name>a</name><metadata><" VIRT_PREPARED_KEY
				 ":prepared xmlns:" VIRT_PREPARED_KEY "='" VIRT_PREPARED_NS
				 "'/></metadata>\n</domain>");
	free(out);
	/* an existing <metadata> gets the mark as its first child; the rest stays */
	assert_int_equal(
		virt_xml_mark_prepared("<domain><metadata><x:y xmlns:x='u'/></metadata></domain>\n", &out),
		0);
	assert_string_equal(out, "<domain><metadata><" VIRT_PREPARED_KEY ":prepared xmlns:" VIRT_PREPARED_KEY
				 "='" VIRT_PREPARED_NS "'/><x:y xmlns:x='u'/></metadata></domain>\n");
	free(out);
	/* not one domain */
	out = NULL;
	assert_int_equal(virt_xml_mark_prepared("<network></network>", &out), -EINVAL);
	assert_int_equal(virt_xml_mark_prepared("<domain>", &out), -EINVAL);
	assert_int_equal(virt_xml_mark_prepared("<domain></domain><domain></domain>", &out), -EINVAL);
	assert_int_equal(virt_xml_mark_prepared(NULL, &out), -EINVAL);
	assert_null(out);
}

/* A domain of the test driver's, new uuid and name, for prepare/create. */
static char *new_domain_xml(const char *name, const char *uuid)
{
	char why[256], *xml = NULL, *out;
	const char *a, *b;
	size_t len;

	assert_int_equal(virt_domain_xml("test:///default", "test", &xml, why, sizeof(why)), 0);
	len = strlen(xml) + 200;
	out = malloc(len);
	assert_non_null(out);
	a = strstr(xml, "<name>test</name>");
	b = strstr(xml, "<uuid>");
	assert_non_null(a);
	assert_non_null(b);
	assert_true(a < b);
	snprintf(out, len, "%.*s<name>%s</name>%.*s<uuid>%s</uuid>%s", (int)(a - xml), xml, name,
		 (int)(b - a - strlen("<name>test</name>")), a + strlen("<name>test</name>"), uuid,
		 strstr(b, "</uuid>") + strlen("</uuid>"));
	free(xml);
	return out;
}

static int dom_state(virConnectPtr conn, const char *uuid)
{
	virDomainPtr dom = virDomainLookupByUUIDString(conn, uuid);
	int st = -1, reason;

	if (!dom)
		return -1;
	if (virDomainGetState(dom, &st, &reason, 0) < 0)
		st = -2;
	virDomainFree(dom);
	return st;
}

/* A prepared copy as virt_domain_prepare leaves it: the marked XML, paused.
 * (The test driver refuses VIR_DOMAIN_START_PAUSED, so it is started, then
 * paused; the real start paused runs in the integration tests.) */
static void make_prepared(virConnectPtr conn, const char *xml)
{
	char *marked = NULL;
	virDomainPtr dom;

	assert_int_equal(virt_xml_mark_prepared(xml, &marked), 0);
	dom = virDomainCreateXML(conn, marked, 0);
	assert_non_null(dom);
	assert_int_equal(virDomainSuspend(dom), 0);
	virDomainFree(dom);
	free(marked);
}

/* The prepared copy is seen as one; the create of the same VM resumes it
 * (mark gone, running); a copy that is not prepared is refused by resume
 * and never started twice by create; a missing one is -ENOENT. */
static void test_prepare_and_resume(void **state)
{
	static const char uuid[] = "11111111-2222-4333-8444-555555555555";
	/* the test driver's state lives while a connection to it is open */
	virConnectPtr conn = virConnectOpen("test:///default");
	char why[256], *xml = new_domain_xml("prep", uuid);
	virDomainPtr dom;

	assert_non_null(conn);
	make_prepared(conn, xml);
	assert_int_equal(dom_state(conn, uuid), VIR_DOMAIN_PAUSED);
	dom = virDomainLookupByUUIDString(conn, uuid);
	assert_non_null(dom);
	assert_int_equal(virt_domain_is_prepared(dom), 1);
	virDomainFree(dom);
	/* the same XML again: it exists already, prepared: resumed (1) */
	assert_int_equal(virt_domain_create("test:///default", xml, why, sizeof(why)), 1);
	assert_int_equal(dom_state(conn, uuid), VIR_DOMAIN_RUNNING);
	dom = virDomainLookupByUUIDString(conn, uuid);
	assert_non_null(dom);
	assert_int_equal(virt_domain_is_prepared(dom), 0);
	/* paused by hand now: without the mark it is the VM, never a copy */
	assert_int_equal(virDomainSuspend(dom), 0);
	assert_int_equal(virt_domain_is_prepared(dom), 0);
	assert_int_equal(virt_domain_resume_prepared("test:///default", uuid, why, sizeof(why)), -ESTALE);
	assert_non_null(strstr(why, "not a prepared copy"));
	assert_int_equal(dom_state(conn, uuid), VIR_DOMAIN_PAUSED); /* untouched */
	/* a create of a VM that runs (not prepared) fails: never a second copy */
	assert_int_equal(virDomainResume(dom), 0);
	assert_true(virt_domain_create("test:///default", xml, why, sizeof(why)) < 0);
	assert_int_equal(dom_state(conn, uuid), VIR_DOMAIN_RUNNING);
	assert_int_equal(virDomainDestroy(dom), 0);
	virDomainFree(dom);
	assert_int_equal(virt_domain_resume_prepared("test:///default", uuid, why, sizeof(why)), -ENOENT);
	/* prepared, then resumed by uuid */
	make_prepared(conn, xml);
	assert_int_equal(virt_domain_resume_prepared("test:///default", uuid, why, sizeof(why)), 0);
	assert_int_equal(dom_state(conn, uuid), VIR_DOMAIN_RUNNING);
	assert_int_equal(virt_domain_destroy("test:///default", uuid, why, sizeof(why)), 0);
	assert_int_equal(virt_domain_destroy("test:///default", uuid, why, sizeof(why)), 0); /* gone: done */
	assert_int_equal(virt_domain_destroy(DEAD_URI, uuid, why, sizeof(why)), -ENOTCONN);
	/* what prepare cannot do: a clear error, nothing started */
	assert_int_equal(virt_domain_prepare("test:///default", xml, why, sizeof(why)), -EIO);
	assert_non_null(strstr(why, "cannot start the domain paused"));
	assert_int_equal(dom_state(conn, uuid), -1);
	assert_int_equal(virt_domain_prepare("test:///default", "<nodomain/>", why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "<domain>"));
	assert_int_equal(virt_domain_prepare(DEAD_URI, xml, why, sizeof(why)), -ENOTCONN);
	free(xml);
	virConnectClose(conn);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_by_name_and_uuid), cmocka_unit_test(test_defines_elsewhere),
		cmocka_unit_test(test_errors),           cmocka_unit_test(test_helper_dumpxml),
		cmocka_unit_test(test_mark_prepared),    cmocka_unit_test(test_prepare_and_resume),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

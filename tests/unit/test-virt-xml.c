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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_by_name_and_uuid),
		cmocka_unit_test(test_defines_elsewhere),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_helper_dumpxml),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

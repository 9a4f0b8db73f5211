/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd/virt_xml.c: one domain's XML from a one-shot libvirt connection
 * (see virt_xml.h). Silences libvirt's own error printing and reports its
 * last error in why[] instead. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "clusterd/virt_xml.h"

#define XML_FLAGS (VIR_DOMAIN_XML_SECURE | VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_MIGRATABLE)

static void silence(void *ud, virErrorPtr err)
{
	/* the caller prints why[] */
}

static const char *last_error(void)
{
	virErrorPtr e = virGetLastError();

	return e && e->message ? e->message : "unknown libvirt error";
}

static bool no_domain(void)
{
	virErrorPtr e = virGetLastError();

	return e && e->code == VIR_ERR_NO_DOMAIN;
}

/* A one-shot connection, libvirt's own error printing silenced; NULL and
 * why[] when it cannot connect. */
static virConnectPtr open_conn(const char *uri, char *why, size_t why_len)
{
	virConnectPtr conn;

	virSetErrorFunc(NULL, silence);
	conn = virConnectOpen(uri);
	if (!conn)
		snprintf(why, why_len, "cannot connect to libvirt at %s: %s", uri ? uri : "the default URI",
			 last_error());
	return conn;
}

int virt_domain_xml(const char *uri, const char *domain, char **ret_xml, char *why, size_t why_len)
{
	virConnectPtr conn;
	virDomainPtr dom = NULL;
	char *xml;
	int r;

	if (!domain || !*domain || !ret_xml || !why || why_len == 0)
		return -EINVAL;
	conn = open_conn(uri, why, why_len);
	if (!conn)
		return -ENOTCONN;
	/* a uuid first (libvirt parses it), then a name; a name that merely
	 * looks like a uuid still works */
	dom = virDomainLookupByUUIDString(conn, domain);
	if (!dom)
		dom = virDomainLookupByName(conn, domain);
	if (!dom) {
		r = no_domain() ? -ENOENT : -EIO;
		if (r == -ENOENT)
			snprintf(why, why_len, "no domain with uuid or name '%s'", domain);
		else
			snprintf(why, why_len, "cannot look up domain '%s': %s", domain, last_error());
		goto out;
	}
	xml = virDomainGetXMLDesc(dom, XML_FLAGS);
	if (!xml) {
		snprintf(why, why_len, "cannot get the XML of domain '%s': %s", domain, last_error());
		r = -EIO;
		goto out;
	}
	*ret_xml = xml;
	r = 0;
out:
	if (dom)
		virDomainFree(dom);
	virConnectClose(conn);
	return r;
}

int virt_domain_create(const char *uri, const char *xml, char *why, size_t why_len)
{
	virConnectPtr conn;
	virDomainPtr dom;

	if (!xml || !why || why_len == 0)
		return -EINVAL;
	conn = open_conn(uri, why, why_len);
	if (!conn)
		return -ENOTCONN;
	/* transient: libvirt never autostarts it, so a node coming back after a
	 * fence cannot start a second copy on its own */
	dom = virDomainCreateXML(conn, xml, VIR_DOMAIN_NONE);
	if (!dom) {
		snprintf(why, why_len, "cannot start the domain: %s", last_error());
		virConnectClose(conn);
		return -EIO;
	}
	virDomainFree(dom);
	virConnectClose(conn);
	return 0;
}

int virt_domain_destroy(const char *uri, const char *uuid, char *why, size_t why_len)
{
	virConnectPtr conn;
	virDomainPtr dom;
	int r = 0;

	if (!uuid || !why || why_len == 0)
		return -EINVAL;
	conn = open_conn(uri, why, why_len);
	if (!conn)
		return -ENOTCONN;
	dom = virDomainLookupByUUIDString(conn, uuid);
	if (!dom) {
		r = no_domain() ? 0 : -EIO; /* gone already: done */
		if (r < 0)
			snprintf(why, why_len, "cannot look up %s: %s", uuid, last_error());
	} else {
		if (virDomainDestroy(dom) < 0 && virDomainIsActive(dom) == 1) {
			snprintf(why, why_len, "cannot destroy %s: %s", uuid, last_error());
			r = -EIO;
		}
		virDomainFree(dom);
	}
	virConnectClose(conn);
	return r;
}

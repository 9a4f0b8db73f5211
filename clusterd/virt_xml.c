/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd/virt_xml.c: one domain's XML from a one-shot libvirt connection
 * (see virt_xml.h). Silences libvirt's own error printing and reports its
 * last error in why[] instead. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
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

/* dom is a prepared copy: make it the VM (mark removed, then resumed), or
 * destroy it. 0, -ESTALE (not a prepared copy) or -EIO, with why[]. */
static int resume_dom(virDomainPtr dom, const char *uuid, char *why, size_t why_len)
{
	int r = 0;

	if (!virt_domain_is_prepared(dom)) {
		snprintf(why, why_len, "%s is not a prepared copy (no mark, or not paused)", uuid);
		return -ESTALE;
	}
	if (virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, NULL, VIRT_PREPARED_KEY, VIRT_PREPARED_NS,
				 VIR_DOMAIN_AFFECT_LIVE) < 0) {
		snprintf(why, why_len, "cannot remove the prepared mark of %s: %s", uuid, last_error());
		r = -EIO;
	} else if (virDomainResume(dom) < 0) {
		snprintf(why, why_len, "cannot resume the prepared copy of %s: %s", uuid, last_error());
		r = -EIO;
	}
	if (r < 0 && virDomainDestroy(dom) < 0 && virDomainIsActive(dom) == 1) {
		size_t off = strlen(why);
		snprintf(why + off, why_len - off, "; and cannot destroy it: %s", last_error());
	}
	return r;
}

/* The text of xml's first <uuid> element, or "" */
static void xml_uuid(const char *xml, char uuid[VIR_UUID_STRING_BUFLEN])
{
	const char *a = strstr(xml, "<uuid>"), *b = a ? strstr(a, "</uuid>") : NULL;
	size_t n = b ? (size_t)(b - a) - strlen("<uuid>") : 0;

	if (n >= VIR_UUID_STRING_BUFLEN)
		n = 0;
	memcpy(uuid, a ? a + strlen("<uuid>") : "", n);
	uuid[n] = '\0';
}

int virt_domain_create(const char *uri, const char *xml, char *why, size_t why_len)
{
	char uuid[VIR_UUID_STRING_BUFLEN];
	virConnectPtr conn;
	virDomainPtr dom;
	int r;

	if (!xml || !why || why_len == 0)
		return -EINVAL;
	conn = open_conn(uri, why, why_len);
	if (!conn)
		return -ENOTCONN;
	/* its copy may be here already, prepared: resume it (whatever started
	 * it paused knew the restart would come here) */
	xml_uuid(xml, uuid);
	dom = uuid[0] ? virDomainLookupByUUIDString(conn, uuid) : NULL;
	if (dom && virt_domain_is_prepared(dom)) {
		r = resume_dom(dom, uuid, why, why_len);
		virDomainFree(dom);
		virConnectClose(conn);
		return r < 0 ? r : 1;
	}
	if (dom)
		virDomainFree(dom); /* the create below says what is wrong */
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

/* Connect to uri and look up the domain uuid: 0 with *conn and *dom (the
 * caller frees both); -ENOENT (no such domain: why says so), -ENOTCONN or
 * -EIO, with nothing left open. */
static int open_dom(const char *uri, const char *uuid, virConnectPtr *conn, virDomainPtr *dom, char *why,
		    size_t why_len)
{
	int r;

	*conn = open_conn(uri, why, why_len);
	if (!*conn)
		return -ENOTCONN;
	*dom = virDomainLookupByUUIDString(*conn, uuid);
	if (*dom)
		return 0;
	r = no_domain() ? -ENOENT : -EIO;
	snprintf(why, why_len, "cannot look up %s: %s", uuid, r == -ENOENT ? "no such domain" : last_error());
	virConnectClose(*conn);
	return r;
}

int virt_domain_destroy(const char *uri, const char *uuid, char *why, size_t why_len)
{
	virConnectPtr conn;
	virDomainPtr dom;
	int r;

	if (!uuid || !why || why_len == 0)
		return -EINVAL;
	r = open_dom(uri, uuid, &conn, &dom, why, why_len);
	if (r < 0)
		return r == -ENOENT ? 0 : r; /* gone already: done */
	if (virDomainDestroy(dom) < 0 && virDomainIsActive(dom) == 1) {
		snprintf(why, why_len, "cannot destroy %s: %s", uuid, last_error());
		r = -EIO;
	}
	virDomainFree(dom);
	virConnectClose(conn);
	return r;
}

int virt_xml_mark_prepared(const char *xml, char **ret)
{
	static const char mark[] =
		"<" VIRT_PREPARED_KEY ":prepared xmlns:" VIRT_PREPARED_KEY "='" VIRT_PREPARED_NS "'/>";
	const char *end, *meta, *at;
	bool wrap;
	size_t len;
	char *out;

	if (!xml || !ret)
		return -EINVAL;
	end = strstr(xml, "</domain>");
	if (!strstr(xml, "<domain") || !end || strstr(end + 1, "</domain>"))
		return -EINVAL;
	/* libvirt writes <metadata> with children, or not at all */
	meta = strstr(xml, "<metadata>");
	wrap = !meta || meta > end;
	at = wrap ? end : meta + strlen("<metadata>");
	len = strlen(xml) + sizeof(mark) + (wrap ? strlen("<metadata></metadata>") : 0);
	out = malloc(len + 1);
	if (!out)
		return -ENOMEM;
	snprintf(out, len + 1, "%.*s%s%s%s%s", (int)(at - xml), xml, wrap ? "<metadata>" : "", mark,
		 wrap ? "</metadata>\n" : "", at);
	*ret = out;
	return 0;
}

int virt_domain_prepare(const char *uri, const char *xml, char *why, size_t why_len)
{
	virConnectPtr conn;
	virDomainPtr dom;
	char *marked = NULL;
	int r;

	if (!xml || !why || why_len == 0)
		return -EINVAL;
	r = virt_xml_mark_prepared(xml, &marked);
	if (r < 0) {
		snprintf(why, why_len, "%s",
			 r == -ENOMEM ? "out of memory" : "the XML has no <domain> element");
		return r;
	}
	conn = open_conn(uri, why, why_len);
	if (!conn) {
		free(marked);
		return -ENOTCONN;
	}
	/* transient, as a restart; paused: not one guest instruction runs
	 * until the restart order resumes it */
	dom = virDomainCreateXML(conn, marked, VIR_DOMAIN_START_PAUSED);
	free(marked);
	if (!dom) {
		snprintf(why, why_len, "cannot start the domain paused: %s", last_error());
		virConnectClose(conn);
		return -EIO;
	}
	virDomainFree(dom);
	virConnectClose(conn);
	return 0;
}

int virt_domain_is_prepared(virDomainPtr dom)
{
	int state = 0, reason = 0;
	char *m;

	if (virDomainGetState(dom, &state, &reason, 0) < 0 || state != VIR_DOMAIN_PAUSED)
		return 0;
	m = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, VIRT_PREPARED_NS, VIR_DOMAIN_AFFECT_LIVE);
	if (!m)
		return 0;
	free(m);
	return 1;
}

int virt_domain_resume_prepared(const char *uri, const char *uuid, char *why, size_t why_len)
{
	virConnectPtr conn;
	virDomainPtr dom;
	int r;

	if (!uuid || !why || why_len == 0)
		return -EINVAL;
	r = open_dom(uri, uuid, &conn, &dom, why, why_len);
	if (r < 0)
		return r;
	r = resume_dom(dom, uuid, why, why_len);
	virDomainFree(dom);
	virConnectClose(conn);
	return r;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd/virt_xml.h: fetch one domain's definition from libvirt, once, on
 * a connection of its own (clusterd-virt --dumpxml, for `clusterctl ha
 * add`). Synchronous: never call it from the daemon's loop. No logging. */
#ifndef CL_VIRT_XML_H
#define CL_VIRT_XML_H

#include <stddef.h>

/*
 * The domain XML of domain (a uuid, else a name) on uri (NULL: libvirt's
 * default), in a form another host can define: the persistent definition
 * (VIR_DOMAIN_XML_INACTIVE: not the live one with its run-time ports and
 * aliases), with secrets such as VNC passwords (VIR_DOMAIN_XML_SECURE), and
 * trimmed of defaults an older libvirt might refuse
 * (VIR_DOMAIN_XML_MIGRATABLE). Both SECURE and MIGRATABLE need a read-write
 * connection. On success 0 and a malloc'd *ret_xml. On failure *ret_xml is
 * untouched, why[] holds one line for a person, and the return is -ENOTCONN
 * (libvirt not reachable), -ENOENT (no such domain), -EIO (libvirt failed
 * otherwise), -EINVAL or -ENOMEM.
 */
int virt_domain_xml(const char *uri, const char *domain, char **ret_xml, char *why, size_t why_len);

/* Start a transient domain from xml (restart of an HA VM). -ENOTCONN, -EIO
 * (why says libvirt's reason), -EINVAL. */
int virt_domain_create(const char *uri, const char *xml, char *why, size_t why_len);
/* Stop a domain at once (virDomainDestroy); 0 also when it does not exist. */
int virt_domain_destroy(const char *uri, const char *uuid, char *why, size_t why_len);

#endif

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd/virt_xml.h: fetch one domain's definition from libvirt, once, on
 * a connection of its own (clusterd-virt --dumpxml, for `clusterctl ha
 * add`). Synchronous: never call it from the daemon's loop. No logging. */
#ifndef CL_VIRT_XML_H
#define CL_VIRT_XML_H

#include <stddef.h>

#include <libvirt/libvirt.h>

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

/* Start a transient domain from xml (restart of an HA VM): 0; or 1 when a
 * prepared copy of it (below) was here and has been resumed instead.
 * -ENOTCONN, -EIO (why says libvirt's reason), -EINVAL. */
int virt_domain_create(const char *uri, const char *xml, char *why, size_t why_len);
/* Stop a domain at once (virDomainDestroy); 0 also when it does not exist. */
int virt_domain_destroy(const char *uri, const char *uuid, char *why, size_t why_len);

/*
 * Prepared copies (early fencing, docs/DESIGN.md "Prepared restarts"): once
 * a fence agent has put a node off, but before corosync has formed the
 * membership without it, the coordinator starts each HA VM's restart copy
 * *paused* on the node it will be ordered to, so that the order only has to
 * resume it. Such a copy carries this metadata element from its birth; a
 * paused domain with it is not the VM (clusterd's inventory leaves it out)
 * until the mark is removed, just before it is resumed.
 */
#define VIRT_PREPARED_NS  "urn:clusterd:prepared:1"
#define VIRT_PREPARED_KEY "clusterd"

/* xml with the mark added as a child of <metadata> (made when absent), in
 * a malloc'd *ret. Pure. -EINVAL: no <domain>...</domain>; -ENOMEM. */
int virt_xml_mark_prepared(const char *xml, char **ret);
/* Start xml paused (VIR_DOMAIN_START_PAUSED) with the mark. As create. */
int virt_domain_prepare(const char *uri, const char *xml, char *why, size_t why_len);
/* Make the prepared copy of uuid the VM: its mark removed, then resumed. If
 * either fails it is destroyed (it must not stay, unmarked and paused,
 * looking like the VM). -ENOENT: no such domain; -ESTALE: it is not a
 * prepared copy (no mark, or not paused); -EIO; -ENOTCONN. */
int virt_domain_resume_prepared(const char *uri, const char *uuid, char *why, size_t why_len);
/* 1 when dom is a prepared copy (paused, with the mark), else 0. */
int virt_domain_is_prepared(virDomainPtr dom);

#endif

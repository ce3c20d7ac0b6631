/* A VM's moat link in libvirt's domain XML (libvirt.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/xmlerror.h>

#include "host/libvirt.h"

#define MAC_FMT "%02x:%02x:%02x:%02x:%02x:%02x"
#define MAC_ARGS(m) (m)[0], (m)[1], (m)[2], (m)[3], (m)[4], (m)[5]

/* ---- reading ---- */

/* A DOCTYPE stops the parse: domain XML never has one, and without one no
 * entity is declared, so none can be expanded (billion laughs) or fetched. */
static void no_dtd(void *ctx, const xmlChar *name, const xmlChar *ext, const xmlChar *sys)
{
	xmlParserCtxtPtr c = ctx;
	c->_private = (void *)1;
	xmlStopParser(c);
}

xmlDocPtr lv_parse(const char *buf, size_t len, char *err, size_t errlen)
{
	if (len > LV_XML_MAX) {
		snprintf(err, errlen, "larger than %u bytes", LV_XML_MAX);
		return NULL;
	}
	xmlParserCtxtPtr c = xmlCreateMemoryParserCtxt(buf, (int)len);
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->sax->internalSubset = no_dtd;
	xmlCtxtUseOptions(c, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	xmlParseDocument(c);
	xmlDocPtr doc = c->myDoc;
	if (!c->wellFormed || c->_private || !doc || !xmlDocGetRootElement(doc)) {
		const xmlError *e = xmlCtxtGetLastError(c);
		if (c->_private)
			snprintf(err, errlen, "it has a DOCTYPE (domain XML never has one)");
		else
			snprintf(err, errlen, "line %d: %s", e ? e->line : 0,
				 e && e->message ? e->message : "not well-formed\n");
		err[strcspn(err, "\n")] = 0;
		xmlFreeDoc(doc);
		doc = NULL;
	}
	xmlFreeParserCtxt(c);
	return doc;
}

static bool is(xmlNodePtr n, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && !n->ns && xmlStrcmp(n->name, BAD_CAST name) == 0;
}

/* The first child element NAME of N (no namespace), or NULL. */
static xmlNodePtr child(xmlNodePtr n, const char *name)
{
	for (xmlNodePtr c = n ? n->children : NULL; c; c = c->next)
		if (is(c, name))
			return c;
	return NULL;
}

/* Attribute A of N equals V (a missing one equals NULL). */
static bool attr_is(xmlNodePtr n, const char *a, const char *v)
{
	xmlChar *s = n ? xmlGetNoNsProp(n, BAD_CAST a) : NULL;
	bool r = s ? v && strcmp((char *)s, v) == 0 : !v;
	xmlFree(s);
	return r;
}

static xmlNodePtr root_domain(xmlDocPtr doc)
{
	xmlNodePtr r = xmlDocGetRootElement(doc);
	return is(r, "domain") ? r : NULL;
}

/* Interface N's MAC, if it has one that reads as a MAC. */
static bool iface_mac(xmlNodePtr n, uint8_t mac[6])
{
	xmlChar *s = xmlGetNoNsProp(child(n, "mac"), BAD_CAST "address");
	char tail;
	bool ok = s && sscanf((char *)s, "%2hhx:%2hhx:%2hhx:%2hhx:%2hhx:%2hhx%c", &mac[0], &mac[1], &mac[2], &mac[3],
			      &mac[4], &mac[5], &tail) == 6;
	xmlFree(s);
	return ok;
}

/* The vhost-user source path of interface N (xmlFree it), or NULL. */
static xmlChar *iface_vhost_path(xmlNodePtr n)
{
	if (!is(n, "interface") || !attr_is(n, "type", "vhostuser"))
		return NULL;
	xmlChar *p = xmlGetNoNsProp(child(n, "source"), BAD_CAST "path");
	if (p && !*p) {
		xmlFree(p);
		p = NULL;
	}
	return p;
}

void lv_vhostuser_paths(xmlDocPtr doc, bool (*fn)(const char *path, void *arg), void *arg)
{
	/* libvirt reads only the first <devices>; a hook sees them all */
	for (xmlNodePtr d = root_domain(doc) ? root_domain(doc)->children : NULL; d; d = d->next) {
		if (!is(d, "devices"))
			continue;
		for (xmlNodePtr n = d->children; n; n = n->next) {
			xmlChar *p = iface_vhost_path(n);
			bool go = !p || fn((char *)p, arg);
			xmlFree(p);
			if (!go)
				return;
		}
	}
}

/* N's text as a size in UNIT (libvirt's units; none: KiB) in bytes. */
static bool size_bytes(xmlNodePtr n, unsigned long long *out)
{
	static const struct { const char *unit; unsigned long long mul; } units[] = {
		{ "b", 1 }, { "bytes", 1 }, { "KB", 1000ull }, { "k", 1ull << 10 }, { "KiB", 1ull << 10 },
		{ "MB", 1000000ull }, { "M", 1ull << 20 }, { "MiB", 1ull << 20 }, { "GB", 1000000000ull },
		{ "G", 1ull << 30 }, { "GiB", 1ull << 30 }, { "TB", 1000000000000ull }, { "T", 1ull << 40 },
		{ "TiB", 1ull << 40 }, { "PB", 1000000000000000ull }, { "P", 1ull << 50 }, { "PiB", 1ull << 50 },
	};
	xmlChar *text = xmlNodeGetContent(n), *unit = xmlGetNoNsProp(n, BAD_CAST "unit");
	unsigned long long mul = 0, v;
	char *end;
	bool ok = false;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(unit ? (char *)unit : "KiB", units[i].unit) == 0)
			mul = units[i].mul;
	if (text && mul) {
		const char *s = (char *)text + strspn((char *)text, " \t\r\n");
		errno = 0;
		v = strtoull(s, &end, 10);
		ok = *s >= '0' && *s <= '9' && !errno && end[strspn(end, " \t\r\n")] == 0 && v <= ~0ull / mul;
		if (ok)
			*out = v * mul;
	}
	xmlFree(text);
	xmlFree(unit);
	return ok;
}

bool lv_memory_bytes(xmlDocPtr doc, unsigned long long *bytes)
{
	xmlNodePtr r = root_domain(doc), mem = child(r, "memory"), max = child(r, "maxMemory");
	unsigned long long a = 0, b = 0;
	if (!mem || !size_bytes(mem, &a) || (max && !size_bytes(max, &b)))
		return false;
	*bytes = a > b ? a : b;
	return true;
}

/* ---- writing ---- */

static xmlNodePtr add(xmlNodePtr parent, const char *name)
{
	return xmlNewChild(parent, NULL, BAD_CAST name, NULL);
}

static void set(xmlNodePtr n, const char *a, const char *v)
{
	xmlSetProp(n, BAD_CAST a, BAD_CAST v);
}

/* L's interface, as `netctl vm-args` gives QEMU: the link's app socket in
 * client mode, reconnecting, the VM's MAC, virtio. */
static xmlNodePtr new_iface(const struct lv_link *l)
{
	char mac[18], alias[64];
	snprintf(mac, sizeof(mac), MAC_FMT, MAC_ARGS(l->mac));
	snprintf(alias, sizeof(alias), LV_ALIAS_FMT, l->vm);
	xmlNodePtr i = xmlNewNode(NULL, BAD_CAST "interface");
	set(i, "type", "vhostuser");
	set(add(i, "mac"), "address", mac);
	xmlNodePtr s = add(i, "source");
	set(s, "type", "unix");
	set(s, "path", l->sock);
	set(s, "mode", "client");
	xmlNodePtr r = add(s, "reconnect");
	set(r, "enabled", "yes");
	set(r, "timeout", "1");
	set(add(i, "model"), "type", "virtio");
	set(add(i, "alias"), "name", alias);
	return i;
}

static xmlNodePtr new_memory_backing(void)
{
	xmlNodePtr m = xmlNewNode(NULL, BAD_CAST "memoryBacking");
	set(add(m, "source"), "type", "memfd");
	set(add(m, "access"), "mode", "shared");
	return m;
}

char *lv_snippet(const struct lv_link *l)
{
	xmlBufferPtr b = xmlBufferCreate();
	xmlDocPtr doc = xmlNewDoc(BAD_CAST "1.0");
	xmlNodePtr i = new_iface(l), m = new_memory_backing();
	xmlDocSetRootElement(doc, i);
	xmlAddNextSibling(i, m);
	char *out = NULL;
	if (b && xmlNodeDump(b, doc, i, 0, 1) >= 0 && xmlBufferCCat(b, "\n") == 0 &&
	    xmlNodeDump(b, doc, m, 0, 1) >= 0 && xmlBufferCCat(b, "\n") == 0)
		out = (char *)xmlStrdup(xmlBufferContent(b));
	xmlFreeDoc(doc);
	xmlBufferFree(b);
	return out;
}

/* Is interface N exactly what new_iface makes for L? */
static bool iface_same(xmlNodePtr n, const struct lv_link *l)
{
	char alias[64];
	uint8_t mac[6];
	snprintf(alias, sizeof(alias), LV_ALIAS_FMT, l->vm);
	xmlNodePtr s = child(n, "source"), r = child(s, "reconnect");
	return iface_mac(n, mac) && memcmp(mac, l->mac, 6) == 0 && attr_is(s, "type", "unix") &&
	       attr_is(s, "mode", "client") && attr_is(r, "enabled", "yes") && attr_is(child(n, "model"), "type", "virtio") &&
	       attr_is(child(n, "alias"), "name", alias);
}

/* The directory part of PATH ("" for none) equals DIR's. */
static bool same_dir(const char *path, const char *sock)
{
	const char *a = strrchr(path, '/'), *b = strrchr(sock, '/');
	return a && b && a - path == b - sock && strncmp(path, sock, (size_t)(a - path)) == 0;
}

/* The qemu:override device element for ALIAS, if DOC has one. */
static xmlNodePtr override_device(xmlNodePtr root, const char *alias, xmlNodePtr *override)
{
	*override = NULL;
	for (xmlNodePtr o = root->children; o; o = o->next) {
		if (o->type != XML_ELEMENT_NODE || !o->ns || xmlStrcmp(o->ns->href, BAD_CAST LV_QEMU_NS) ||
		    xmlStrcmp(o->name, BAD_CAST "override"))
			continue;
		*override = o;
		for (xmlNodePtr d = o->children; d; d = d->next)
			if (d->type == XML_ELEMENT_NODE && d->ns && !xmlStrcmp(d->ns->href, BAD_CAST LV_QEMU_NS) &&
			    !xmlStrcmp(d->name, BAD_CAST "device") && attr_is(d, "alias", alias))
				return d;
	}
	return NULL;
}

/* TCG: vectors=0 on the NIC with ALIAS, through libvirt's qemu:override. */
static bool add_vectors_override(xmlNodePtr root, const char *alias, bool *changed)
{
	xmlNodePtr o;
	if (override_device(root, alias, &o))
		return true;
	xmlNsPtr ns = xmlSearchNsByHref(root->doc, root, BAD_CAST LV_QEMU_NS);
	if (!ns && !(ns = xmlNewNs(root, BAD_CAST LV_QEMU_NS, BAD_CAST "qemu")))
		return false;
	if (!o)
		o = xmlNewChild(root, ns, BAD_CAST "override", NULL);
	xmlNodePtr d = xmlNewChild(o, ns, BAD_CAST "device", NULL);
	set(d, "alias", alias);
	xmlNodePtr p = xmlNewChild(xmlNewChild(d, ns, BAD_CAST "frontend", NULL), ns, BAD_CAST "property", NULL);
	set(p, "name", "vectors");
	set(p, "type", "unsigned");
	set(p, "value", "0");
	*changed = true;
	return true;
}

/* Shared memory from a memfd (or hugepages) for vhost-user; what is there
 * that contradicts it is refused, not overwritten. */
static enum lv_result memory_backing(xmlNodePtr root, char *why, size_t len, bool *changed)
{
	/* a NUMA cell may override the access mode */
	for (xmlNodePtr c = child(child(child(root, "cpu"), "numa"), "cell"); c; c = c->next)
		if (is(c, "cell") && !attr_is(c, "memAccess", NULL) && !attr_is(c, "memAccess", "shared")) {
			snprintf(why, len, "a NUMA cell of its <cpu> has memAccess other than shared");
			return LV_REFUSED;
		}
	xmlNodePtr m = child(root, "memoryBacking");
	if (!m) {
		xmlNodePtr devices = child(root, "devices");
		xmlNodePtr mb = new_memory_backing();
		if (!(devices ? xmlAddPrevSibling(devices, mb) : xmlAddChild(root, mb))) {
			xmlFreeNode(mb);
			return LV_REFUSED;
		}
		*changed = true;
		return LV_CHANGED;
	}
	xmlNodePtr src = child(m, "source"), acc = child(m, "access");
	if (src && !attr_is(src, "type", "memfd")) {
		snprintf(why, len, "its memoryBacking has another source than memfd: moat-link maps only memory "
			 "from a memfd or hugepages; change it to <source type='memfd'/> or remove it");
		return LV_REFUSED;
	}
	if (acc && !attr_is(acc, "mode", "shared")) {
		snprintf(why, len, "its memoryBacking's access is not shared, and vhost-user needs shared memory");
		return LV_REFUSED;
	}
	if (!src && !child(m, "hugepages")) {
		set(add(m, "source"), "type", "memfd");
		*changed = true;
	}
	if (!acc) {
		set(add(m, "access"), "mode", "shared");
		*changed = true;
	}
	return *changed ? LV_CHANGED : LV_UNCHANGED;
}

enum lv_result lv_attach(xmlDocPtr doc, const struct lv_link *l, unsigned long long max_mib, char *msg,
			 size_t msglen)
{
	xmlNodePtr root = root_domain(doc);
	char alias[64], why[256] = "";
	unsigned long long bytes;
	bool changed = false;
	snprintf(alias, sizeof(alias), LV_ALIAS_FMT, l->vm);
	if (!root) {
		snprintf(msg, msglen, "not a libvirt domain (no <domain>)");
		return LV_REFUSED;
	}
	if (!lv_memory_bytes(doc, &bytes)) {
		snprintf(msg, msglen, "its <memory> is missing or not a size");
		return LV_REFUSED;
	}
	if (bytes > max_mib << 20) {
		snprintf(msg, msglen, "it has %llu MiB of memory, and %s's link maps at most %llu MiB (netctl up "
			 "--vm-memory-max): the link would refuse it", (bytes + (1 << 20) - 1) >> 20, l->vm, max_mib);
		return LV_REFUSED;
	}
	xmlNodePtr devices = child(root, "devices"), mine = NULL;
	if (!devices)
		devices = add(root, "devices");
	for (xmlNodePtr n = devices->children; n; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		xmlChar *path = iface_vhost_path(n);
		bool on_sock = path && strcmp((char *)path, l->sock) == 0;
		bool other_link = path && !on_sock && same_dir((char *)path, l->sock);
		uint8_t mac[6];
		if (other_link)
			snprintf(why, sizeof(why), "it already has another moat link (%s): a domain is one VM; "
				 "detach that first", (char *)path);
		xmlFree(path);
		if (other_link)
			break;
		if (on_sock) {
			if (mine) {   /* two on our socket: keep one */
				snprintf(why, sizeof(why), "it has two interfaces on %s; detach first", l->sock);
				break;
			}
			mine = n;
			continue;
		}
		if (is(n, "interface") && iface_mac(n, mac) && memcmp(mac, l->mac, 6) == 0) {
			snprintf(why, sizeof(why), "another interface of it has %s's MAC " MAC_FMT
				 " (change that one's MAC or the VM's mac in moat.conf)", l->vm, MAC_ARGS(l->mac));
			break;
		}
		if (attr_is(child(n, "alias"), "name", alias)) {
			snprintf(why, sizeof(why), "another device of it has the alias %s", alias);
			break;
		}
	}
	if (why[0]) {
		snprintf(msg, msglen, "%s", why);
		return LV_REFUSED;
	}
	if (memory_backing(root, why, sizeof(why), &changed) == LV_REFUSED) {
		snprintf(msg, msglen, "%s", why[0] ? why : "cannot add memoryBacking");
		return LV_REFUSED;
	}
	bool backing = changed;   /* memory_backing added what was missing */
	const char *what = "already attached";
	if (mine && !iface_same(mine, l)) {
		xmlNodePtr fresh = new_iface(l);
		xmlReplaceNode(mine, fresh);
		xmlFreeNode(mine);
		changed = true;
		what = "interface replaced";
	} else if (!mine) {
		xmlAddChild(devices, new_iface(l));
		changed = true;
		what = "interface added";
	}
	if (attr_is(root, "type", "qemu") && !add_vectors_override(root, alias, &changed)) {
		snprintf(msg, msglen, "the prefix qemu names another namespace in it");
		return LV_REFUSED;
	}
	snprintf(msg, msglen, "%s (%s, MAC " MAC_FMT ")%s", what, alias, MAC_ARGS(l->mac),
		 backing ? "; shared memfd memory added" : "");
	return changed ? LV_CHANGED : LV_UNCHANGED;
}

enum lv_result lv_detach(xmlDocPtr doc, const char *sock, const char *vm, char *msg, size_t msglen)
{
	xmlNodePtr root = root_domain(doc), o;
	char alias[64];
	size_t gone = 0;
	snprintf(alias, sizeof(alias), LV_ALIAS_FMT, vm);
	if (!root) {
		snprintf(msg, msglen, "not a libvirt domain (no <domain>)");
		return LV_REFUSED;
	}
	for (xmlNodePtr d = root->children; d; d = d->next) {
		if (!is(d, "devices"))
			continue;
		for (xmlNodePtr n = d->children, next; n; n = next) {
			next = n->next;
			xmlChar *path = iface_vhost_path(n);
			if (path && strcmp((char *)path, sock) == 0) {
				xmlUnlinkNode(n);
				xmlFreeNode(n);
				gone++;
			}
			xmlFree(path);
		}
	}
	xmlNodePtr dev = override_device(root, alias, &o);
	if (dev) {
		xmlUnlinkNode(dev);
		xmlFreeNode(dev);
		if (!xmlFirstElementChild(o)) {
			xmlUnlinkNode(o);
			xmlFreeNode(o);
		}
	}
	snprintf(msg, msglen, gone ? "interface removed (memoryBacking left as it is)" : "not attached");
	return gone || dev ? LV_CHANGED : LV_UNCHANGED;
}

/* libvirt.h: a VM's moat link in libvirt's domain XML
 * (netctl-libvirt-xml.c): what `netctl libvirt xml`, `attach` and `detach`
 * write into a domain, and what the libvirt hook looks for. Pure functions
 * over libxml2 trees: no libvirt, no file, so the fuzz target runs them all.
 *
 * Domain XML is untrusted (the hook reads whatever a libvirt user defined):
 * lv_parse reads at most LV_XML_MAX bytes with libxml2, never from the
 * network, and refuses any DOCTYPE (no entity is ever declared, so none is
 * expanded). */
#ifndef MOAT_LIBVIRT_H
#define MOAT_LIBVIRT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libxml/tree.h>

#define LV_XML_MAX   (32u << 20)   /* libvirt's own RPC limit for a message */
#define LV_ALIAS_FMT "ua-moat-%s"  /* user aliases must start with "ua-" */
#define LV_QEMU_NS   "http://libvirt.org/schemas/domain/qemu/1.0"

/* A VM's link as a domain sees it. */
struct lv_link {
	const char *vm;              /* its name in moat.conf */
	const char *sock;            /* STATE/links/VM.app.sock */
	uint8_t mac[6];              /* the VM's MAC */
};

/* What lv_attach and lv_detach did. */
enum lv_result { LV_REFUSED = -1, LV_UNCHANGED = 0, LV_CHANGED = 1 };

/* BUF (LEN bytes) as a document, or NULL with why in ERR. */
xmlDocPtr lv_parse(const char *buf, size_t len, char *err, size_t errlen);

/* The interface element of L (its own document, for `netctl libvirt xml`),
 * and the memoryBacking vhost-user needs; xmlFree the string. */
char *lv_snippet(const struct lv_link *l);

/* Give domain DOC the interface of L and shared memory, so that its QEMU
 * attaches to the link. MAX_MIB: the most guest memory the link maps; a
 * domain with more is refused. Refused, too: an interface of another
 * device with L's MAC, a device with L's alias that is not L's interface, another
 * VM's moat link, memory backed in a way the link cannot map (a file, anonymous
 * or private memory). An interface already on L's socket is kept if it is
 * L's, else replaced. Domains of type 'qemu' (TCG) get vectors=0 on the
 * NIC: QEMU 7.2 crashes in vhost_net_start with MSI-X under TCG. MSG says
 * what was done or why not. */
enum lv_result lv_attach(xmlDocPtr doc, const struct lv_link *l, unsigned long long max_mib, char *msg,
			 size_t msglen);
/* Take every interface on SOCK (and its vectors override) out of DOC; the
 * memoryBacking stays (other devices may need it). */
enum lv_result lv_detach(xmlDocPtr doc, const char *sock, const char *vm, char *msg, size_t msglen);

/* The domain's largest memory (memory, maxMemory) in bytes; false if DOC
 * says none or what it says is not a size. */
bool lv_memory_bytes(xmlDocPtr doc, unsigned long long *bytes);

/* Calls FN with the source path of every vhost-user interface of DOC
 * (never NULL, never empty), until FN returns false. */
void lv_vhostuser_paths(xmlDocPtr doc, bool (*fn)(const char *path, void *arg), void *arg);

#endif

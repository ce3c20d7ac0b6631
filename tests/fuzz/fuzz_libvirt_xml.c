/* fuzz_libvirt_xml: libvirt domain XML, which the libvirt hook reads from
 * whoever defined the domain (host/netctl-libvirt-xml.c), parsed and then
 * scanned, attached to and detached from the way netctl does. Whatever the
 * bytes: no crash, no leak, and what attach writes parses again and
 * attaching it once more changes nothing. */
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include "host/libvirt.h"

static const struct lv_link fuzz_link = {
	.vm = "dev", .sock = "/var/lib/moat/links/dev.app.sock", .mac = { 0x02, 0x6d, 0x61, 0x00, 0x00, 0x0a },
};

static bool count(const char *path, void *arg)
{
	if (!*path)
		abort();   /* never empty */
	(*(size_t *)arg)++;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256], msg[512];
	xmlDocPtr doc = lv_parse((const char *)data, size, err, sizeof(err));
	if (!doc)
		return 0;
	size_t n = 0;
	unsigned long long bytes;
	lv_vhostuser_paths(doc, count, &n);
	lv_memory_bytes(doc, &bytes);
	if (lv_attach(doc, &fuzz_link, 1024, msg, sizeof(msg)) != LV_REFUSED) {
		xmlChar *out = NULL;
		int len = 0;
		xmlDocDumpFormatMemoryEnc(doc, &out, &len, "UTF-8", 1);
		xmlDocPtr again = out ? lv_parse((char *)out, (size_t)len, err, sizeof(err)) : NULL;
		if (!again)
			abort();   /* what we write parses */
		if (lv_attach(again, &fuzz_link, 1024, msg, sizeof(msg)) != LV_UNCHANGED)
			abort();   /* attaching twice changes nothing */
		lv_detach(again, fuzz_link.sock, fuzz_link.vm, msg, sizeof(msg));
		xmlFreeDoc(again);
		xmlFree(out);
	}
	lv_detach(doc, fuzz_link.sock, fuzz_link.vm, msg, sizeof(msg));
	xmlFreeDoc(doc);
	return 0;
}

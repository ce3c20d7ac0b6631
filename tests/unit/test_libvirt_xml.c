/* A VM's link in libvirt domain XML (host/netctl-libvirt-xml.c): what
 * attach adds, keeps, replaces and refuses; what detach takes out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "host/libvirt.h"

#define SOCK "/var/lib/moat/links/dev.app.sock"
static const struct lv_link dev = { .vm = "dev", .sock = SOCK, .mac = { 0x02, 0x6d, 0x61, 0x00, 0x00, 0x0a } };

static char msg[512];

static xmlDocPtr parse(const char *s)
{
	char err[256];
	xmlDocPtr d = lv_parse(s, strlen(s), err, sizeof(err));
	if (!d)
		fprintf(stderr, "%s\n", err);
	assert_non_null(d);
	return d;
}

static char *dump(xmlDocPtr d)
{
	xmlChar *out;
	int n;
	xmlDocDumpMemory(d, &out, &n);
	char *s = strdup((char *)out);
	xmlFree(out);
	return s;
}

/* DOMAIN (inside <domain type=TYPE>) attached: the result, *OUT the XML */
static enum lv_result attach(const char *type, const char *inner, unsigned long long max_mib, char **out)
{
	char buf[4096];
	snprintf(buf, sizeof(buf), "<domain type='%s'><name>x</name>%s</domain>", type, inner);
	xmlDocPtr d = parse(buf);
	enum lv_result r = lv_attach(d, &dev, max_mib, msg, sizeof(msg));
	*out = dump(d);
	xmlFreeDoc(d);
	return r;
}

static unsigned count(const char *hay, const char *needle)
{
	unsigned n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void test_adds_and_keeps(void **state)
{
	char *x;
	assert_int_equal(attach("kvm", "<memory unit='MiB'>512</memory><devices/>", 1024, &x), LV_CHANGED);
	assert_non_null(strstr(x, "<interface type=\"vhostuser\"><mac address=\"02:6d:61:00:00:0a\"/>"
				  "<source type=\"unix\" path=\"" SOCK "\" mode=\"client\">"
				  "<reconnect enabled=\"yes\" timeout=\"1\"/></source><model type=\"virtio\"/>"
				  "<alias name=\"ua-moat-dev\"/></interface>"));
	assert_non_null(strstr(x, "<memoryBacking><source type=\"memfd\"/><access mode=\"shared\"/></memoryBacking>"));
	assert_null(strstr(x, "override"));   /* KVM: no vectors=0 */
	xmlDocPtr d = parse(x);
	assert_int_equal(lv_attach(d, &dev, 1024, msg, sizeof(msg)), LV_UNCHANGED);
	char *again = dump(d);
	assert_string_equal(again, x);
	free(again);
	xmlFreeDoc(d);
	free(x);
}

static void test_tcg_vectors(void **state)
{
	char *x;
	assert_int_equal(attach("qemu", "<memory>131072</memory>", 1024, &x), LV_CHANGED);
	assert_non_null(strstr(x, "<qemu:override><qemu:device alias=\"ua-moat-dev\"><qemu:frontend>"
				  "<qemu:property name=\"vectors\" type=\"unsigned\" value=\"0\"/>"));
	xmlDocPtr d = parse(x);
	assert_int_equal(lv_detach(d, SOCK, "dev", msg, sizeof(msg)), LV_CHANGED);
	char *y = dump(d);
	assert_null(strstr(y, "vhostuser"));
	assert_null(strstr(y, "override"));
	assert_non_null(strstr(y, "memoryBacking"));   /* left as it is */
	assert_int_equal(lv_detach(d, SOCK, "dev", msg, sizeof(msg)), LV_UNCHANGED);
	free(y);
	xmlFreeDoc(d);
	free(x);
}

static void test_memory(void **state)
{
	char *x;
	/* the cap: memory or maxMemory, in libvirt's units */
	assert_int_equal(attach("kvm", "<memory unit='GiB'>2</memory>", 1024, &x), LV_REFUSED);
	assert_non_null(strstr(msg, "2048 MiB"));
	free(x);
	assert_int_equal(attach("kvm", "<memory unit='MiB'>512</memory><maxMemory unit='G'>4</maxMemory>", 1024, &x),
			 LV_REFUSED);
	free(x);
	assert_int_equal(attach("kvm", "<memory unit='GB'>1</memory>", 1024, &x), LV_CHANGED);   /* 10^9 < 2^30 */
	free(x);
	assert_int_equal(attach("kvm", "<memory unit='furlong'>1</memory>", 1024, &x), LV_REFUSED);
	free(x);
	assert_int_equal(attach("kvm", "<memory>99999999999999999999999</memory>", 1024, &x), LV_REFUSED);
	free(x);
	assert_int_equal(attach("kvm", "<name>no memory</name>", 1024, &x), LV_REFUSED);
	free(x);
	/* backing: added where missing, refused where it contradicts */
	assert_int_equal(attach("kvm", "<memory>1</memory><memoryBacking><hugepages/></memoryBacking>", 1024, &x),
			 LV_CHANGED);
	assert_non_null(strstr(x, "<memoryBacking><hugepages/><access mode=\"shared\"/></memoryBacking>"));
	free(x);
	assert_int_equal(attach("kvm", "<memory>1</memory><memoryBacking><source type='file'/></memoryBacking>", 1024, &x),
			 LV_REFUSED);
	assert_non_null(strstr(msg, "memfd"));
	free(x);
	assert_int_equal(attach("kvm", "<memory>1</memory><memoryBacking><access mode='private'/></memoryBacking>",
				1024, &x), LV_REFUSED);
	free(x);
	assert_int_equal(attach("kvm", "<memory>1</memory><cpu><numa><cell id='0' memory='1' memAccess='private'/>"
				"</numa></cpu>", 1024, &x), LV_REFUSED);
	assert_non_null(strstr(msg, "NUMA"));
	free(x);
}

static void test_clashes(void **state)
{
	char *x;
	assert_int_equal(attach("kvm", "<memory>1</memory><devices><interface type='network'>"
				"<mac address='02:6D:61:00:00:0A'/></interface></devices>", 1024, &x), LV_REFUSED);
	assert_non_null(strstr(msg, "MAC"));
	free(x);
	assert_int_equal(attach("kvm", "<memory>1</memory><devices><disk type='file'><alias name='ua-moat-dev'/>"
				"</disk></devices>", 1024, &x), LV_REFUSED);
	assert_non_null(strstr(msg, "alias"));
	free(x);
	assert_int_equal(attach("kvm", "<memory>1</memory><devices><interface type='vhostuser'>"
				"<source type='unix' path='/var/lib/moat/links/work.app.sock' mode='client'/>"
				"</interface></devices>", 1024, &x), LV_REFUSED);
	assert_non_null(strstr(msg, "another moat link"));
	free(x);
	/* ours, but with an old MAC: replaced, one interface */
	assert_int_equal(attach("kvm", "<memory>1</memory><devices><interface type='vhostuser'>"
				"<mac address='02:6d:61:00:00:0b'/><source type='unix' path='" SOCK "' mode='client'/>"
				"</interface></devices>", 1024, &x), LV_CHANGED);
	assert_int_equal(count(x, "<interface"), 1);
	assert_non_null(strstr(x, "02:6d:61:00:00:0a"));
	free(x);
	char err[256];
	assert_null(lv_parse("<domain/>x", 10, err, sizeof(err)));
	assert_null(lv_parse("<!DOCTYPE domain><domain/>", 26, err, sizeof(err)));
	assert_non_null(strstr(err, "DOCTYPE"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_adds_and_keeps),
		cmocka_unit_test(test_tcg_vectors),
		cmocka_unit_test(test_memory),
		cmocka_unit_test(test_clashes),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	xmlCleanupParser();
	return r;
}

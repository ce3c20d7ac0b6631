/* VFIO binding against a fake sysfs tree, and QMP messages built and parsed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <cmocka.h>

#include "host/qmp.h"
#include "host/vfio.h"

static char root[64];

static void mk(const char *rel)
{
	char p[512], *s;
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	for (s = p + strlen(root) + 1; (s = strchr(s, '/')); s++) {
		*s = 0;
		mkdir(p, 0755);
		*s = '/';
	}
	mkdir(p, 0755);
}

static void file(const char *rel, const char *content)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static void link_to(const char *target, const char *rel)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	assert_int_equal(symlink(target, p), 0);
}

static char *slurp(const char *rel)
{
	static char buf[1024];
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	FILE *f = fopen(p, "r");
	buf[0] = 0;
	if (f) {
		buf[fread(buf, 1, sizeof(buf) - 1, f)] = 0;
		fclose(f);
	}
	return buf;
}

/* group 7: the NIC (e1000e), its second function (no driver), a bridge
 * (pcieport); 0000:04:00.0 has no group */
static int tree_setup(void **state)
{
	snprintf(root, sizeof(root), "/tmp/moat-vfio.XXXXXX");
	assert_non_null(mkdtemp(root));
	mk("bus/pci/drivers/e1000e");
	mk("bus/pci/drivers/pcieport");
	mk("bus/pci/drivers/vfio-pci");
	file("bus/pci/drivers/e1000e/unbind", "");
	file("bus/pci/drivers/pcieport/unbind", "");
	file("bus/pci/drivers_probe", "");
	mk("kernel/iommu_groups/7/devices");
	const char *devs[] = { "0000:03:00.0", "0000:03:00.1", "0000:00:1c.0", "0000:04:00.0" };
	for (int i = 0; i < 4; i++) {
		char d[128], t[128];
		snprintf(d, sizeof(d), "bus/pci/devices/%s", devs[i]);
		mk(d);
		snprintf(d, sizeof(d), "bus/pci/devices/%s/driver_override", devs[i]);
		file(d, "");
		snprintf(d, sizeof(d), "bus/pci/devices/%s/class", devs[i]);
		file(d, i == 2 ? "0x060400\n" : "0x020000\n");
		if (i == 3)
			continue;
		snprintf(d, sizeof(d), "bus/pci/devices/%s/iommu_group", devs[i]);
		link_to("../../../../kernel/iommu_groups/7", d);
		snprintf(d, sizeof(d), "kernel/iommu_groups/7/devices/%s", devs[i]);
		snprintf(t, sizeof(t), "../../../../bus/pci/devices/%s", devs[i]);
		link_to(t, d);
	}
	link_to("../../../../bus/pci/drivers/e1000e", "bus/pci/devices/0000:03:00.0/driver");
	link_to("../../../../bus/pci/drivers/pcieport", "bus/pci/devices/0000:00:1c.0/driver");
	return 0;
}

static int tree_teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd);
}

static void test_bind_group(void **state)
{
	assert_true(vfio_bind_group(root, "0000:03:00.0"));
	assert_string_equal(slurp("bus/pci/devices/0000:03:00.0/driver_override"), "vfio-pci");
	assert_string_equal(slurp("bus/pci/devices/0000:03:00.1/driver_override"), "vfio-pci");
	assert_string_equal(slurp("bus/pci/devices/0000:00:1c.0/driver_override"), "");
	assert_string_equal(slurp("bus/pci/drivers/e1000e/unbind"), "0000:03:00.0");
	assert_string_equal(slurp("bus/pci/drivers/pcieport/unbind"), "");
	/* sorted: 03:00.0 before 03:00.1 */
	assert_string_equal(slurp("bus/pci/drivers_probe"), "0000:03:00.00000:03:00.1");
}

static void test_already_vfio(void **state)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/bus/pci/devices/0000:03:00.0/driver", root);
	unlink(p);
	link_to("../../../../bus/pci/drivers/vfio-pci", "bus/pci/devices/0000:03:00.0/driver");
	file("bus/pci/drivers_probe", "");
	assert_true(vfio_bind_group(root, "0000:03:00.0"));
	assert_string_equal(slurp("bus/pci/drivers_probe"), "0000:03:00.1");
}

static void test_refusals(void **state)
{
	assert_false(vfio_bind_group(root, "0000:04:00.0"));   /* no IOMMU group */
	assert_false(vfio_bind_group(root, "0000:05:00.0"));   /* no device */
	assert_false(vfio_bind_group(root, "03:00.0"));
	assert_false(vfio_bind_group(root, "0000:03:00.0; rm"));
	assert_true(vfio_bdf_valid("0000:03:1f.7"));
	assert_false(vfio_bdf_valid("0000:03:1f.8"));
	char p[512];
	snprintf(p, sizeof(p), "%s/bus/pci/drivers/vfio-pci", root);
	rmdir(p);
	assert_false(vfio_bind_group(root, "0000:03:00.0"));   /* driver not loaded */
	mkdir(p, 0755);
}

/* The group's /dev/vfio device becomes root's with the netvm user's group,
 * mode 0660 (the netvm's QEMU cannot chmod it open to others, red team
 * rt11); a file there that is not a character device (or a link to one) is
 * refused. */
static void test_group_give(void **state)
{
	char dev[600], devdir[512];
	mk("dev/vfio");
	snprintf(devdir, sizeof(devdir), "%s/dev/vfio", root);
	snprintf(dev, sizeof(dev), "%s/7", devdir);
	if (mknod(dev, S_IFCHR | 0600, makedev(1, 3)) < 0)
		skip();   /* not root */
	assert_true(vfio_group_give(root, devdir, "0000:03:00.0", 4343));
	struct stat st;
	assert_int_equal(stat(dev, &st), 0);
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(st.st_gid, 4343);
	assert_int_equal(st.st_mode & 07777, 0660);
	unlink(dev);
	file("dev/vfio/7", "");
	assert_false(vfio_group_give(root, devdir, "0000:03:00.0", 4343));
	unlink(dev);
	assert_int_equal(symlink("/dev/null", dev), 0);
	assert_false(vfio_group_give(root, devdir, "0000:03:00.0", 4343));
	struct stat null;
	assert_int_equal(stat("/dev/null", &null), 0);
	assert_int_not_equal(null.st_uid, 4242);
}

static void test_qmp_build(void **state)
{
	char b[1024];
	const uint8_t mac[6] = { 0x02, 0x6d, 0x66, 0x00, 0x00, 0x0a };
	assert_true(qmp_build_chardev_add(b, sizeof(b), "link-dev", "/s/dev.fw.sock"));
	assert_string_equal(b, "{\"execute\": \"chardev-add\", \"arguments\": {\"id\": \"link-dev\", \"backend\": "
			       "{\"type\": \"socket\", \"data\": {\"addr\": {\"type\": \"unix\", \"data\": {\"path\": "
			       "\"/s/dev.fw.sock\"}}, \"server\": false, \"reconnect\": 1}}}}");
	assert_true(qmp_build_netdev_add(b, sizeof(b), "net-dev", "link-dev"));
	assert_string_equal(b, "{\"execute\": \"netdev_add\", \"arguments\": {\"type\": \"vhost-user\", \"id\": "
			       "\"net-dev\", \"chardev\": \"link-dev\"}}");
	assert_true(qmp_build_device_add(b, sizeof(b), "nic-dev", "net-dev", mac, "port3"));
	assert_string_equal(b, "{\"execute\": \"device_add\", \"arguments\": {\"driver\": \"virtio-net-pci\", "
			       "\"id\": \"nic-dev\", \"netdev\": \"net-dev\", \"mac\": \"02:6d:66:00:00:0a\", "
			       "\"vectors\": 0, \"bus\": \"port3\", \"addr\": \"0\"}}");
	assert_true(qmp_build_by_id(b, sizeof(b), "device_del", "a\"b\\c"));
	assert_string_equal(b, "{\"execute\": \"device_del\", \"arguments\": {\"id\": \"a\\\"b\\\\c\"}}");
	assert_false(qmp_build_by_id(b, 20, "device_del", "nic-dev"));   /* does not fit: refused */
}

static void test_qmp_parse(void **state)
{
	char d[64];
	assert_int_equal(qmp_parse("{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7}}, \"capabilities\": [\"oob\"]}}",
				   d, sizeof(d)), QMP_GREETING);
	assert_int_equal(qmp_parse("{\"return\": {}}", d, sizeof(d)), QMP_RETURN);
	assert_int_equal(qmp_parse("{\"return\": [{\"bus\": 0, \"devices\": [{\"qdev_id\": \"x}\"}]}]}", d, sizeof(d)),
			 QMP_RETURN);
	assert_int_equal(qmp_parse("{\"error\": {\"class\": \"GenericError\", \"desc\": \"Duplicate ID 'x' for "
				   "device\"}}", d, sizeof(d)), QMP_ERROR);
	assert_string_equal(d, "Duplicate ID 'x' for device");
	assert_int_equal(qmp_parse("{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": "
				   "\"DEVICE_DELETED\", \"data\": {\"device\": \"nic-dev\"}}", d, sizeof(d)), QMP_EVENT);
	assert_string_equal(d, "DEVICE_DELETED");
	/* a key named "return" inside another value is not the reply */
	assert_int_equal(qmp_parse("{\"timestamp\": {\"return\": 1}, \"event\": \"X\"}", d, sizeof(d)), QMP_EVENT);
	assert_int_equal(qmp_parse("{\"return\": ", d, sizeof(d)), QMP_BAD);
	assert_int_equal(qmp_parse("{\"error\": {\"desc\": \"unterminated}}", d, sizeof(d)), QMP_BAD);
	assert_int_equal(qmp_parse("", d, sizeof(d)), QMP_BAD);
	assert_int_equal(qmp_parse("[1]", d, sizeof(d)), QMP_BAD);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bind_group, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_already_vfio, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_refusals, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_group_give, tree_setup, tree_teardown),
		cmocka_unit_test(test_qmp_build),
		cmocka_unit_test(test_qmp_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

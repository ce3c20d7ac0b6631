/* QEMU command lines, word for word; MACs; accel choice. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "host/qemu.h"

static const char conf[] =
	"network {\n    uplink tap moat-up0\n    subnet 10.137.0.0/16\n}\n"
	"vm dev {\n    address 10.137.0.10\n    allow dns\n}\n"
	"vm big {\n    address 10.137.1.200\n    allow dns\n}\n";

static struct policy *load(void)
{
	struct diags d;
	diags_init(&d, "t.conf", conf, sizeof(conf) - 1);
	struct policy *p = policy_load("t.conf", conf, sizeof(conf) - 1, 0, &d);
	if (!p)
		fprintf(stderr, "%s", d.out);
	diags_free(&d);
	assert_non_null(p);
	return p;
}

static void assert_argv(const struct qemu_args *a, const char *const *want)
{
	size_t n = 0;
	for (; want[n]; n++) {
		assert_true(n < a->n);
		assert_string_equal(a->v[n], want[n]);
	}
	assert_int_equal(a->n, n);
	assert_null(a->v[n]);
}

static void test_app_args(void **state)
{
	struct policy *p = load();
	struct qemu_args a;
	qemu_args_init(&a);
	assert_true(qemu_app_args(&a, "/var/lib/moat", &p->vms[0], 1024));
	const char *want[] = {
		"-chardev", "socket,id=moat0,path=/var/lib/moat/links/dev.app.sock,reconnect=1",
		"-netdev", "vhost-user,id=moatnet0,chardev=moat0",
		"-device", "virtio-net-pci,netdev=moatnet0,mac=02:6d:61:00:00:0a,vectors=0",
		"-object", "memory-backend-memfd,id=mem,size=1024M,share=on",
		"-numa", "node,memdev=mem", NULL,
	};
	assert_argv(&a, want);
	qemu_args_free(&a);
	policy_free(p);
}

static void test_macs(void **state)
{
	struct policy *p = load();
	uint8_t fw[6];
	const uint8_t app1[6] = { 0x02, 0x6d, 0x61, 0x00, 0x01, 0xc8 }, fw1[6] = { 0x02, 0x6d, 0x66, 0x00, 0x01, 0xc8 };
	assert_memory_equal(p->vms[1].mac, app1, 6);
	policy_firewall_mac(&p->vms[1], fw);
	assert_memory_equal(fw, fw1, 6);
	policy_free(p);
}

static void test_app_path_too_long(void **state)
{
	struct policy *p = load();
	struct qemu_args a;
	char dir[200];
	memset(dir, 'x', sizeof(dir) - 1);
	dir[0] = '/';
	dir[sizeof(dir) - 1] = 0;
	qemu_args_init(&a);
	assert_false(qemu_app_args(&a, dir, &p->vms[0], 1024));
	qemu_args_free(&a);
	policy_free(p);
}

static void test_firewallvm_args(void **state)
{
	struct qemu_nic nics[2] = {
		{ "uplink", "/s/links/uplink.fw.sock", { 0x02, 0x6d, 0x66, 0xff, 0xff, 0x01 } },
		{ "dev", "/s/links/dev.fw.sock", { 0x02, 0x6d, 0x66, 0x00, 0x00, 0x0a } },
	};
	struct qemu_appliance q = {
		.name = "firewallvm", .accel = "tcg", .kernel = "/img/firewallvm/vmlinuz",
		.initrd = "/img/firewallvm/initrd.img", .control = "/run/moat/firewall.ctl",
		.qmp = "/s/run/firewallvm.qmp", .console = "/s/run/firewallvm.console",
		.nics = nics, .nnics = 2, .spare_ports = 1,
	};
	struct qemu_args a;
	qemu_args_init(&a);
	assert_true(qemu_appliance_args(&a, &q));
	const char *want[] = {
		"qemu-system-x86_64", "-name", "firewallvm", "-machine", "q35", "-accel", "tcg",
		"-m", "128", "-object", "memory-backend-memfd,id=mem,size=128M,share=on", "-numa", "node,memdev=mem",
		"-nographic", "-nodefaults", "-no-user-config", "-no-reboot", "-sandbox", QEMU_SANDBOX,
		"-kernel", "/img/firewallvm/vmlinuz", "-initrd", "/img/firewallvm/initrd.img",
		"-append", "console=ttyS0 panic=-1 quiet moat.role=firewallvm",
		"-serial", "file:/s/run/firewallvm.console",
		"-qmp", "unix:/s/run/firewallvm.qmp,server=on,wait=off",
		"-device", "virtio-serial-pci,id=serial0",
		"-chardev", "socket,id=control,path=/run/moat/firewall.ctl,server=on,wait=off",
		"-device", "virtserialport,bus=serial0.0,chardev=control,name=org.moat.control",
		"-device", "pcie-root-port,id=port0,chassis=1,io-reserve=0",
		"-device", "pcie-root-port,id=port1,chassis=2,io-reserve=0",
		"-device", "pcie-root-port,id=port2,chassis=3,io-reserve=0",
		"-chardev", "socket,id=link-uplink,path=/s/links/uplink.fw.sock,reconnect=1",
		"-netdev", "vhost-user,id=net-uplink,chardev=link-uplink",
		"-device", "virtio-net-pci,id=nic-uplink,netdev=net-uplink,mac=02:6d:66:ff:ff:01,vectors=0,bus=port0",
		"-chardev", "socket,id=link-dev,path=/s/links/dev.fw.sock,reconnect=1",
		"-netdev", "vhost-user,id=net-dev,chardev=link-dev",
		"-device", "virtio-net-pci,id=nic-dev,netdev=net-dev,mac=02:6d:66:00:00:0a,vectors=0,bus=port1",
		NULL,
	};
	assert_argv(&a, want);
	qemu_args_free(&a);
	/* what netctl opens for QEMU's user: inherited descriptors, no paths */
	q.fds = true;
	qemu_args_init(&a);
	assert_true(qemu_appliance_args(&a, &q));
	const char *want_fds[] = {
		"-add-fd", "fd=5,set=5", "-chardev", "file,id=console,path=/dev/fdset/5,append=on", "-serial", "chardev:console",
		"-chardev", "socket,id=qmp,fd=4,server=on,wait=off", "-mon", "chardev=qmp,mode=control",
		"-device", "virtio-serial-pci,id=serial0",
		"-chardev", "socket,id=control,fd=3,server=on,wait=off", NULL,
	};
	size_t at = 0;
	while (at < a.n && strcmp(a.v[at], "-add-fd") != 0)
		at++;
	for (size_t i = 0; want_fds[i]; i++) {
		assert_true(at + i < a.n);
		assert_string_equal(a.v[at + i], want_fds[i]);
	}
	for (size_t i = 0; i < a.n; i++)
		assert_null(strstr(a.v[i], "/s/run/"));
	qemu_args_free(&a);
}

/* the netvm's outside NIC, per uplink kind: the last words of its argv */
static void netvm_tail(enum uplink_kind kind, const char *arg, const char *accel, const char *const *tail)
{
	struct qemu_nic nic = { "uplink", "/s/links/uplink.net.sock", { 0x02, 0x6d, 0x6e, 0xff, 0xff, 0x01 } };
	struct qemu_appliance q = {
		.binary = "/usr/bin/qemu-system-x86_64", .name = "netvm", .accel = accel, .kernel = "k",
		.initrd = "i", .control = "c", .qmp = "q", .console = "o", .nics = &nic, .nnics = 1,
		.outside = true, .uplink = kind, .uplink_arg = arg,
	};
	struct qemu_args a;
	qemu_args_init(&a);
	assert_true(qemu_appliance_args(&a, &q));
	assert_string_equal(a.v[0], "/usr/bin/qemu-system-x86_64");
	assert_string_equal(a.v[6], accel);
	size_t nt = 0;
	while (tail[nt])
		nt++;
	assert_true(a.n >= nt);
	for (size_t i = 0; i < nt; i++)
		assert_string_equal(a.v[a.n - nt + i], tail[i]);
	/* the uplink link's netvm side */
	bool found = false;
	for (size_t i = 0; i < a.n; i++)
		found |= strcmp(a.v[i], "virtio-net-pci,id=nic-uplink,netdev=net-uplink,mac=02:6d:6e:ff:ff:01,"
					"vectors=0,bus=port0") == 0;
	assert_true(found);
	if (strcmp(accel, "kvm") == 0) {
		assert_string_equal(a.v[7], "-cpu");
		assert_string_equal(a.v[8], "host");
	}
	qemu_args_free(&a);
}

static void test_netvm_uplinks(void **state)
{
	const char *pci[] = { "-device", "vfio-pci,host=0000:03:00.0", NULL };
	const char *tap[] = { "-netdev", "tap,id=outside,ifname=moat-up0,script=no,downscript=no", "-device",
			      "virtio-net-pci,id=nic-outside,netdev=outside,mac=02:6d:6e:ff:ff:02", NULL };
	const char *user[] = { "-netdev", "user,id=outside,net=10.0.2.0/24,ipv6=off", "-device",
			       "virtio-net-pci,id=nic-outside,netdev=outside,mac=02:6d:6e:ff:ff:02", NULL };
	netvm_tail(UPLINK_PCI, "0000:03:00.0", "kvm", pci);
	netvm_tail(UPLINK_TAP, "moat-up0", "tcg", tap);
	netvm_tail(UPLINK_USER, "", "tcg", user);
}

static void test_accel(void **state)
{
	assert_string_equal(qemu_accel_pick(NULL, true), "kvm");
	assert_string_equal(qemu_accel_pick(NULL, false), "tcg");
	assert_string_equal(qemu_accel_pick("tcg", true), "tcg");
	assert_string_equal(qemu_accel_pick("kvm", false), "kvm");
	assert_null(qemu_accel_pick("hvf", true));
	assert_false(qemu_kvm_works("/nonexistent/kvm"));
}

static void test_memory(void **state)
{
	unsigned mb = 0;
	assert_true(qemu_parse_memory("1024M", &mb));
	assert_int_equal(mb, 1024);
	assert_true(qemu_parse_memory("2G", &mb));
	assert_int_equal(mb, 2048);
	assert_true(qemu_parse_memory("512", &mb));
	assert_int_equal(mb, 512);
	assert_false(qemu_parse_memory("12M", &mb));
	assert_false(qemu_parse_memory("-1G", &mb));
	assert_false(qemu_parse_memory("1T", &mb));
	assert_false(qemu_parse_memory("", &mb));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_app_args),     cmocka_unit_test(test_macs),
		cmocka_unit_test(test_app_path_too_long), cmocka_unit_test(test_firewallvm_args),
		cmocka_unit_test(test_netvm_uplinks), cmocka_unit_test(test_accel),
		cmocka_unit_test(test_memory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* QEMU command lines (qemu.h). */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "lib/contract.h"
#include "host/qemu.h"

const uint8_t qemu_uplink_fw_mac[6] = { MOAT_UPLINK_FW_MAC_BYTES };
const uint8_t qemu_uplink_net_mac[6] = { MOAT_UPLINK_NETVM_MAC_BYTES };
const uint8_t qemu_outside_mac[6] = { MOAT_NETVM_OUTSIDE_MAC_BYTES };

void qemu_args_init(struct qemu_args *a)
{
	*a = (struct qemu_args){ 0 };
}

void qemu_args_free(struct qemu_args *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	qemu_args_init(a);
}

bool qemu_args_add(struct qemu_args *a, const char *fmt, ...)
{
	if (a->failed)
		return false;
	if (a->n + 2 > a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 32;
		char **v = realloc(a->v, cap * sizeof(*v));
		if (!v) {
			a->failed = true;
			return false;
		}
		a->v = v;
		a->cap = cap;
	}
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&a->v[a->n], fmt, ap);
	va_end(ap);
	if (r < 0) {
		a->failed = true;
		return false;
	}
	a->v[++a->n] = NULL;
	return true;
}

static void mac_str(const uint8_t m[6], char buf[MOAT_MAC_STRLEN])
{
	snprintf(buf, MOAT_MAC_STRLEN, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

/* vhost-user needs the guest's RAM in shared memory */
static void add_memory(struct qemu_args *a, unsigned mb)
{
	qemu_args_add(a, "-m");
	qemu_args_add(a, "%u", mb);
	qemu_args_add(a, "-object");
	qemu_args_add(a, "memory-backend-memfd,id=mem,size=%uM,share=on", mb);
	qemu_args_add(a, "-numa");
	qemu_args_add(a, "node,memdev=mem");
}

/* MSI-X vectors=0: QEMU 7.2 under TCG crashes in vhost_net_start otherwise */
/* With DEV_ID the device has an id and sits on BUS (an appliance's port). */
static void add_vhost_nic(struct qemu_args *a, const char *chardev, const char *netdev, const char *dev_id,
			  const char *sock, const uint8_t mac[6], const char *bus)
{
	char m[MOAT_MAC_STRLEN];
	mac_str(mac, m);
	qemu_args_add(a, "-chardev");
	qemu_args_add(a, "socket,id=%s,path=%s,reconnect=1", chardev, sock);
	qemu_args_add(a, "-netdev");
	qemu_args_add(a, "vhost-user,id=%s,chardev=%s", netdev, chardev);
	qemu_args_add(a, "-device");
	if (dev_id)
		qemu_args_add(a, "virtio-net-pci,id=%s,netdev=%s,mac=%s,vectors=0,bus=%s", dev_id, netdev, m, bus);
	else
		qemu_args_add(a, "virtio-net-pci,netdev=%s,mac=%s,vectors=0", netdev, m);
}

bool qemu_link_path(char *buf, size_t len, const char *state_dir, const char *link, const char *side)
{
	int r = snprintf(buf, len, "%s/links/%s.%s.sock", state_dir, link, side);
	if (r < 0 || (size_t)r >= len || (size_t)r >= QEMU_PATH_MAX) {
		fprintf(stderr, "netctl: link socket path too long for a unix socket: %s/links/%s.%s.sock\n",
			state_dir, link, side);
		return false;
	}
	return true;
}

bool qemu_app_args(struct qemu_args *a, const char *state_dir, const struct vm *v, unsigned memory_mb)
{
	char sock[QEMU_PATH_MAX];
	if (!qemu_link_path(sock, sizeof(sock), state_dir, v->name, "app"))
		return false;
	add_vhost_nic(a, "moat0", "moatnet0", NULL, sock, v->mac, NULL);
	qemu_args_add(a, "-object");
	qemu_args_add(a, "memory-backend-memfd,id=mem,size=%uM,share=on", memory_mb);
	qemu_args_add(a, "-numa");
	qemu_args_add(a, "node,memdev=mem");
	return !a->failed;
}

static void add_outside(struct qemu_args *a, const struct qemu_appliance *q)
{
	char m[MOAT_MAC_STRLEN];
	mac_str(qemu_outside_mac, m);
	switch (q->uplink) {
	case UPLINK_PCI:
		qemu_args_add(a, "-device");
		qemu_args_add(a, "vfio-pci,host=%s", q->uplink_arg);
		return;
	case UPLINK_TAP:
		qemu_args_add(a, "-netdev");
		if (q->fds)
			qemu_args_add(a, "tap,id=outside,fd=%d", QEMU_FD_TAP);
		else
			qemu_args_add(a, "tap,id=outside,ifname=%s,script=no,downscript=no", q->uplink_arg);
		break;
	case UPLINK_USER:
		/* no host forwarding (none is asked for), no IPv6 (the netvm NATs
		 * IPv4 only); not restrict=on, which would cut the internet too */
		qemu_args_add(a, "-netdev");
		qemu_args_add(a, "user,id=outside,net=" QEMU_USER_NET ",ipv6=off");
		break;
	}
	qemu_args_add(a, "-device");
	qemu_args_add(a, "virtio-net-pci,id=nic-outside,netdev=outside,mac=%s", m);
}

bool qemu_appliance_args(struct qemu_args *a, const struct qemu_appliance *q)
{
	bool kvm = strcmp(q->accel, "kvm") == 0;
	qemu_args_add(a, "%s", q->binary ? q->binary : QEMU_DEFAULT_BINARY);
	qemu_args_add(a, "-name");
	qemu_args_add(a, "%s", q->name);
	qemu_args_add(a, "-machine");
	qemu_args_add(a, "q35");
	qemu_args_add(a, "-accel");
	qemu_args_add(a, "%s", q->accel);
	if (kvm) {
		qemu_args_add(a, "-cpu");
		qemu_args_add(a, "host");
	}
	add_memory(a, QEMU_APPLIANCE_MB);
	qemu_args_add(a, "-nographic");
	qemu_args_add(a, "-nodefaults");
	qemu_args_add(a, "-no-user-config");
	qemu_args_add(a, "-no-reboot");
	qemu_args_add(a, "-sandbox");
	qemu_args_add(a, QEMU_SANDBOX);
	qemu_args_add(a, "-kernel");
	qemu_args_add(a, "%s", q->kernel);
	qemu_args_add(a, "-initrd");
	qemu_args_add(a, "%s", q->initrd);
	qemu_args_add(a, "-append");
	qemu_args_add(a, "console=ttyS0 panic=-1 quiet moat.role=%s", q->name);
	if (q->fds) {
		/* QEMU opens /dev/fdset/N as a dup of the fd added to set N */
		/* a pipe (logkeep.h): append=on, as QEMU would truncate a file
		 * and a pipe cannot be */
		qemu_args_add(a, "-add-fd");
		qemu_args_add(a, "fd=%d,set=%d", QEMU_FD_CONSOLE, QEMU_FD_CONSOLE);
		qemu_args_add(a, "-chardev");
		qemu_args_add(a, "file,id=console,path=/dev/fdset/%d,append=on", QEMU_FD_CONSOLE);
		qemu_args_add(a, "-serial");
		qemu_args_add(a, "chardev:console");
		qemu_args_add(a, "-chardev");
		qemu_args_add(a, "socket,id=qmp,fd=%d,server=on,wait=off", QEMU_FD_QMP);
		qemu_args_add(a, "-mon");
		qemu_args_add(a, "chardev=qmp,mode=control");
	} else {
		qemu_args_add(a, "-serial");
		qemu_args_add(a, "file:%s", q->console);
		qemu_args_add(a, "-qmp");
		qemu_args_add(a, "unix:%s,server=on,wait=off", q->qmp);
	}
	qemu_args_add(a, "-device");
	qemu_args_add(a, "virtio-serial-pci,id=serial0");
	qemu_args_add(a, "-chardev");
	if (q->fds)
		qemu_args_add(a, "socket,id=control,fd=%d,server=on,wait=off", QEMU_FD_CONTROL);
	else
		qemu_args_add(a, "socket,id=control,path=%s,server=on,wait=off", q->control);
	qemu_args_add(a, "-device");
	qemu_args_add(a, "virtserialport,bus=serial0.0,chardev=control,name=" MOAT_PORT_CONTROL);
	if (q->status) {
		/* the read-only channel: the daemon serves status, stats and log there */
		qemu_args_add(a, "-chardev");
		if (q->fds)
			qemu_args_add(a, "socket,id=status,fd=%d,server=on,wait=off", QEMU_FD_STATUS);
		else
			qemu_args_add(a, "socket,id=status,path=%s,server=on,wait=off", q->status);
		qemu_args_add(a, "-device");
		qemu_args_add(a, "virtserialport,bus=serial0.0,chardev=status,name=" MOAT_PORT_STATUS);
	}
	/* every link NIC on its own root port, so each can be unplugged, and
	 * spare ports for the links of VMs added later */
	size_t ports = q->nnics + q->spare_ports;
	for (size_t i = 0; i < ports; i++) {
		qemu_args_add(a, "-device");
		qemu_args_add(a, "pcie-root-port,id=port%zu,chassis=%zu,io-reserve=0", i, i + 1);
	}
	for (size_t i = 0; i < q->nnics; i++) {
		char chardev[64], netdev[64], dev[64], bus[32];
		if (snprintf(chardev, sizeof(chardev), "link-%s", q->nics[i].id) >= (int)sizeof(chardev)) {
			fprintf(stderr, "netctl: link name too long: %s\n", q->nics[i].id);
			return false;
		}
		snprintf(netdev, sizeof(netdev), "net-%s", q->nics[i].id);
		snprintf(dev, sizeof(dev), "nic-%s", q->nics[i].id);
		snprintf(bus, sizeof(bus), "port%zu", i);
		add_vhost_nic(a, chardev, netdev, dev, q->nics[i].sock, q->nics[i].mac, bus);
	}
	if (q->outside)
		add_outside(a, q);
	return !a->failed;
}

const char *qemu_accel_pick(const char *override, bool kvm_works)
{
	if (override)
		return strcmp(override, "kvm") == 0 ? "kvm" : strcmp(override, "tcg") == 0 ? "tcg" : NULL;
	return kvm_works ? "kvm" : "tcg";
}

bool qemu_kvm_works(const char *dev)
{
	int fd = open(dev, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return false;
	bool ok = ioctl(fd, KVM_GET_API_VERSION, 0) == KVM_API_VERSION;
	if (ok) {
		int vm = ioctl(fd, KVM_CREATE_VM, 0);
		ok = vm >= 0;
		if (vm >= 0)
			close(vm);
	}
	close(fd);
	return ok;
}

bool qemu_parse_memory(const char *s, unsigned *mb)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return false;
	if (*end == 'G' || *end == 'g') {
		v *= 1024;
		end++;
	} else if (*end == 'M' || *end == 'm') {
		end++;
	}
	if (*end || v < 64 || v > 1024ull * 1024)
		return false;
	*mb = (unsigned)v;
	return true;
}

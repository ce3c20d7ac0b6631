/* vfio.h: hand the uplink NIC to the netvm. VFIO gives a guest a whole IOMMU
 * group or nothing, so every device of the NIC's group is bound to vfio-pci
 * (PCI bridges excepted: they stay with the host). */
#ifndef MOAT_VFIO_H
#define MOAT_VFIO_H

#include <stdbool.h>
#include <sys/types.h>

#define VFIO_SYSFS "/sys"
#define VFIO_DEV   "/dev/vfio"

/* "0000:03:00.0" (domain:bus:device.function, hex). */
bool vfio_bdf_valid(const char *bdf);

/* For each device D of BDF's IOMMU group under SYSFS (VFIO_SYSFS, or a test
 * tree): vfio-pci into D/driver_override, D into its driver's unbind, D into
 * bus/pci/drivers_probe. Devices already on vfio-pci are left alone. False,
 * with one line on stderr, when BDF has no IOMMU group or a write fails. */
bool vfio_bind_group(const char *sysfs, const char *bdf);

/* DEVDIR/GROUP, the VFIO device of BDF's IOMMU group (waited for up to 2 s:
 * udev makes it), to root:GID mode 0660: the netvm's QEMU opens it through
 * its group and cannot change its mode. False, with one line on stderr, if
 * that fails. */
bool vfio_group_give(const char *sysfs, const char *devdir, const char *bdf, gid_t gid);

#endif

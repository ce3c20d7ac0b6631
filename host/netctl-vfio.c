/* VFIO binding through driver_override (vfio.h). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/priv.h"
#include "host/vfio.h"

bool vfio_bdf_valid(const char *bdf)
{
	static const char pattern[] = "hhhh:hh:hh.h";
	if (strlen(bdf) != sizeof(pattern) - 1)
		return false;
	for (size_t i = 0; pattern[i]; i++)
		if (pattern[i] == 'h' ? !isxdigit((unsigned char)bdf[i]) : bdf[i] != pattern[i])
			return false;
	return bdf[11] >= '0' && bdf[11] <= '7';
}

static bool path_of(char *buf, size_t len, const char *fmt, const char *a, const char *b)
{
	int r = snprintf(buf, len, fmt, a, b);
	if (r < 0 || (size_t)r >= len) {
		fprintf(stderr, "netctl: vfio: path too long under %s\n", a);
		return false;
	}
	return true;
}

static bool sysfs_write(const char *path, const char *value)
{
	/* O_APPEND is ignored by sysfs attributes; in a test tree it keeps
	 * every write */
	int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	size_t len = strlen(value);
	ssize_t w = fd < 0 ? -1 : write(fd, value, len);
	int e = errno;
	if (fd >= 0)
		close(fd);
	if (w != (ssize_t)len) {
		fprintf(stderr, "netctl: vfio: writing '%s' to %s: %s\n", value, path,
			w < 0 ? strerror(e) : "short write");
		return false;
	}
	return true;
}

/* The name of the driver DEV is bound to, in BUF; "" when none. */
static bool driver_of(const char *sysfs, const char *dev, char *buf, size_t len)
{
	char link[PATH_MAX], target[PATH_MAX];
	if (!path_of(link, sizeof(link), "%s/bus/pci/devices/%s/driver", sysfs, dev))
		return false;
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	if (n < 0) {
		buf[0] = 0;
		return true;
	}
	target[n] = 0;
	const char *slash = strrchr(target, '/');
	const char *name = slash ? slash + 1 : target;
	if (strlen(name) >= len)
		return false;
	memcpy(buf, name, strlen(name) + 1);
	return true;
}

static bool is_bridge(const char *sysfs, const char *dev)
{
	char path[PATH_MAX], class[32] = "";
	if (!path_of(path, sizeof(path), "%s/bus/pci/devices/%s/class", sysfs, dev))
		return false;
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	bool ok = fgets(class, sizeof(class), f) != NULL;
	fclose(f);
	return ok && strncmp(class, "0x0604", 6) == 0;
}

static bool bind_one(const char *sysfs, const char *dev)
{
	char path[PATH_MAX], driver[256];
	if (!driver_of(sysfs, dev, driver, sizeof(driver)))
		return false;
	if (strcmp(driver, "vfio-pci") == 0 || is_bridge(sysfs, dev))
		return true;
	if (!path_of(path, sizeof(path), "%s/bus/pci/devices/%s/driver_override", sysfs, dev) ||
	    !sysfs_write(path, "vfio-pci"))
		return false;
	if (driver[0] && (!path_of(path, sizeof(path), "%s/bus/pci/devices/%s/driver/unbind", sysfs, dev) ||
			  !sysfs_write(path, dev)))
		return false;
	return path_of(path, sizeof(path), "%s/bus/pci/drivers_probe%s", sysfs, "") && sysfs_write(path, dev);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

bool vfio_bind_group(const char *sysfs, const char *bdf)
{
	char path[PATH_MAX];
	if (!vfio_bdf_valid(bdf)) {
		fprintf(stderr, "netctl: vfio: '%s' is not a PCI address like 0000:03:00.0\n", bdf);
		return false;
	}
	if (!path_of(path, sizeof(path), "%s/bus/pci/devices/%s", sysfs, bdf))
		return false;
	if (access(path, F_OK) != 0) {
		fprintf(stderr, "netctl: vfio: no PCI device %s (%s)\n", bdf, path);
		return false;
	}
	if (!path_of(path, sizeof(path), "%s/bus/pci/devices/%s/iommu_group/devices", sysfs, bdf))
		return false;
	DIR *d = opendir(path);
	if (!d) {
		fprintf(stderr, "netctl: vfio: %s has no IOMMU group: turn on the IOMMU (intel_iommu=on or "
			"amd_iommu=on, and VT-d/AMD-Vi in the firmware) to pass it to the netvm\n", bdf);
		return false;
	}
	char drv[PATH_MAX];
	if (!path_of(drv, sizeof(drv), "%s/bus/pci/drivers/vfio-pci%s", sysfs, "") || access(drv, F_OK) != 0) {
		fprintf(stderr, "netctl: vfio: the vfio-pci driver is not loaded (modprobe vfio-pci)\n");
		closedir(d);
		return false;
	}
	char **devs = NULL;
	size_t n = 0;
	bool ok = true;
	struct dirent *e;
	while (ok && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char **v = realloc(devs, (n + 1) * sizeof(*v));
		ok = v && (v[n] = strdup(e->d_name));
		if (v)
			devs = v;
		if (ok)
			n++;
	}
	closedir(d);
	if (!ok)
		fprintf(stderr, "netctl: vfio: out of memory\n");
	/* sorted, so the order of writes does not depend on the directory */
	if (n)
		qsort(devs, n, sizeof(*devs), cmp_str);
	for (size_t i = 0; ok && i < n; i++)
		ok = bind_one(sysfs, devs[i]);
	for (size_t i = 0; i < n; i++)
		free(devs[i]);
	free(devs);
	return ok;
}

bool vfio_group_give(const char *sysfs, const char *devdir, const char *bdf, gid_t gid)
{
	char link[PATH_MAX], target[PATH_MAX], dev[PATH_MAX];
	if (!path_of(link, sizeof(link), "%s/bus/pci/devices/%s/iommu_group", sysfs, bdf))
		return false;
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0) {
		fprintf(stderr, "netctl: vfio: %s: %s\n", link, n < 0 ? strerror(errno) : "empty");
		return false;
	}
	target[n] = 0;
	const char *group = strrchr(target, '/') ? strrchr(target, '/') + 1 : target;
	if (!path_of(dev, sizeof(dev), "%s/%s", devdir, group))
		return false;
	/* udev makes the device once vfio-pci has the group */
	for (int i = 0; i < 100 && access(dev, F_OK) != 0; i++)
		usleep(20000);
	struct stat st;
	int fd = open(dev, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_PATH);
	/* root's, the netvm user's group, 0660: that user (its QEMU) opens
	 * it but cannot change its mode, as with the links' sockets */
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode) || fchownat(fd, "", 0, gid, AT_EMPTY_PATH) < 0 ||
	    !priv_fchmod(fd, 0660)) {
		fprintf(stderr, "netctl: vfio: giving %s to the netvm's user: %s\n", dev,
			fd >= 0 && !S_ISCHR(st.st_mode) ? "not a character device" : strerror(errno));
		if (fd >= 0)
			close(fd);
		return false;
	}
	close(fd);
	return true;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers shared by the vfio_dirty selftests: opening a device through a
 * type1 container, the DMA ioctls, reading the IOMMU capability chain, and
 * driving the simulated device (vfio_dirty_sim).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>

#include "vfio_util.h"
#include "vfio_dirty_test.h"

const char *vfio_selftests_get_device(int *argc, char *argv[])
{
	const char *name;

	if (*argc > 1 && argv[*argc - 1][0] != '-') {
		name = argv[*argc - 1];
		argv[--(*argc)] = NULL;
		return name;
	}
	name = getenv("VFIO_SELFTESTS_BDF");
	return name && *name ? name : NULL;
}

/* The IOMMU group of a PCI device or an mdev, from sysfs. */
static int device_group(const char *name, bool *is_mdev)
{
	static const char *const buses[] = { "pci", "mdev" };
	char path[PATH_MAX], link[PATH_MAX];
	unsigned int i;
	ssize_t len;

	for (i = 0; i < ARRAY_SIZE(buses); i++) {
		snprintf(path, sizeof(path), "/sys/bus/%s/devices/%s/iommu_group",
			 buses[i], name);
		len = readlink(path, link, sizeof(link) - 1);
		if (len < 0)
			continue;
		link[len] = '\0';
		*is_mdev = i == 1;
		return atoi(basename(link));
	}
	return -ENODEV;
}

int __vfio_group_open(const char *name)
{
	char path[64];
	bool is_mdev;
	int group, fd;

	group = device_group(name, &is_mdev);
	if (group < 0)
		return group;
	snprintf(path, sizeof(path), "/dev/vfio/%d", group);
	fd = open(path, O_RDWR);
	return fd < 0 ? -errno : fd;
}

int __vfio_test_device_open(struct vfio_test_device *dev, const char *name,
			    unsigned long iommu_type)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	char path[64];
	int ret;

	vfio_test_device_init(dev);
	dev->name = name;

	dev->group = device_group(name, &dev->is_mdev);
	if (dev->group < 0)
		return dev->group;

	dev->container_fd = open("/dev/vfio/vfio", O_RDWR);
	if (dev->container_fd < 0)
		goto err_errno;
	if (ioctl(dev->container_fd, VFIO_GET_API_VERSION) != VFIO_API_VERSION) {
		ret = -EPROTO;
		goto err_close;
	}

	snprintf(path, sizeof(path), "/dev/vfio/%d", dev->group);
	dev->group_fd = open(path, O_RDWR);
	if (dev->group_fd < 0)
		goto err_errno;
	if (ioctl(dev->group_fd, VFIO_GROUP_GET_STATUS, &status))
		goto err_errno;
	if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		ret = -EBUSY;
		goto err_close;
	}
	if (ioctl(dev->group_fd, VFIO_GROUP_SET_CONTAINER, &dev->container_fd))
		goto err_errno;
	if (ioctl(dev->container_fd, VFIO_SET_IOMMU, iommu_type))
		goto err_errno;
	dev->device_fd = ioctl(dev->group_fd, VFIO_GROUP_GET_DEVICE_FD, name);
	if (dev->device_fd < 0)
		goto err_errno;
	return 0;

err_errno:
	ret = -errno;
err_close:
	vfio_test_device_close(dev);
	return ret;
}

#define VFIO_DIRTY_CLAIM	"/sys/module/vfio_dirty/parameters/claim"

const char *vfio_test_backend_module(enum vfio_test_backend backend)
{
	return backend == VFIO_BACKEND_TYPE1 ? "vfio_iommu_type1" : "vfio_dirty";
}

/* A sysfs file's first line, or "" when it cannot be read. */
static void read_line(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");

	buf[0] = '\0';
	if (f && !fgets(buf, size, f))
		buf[0] = '\0';
	if (f)
		fclose(f);
}

static int write_line(const char *path, const char *line)
{
	FILE *f = fopen(path, "w");
	int ret = 0;

	if (!f)
		return -errno;
	if (fputs(line, f) < 0)
		ret = -EIO;
	if (fclose(f))
		ret = -errno;
	return ret;
}

long sysfs_read_long(const char *path)
{
	char buf[32];

	read_line(path, buf, sizeof(buf));
	return buf[0] ? strtol(buf, NULL, 10) : -1;
}

int __sysfs_write_long(const char *path, long val)
{
	char line[32];

	snprintf(line, sizeof(line), "%ld\n", val);
	return write_line(path, line);
}

int __sysfs_write_line(const char *path, const char *line)
{
	ssize_t len = strlen(line), ret;
	int fd;

	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	ret = write(fd, line, len);
	if (ret < 0)
		ret = -errno;
	close(fd);
	return ret < 0 ? ret : ret == len ? 0 : -EIO;
}

long module_refcnt(const char *module)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "/sys/module/%s/refcnt", module);
	return sysfs_read_long(path);
}

int __module_param_read(const char *module, const char *param, char *buf,
			size_t size)
{
	char path[PATH_MAX];
	FILE *f;
	int ret = 0;

	snprintf(path, sizeof(path), "/sys/module/%s/parameters/%s", module,
		 param);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	if (!fgets(buf, size, f))
		ret = -EIO;
	fclose(f);
	return ret;
}

int __module_param_write(const char *module, const char *param,
			 const char *value)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "/sys/module/%s/parameters/%s", module,
		 param);
	return write_line(path, value);
}

long vfio_dirty_tracking_bytes(void)
{
	return sysfs_read_long("/sys/module/vfio_dirty/stats/tracking_bytes");
}

const char *vfio_errname(int ret)
{
	switch (ret) {
	case -EINVAL:
		return "EINVAL";
	case -E2BIG:
		return "E2BIG";
	case -ENOMEM:
		return "ENOMEM";
	default:
		return strerror(-ret);
	}
}

int __vfio_dirty_ceiling_set(const char *value, char *saved, size_t size)
{
	int ret;

	ret = __module_param_read("vfio_dirty", "max_bitmap_size", saved, size);
	if (!ret)
		ret = __module_param_write("vfio_dirty", "max_bitmap_size",
					   value);
	return ret;
}

void vfio_dirty_ceiling_restore(char *saved)
{
	if (saved[0])
		__module_param_write("vfio_dirty", "max_bitmap_size", saved);
	saved[0] = '\0';
}

int __vfio_test_device_open_on(struct vfio_test_device *dev, const char *name,
			       unsigned long iommu_type,
			       enum vfio_test_backend backend)
{
	const char *module = vfio_test_backend_module(backend);
	char claim[8];
	long refcnt;
	int ret;

	refcnt = module_refcnt(module);
	if (refcnt < 0)
		return -ENOENT;
	read_line(VFIO_DIRTY_CLAIM, claim, sizeof(claim));
	if (claim[0]) {
		ret = write_line(VFIO_DIRTY_CLAIM,
				 backend == VFIO_BACKEND_VFIO_DIRTY ? "1" : "0");
		if (ret)
			return ret;
	}
	ret = __vfio_test_device_open(dev, name, iommu_type);
	if (claim[0])
		write_line(VFIO_DIRTY_CLAIM, claim);
	if (!ret && module_refcnt(module) != refcnt + 1) {
		vfio_test_device_close(dev);
		ret = -EPROTO;
	}
	return ret;
}

void vfio_test_device_init(struct vfio_test_device *dev)
{
	memset(dev, 0, sizeof(*dev));
	dev->container_fd = -1;
	dev->group_fd = -1;
	dev->device_fd = -1;
}

void vfio_test_device_close(struct vfio_test_device *dev)
{
	if (dev->device_fd >= 0)
		close(dev->device_fd);
	if (dev->group_fd >= 0)
		close(dev->group_fd);
	if (dev->container_fd >= 0)
		close(dev->container_fd);
	dev->device_fd = -1;
	dev->group_fd = -1;
	dev->container_fd = -1;
}

int __vfio_ioctl(int fd, unsigned long request, void *arg)
{
	return ioctl(fd, request, arg) ? -errno : 0;
}

int __vfio_map_prot(int container_fd, void *vaddr, uint64_t iova,
		    uint64_t size, uint32_t flags)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = flags,
		.vaddr = (uintptr_t)vaddr,
		.iova = iova,
		.size = size,
	};

	return ioctl(container_fd, VFIO_IOMMU_MAP_DMA, &map) ? -errno : 0;
}

int __vfio_map(int container_fd, void *vaddr, uint64_t iova, uint64_t size)
{
	return __vfio_map_prot(container_fd, vaddr, iova, size,
			       VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
}

static int unmap_flags(int container_fd, uint32_t flags, uint64_t iova,
		       uint64_t size, uint64_t *unmapped)
{
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap),
		.flags = flags,
		.iova = iova,
		.size = size,
	};
	int ret;

	ret = ioctl(container_fd, VFIO_IOMMU_UNMAP_DMA, &unmap) ? -errno : 0;
	if (unmapped)
		*unmapped = unmap.size;
	return ret;
}

int __vfio_unmap(int container_fd, uint64_t iova, uint64_t size,
		 uint64_t *unmapped)
{
	return unmap_flags(container_fd, 0, iova, size, unmapped);
}

int __vfio_unmap_vaddr(int container_fd, uint32_t flags, uint64_t iova,
		       uint64_t size, uint64_t *invalidated)
{
	return unmap_flags(container_fd, VFIO_DMA_UNMAP_FLAG_VADDR | flags,
			   iova, size, invalidated);
}

int __vfio_map_vaddr(int container_fd, uint32_t flags, void *vaddr,
		     uint64_t iova, uint64_t size)
{
	return __vfio_map_prot(container_fd, vaddr, iova, size,
			       VFIO_DMA_MAP_FLAG_VADDR | flags);
}

int __vfio_unmap_all(int container_fd, uint64_t iova, uint64_t size,
		     uint64_t *unmapped)
{
	return unmap_flags(container_fd, VFIO_DMA_UNMAP_FLAG_ALL, iova, size,
			   unmapped);
}

int __vfio_unmap_bitmap(int container_fd, uint64_t iova, uint64_t size,
			uint64_t pgsize, uint64_t *bitmap, uint64_t bitmap_bytes,
			uint64_t *unmapped)
{
	struct {
		struct vfio_iommu_type1_dma_unmap unmap;
		struct vfio_bitmap bitmap;
	} req = {
		.unmap = {
			.argsz = sizeof(req),
			.flags = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP,
			.iova = iova,
			.size = size,
		},
		.bitmap = {
			.pgsize = pgsize,
			.size = bitmap_bytes,
			.data = (__u64 *)bitmap,
		},
	};
	int ret;

	ret = ioctl(container_fd, VFIO_IOMMU_UNMAP_DMA, &req) ? -errno : 0;
	if (unmapped)
		*unmapped = req.unmap.size;
	return ret;
}

int __vfio_dirty(int container_fd, uint32_t flags)
{
	struct vfio_iommu_type1_dirty_bitmap dirty = {
		.argsz = sizeof(dirty),
		.flags = flags,
	};

	return ioctl(container_fd, VFIO_IOMMU_DIRTY_PAGES, &dirty) ? -errno : 0;
}

int __vfio_get_bitmap(int container_fd, uint64_t iova, uint64_t size,
		      uint64_t pgsize, uint64_t *bitmap, uint64_t bitmap_bytes)
{
	struct {
		struct vfio_iommu_type1_dirty_bitmap dirty;
		struct vfio_iommu_type1_dirty_bitmap_get get;
	} req = {
		.dirty = {
			.argsz = sizeof(req),
			.flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP,
		},
		.get = {
			.iova = iova,
			.size = size,
			.bitmap = {
				.pgsize = pgsize,
				.size = bitmap_bytes,
				.data = (__u64 *)bitmap,
			},
		},
	};

	return ioctl(container_fd, VFIO_IOMMU_DIRTY_PAGES, &req) ? -errno : 0;
}

int __vfio_dirty_test_set_dirty(int container_fd, uint64_t iova, uint64_t size)
{
	struct vfio_dirty_test_set_dirty set = {
		.argsz = sizeof(set),
		.iova = iova,
		.size = size,
	};

	return ioctl(container_fd, VFIO_DIRTY_TEST_SET_DIRTY, &set) ? -errno : 0;
}

int __vfio_dirty_test_fail_alloc(int container_fd, uint32_t count,
				 uint32_t *left)
{
	struct vfio_dirty_test_fail_alloc fail = {
		.argsz = sizeof(fail),
		.count = count,
	};
	int ret;

	ret = ioctl(container_fd, VFIO_DIRTY_TEST_FAIL_ALLOC, &fail) ? -errno : 0;
	if (!ret && left)
		*left = fail.left;
	return ret;
}

bool vfio_device_is_dirty_sim(const char *name)
{
	static const char prefix[] = "vfio_dirty_sim";
	char path[PATH_MAX], link[PATH_MAX];
	ssize_t len;

	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/mdev_type", name);
	len = readlink(path, link, sizeof(link) - 1);
	if (len < 0)
		return false;
	link[len] = '\0';
	return !strncmp(basename(link), prefix, strlen(prefix));
}

int __sim_ioctl(int device_fd, unsigned long request, void *arg)
{
	return ioctl(device_fd, request, arg) ? -errno : 0;
}

/* A transfer; its counters are copied out even when it fails. */
static int sim_dma(int device_fd, unsigned long request,
		   struct vfio_dirty_sim_dma *dma, uint64_t *done,
		   uint64_t *failed)
{
	int ret = __sim_ioctl(device_fd, request, dma);

	if (done)
		*done = dma->pages_done;
	if (failed)
		*failed = dma->pages_failed;
	return ret;
}

int __sim_write(int device_fd, uint32_t flags, uint64_t iova, uint64_t length,
		uint64_t pattern, uint64_t *done, uint64_t *failed)
{
	struct vfio_dirty_sim_dma dma = {
		.argsz = sizeof(dma),
		.flags = flags,
		.iova = iova,
		.length = length,
		.pattern = pattern,
	};

	return sim_dma(device_fd, VFIO_DIRTY_SIM_DMA_WRITE, &dma, done, failed);
}

int __sim_read(int device_fd, uint32_t flags, uint64_t iova, uint64_t length,
	       void *data, uint64_t *done, uint64_t *failed)
{
	struct vfio_dirty_sim_dma dma = {
		.argsz = sizeof(dma),
		.flags = flags,
		.iova = iova,
		.length = length,
		.data = (uintptr_t)data,
	};

	return sim_dma(device_fd, VFIO_DIRTY_SIM_DMA_READ, &dma, done, failed);
}

int __sim_log_read(int device_fd, uint32_t flags, uint64_t iova,
		   uint64_t npages, uint64_t *seqs, uint64_t *seq,
		   uint64_t *failed)
{
	struct vfio_dirty_sim_log log = {
		.argsz = sizeof(log),
		.flags = flags,
		.iova = iova,
		.npages = npages,
		.seqs = (uintptr_t)seqs,
	};
	int ret;

	ret = __sim_ioctl(device_fd, VFIO_DIRTY_SIM_LOG_READ, &log);
	if (seq)
		*seq = log.seq;
	if (failed)
		*failed = log.failed;
	return ret;
}

int __sim_writer_start(int device_fd, uint32_t flags, uint64_t pattern,
		       const struct vfio_dirty_sim_range *ranges,
		       uint32_t nr_ranges)
{
	struct vfio_dirty_sim_writer writer = {
		.argsz = sizeof(writer),
		.flags = flags,
		.nr_ranges = nr_ranges,
		.pattern = pattern,
		.ranges = (uintptr_t)ranges,
	};

	return __sim_ioctl(device_fd, VFIO_DIRTY_SIM_WRITER_START, &writer);
}

int __sim_writer_stop(int device_fd)
{
	return ioctl(device_fd, VFIO_DIRTY_SIM_WRITER_STOP) ? -errno : 0;
}

int __sim_instance_create(const char *like, char *uuid, size_t size)
{
	char path[PATH_MAX + 8], type[PATH_MAX];
	char *nl;

	if (like) {
		snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/mdev_type",
			 like);
		if (!realpath(path, type))
			return -errno;
	} else {
		snprintf(type, sizeof(type), "%s", SIM_TYPE_DIR);
	}
	read_line("/proc/sys/kernel/random/uuid", uuid, size);
	nl = strchr(uuid, '\n');
	if (nl)
		*nl = '\0';
	if (!uuid[0])
		return -EIO;
	snprintf(path, sizeof(path), "%s/create", type);
	return write_line(path, uuid);
}

int __sim_instance_remove(const char *uuid)
{
	return __sim_instance_knob_write(uuid, "remove", "1");
}

int __sim_instance_knob_write(const char *uuid, const char *knob,
			      const char *value)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/%s", uuid, knob);
	return write_line(path, value);
}

struct vfio_iommu_type1_info *vfio_iommu_info(int container_fd)
{
	struct vfio_iommu_type1_info *info, *bigger;

	info = calloc(1, sizeof(*info));
	if (!info)
		return NULL;
	info->argsz = sizeof(*info);
	if (ioctl(container_fd, VFIO_IOMMU_GET_INFO, info))
		goto err_free;
	/* The kernel raises argsz to what the capability chain needs. */
	if (info->argsz > sizeof(*info)) {
		bigger = realloc(info, info->argsz);
		if (!bigger)
			goto err_free;
		info = bigger;
		if (ioctl(container_fd, VFIO_IOMMU_GET_INFO, info))
			goto err_free;
	}
	return info;

err_free:
	free(info);
	return NULL;
}

struct vfio_info_cap_header *
vfio_iommu_info_cap(struct vfio_iommu_type1_info *info, uint16_t id)
{
	struct vfio_info_cap_header *cap;
	uint32_t off;

	if (!(info->flags & VFIO_IOMMU_INFO_CAPS))
		return NULL;
	for (off = info->cap_offset; off; off = cap->next) {
		if (off < sizeof(*info) || off + sizeof(*cap) > info->argsz)
			return NULL;
		cap = (struct vfio_info_cap_header *)((char *)info + off);
		if (cap->id == id)
			return cap;
	}
	return NULL;
}

long first_byte_not(const void *buf, size_t len, uint8_t val)
{
	const uint8_t *b = buf;
	size_t i;

	for (i = 0; i < len; i++)
		if (b[i] != val)
			return i;
	return -1;
}

double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double median(double *v, int n)
{
	if (!n)
		return -1;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

const char *dashes(int n)
{
	static const char line[] =
		"----------------------------------------------------------------";

	return line + sizeof(line) - 1 - n;
}

bool kernel_at_least(int major, int minor)
{
	struct utsname u;
	int ma = 0, mi = 0;

	if (uname(&u) || sscanf(u.release, "%d.%d", &ma, &mi) != 2)
		return false;
	return ma > major || (ma == major && mi >= minor);
}

/* The number after "@field:" in @path, a file of "Name: value kB" lines. */
static long file_kb(const char *path, const char *field)
{
	size_t len = strlen(field);
	char line[256];
	long val = -1;
	FILE *f;

	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, field, len) && line[len] == ':') {
			val = strtol(line + len + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return val;
}

uint64_t bitmap_weight_bits(const uint64_t *bitmap, uint64_t nbits)
{
	uint64_t i, weight = 0;

	for (i = 0; i < nbits / 64; i++)
		weight += __builtin_popcountll(bitmap[i]);
	if (nbits % 64)
		weight += __builtin_popcountll(bitmap[i] &
					       ((1ULL << (nbits % 64)) - 1));
	return weight;
}

long proc_self_status_kb(const char *field)
{
	return file_kb("/proc/self/status", field);
}

long proc_meminfo_kb(const char *field)
{
	return file_kb("/proc/meminfo", field);
}

bool bitmap_test_bit(const uint64_t *bitmap, uint64_t bit)
{
	return bitmap[bit / 64] & (1ULL << (bit % 64));
}

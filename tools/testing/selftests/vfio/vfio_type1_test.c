// SPDX-License-Identifier: GPL-2.0
/*
 * The type1 container uAPI, as a VFIO device sees it: capabilities, map and
 * unmap with their accounting and errors, and dirty tracking.  Every test
 * runs on both backends, the stock vfio_iommu_type1 and vfio_dirty: the
 * assertions are the stock driver's behaviour, and where vfio_dirty differs
 * on purpose (Documentation/driver-api/vfio-dirty.rst) the test says so.
 *
 * The device is a PCI device behind an IOMMU (pinned mappings, every mapped
 * page reported dirty because the device has no dirty scope) or an mdev with
 * an emulated IOMMU (nothing pinned until the device pins, nothing dirty
 * until the device writes).  Each assertion states which it expects.
 *
 * VFIO_UPDATE_VADDR behaves the same on the stock driver of Debian's 6.1
 * and 6.12 (6.1 carries the backports that refuse it with an mdev and
 * move the accounting to a new owner), so its tests do not look at the
 * kernel version.  With an mdev attached it is refused; the test that sees
 * an mdev read through an updated vaddr attaches the mdev afterwards, to a
 * container of the PCI device named by VFIO_SELFTESTS_PCI_BDF.
 *
 * The BAR tests map another device's MMIO, as QEMU does for peer-to-peer
 * DMA: edu's BAR 0 mapped through its vfio-pci device fd is VM_PFNMAP
 * memory, which cannot be pinned.  On the mdev leg VFIO_SELFTESTS_PCI_BDF
 * names the edu, opened in a container of its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "vfio_util.h"
#include "edu.h"

/* The stock type1 driver's ceiling: 2^31 pages of 4 KiB, 256 MiB of bitmap. */
#define TYPE1_MAX_DIRTY_BITMAP_SIZE	(256UL << 20)
/* Default of vfio_iommu_type1's dma_entry_limit module parameter. */
#define TYPE1_DMA_ENTRY_LIMIT		65535
/* An IOVA inside the 39-bit space of QEMU's intel-iommu and below its MSI hole. */
#define TEST_IOVA			SZ_1G
/* The x86 MSI window, reserved in every IOMMU domain. */
#define MSI_IOVA			0xfee00000ULL
/* The last byte of the 39-bit IOVA space of QEMU's intel-iommu. */
#define INTEL_IOMMU_LAST_IOVA		0x7fffffffffULL
/* Unknown to every version of the type1 uAPI. */
#define UNKNOWN_FLAG			0x80000000U
/* The page sizes of a domain of QEMU's intel-iommu: 4 KiB, 2 MiB, 1 GiB. */
#define INTEL_IOMMU_PGSIZES		(SZ_4K | SZ_2M | SZ_1G)
/* An IOVA below the edu DMA engine's 28-bit mask. */
#define EDU_IOVA			SZ_1M
/* Bytes the edu engine copies in the vaddr tests. */
#define EDU_COUNT			1024

static const char *device_name;

/*
 * The knobs of the simulated device's dma_unmap callback, by name
 * (Documentation/ABI/testing/sysfs-module-vfio_dirty_sim).
 */
static long sim_knob_read(const char *knob)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/%s",
		 device_name, knob);
	return sysfs_read_long(path);
}

static int sim_knob_write(const char *knob, long val)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/%s",
		 device_name, knob);
	return __sysfs_write_long(path, val);
}

/*
 * What mapping @size bytes at @iova counts in VmLck, in kB, once this has
 * run: all of it behind an IOMMU, which pins at map time; on the mdev leg
 * the simulated device pins @pages pages from @iova through the container,
 * as a device does, so that there is something counted and given back.
 * Another mdev pins nothing: 0.
 */
static long device_pins_kb(struct __test_metadata *_metadata,
			   struct vfio_test_device *dev, uint64_t iova,
			   uint64_t size, unsigned int pages)
{
	uint64_t done = 0;

	if (!dev->is_mdev)
		return size / 1024;
	if (!vfio_device_is_dirty_sim(device_name))
		return 0;
	sim_write(dev->device_fd, VFIO_DIRTY_SIM_DMA_PIN, iova,
		  pages * SZ_4K, 1, &done, NULL);
	EXPECT_EQ(pages, done);
	return pages * SZ_4K / 1024;
}

FIXTURE(type1) {
	struct vfio_test_device dev;
	char *buf;
	/* dma_entry_limit of the backend, to restore, when a test changed it */
	char limit[16];
	/* edu, when a test maps its BAR: the fixture's device or another one */
	struct vfio_test_device pci;
	struct edu edu;
	/* a module parameter of the backend, and its value to restore */
	const char *param;
	char param_saved[16];
	long tracking;		/* vfio_dirty_tracking_bytes() before the test */
};

FIXTURE_VARIANT(type1) {
	enum vfio_test_backend backend;
};

FIXTURE_VARIANT_ADD_ALL_BACKENDS(type1);

FIXTURE_SETUP(type1)
{
	self->buf = MAP_FAILED;
	self->limit[0] = '\0';
	vfio_test_device_init(&self->pci);
	self->edu.bar = NULL;
	self->param = NULL;
	self->tracking = vfio_dirty_tracking_bytes();
	if (!vfio_fixture_open_on(_metadata, &self->dev, device_name,
				  variant->backend))
		return;

	self->buf = mmap(NULL, SZ_2M, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
	memset(self->buf, 0x5a, SZ_2M);
}

FIXTURE_TEARDOWN(type1)
{
	if (vfio_device_is_dirty_sim(device_name)) {
		sim_knob_write("unmap_delay_ms", 0);
		sim_knob_write("unmap_ignore", 0);
	}
	if (self->buf != MAP_FAILED)
		munmap(self->buf, SZ_2M);
	edu_close(&self->edu);
	vfio_test_device_close(&self->dev);
	vfio_test_device_close(&self->pci);
	EXPECT_EQ(self->tracking, vfio_dirty_tracking_bytes());
	if (self->param)
		__module_param_write(vfio_test_backend_module(variant->backend),
				     self->param, self->param_saved);
	if (self->limit[0])
		__module_param_write(vfio_test_backend_module(variant->backend),
				     "dma_entry_limit", self->limit);
}

TEST_F(type1, extensions)
{
	int fd = self->dev.container_fd;

	ASSERT_EQ(VFIO_API_VERSION, ioctl(fd, VFIO_GET_API_VERSION));
	ASSERT_EQ(1, ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU));
	ASSERT_EQ(1, ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU));
	ASSERT_EQ(1, ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_UNMAP_ALL));
	ASSERT_EQ(0, ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_SPAPR_TCE_IOMMU));
	/* Not with an mdev attached: it may pin through a vaddr at any time. */
	ASSERT_EQ(!self->dev.is_mdev,
		  ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_UPDATE_VADDR));
}

TEST_F(type1, info_capabilities)
{
	struct vfio_iommu_type1_info_cap_migration *mig;
	struct vfio_iommu_type1_info_cap_iova_range *ranges;
	struct vfio_iommu_type1_info_dma_avail *avail;
	struct vfio_iommu_type1_info *info;
	uint32_t i;

	info = vfio_iommu_info(self->dev.container_fd);
	ASSERT_NE(NULL, info);
	ASSERT_TRUE(info->flags & VFIO_IOMMU_INFO_PGSIZES);
	TH_LOG("iova_pgsizes 0x%llx", (unsigned long long)info->iova_pgsizes);
	/*
	 * Without a domain type1 offers every multiple of the CPU page size;
	 * with one, the sizes of the domain: 4 KiB, 2 MiB and 1 GiB on QEMU's
	 * intel-iommu.
	 */
	EXPECT_EQ(self->dev.is_mdev ? ~(uint64_t)(SZ_4K - 1) : INTEL_IOMMU_PGSIZES,
		  info->iova_pgsizes);

	mig = (void *)vfio_iommu_info_cap(info, VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION);
	ASSERT_NE(NULL, mig);
	EXPECT_EQ(1, mig->header.version);
	EXPECT_EQ(0, mig->flags);
	/* Dirty bitmaps use the smallest page size only. */
	EXPECT_EQ(SZ_4K, mig->pgsize_bitmap);
	EXPECT_EQ(TYPE1_MAX_DIRTY_BITMAP_SIZE, mig->max_dirty_bitmap_size);

	avail = (void *)vfio_iommu_info_cap(info, VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL);
	ASSERT_NE(NULL, avail);
	EXPECT_EQ(1, avail->header.version);
	EXPECT_EQ(TYPE1_DMA_ENTRY_LIMIT, avail->avail);

	ranges = (void *)vfio_iommu_info_cap(info, VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE);
	if (self->dev.is_mdev) {
		/* No IOMMU domain, so no IOVA list: type1 omits the capability. */
		EXPECT_EQ(NULL, ranges);
	} else {
		ASSERT_NE(NULL, ranges);
		EXPECT_EQ(1, ranges->header.version);
		for (i = 0; i < ranges->nr_iovas; i++)
			TH_LOG("iova range %u: [0x%llx, 0x%llx]", i,
			       (unsigned long long)ranges->iova_ranges[i].start,
			       (unsigned long long)ranges->iova_ranges[i].end);
		/* The x86 MSI window is reserved: it splits the space. */
		ASSERT_EQ(2, ranges->nr_iovas);
		EXPECT_EQ(0, ranges->iova_ranges[0].start);
		EXPECT_EQ(MSI_IOVA - 1, ranges->iova_ranges[0].end);
		EXPECT_EQ(MSI_IOVA + 0x100000, ranges->iova_ranges[1].start);
		/* The aperture of a 39-bit IOMMU ends the list. */
		EXPECT_EQ(INTEL_IOMMU_LAST_IOVA, ranges->iova_ranges[1].end);
	}
	free(info);
}

/*
 * What the stock driver says of a range that wraps past the top of the
 * 64-bit space: -EOVERFLOW since 6.18, -EINVAL before.
 */
static int wrap_errno(void)
{
	return kernel_at_least(6, 18) ? -EOVERFLOW : -EINVAL;
}

/*
 * What GET_INFO writes back of its header when the capabilities do not
 * fit: since 6.6, as much of it as argsz has room for, padding zeroed;
 * before, 16 bytes, or 20 when argsz has room for cap_offset.  Nothing
 * past that is touched.
 */
TEST_F(type1, info_write_back)
{
	static const uint32_t sizes[] = { 16, 20, 23, 24 };
	const bool whole = kernel_at_least(6, 6);
	struct vfio_iommu_type1_info *info;
	unsigned char buf[64];
	unsigned int i, j, len;

	info = (struct vfio_iommu_type1_info *)buf;
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		memset(buf, 0xa5, sizeof(buf));
		info->argsz = sizes[i];
		ASSERT_EQ(0, ioctl(self->dev.container_fd, VFIO_IOMMU_GET_INFO,
				   info));
		len = whole ? sizes[i] : sizes[i] >= 20 ? 20 : 16;
		EXPECT_LT(sizeof(*info), info->argsz);
		EXPECT_TRUE(info->flags & VFIO_IOMMU_INFO_CAPS);
		for (j = 16; j < len; j++)
			EXPECT_EQ(0, buf[j]) TH_LOG("argsz %u, byte %u", sizes[i], j);
		for (j = len; j < sizeof(buf); j++)
			EXPECT_EQ(0xa5, buf[j]) TH_LOG("argsz %u, byte %u", sizes[i], j);
	}
}

TEST_F(type1, map_unmap_accounting)
{
	int fd = self->dev.container_fd;
	long locked, pinned_kb;
	uint64_t unmapped;

	locked = proc_self_status_kb("VmLck");
	ASSERT_GE(locked, 0);

	vfio_map(fd, self->buf, TEST_IOVA, SZ_2M);
	pinned_kb = device_pins_kb(_metadata, &self->dev, TEST_IOVA, SZ_2M, 8);
	EXPECT_EQ(locked + pinned_kb, proc_self_status_kb("VmLck"));

	vfio_unmap(fd, TEST_IOVA, SZ_2M, &unmapped);
	EXPECT_EQ(SZ_2M, unmapped);
	EXPECT_EQ(locked, proc_self_status_kb("VmLck"));

	/* Unmapping nothing succeeds and reports nothing. */
	vfio_unmap(fd, TEST_IOVA, SZ_2M, &unmapped);
	EXPECT_EQ(0, unmapped);
}

TEST_F(type1, map_errors)
{
	int fd = self->dev.container_fd;
	uint64_t unmapped;

	test_err_vfio_map(EINVAL, fd, self->buf, TEST_IOVA + 1, SZ_4K);
	test_err_vfio_map(EINVAL, fd, (char *)self->buf + 1, TEST_IOVA, SZ_4K);
	test_err_vfio_map(EINVAL, fd, self->buf, TEST_IOVA, 0);
	test_err_vfio_map(EINVAL, fd, self->buf, TEST_IOVA, SZ_4K + 1);
	EXPECT_EQ(wrap_errno(),
		  __vfio_map(fd, self->buf, UINT64_MAX & ~(SZ_4K - 1), SZ_2M));

	vfio_map(fd, self->buf, TEST_IOVA, SZ_2M);
	test_err_vfio_map(EEXIST, fd, self->buf, TEST_IOVA + SZ_4K, SZ_4K);
	/* type1v2 never bisects a mapping. */
	test_err_vfio_unmap(EINVAL, fd, TEST_IOVA, SZ_4K, &unmapped);
	test_err_vfio_unmap(EINVAL, fd, TEST_IOVA + SZ_4K, SZ_2M, &unmapped);
	vfio_unmap(fd, TEST_IOVA, SZ_2M, &unmapped);
	EXPECT_EQ(SZ_2M, unmapped);
}

/*
 * A VFIO_TYPE1_IOMMU (v1) container: an unmap takes every mapping that
 * starts in its range, whole, even past the range's end, and one that
 * starts inside a mapping unmaps nothing and succeeds.  Dirty tracking is
 * for type1v2 only.
 */
TEST_F(type1, v1_unmap)
{
	uint64_t bitmap[SZ_1M / SZ_4K / 64] = { 0 };
	long locked, pinned_kb;
	uint64_t unmapped;
	int fd;

	vfio_test_device_close(&self->dev);
	vfio_test_device_open_on(&self->dev, device_name,
				 VFIO_TYPE1_IOMMU,
				 variant->backend);
	fd = self->dev.container_fd;
	pinned_kb = self->dev.is_mdev ? 0 : SZ_2M / 1024;
	locked = proc_self_status_kb("VmLck");
	ASSERT_GE(locked, 0);

	vfio_map(fd, self->buf, TEST_IOVA, SZ_1M);
	vfio_map(fd, self->buf + SZ_1M, TEST_IOVA + SZ_1M, SZ_1M);
	EXPECT_EQ(locked + pinned_kb, proc_self_status_kb("VmLck"));

	/* From inside the first mapping: nothing, and no error. */
	vfio_unmap(fd, TEST_IOVA + SZ_4K, SZ_2M, &unmapped);
	EXPECT_EQ(0, unmapped);
	test_err_vfio_map(EEXIST, fd, self->buf, TEST_IOVA, SZ_4K);
	test_err_vfio_map(EEXIST, fd, self->buf, TEST_IOVA + SZ_1M, SZ_4K);

	/* No tracking on v1, so no bitmap either. */
	test_err_vfio_dirty(EACCES, fd, VFIO_IOMMU_DIRTY_PAGES_FLAG_START);
	test_err_vfio_unmap_bitmap(EINVAL, fd, TEST_IOVA, SZ_1M, SZ_4K,
				   bitmap, sizeof(bitmap), NULL);

	/* Its first page: the whole first mapping. */
	vfio_unmap(fd, TEST_IOVA, SZ_4K, &unmapped);
	EXPECT_EQ(SZ_1M, unmapped);
	EXPECT_EQ(locked + pinned_kb / 2, proc_self_status_kb("VmLck"));
	vfio_map(fd, self->buf, TEST_IOVA, SZ_4K);

	/* A range over the new page and the second's first: both, whole. */
	vfio_unmap(fd, TEST_IOVA, SZ_1M + SZ_4K, &unmapped);
	EXPECT_EQ(SZ_1M + SZ_4K, unmapped);
	EXPECT_EQ(locked, proc_self_status_kb("VmLck"));
	vfio_unmap_all(fd, 0, 0, &unmapped);
	EXPECT_EQ(0, unmapped);
}

TEST_F(type1, dirty_bitmap)
{
	const uint64_t npages = SZ_2M / SZ_4K;
	int fd = self->dev.container_fd;
	uint64_t bitmap[npages / 64];
	uint64_t expected;

	/*
	 * A device behind an IOMMU has no dirty scope: type1 reports every
	 * mapped page dirty.  An mdev that wrote nothing dirtied nothing.
	 */
	expected = self->dev.is_mdev ? 0 : npages;

	vfio_map(fd, self->buf, TEST_IOVA, SZ_2M);
	vfio_dirty(fd, VFIO_IOMMU_DIRTY_PAGES_FLAG_START);

	memset(bitmap, 0, sizeof(bitmap));
	vfio_get_bitmap(fd, TEST_IOVA, SZ_2M, SZ_4K, bitmap, sizeof(bitmap));
	EXPECT_EQ(expected, bitmap_weight_bits(bitmap, npages));

	/* A page size the tracker does not use is refused. */
	test_err_vfio_get_bitmap(EINVAL, fd, TEST_IOVA, SZ_2M, SZ_2M,
				 bitmap, sizeof(bitmap));
	/* So is a bitmap too small for the range. */
	test_err_vfio_get_bitmap(EINVAL, fd, TEST_IOVA, SZ_2M, SZ_4K,
				 bitmap, sizeof(bitmap) - 8);

	vfio_dirty(fd, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP);
	/* With tracking stopped there is no bitmap to get. */
	test_err_vfio_get_bitmap(EINVAL, fd, TEST_IOVA, SZ_2M, SZ_4K,
				 bitmap, sizeof(bitmap));
	vfio_unmap(fd, TEST_IOVA, SZ_2M, NULL);
}

/*
 * A bitmap of a bit per byte over all but the last byte of the 64-bit
 * space needs 2^61 bytes: vfio_dirty refuses it as past its ceiling; the
 * stock driver's size computation wraps to 0, which passes, and it then
 * refuses the page size.
 */
TEST_F(type1, dirty_bitmap_size_wraps)
{
	int fd = self->dev.container_fd;
	uint64_t bitmap[1] = { 0 };

	vfio_dirty(fd, VFIO_IOMMU_DIRTY_PAGES_FLAG_START);
	EXPECT_EQ(variant->backend == VFIO_BACKEND_TYPE1 ? -EINVAL : -E2BIG,
		  __vfio_get_bitmap(fd, 0, UINT64_MAX, 1, bitmap,
				    sizeof(bitmap)));
	EXPECT_EQ(0, bitmap[0]);
	vfio_dirty(fd, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP);
}

TEST_F(type1, map_bad_arguments)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uintptr_t)self->buf,
		.iova = TEST_IOVA,
		.size = SZ_4K,
	};
	int fd = self->dev.container_fd;
	uint64_t unmapped;

	map.flags |= UNKNOWN_FLAG;
	test_err_vfio_ioctl(EINVAL, fd, VFIO_IOMMU_MAP_DMA, &map);
	map.flags &= ~UNKNOWN_FLAG;

	/* Neither READ nor WRITE. */
	map.flags = 0;
	test_err_vfio_ioctl(EINVAL, fd, VFIO_IOMMU_MAP_DMA, &map);
	map.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;

	/* argsz must cover the struct up to and including size. */
	map.argsz = offsetof(struct vfio_iommu_type1_dma_map, size);
	test_err_vfio_ioctl(EINVAL, fd, VFIO_IOMMU_MAP_DMA, &map);
	map.argsz = sizeof(map);

	/* The IOVA range may not wrap past the top, by a page or more, ... */
	EXPECT_EQ(wrap_errno(), __vfio_map(fd, self->buf, -SZ_2M, SZ_2M + SZ_4K));
	/* ... nor may the process range. */
	EXPECT_EQ(wrap_errno(), __vfio_map(fd, (void *)-SZ_4K, TEST_IOVA, SZ_2M));

	/* None of these left a mapping behind. */
	vfio_ioctl(fd, VFIO_IOMMU_MAP_DMA, &map);
	vfio_unmap(fd, 0, -SZ_4K, &unmapped);
	EXPECT_EQ(SZ_4K, unmapped);
}

TEST_F(type1, map_iova_ranges)
{
	int fd = self->dev.container_fd;
	uint64_t unmapped;
	/* With no IOMMU domain, type1 has no IOVA list: any IOVA goes. */
	int outside = self->dev.is_mdev ? 0 : -EINVAL;

	/* In the MSI window, and straddling its start. */
	EXPECT_EQ(outside, __vfio_map(fd, self->buf, MSI_IOVA + 16 * SZ_4K,
				      SZ_4K));
	EXPECT_EQ(outside, __vfio_map(fd, self->buf + SZ_4K, MSI_IOVA - SZ_4K,
				      2 * SZ_4K));
	/* Past the aperture, and across its end. */
	EXPECT_EQ(outside, __vfio_map(fd, self->buf + 3 * SZ_4K, 1ULL << 40,
				      SZ_4K));
	EXPECT_EQ(outside, __vfio_map(fd, self->buf + 4 * SZ_4K,
				      INTEL_IOMMU_LAST_IOVA + 1 - SZ_4K,
				      2 * SZ_4K));
	/* The last page of the 64-bit space. */
	EXPECT_EQ(outside, __vfio_map(fd, self->buf + 6 * SZ_4K, -SZ_4K, SZ_4K));

	vfio_unmap_all(fd, 0, 0, &unmapped);
	EXPECT_EQ(self->dev.is_mdev ? 7 * SZ_4K : 0, unmapped);

	/* The last page of the aperture, and the first above the window. */
	vfio_map(fd, self->buf, INTEL_IOMMU_LAST_IOVA + 1 - SZ_4K, SZ_4K);
	vfio_map(fd, self->buf + SZ_4K, MSI_IOVA + 0x100000, SZ_4K);
	vfio_unmap_all(fd, 0, 0, &unmapped);
	EXPECT_EQ(2 * SZ_4K, unmapped);
}

TEST_F(type1, map_unmapped_vaddr)
{
	int fd = self->dev.container_fd;
	long locked = proc_self_status_kb("VmLck");
	uint64_t unmapped;
	char *mem;

	ASSERT_GE(locked, 0);
	/* 4 MiB of address space whose upper half is not mapped. */
	mem = mmap(NULL, 2 * SZ_2M, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	ASSERT_EQ(0, munmap(mem + SZ_2M, SZ_2M));
	memset(mem, 0x5a, SZ_2M);

	if (self->dev.is_mdev) {
		/* Nothing is pinned at map time, so nothing is looked at. */
		vfio_map(fd, mem + SZ_2M, TEST_IOVA, SZ_2M);
		vfio_map(fd, mem, TEST_IOVA + SZ_2M, 2 * SZ_2M);
		vfio_unmap_all(fd, 0, 0, &unmapped);
		EXPECT_EQ(3 * SZ_2M, unmapped);
	} else {
		/* Pinning fails, and what was pinned before the hole is let go. */
		test_err_vfio_map(EFAULT, fd, mem + SZ_2M, TEST_IOVA, SZ_2M);
		test_err_vfio_map(EFAULT, fd, mem, TEST_IOVA, 2 * SZ_2M);
		EXPECT_EQ(locked, proc_self_status_kb("VmLck"));
		vfio_unmap_all(fd, 0, 0, &unmapped);
		EXPECT_EQ(0, unmapped);
	}
	munmap(mem, SZ_2M);
}

/* Drop CAP_IPC_LOCK from the effective set: RLIMIT_MEMLOCK applies again. */
static int drop_cap_ipc_lock(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	data[CAP_TO_INDEX(CAP_IPC_LOCK)].effective &= ~CAP_TO_MASK(CAP_IPC_LOCK);
	return syscall(SYS_capset, &hdr, data) ? -errno : 0;
}

/* What memlock_child() saw, in memory shared with the test. */
struct memlock_result {
	int setup;		/* 0, or the errno of dropping the cap or the limit */
	int map_small;		/* 512 KiB, under the limit */
	int map_big;		/* 2 MiB more, over it */
	int unmap;
	uint64_t unmapped;
	long base_kb;		/* VmLck before, after each map and after unmap */
	long small_kb;
	long big_kb;
	long unmap_kb;
	/*
	 * The simulated device pins half the limit in the first mapping, then
	 * all of the second, past the limit: it stops with -ENOMEM there.
	 */
	uint64_t pinned_small;	/* pages it pinned in the first */
	int pin_big;		/* its write to the second */
	long pinned_kb;		/* VmLck after */
};

#define MEMLOCK_LIMIT	(SZ_2M / 2)

/*
 * Map from a process without CAP_IPC_LOCK whose RLIMIT_MEMLOCK is 1 MiB: its
 * own mm pays for what the container pins.
 */
static void memlock_child(int fd, int sim_fd, struct memlock_result *res)
{
	const uint64_t half = MEMLOCK_LIMIT / 2;
	struct rlimit limit = { MEMLOCK_LIMIT, MEMLOCK_LIMIT };
	char *mem;

	res->setup = drop_cap_ipc_lock();
	if (!res->setup && setrlimit(RLIMIT_MEMLOCK, &limit))
		res->setup = -errno;
	if (res->setup)
		return;
	mem = mmap(NULL, 2 * SZ_2M, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		res->setup = -errno;
		return;
	}
	memset(mem, 0x5a, 2 * SZ_2M);

	res->base_kb = proc_self_status_kb("VmLck");
	res->map_small = __vfio_map(fd, mem, TEST_IOVA, MEMLOCK_LIMIT / 2);
	res->small_kb = proc_self_status_kb("VmLck");
	res->map_big = __vfio_map(fd, mem + SZ_2M, TEST_IOVA + SZ_2M, SZ_2M);
	res->big_kb = proc_self_status_kb("VmLck");
	if (sim_fd >= 0) {
		__sim_write(sim_fd, VFIO_DIRTY_SIM_DMA_PIN, TEST_IOVA, half, 1,
			    &res->pinned_small, NULL);
		res->pin_big = __sim_write(sim_fd, VFIO_DIRTY_SIM_DMA_PIN,
					   TEST_IOVA + SZ_2M, SZ_2M, 1, NULL,
					   NULL);
		res->pinned_kb = proc_self_status_kb("VmLck");
	}
	res->unmap = __vfio_unmap(fd, TEST_IOVA, 2 * SZ_2M, &res->unmapped);
	res->unmap_kb = proc_self_status_kb("VmLck");
}

TEST_F(type1, map_memlock_limit)
{
	struct memlock_result *res;
	int status;
	pid_t pid;

	res = mmap(NULL, sizeof(*res), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, res);
	memset(res, 0xff, sizeof(*res));

	/* A child, so that this process keeps its capabilities. */
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		memlock_child(self->dev.container_fd,
			      vfio_device_is_dirty_sim(device_name) ?
			      self->dev.device_fd : -1, res);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, res->setup) TH_LOG("%s", strerror(-res->setup));
	ASSERT_GE(res->base_kb, 0);

	if (self->dev.is_mdev) {
		/* Nothing is pinned at map time, so the limit does not apply. */
		EXPECT_EQ(0, res->map_small);
		EXPECT_EQ(0, res->map_big);
		EXPECT_EQ(res->base_kb, res->big_kb);
		EXPECT_EQ(MEMLOCK_LIMIT / 2 + SZ_2M, res->unmapped);
		/* It applies to the device's pins, page by page, up to it. */
		if (vfio_device_is_dirty_sim(device_name)) {
			EXPECT_EQ(MEMLOCK_LIMIT / 2 / SZ_4K, res->pinned_small);
			EXPECT_EQ(-ENOMEM, res->pin_big);
			EXPECT_EQ(res->base_kb + (long)(MEMLOCK_LIMIT / 1024),
				  res->pinned_kb);
		}
	} else {
		EXPECT_EQ(0, res->map_small);
		EXPECT_EQ(res->base_kb + (long)(MEMLOCK_LIMIT / 2 / 1024),
			  res->small_kb);
		/*
		 * The second mapping would take locked_vm past the limit: it
		 * fails, and none of its pages stay pinned.  vfio_dirty checks
		 * the limit once per batch of 512 pages instead of per page
		 * (documented), with the same outcome.
		 */
		EXPECT_EQ(-ENOMEM, res->map_big);
		EXPECT_EQ(res->small_kb, res->big_kb);
		EXPECT_EQ(MEMLOCK_LIMIT / 2, res->unmapped);
	}
	EXPECT_EQ(0, res->unmap);
	EXPECT_EQ(res->base_kb, res->unmap_kb);
	munmap(res, sizeof(*res));
}

/* The DMA-available capability, or -1. */
static long dma_avail(int container_fd)
{
	struct vfio_iommu_type1_info_dma_avail *avail;
	struct vfio_iommu_type1_info *info;
	long ret = -1;

	info = vfio_iommu_info(container_fd);
	if (!info)
		return -1;
	avail = (void *)vfio_iommu_info_cap(info, VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL);
	if (avail)
		ret = avail->avail;
	free(info);
	return ret;
}

TEST_F(type1, dma_entry_limit)
{
	const char *module = vfio_test_backend_module(variant->backend);
	int fd, i;

	module_param_read(module, "dma_entry_limit", self->limit,
			  sizeof(self->limit));
	module_param_write(module, "dma_entry_limit", "3");
	/* A container takes the limit when it is opened. */
	vfio_test_device_close(&self->dev);
	vfio_test_device_open_on(&self->dev, device_name,
				 VFIO_TYPE1v2_IOMMU,
				 variant->backend);
	fd = self->dev.container_fd;
	EXPECT_EQ(3, dma_avail(fd));

	for (i = 0; i < 3; i++)
		vfio_map(fd, self->buf + i * SZ_4K,
			 TEST_IOVA + i * SZ_4K, SZ_4K);
	EXPECT_EQ(0, dma_avail(fd));
	test_err_vfio_map(ENOSPC, fd, self->buf + 3 * SZ_4K,
			  TEST_IOVA + 3 * SZ_4K, SZ_4K);
	/* Over an existing mapping, the overlap is reported first. */
	test_err_vfio_map(EEXIST, fd, self->buf, TEST_IOVA, SZ_4K);

	/* An unmap gives its entry back. */
	vfio_unmap(fd, TEST_IOVA + SZ_4K, SZ_4K, NULL);
	EXPECT_EQ(1, dma_avail(fd));
	vfio_map(fd, self->buf + 3 * SZ_4K, TEST_IOVA + 3 * SZ_4K, SZ_4K);
	EXPECT_EQ(0, dma_avail(fd));
}

TEST_F(type1, unmap_bad_arguments)
{
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap),
		.iova = TEST_IOVA,
		.size = SZ_2M,
	};
	uint64_t bitmap[SZ_2M / SZ_4K / 64] = { 0 };
	int fd = self->dev.container_fd;
	uint64_t unmapped;

	vfio_map(fd, self->buf, TEST_IOVA, SZ_2M);

	unmap.flags = UNKNOWN_FLAG;
	test_err_vfio_ioctl(EINVAL, fd, VFIO_IOMMU_UNMAP_DMA, &unmap);
	unmap.flags = 0;
	unmap.argsz = offsetof(struct vfio_iommu_type1_dma_unmap, size);
	test_err_vfio_ioctl(EINVAL, fd, VFIO_IOMMU_UNMAP_DMA, &unmap);

	test_err_vfio_unmap(EINVAL, fd, TEST_IOVA, 0, NULL);
	test_err_vfio_unmap(EINVAL, fd, TEST_IOVA + 1, SZ_2M, NULL);
	test_err_vfio_unmap(EINVAL, fd, TEST_IOVA, SZ_2M + 1, NULL);
	EXPECT_EQ(wrap_errno(), __vfio_unmap(fd, -SZ_4K, SZ_2M, NULL));
	/* A bitmap while not tracking. */
	test_err_vfio_unmap_bitmap(EINVAL, fd, TEST_IOVA, SZ_2M, SZ_4K,
				   bitmap, sizeof(bitmap), NULL);

	/* The mapping is intact. */
	vfio_unmap(fd, TEST_IOVA, SZ_2M, &unmapped);
	EXPECT_EQ(SZ_2M, unmapped);
}

/*
 * The argument of an unmap where memory faults: the checks come in the
 * stock driver's order, and a request that fails writes nothing back.  A
 * failing request in read-only memory says what is wrong with it; one
 * whose bitmap half cannot be read says -EFAULT before any check of the
 * range; a good one in read-only memory cannot say what it unmapped: the
 * stock driver unmaps, then fails with -EFAULT, vfio_dirty fails having
 * unmapped nothing.
 */
TEST_F(type1, unmap_argument_faults)
{
	const size_t minsz = sizeof(struct vfio_iommu_type1_dma_unmap);
	struct vfio_iommu_type1_dma_unmap *unmap;
	int fd = self->dev.container_fd;
	uint64_t unmapped;
	char *mem;

	mem = mmap(NULL, 2 * SZ_4K, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	vfio_map(fd, self->buf, TEST_IOVA, SZ_2M);

	/* At the end of a page, followed by one that is not mapped. */
	ASSERT_EQ(0, munmap(mem + SZ_4K, SZ_4K));
	unmap = (void *)(mem + SZ_4K - minsz);
	*unmap = (struct vfio_iommu_type1_dma_unmap) {
		.argsz = minsz + sizeof(struct vfio_bitmap),
		.flags = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP,
		.iova = TEST_IOVA,
	};
	test_err_vfio_ioctl(EFAULT, fd, VFIO_IOMMU_UNMAP_DMA, unmap);

	/* Read-only. */
	unmap = (void *)mem;
	*unmap = (struct vfio_iommu_type1_dma_unmap) {
		.argsz = minsz,
		.iova = TEST_IOVA,
		.size = SZ_4K,
	};
	ASSERT_EQ(0, mprotect(mem, SZ_4K, PROT_READ));
	test_err_vfio_ioctl(EINVAL, fd, VFIO_IOMMU_UNMAP_DMA, unmap);
	EXPECT_EQ(SZ_4K, unmap->size);
	ASSERT_EQ(0, mprotect(mem, SZ_4K, PROT_READ | PROT_WRITE));
	unmap->size = SZ_2M;
	ASSERT_EQ(0, mprotect(mem, SZ_4K, PROT_READ));
	test_err_vfio_ioctl(EFAULT, fd, VFIO_IOMMU_UNMAP_DMA, unmap);
	vfio_unmap(fd, TEST_IOVA, SZ_2M, &unmapped);
	EXPECT_EQ(variant->backend == VFIO_BACKEND_VFIO_DIRTY ? SZ_2M : 0,
		  unmapped);
	munmap(mem, SZ_4K);
}

/*
 * A mapping of the last page of the 64-bit IOVA space, which ends exactly
 * at 2^64 (an mdev container has no aperture to stop it): vfio_dirty finds
 * it again, refusing an overlap and unmapping it, as the stock driver does
 * since 6.18.  Before, the stock driver mapped it but its lookups, which
 * computed the end, missed it: an overlap mapped, and an unmap removed
 * nothing.
 */
TEST_F(type1, map_top_of_iova)
{
	const uint64_t top = 0ULL - SZ_4K;
	const bool stock = variant->backend == VFIO_BACKEND_TYPE1 &&
			   !kernel_at_least(6, 18);
	int fd = self->dev.container_fd;
	uint64_t unmapped;

	if (!self->dev.is_mdev)
		SKIP(return, "an IOMMU's aperture ends below 2^64");
	vfio_map(fd, self->buf, top, SZ_4K);
	EXPECT_EQ(stock ? 0 : -EEXIST, __vfio_map(fd, self->buf, top, SZ_4K));
	vfio_unmap(fd, top, SZ_4K, &unmapped);
	EXPECT_EQ(stock ? 0 : SZ_4K, unmapped);
}

/*
 * An unmap whose range ends at 2^64 removes the mappings inside it, as the
 * stock driver does since 6.18; before, its lookup computed the end of the
 * range, which wraps to 0, and found nothing: success, size 0.
 */
TEST_F(type1, unmap_to_top_of_iova)
{
	const bool stock = variant->backend == VFIO_BACKEND_TYPE1 &&
			   !kernel_at_least(6, 18);
	int fd = self->dev.container_fd;
	uint64_t unmapped;

	vfio_map(fd, self->buf, TEST_IOVA, SZ_2M);
	vfio_unmap(fd, TEST_IOVA, 0 - TEST_IOVA, &unmapped);
	EXPECT_EQ(stock ? 0 : SZ_2M, unmapped);
}

TEST_F(type1, unmap_all)
{
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap),
		.flags = VFIO_DMA_UNMAP_FLAG_ALL |
			 VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP,
	};
	int fd = self->dev.container_fd;
	long locked, pinned_kb;
	uint64_t unmapped;

	/* A page in two mappings is pinned, and counted, for each. */
	locked = proc_self_status_kb("VmLck");
	ASSERT_GE(locked, 0);

	vfio_map(fd, self->buf, TEST_IOVA, SZ_4K);
	vfio_map(fd, self->buf + SZ_4K, TEST_IOVA + SZ_2M, SZ_2M - SZ_4K);
	vfio_map(fd, self->buf, 0, SZ_4K);
	pinned_kb = device_pins_kb(_metadata, &self->dev, TEST_IOVA, SZ_4K, 1) +
		    device_pins_kb(_metadata, &self->dev, TEST_IOVA + SZ_2M,
				   SZ_2M - SZ_4K, 4) +
		    device_pins_kb(_metadata, &self->dev, 0, SZ_4K, 1);
	EXPECT_EQ(locked + pinned_kb, proc_self_status_kb("VmLck"));

	/* ALL takes no range, and no bitmap. */
	test_err_vfio_unmap_all(EINVAL, fd, TEST_IOVA, 0, NULL);
	test_err_vfio_unmap_all(EINVAL, fd, 0, SZ_4K, NULL);
	test_err_vfio_ioctl(EINVAL, fd, VFIO_IOMMU_UNMAP_DMA, &unmap);
	EXPECT_EQ(locked + pinned_kb, proc_self_status_kb("VmLck"));

	vfio_unmap_all(fd, 0, 0, &unmapped);
	EXPECT_EQ(SZ_2M + SZ_4K, unmapped);
	EXPECT_EQ(locked, proc_self_status_kb("VmLck"));

	/* Everything is gone: the IOVA is free again, and ALL finds nothing. */
	vfio_map(fd, self->buf, TEST_IOVA, SZ_2M);
	vfio_unmap_all(fd, 0, 0, &unmapped);
	EXPECT_EQ(SZ_2M, unmapped);
	vfio_unmap_all(fd, 0, 0, &unmapped);
	EXPECT_EQ(0, unmapped);
}

TEST_F(type1, close_with_mappings)
{
	int fd = self->dev.container_fd;
	long locked, pinned_kb;

	pinned_kb = self->dev.is_mdev ? 0 : SZ_2M / 1024;
	locked = proc_self_status_kb("VmLck");
	ASSERT_GE(locked, 0);

	vfio_map(fd, self->buf, TEST_IOVA, SZ_2M / 2);
	vfio_map(fd, self->buf + SZ_2M / 2, TEST_IOVA + SZ_2M, SZ_2M / 2);
	if (vfio_device_is_dirty_sim(device_name)) {
		/* Without a domain, a page the device pins is what is counted. */
		sim_write(self->dev.device_fd,
			  VFIO_DIRTY_SIM_DMA_PIN, TEST_IOVA,
			  SZ_4K, 1, NULL, NULL);
		pinned_kb = SZ_4K / 1024;
	}
	EXPECT_EQ(locked + pinned_kb, proc_self_status_kb("VmLck"));

	/* Closing device, group and container with the mappings in place. */
	vfio_test_device_close(&self->dev);
	EXPECT_EQ(locked, proc_self_status_kb("VmLck"));
}

TEST_F(type1, group_detach_with_mappings)
{
	const char *module = vfio_test_backend_module(variant->backend);
	struct vfio_group_status status = { .argsz = sizeof(status) };
	int fd = self->dev.container_fd;
	long locked, pinned_kb, refcnt;
	uint64_t unmapped;

	locked = proc_self_status_kb("VmLck");
	ASSERT_GE(locked, 0);
	vfio_map(fd, self->buf, TEST_IOVA, SZ_2M);
	pinned_kb = device_pins_kb(_metadata, &self->dev, TEST_IOVA, SZ_2M, 8);
	EXPECT_EQ(locked + pinned_kb, proc_self_status_kb("VmLck"));

	/* The group leaves once its device is closed, which unpins. */
	close(self->dev.device_fd);
	self->dev.device_fd = -1;
	refcnt = module_refcnt(module);
	ASSERT_EQ(0, ioctl(self->dev.group_fd, VFIO_GROUP_UNSET_CONTAINER));
	ASSERT_EQ(0, ioctl(self->dev.group_fd, VFIO_GROUP_GET_STATUS, &status));
	EXPECT_FALSE(status.flags & VFIO_GROUP_FLAGS_CONTAINER_SET);

	/*
	 * The last group gone, the core releases the backend: the mappings go
	 * and their pages are given back before the container is closed.  The
	 * container has no backend to pass a map to: the core refuses it.
	 */
	EXPECT_EQ(refcnt - 1, module_refcnt(module));
	EXPECT_EQ(locked, proc_self_status_kb("VmLck"));
	test_err_vfio_map(EINVAL, fd, self->buf, TEST_IOVA, SZ_2M);
	vfio_test_device_close(&self->dev);
	EXPECT_EQ(locked, proc_self_status_kb("VmLck"));

	/* The group joins a fresh container, and maps there. */
	vfio_test_device_open_on(&self->dev, device_name,
				 VFIO_TYPE1v2_IOMMU,
				 variant->backend);
	fd = self->dev.container_fd;
	vfio_map(fd, self->buf, TEST_IOVA, SZ_2M);
	pinned_kb = device_pins_kb(_metadata, &self->dev, TEST_IOVA, SZ_2M, 8);
	EXPECT_EQ(locked + pinned_kb, proc_self_status_kb("VmLck"));
	vfio_unmap(fd, TEST_IOVA, SZ_2M, &unmapped);
	EXPECT_EQ(SZ_2M, unmapped);
	EXPECT_EQ(locked, proc_self_status_kb("VmLck"));
}

/*
 * An emulated device and the IOMMU domains may hold different pages at one
 * IOVA; locked_vm must come back to where it was whatever order they come
 * and go in.  The PCI device, bound to vfio-pci, is named by
 * VFIO_SELFTESTS_PCI_BDF; its group joins the container for a while.
 */
struct handover {
	int pci_group;
	char *mem;
	long locked;
};

static void handover_setup(struct __test_metadata *_metadata,
			   struct handover *h, bool touch)
{
	h->pci_group = -1;
	h->mem = mmap(NULL, SZ_4K, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, h->mem);
	if (touch)
		memset(h->mem, 0x11, SZ_4K);
	h->locked = proc_self_status_kb("VmLck");
	ASSERT_GE(h->locked, 0);
}

static void handover_join(struct __test_metadata *_metadata,
			  struct handover *h, int container_fd)
{
	const char *bdf = getenv("VFIO_SELFTESTS_PCI_BDF");

	h->pci_group = __vfio_group_open(bdf);
	ASSERT_LE(0, h->pci_group) TH_LOG("%s: %s", bdf, strerror(-h->pci_group));
	ASSERT_EQ(0, ioctl(h->pci_group, VFIO_GROUP_SET_CONTAINER,
			   &container_fd));
}

static void handover_leave(struct __test_metadata *_metadata,
			   struct handover *h)
{
	ASSERT_EQ(0, ioctl(h->pci_group, VFIO_GROUP_UNSET_CONTAINER));
	close(h->pci_group);
	h->pci_group = -1;
}

static void handover_free(struct handover *h)
{
	if (h->pci_group >= 0)
		close(h->pci_group);
	munmap(h->mem, SZ_4K);
}

/* The page frame @addr is mapped to (/proc/self/pagemap, as root), or 0. */
static uint64_t page_pfn(const void *addr)
{
	uint64_t entry = 0;
	int fd;

	fd = open("/proc/self/pagemap", O_RDONLY);
	if (fd < 0)
		return 0;
	if (pread(fd, &entry, sizeof(entry),
		  (uintptr_t)addr / SZ_4K * sizeof(entry)) != sizeof(entry))
		entry = 0;
	close(fd);
	/* Bit 63: present; bits 0-54: the frame. */
	return entry >> 63 ? entry & ((1ULL << 55) - 1) : 0;
}

/* Can the hand-over tests run here?  NULL if so, else why not. */
static const char *handover_skip(void)
{
	if (!vfio_device_is_dirty_sim(device_name))
		return "needs the simulated device to pin";
	if (!getenv("VFIO_SELFTESTS_PCI_BDF"))
		return "no PCI device: set VFIO_SELFTESTS_PCI_BDF";
	return NULL;
}

/*
 * The domain holds the zero page (a read-only mapping of memory never
 * written), the device a real page: the process wrote the memory after the
 * group joined, and the device pins it read-only afterwards.  Then the
 * group leaves, and the device unpins: the real page is counted once, and
 * counted out once.  Where GUP gives the domain a page of its own instead
 * of the zero page, that page is the one everybody holds.
 */
TEST_F(type1, pin_accounting_domain_zero_page)
{
	int fd = self->dev.container_fd, dev = self->dev.device_fd;
	const bool stock = variant->backend == VFIO_BACKEND_TYPE1;
	const char *skip = handover_skip();
	uint64_t done, unmapped;
	char data[SZ_4K];
	struct handover h;
	bool fresh;

	if (skip)
		SKIP(return, "%s", skip);
	handover_setup(_metadata, &h, false);
	vfio_map_prot(fd, h.mem, TEST_IOVA, SZ_4K, VFIO_DMA_MAP_FLAG_READ);
	/*
	 * 6.1 pins the zero page; 6.12 gives a long-term pin a page of its
	 * own, which the process then maps and writes: the device pins that
	 * very page.
	 */
	handover_join(_metadata, &h, fd);
	fresh = proc_self_status_kb("VmLck") != h.locked;
	EXPECT_EQ(h.locked + (fresh ? 4 : 0), proc_self_status_kb("VmLck"));

	memset(h.mem, 0x22, SZ_4K);
	sim_read(dev, VFIO_DIRTY_SIM_DMA_PIN, TEST_IOVA, SZ_4K,
		 data, &done, NULL);
	ASSERT_EQ(1, done);
	EXPECT_EQ(0x22, data[0]);
	EXPECT_EQ(0x22, data[SZ_4K - 1]);
	/* Two pages held: the stock driver counts the domain's only. */
	EXPECT_EQ(h.locked + (fresh || !stock ? 4 : 0),
		  proc_self_status_kb("VmLck"));

	handover_leave(_metadata, &h);
	EXPECT_EQ(h.locked + 4, proc_self_status_kb("VmLck"));
	vfio_unmap(fd, TEST_IOVA, SZ_4K, &unmapped);
	EXPECT_EQ(SZ_4K, unmapped);
	EXPECT_EQ(h.locked, proc_self_status_kb("VmLck"));
	handover_free(&h);
}

/*
 * The domain holds a real page, the device the zero page: the process
 * dropped the memory after the group joined and read it again, and the
 * device pins it read-only afterwards.  Then the group leaves, and the
 * device unpins: the domain's page is counted out as it goes.  Where GUP
 * gives the device a new page instead of the zero page, the two pages
 * are counted until the group leaves (vfio_dirty), or one of them (the
 * stock driver).
 */
TEST_F(type1, pin_accounting_pin_zero_page)
{
	int fd = self->dev.container_fd, dev = self->dev.device_fd;
	const char *skip = handover_skip();
	const bool stock = variant->backend == VFIO_BACKEND_TYPE1;
	uint64_t done, unmapped, zero_pfn;
	char data[SZ_4K];
	struct handover h;
	bool fresh;

	if (skip)
		SKIP(return, "%s", skip);
	handover_setup(_metadata, &h, true);
	vfio_map_prot(fd, h.mem, TEST_IOVA, SZ_4K, VFIO_DMA_MAP_FLAG_READ);
	handover_join(_metadata, &h, fd);
	EXPECT_EQ(h.locked + 4, proc_self_status_kb("VmLck"));

	ASSERT_EQ(0, madvise(h.mem, SZ_4K, MADV_DONTNEED));
	/* A read maps the zero page back. */
	ASSERT_EQ(0, h.mem[0]);
	zero_pfn = page_pfn(h.mem);
	ASSERT_NE(0, zero_pfn);
	memset(data, 0x33, sizeof(data));
	sim_read(dev, VFIO_DIRTY_SIM_DMA_PIN, TEST_IOVA, SZ_4K,
		 data, &done, NULL);
	ASSERT_EQ(1, done);
	EXPECT_EQ(0, data[0]);
	/*
	 * 6.1 pins the zero page; 6.12 gives a long-term pin a page of its own
	 * (the process then maps it too), which both count.
	 */
	fresh = page_pfn(h.mem) != zero_pfn;
	EXPECT_EQ(h.locked + (fresh && !stock ? 8 : 4),
		  proc_self_status_kb("VmLck"));

	handover_leave(_metadata, &h);
	EXPECT_EQ(h.locked + (fresh ? 4 : 0), proc_self_status_kb("VmLck"));
	vfio_unmap(fd, TEST_IOVA, SZ_4K, &unmapped);
	EXPECT_EQ(SZ_4K, unmapped);
	EXPECT_EQ(h.locked, proc_self_status_kb("VmLck"));
	handover_free(&h);
}

/* How long the device's dma_unmap waits in the race tests. */
#define UNMAP_DELAY_MS	1000

struct unmap_call {
	int fd;
	uint64_t iova;
	uint64_t size;
	uint64_t unmapped;
	uint64_t end_ms;
	int ret;
};

static void *unmap_thread(void *arg)
{
	struct unmap_call *u = arg;

	u->ret = __vfio_unmap(u->fd, u->iova, u->size, &u->unmapped);
	u->end_ms = now_ms();
	return NULL;
}

/*
 * Unmap [@iova, @iova + @size) in a thread, and map [@map_iova, @map_iova +
 * @map_size) while the unmap waits for the device to unpin a page of a
 * mapping it removes, with the backend's lock dropped.  The map must get in
 * before the unmap ends, else the race was not run: the test fails.
 */
static void unmap_race(struct __test_metadata *_metadata, void *map_vaddr,
		       int container_fd, struct unmap_call *u, uint64_t iova,
		       uint64_t size, uint64_t map_iova, uint64_t map_size)
{
	long calls = sim_knob_read("unmap_calls");
	uint64_t deadline, map_end;
	pthread_t thread;

	ASSERT_LE(0, calls);
	ASSERT_EQ(0, sim_knob_write("unmap_delay_ms", UNMAP_DELAY_MS));
	*u = (struct unmap_call) {
		.fd = container_fd, .iova = iova, .size = size,
	};
	ASSERT_EQ(0, pthread_create(&thread, NULL, unmap_thread, u));
	deadline = now_ms() + 10000;
	while (sim_knob_read("unmap_calls") == calls && now_ms() < deadline)
		usleep(1000);
	vfio_map(container_fd, map_vaddr, map_iova, map_size);
	map_end = now_ms();
	ASSERT_EQ(0, pthread_join(thread, NULL));
	EXPECT_EQ(0, sim_knob_write("unmap_delay_ms", 0));
	ASSERT_LT(calls, sim_knob_read("unmap_calls"));
	ASSERT_LT(map_end, u->end_ms) {
		TH_LOG("the map did not get in while the unmap waited");
	}
}

/* Can the unmap race tests run here?  NULL if so, else why not. */
static const char *race_skip(void)
{
	if (!vfio_device_is_dirty_sim(device_name))
		return "needs the simulated device to pin and to wait in dma_unmap";
	return NULL;
}

/*
 * A mapping made while an unmap waits for the device, across the end of
 * its range: when the unmap goes on, it finds its range cuts a mapping,
 * and fails (type1v2), having removed nothing.  The stock driver removes
 * nothing either, but says it succeeded, with a size of 0: its check,
 * made again, fails with the error code of the first pass, 0.
 */
TEST_F(type1, unmap_recheck_straddle)
{
	int fd = self->dev.container_fd;
	const char *skip = race_skip();
	struct unmap_call u;
	uint64_t unmapped;

	if (skip)
		SKIP(return, "%s", skip);
	vfio_map(fd, self->buf, TEST_IOVA, SZ_1M);
	sim_write(self->dev.device_fd, VFIO_DIRTY_SIM_DMA_PIN,
		  TEST_IOVA, SZ_4K, 1, NULL, NULL);

	unmap_race(_metadata, self->buf, fd, &u, TEST_IOVA, SZ_2M,
		   TEST_IOVA + SZ_1M, SZ_2M);
	if (variant->backend == VFIO_BACKEND_TYPE1) {
		EXPECT_EQ(0, u.ret);
		EXPECT_EQ(0, u.unmapped);
	} else {
		EXPECT_EQ(-EINVAL, u.ret);
	}

	/* Both are still there, whole. */
	vfio_unmap(fd, TEST_IOVA, SZ_1M, &unmapped);
	EXPECT_EQ(SZ_1M, unmapped);
	vfio_unmap(fd, TEST_IOVA + SZ_1M, SZ_2M, &unmapped);
	EXPECT_EQ(SZ_2M, unmapped);
}

/*
 * A mapping made while an unmap waits for the device, inside its range but
 * below the mapping it waits for: the unmap removes it too.
 */
TEST_F(type1, unmap_recheck_below)
{
	int fd = self->dev.container_fd;
	const char *skip = race_skip();
	struct unmap_call u;
	uint64_t unmapped;

	if (skip)
		SKIP(return, "%s", skip);
	vfio_map(fd, self->buf, TEST_IOVA + SZ_1M, SZ_1M);
	sim_write(self->dev.device_fd, VFIO_DIRTY_SIM_DMA_PIN,
		  TEST_IOVA + SZ_1M, SZ_4K, 1, NULL, NULL);

	unmap_race(_metadata, self->buf, fd, &u, TEST_IOVA, SZ_2M, TEST_IOVA,
		   SZ_1M);
	EXPECT_EQ(0, u.ret);
	EXPECT_EQ(SZ_2M, u.unmapped);
	vfio_unmap(fd, TEST_IOVA, SZ_2M, &unmapped);
	EXPECT_EQ(0, unmapped);
}

/*
 * A device that never unpins: the stock driver calls BUG() after ten
 * requests; vfio_dirty fails the unmap with -EBUSY, removes nothing, and
 * does not warn (kernel_health.sh checks the log).  Once the device
 * behaves, the unmap goes through, and the pinned page is counted out.
 */
TEST_F(type1, unmap_device_keeps_pins)
{
	int fd = self->dev.container_fd;
	const char *skip = race_skip();
	uint64_t unmapped;
	long calls, locked;

	if (skip)
		SKIP(return, "%s", skip);
	if (variant->backend == VFIO_BACKEND_TYPE1)
		SKIP(return, "the stock driver calls BUG() for such a device");
	locked = proc_self_status_kb("VmLck");
	vfio_map(fd, self->buf, TEST_IOVA, SZ_1M);
	sim_write(self->dev.device_fd, VFIO_DIRTY_SIM_DMA_PIN,
		  TEST_IOVA, SZ_4K, 1, NULL, NULL);
	EXPECT_EQ(locked + 4, proc_self_status_kb("VmLck"));

	ASSERT_EQ(0, sim_knob_write("unmap_ignore", 1));
	calls = sim_knob_read("unmap_calls");
	unmapped = 1;
	test_err_vfio_unmap(EBUSY, fd, TEST_IOVA, SZ_1M, &unmapped);
	EXPECT_EQ(SZ_1M, unmapped);
	EXPECT_EQ(calls + 10, sim_knob_read("unmap_calls"));
	EXPECT_EQ(locked + 4, proc_self_status_kb("VmLck"));

	ASSERT_EQ(0, sim_knob_write("unmap_ignore", 0));
	vfio_unmap(fd, TEST_IOVA, SZ_1M, &unmapped);
	EXPECT_EQ(SZ_1M, unmapped);
	EXPECT_EQ(locked, proc_self_status_kb("VmLck"));
}

/*
 * An unmap with a bitmap whose last page cannot be written: the stock
 * driver has removed the first mapping, whose bits it wrote, before it
 * fails, so a caller that drops a failed call's bitmap (QEMU) loses its
 * pages; vfio_dirty removes nothing, and the next query has every page.
 * Mapping 1's bits lie in the bitmap's second, last, page.
 */
TEST_F(type1, unmap_bitmap_fault_last_page)
{
	const uint64_t npages = 2 * SZ_4K * 8, map1 = npages / 2 + 64;
	const uint64_t size = npages * SZ_4K;
	const uint64_t written[] = { 3, map1 + 5 };
	int fd = self->dev.container_fd, dev = self->dev.device_fd;
	const bool stock = variant->backend == VFIO_BACKEND_TYPE1;
	uint64_t *bitmap, unmapped, i;

	bitmap = mmap(NULL, 2 * SZ_4K, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, bitmap);
	vfio_map(fd, self->buf, TEST_IOVA, SZ_2M);
	vfio_map(fd, self->buf, TEST_IOVA + map1 * SZ_4K, SZ_2M);
	vfio_dirty(fd, VFIO_IOMMU_DIRTY_PAGES_FLAG_START);
	if (self->dev.is_mdev) {
		ASSERT_TRUE(vfio_device_is_dirty_sim(device_name));
		for (i = 0; i < ARRAY_SIZE(written); i++)
			sim_write(dev, 0,
				  TEST_IOVA + written[i] * SZ_4K,
				  SZ_4K, 1, NULL, NULL);
	}

	ASSERT_EQ(0, mprotect((char *)bitmap + SZ_4K, SZ_4K, PROT_READ));
	unmapped = 1;
	test_err_vfio_unmap_bitmap(EFAULT, fd, TEST_IOVA, size, SZ_4K,
				   bitmap, 2 * SZ_4K, &unmapped);
	EXPECT_EQ(size, unmapped);

	/* What is still mapped, and what the next query reports. */
	ASSERT_EQ(0, mprotect((char *)bitmap + SZ_4K, SZ_4K,
			      PROT_READ | PROT_WRITE));
	memset(bitmap, 0, 2 * SZ_4K);
	vfio_get_bitmap(fd, TEST_IOVA, size, SZ_4K, bitmap, 2 * SZ_4K);
	EXPECT_EQ(!stock, bitmap_test_bit(bitmap, self->dev.is_mdev ?
					  written[0] : 0));
	EXPECT_TRUE(bitmap_test_bit(bitmap, self->dev.is_mdev ? written[1] :
				    map1));
	vfio_unmap(fd, TEST_IOVA, size, &unmapped);
	EXPECT_EQ(stock ? SZ_2M : 2 * SZ_2M, unmapped);
	munmap(bitmap, 2 * SZ_4K);
}

/*
 * A write by the simulated device (dma_rw) to a page whose memory the
 * process unmapped: the write fails.  vfio_dirty marks a page before it
 * copies, and reports the page all the same, which loses nothing; the
 * stock driver marks after the copy, and does not.
 */
TEST_F(type1, dirty_failed_write)
{
	const bool stock = variant->backend == VFIO_BACKEND_TYPE1;
	int fd = self->dev.container_fd;
	uint64_t bitmap[1], done, failed;
	char *mem;

	if (!vfio_device_is_dirty_sim(device_name))
		SKIP(return, "needs the simulated device to write");
	mem = mmap(NULL, 64 * SZ_4K, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	vfio_map(fd, mem, TEST_IOVA, 64 * SZ_4K);
	ASSERT_EQ(0, munmap(mem + 3 * SZ_4K, SZ_4K));
	vfio_dirty(fd, VFIO_IOMMU_DIRTY_PAGES_FLAG_START);

	sim_write(self->dev.device_fd, 0, TEST_IOVA + 3 * SZ_4K,
		  SZ_4K, 1, &done, &failed);
	EXPECT_EQ(0, done);
	EXPECT_EQ(1, failed);
	bitmap[0] = 0;
	vfio_get_bitmap(fd, TEST_IOVA, 64 * SZ_4K, SZ_4K, bitmap,
			sizeof(bitmap));
	EXPECT_EQ(stock ? 0 : 1ULL << 3, bitmap[0]);
	vfio_dirty(fd, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP);
	munmap(mem, 64 * SZ_4K);
}

TEST_F(type1, unmap_dirty_bitmap)
{
	const uint64_t npages = SZ_2M / SZ_4K;
	int fd = self->dev.container_fd;
	uint64_t bitmap[npages / 64];
	uint64_t unmapped;

	vfio_map(fd, self->buf, TEST_IOVA, SZ_2M);
	vfio_dirty(fd, VFIO_IOMMU_DIRTY_PAGES_FLAG_START);

	/* A page size the tracker does not use is refused, and unmaps nothing. */
	memset(bitmap, 0, sizeof(bitmap));
	test_err_vfio_unmap_bitmap(EINVAL, fd, TEST_IOVA, SZ_2M, SZ_2M,
				   bitmap, sizeof(bitmap), NULL);
	/* So is a bitmap too small for the range. */
	test_err_vfio_unmap_bitmap(EINVAL, fd, TEST_IOVA, SZ_2M, SZ_4K,
				   bitmap, sizeof(bitmap) - 8, NULL);

	/* As GET_BITMAP: all dirty behind an IOMMU, nothing from an idle mdev. */
	vfio_unmap_bitmap(fd, TEST_IOVA, SZ_2M, SZ_4K, bitmap,
			  sizeof(bitmap), &unmapped);
	EXPECT_EQ(SZ_2M, unmapped);
	EXPECT_EQ(self->dev.is_mdev ? 0 : npages,
		  bitmap_weight_bits(bitmap, npages));
	vfio_dirty(fd, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP);
}

/* Expect the first @nbits of @bitmap to have exactly the bits of @pages set. */
static void expect_bitmap(struct __test_metadata *_metadata,
			  const uint64_t *bitmap, uint64_t nbits,
			  const uint64_t *pages, size_t n)
{
	uint64_t expected[nbits / 64];
	uint64_t i;

	memset(expected, 0, sizeof(expected));
	for (i = 0; i < n; i++)
		expected[pages[i] / 64] |= 1ULL << (pages[i] % 64);
	for (i = 0; i < nbits / 64; i++)
		EXPECT_EQ(expected[i], bitmap[i])
			TH_LOG("bitmap word %llu", (unsigned long long)i);
}

/* The device writes each page of @pages (page numbers from TEST_IOVA). */
static int sim_write_pages(int device_fd, uint32_t flags, const uint64_t *pages,
			   size_t n)
{
	uint64_t done, failed;
	size_t i;
	int ret;

	for (i = 0; i < n; i++) {
		ret = __sim_write(device_fd, flags, TEST_IOVA + pages[i] * SZ_4K,
				  SZ_4K, pages[i], &done, &failed);
		if (ret)
			return ret;
		if (done != 1 || failed)
			return -EIO;
	}
	return 0;
}

/*
 * Two mappings of 2 MiB with a 2 MiB hole between them, one bitmap over the
 * three: the simulated device writes known pages through the container, and
 * type1 reports exactly those.
 */
TEST_F(type1, dirty_bitmap_device_writes)
{
	const uint64_t npages = 3 * SZ_2M / SZ_4K;
	/* Each side of a word boundary, and the first and last pages. */
	const uint64_t before[] = { 10 };
	const uint64_t first[] = { 0, 1, 63, 64, 200, 511, 1024, 1087, 1535 };
	const uint64_t second[] = { 5, 128, 1100 };
	const uint64_t pinned[] = { 400 };
	const uint64_t both[] = { 5, 128, 400, 1100 };
	const uint64_t last[] = { 7, 400, 450, 1030 };
	uint64_t bitmap[npages / 64];
	int fd = self->dev.container_fd, dev = self->dev.device_fd;
	uint64_t unmapped;

	if (!vfio_device_is_dirty_sim(device_name))
		SKIP(return, "needs the simulated device to write");

	vfio_map(fd, self->buf, TEST_IOVA, SZ_2M);
	vfio_map(fd, self->buf, TEST_IOVA + 2 * SZ_2M, SZ_2M);

	/* A write before tracking starts is not reported. */
	ASSERT_EQ(0, sim_write_pages(dev, 0, before, ARRAY_SIZE(before)));
	vfio_dirty(fd, VFIO_IOMMU_DIRTY_PAGES_FLAG_START);

	ASSERT_EQ(0, sim_write_pages(dev, 0, first, ARRAY_SIZE(first)));
	memset(bitmap, 0, sizeof(bitmap));
	vfio_get_bitmap(fd, TEST_IOVA, 3 * SZ_2M, SZ_4K, bitmap,
			sizeof(bitmap));
	expect_bitmap(_metadata, bitmap, npages, first, ARRAY_SIZE(first));

	/* A report clears what it reported. */
	memset(bitmap, 0, sizeof(bitmap));
	vfio_get_bitmap(fd, TEST_IOVA, 3 * SZ_2M, SZ_4K, bitmap,
			sizeof(bitmap));
	EXPECT_EQ(0, bitmap_weight_bits(bitmap, npages));

	/* A page the device keeps pinned stays dirty, report after report. */
	ASSERT_EQ(0, sim_write_pages(dev, 0, second, ARRAY_SIZE(second)));
	ASSERT_EQ(0, sim_write_pages(dev, VFIO_DIRTY_SIM_DMA_PIN, pinned,
				     ARRAY_SIZE(pinned)));
	memset(bitmap, 0, sizeof(bitmap));
	vfio_get_bitmap(fd, TEST_IOVA, 3 * SZ_2M, SZ_4K, bitmap,
			sizeof(bitmap));
	expect_bitmap(_metadata, bitmap, npages, both, ARRAY_SIZE(both));
	memset(bitmap, 0, sizeof(bitmap));
	vfio_get_bitmap(fd, TEST_IOVA, 3 * SZ_2M, SZ_4K, bitmap,
			sizeof(bitmap));
	expect_bitmap(_metadata, bitmap, npages, pinned, ARRAY_SIZE(pinned));

	/* Unmapping with a bitmap reports the same way, for both mappings. */
	ASSERT_EQ(0, sim_write_pages(dev, 0, last, ARRAY_SIZE(last)));
	memset(bitmap, 0, sizeof(bitmap));
	vfio_unmap_bitmap(fd, TEST_IOVA, 3 * SZ_2M, SZ_4K,
			  bitmap, sizeof(bitmap), &unmapped);
	EXPECT_EQ(2 * SZ_2M, unmapped);
	expect_bitmap(_metadata, bitmap, npages, last, ARRAY_SIZE(last));
	vfio_dirty(fd, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP);
}

#define MDEV_REFUSES	"VFIO_UPDATE_VADDR is refused with an mdev attached"

/*
 * Invalidate the vaddr of the mappings in [@iova, @iova + @size), expecting
 * @expect as the size.  Return: false when an mdev is attached and the
 * request failed with -EBUSY, as the stock driver refuses it: the calling
 * test has nothing more to see, and skips with MDEV_REFUSES.  Any other
 * outcome fails the test, which goes on: a skip would hide the failure.
 */
static bool invalidate(struct __test_metadata *_metadata,
		       struct vfio_test_device *dev, uint64_t iova,
		       uint64_t size, uint64_t expect)
{
	uint64_t inval = 0;
	int ret;

	ret = __vfio_unmap_vaddr(dev->container_fd, 0, iova, size, &inval);
	if (dev->is_mdev) {
		EXPECT_EQ(-EBUSY, ret);
		return ret != -EBUSY;
	}
	EXPECT_EQ(0, ret);
	EXPECT_EQ(expect, inval);
	return true;
}

TEST_F(type1, update_vaddr_bad_arguments)
{
	uint64_t bitmap[SZ_2M / SZ_4K / 64] = { 0 };
	struct {
		struct vfio_iommu_type1_dma_unmap unmap;
		struct vfio_bitmap bitmap;
	} req = {
		.unmap = {
			.argsz = sizeof(req),
			.flags = VFIO_DMA_UNMAP_FLAG_VADDR |
				 VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP,
			.iova = TEST_IOVA,
			.size = SZ_2M,
		},
		.bitmap = {
			.pgsize = SZ_4K,
			.size = sizeof(bitmap),
			.data = (void *)bitmap,
		},
	};
	int fd = self->dev.container_fd;
	uint64_t inval;

	vfio_map(fd, self->buf, TEST_IOVA, SZ_2M);
	vfio_dirty(fd, VFIO_IOMMU_DIRTY_PAGES_FLAG_START);

	/* A new vaddr takes no permissions: the mapping keeps its own. */
	test_err_vfio_map_vaddr(EINVAL, fd, VFIO_DMA_MAP_FLAG_READ,
				self->buf, TEST_IOVA, SZ_2M);
	test_err_vfio_map_vaddr(EINVAL, fd, VFIO_DMA_MAP_FLAG_WRITE,
				self->buf, TEST_IOVA, SZ_2M);
	/* Invalidating unmaps nothing, so has no bitmap to give, tracking or not. */
	test_err_vfio_ioctl(EINVAL, fd, VFIO_IOMMU_UNMAP_DMA, &req);
	/* A mapping whose vaddr is valid takes no new one. */
	test_err_vfio_map_vaddr(EINVAL, fd, 0, self->buf, TEST_IOVA, SZ_2M);
	/* Nothing mapped there. */
	test_err_vfio_map_vaddr(ENOENT, fd, 0, self->buf, TEST_IOVA + SZ_2M,
				SZ_2M);

	if (self->dev.is_mdev) {
		test_err_vfio_unmap_vaddr(EBUSY, fd, VFIO_DMA_UNMAP_FLAG_ALL,
					  0, 0, NULL);
	} else {
		/* type1v2 never bisects a mapping, invalidating neither. */
		test_err_vfio_unmap_vaddr(EINVAL, fd, 0, TEST_IOVA, SZ_4K,
					  NULL);
		test_err_vfio_map_vaddr(EINVAL, fd, 0, self->buf,
					TEST_IOVA, SZ_2M);
		/* With ALL: every mapping, and their size. */
		vfio_unmap_vaddr(fd, VFIO_DMA_UNMAP_FLAG_ALL, 0, 0, &inval);
		EXPECT_EQ(SZ_2M, inval);
		vfio_map_vaddr(fd, 0, self->buf, TEST_IOVA, SZ_2M);
	}
	vfio_unmap(fd, TEST_IOVA, SZ_2M, &inval);
	EXPECT_EQ(SZ_2M, inval);
}

/* Open the edu device of the fixture for DMA, or say why not. */
static const char *edu_for_dma(struct vfio_test_device *dev, struct edu *edu)
{
	const char *why = edu_unsupported(dev->name);

	if (why)
		return why;
	return __edu_open(edu, dev->device_fd) ? "cannot open edu's BAR0" : NULL;
}

/*
 * The edu engine reads EDU_COUNT bytes at EDU_IOVA and writes them back a
 * page further: what the device sees is then visible at @mem + SZ_4K.
 */
static int edu_copy_page(struct edu *edu)
{
	int ret = __edu_dma(edu, false, EDU_IOVA, 0, EDU_COUNT);

	return ret ? ret : __edu_dma(edu, true, EDU_IOVA + SZ_4K, 0, EDU_COUNT);
}

/*
 * Live update as QEMU does it: guest memory is a memfd; the vaddr is
 * invalidated, the memfd mapped again elsewhere (in the new process), and
 * the mapping given the new vaddr.  The pages stay pinned throughout, and
 * the device reads and writes what the new vaddr shows.
 */
TEST_F(type1, update_vaddr)
{
	int fd = self->dev.container_fd;
	char *old, *new;
	struct edu edu;
	const char *why;
	uint64_t size;
	long locked;
	int mfd;

	locked = proc_self_status_kb("VmLck");
	ASSERT_GE(locked, 0);
	mfd = memfd_create("guest", 0);
	ASSERT_LE(0, mfd);
	ASSERT_EQ(0, ftruncate(mfd, SZ_2M));
	old = mmap(NULL, SZ_2M, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	ASSERT_NE(MAP_FAILED, old);
	memset(old, 0x11, SZ_2M);
	vfio_map(fd, old, EDU_IOVA, SZ_2M);
	EXPECT_EQ(locked + (self->dev.is_mdev ? 0 : (long)(SZ_2M / 1024)),
		  proc_self_status_kb("VmLck"));

	if (!invalidate(_metadata, &self->dev, EDU_IOVA, SZ_2M, SZ_2M))
		SKIP(return, MDEV_REFUSES);
	/* Nothing is unpinned, or uncounted. */
	EXPECT_EQ(locked + (long)(SZ_2M / 1024), proc_self_status_kb("VmLck"));
	/* Invalid already: refused. */
	test_err_vfio_unmap_vaddr(EINVAL, fd, 0, EDU_IOVA, SZ_2M, NULL);
	/* The mapping is still there. */
	test_err_vfio_map(EEXIST, fd, old, EDU_IOVA, SZ_2M);

	new = mmap(NULL, SZ_2M, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	ASSERT_NE(MAP_FAILED, new);
	ASSERT_EQ(0, munmap(old, SZ_2M));
	memset(new, 0x22, SZ_2M);

	/* The update names the mapping exactly: iova and size. */
	test_err_vfio_map_vaddr(EINVAL, fd, 0, new, EDU_IOVA, SZ_4K);
	test_err_vfio_map_vaddr(EINVAL, fd, 0, new, EDU_IOVA + SZ_4K,
				SZ_2M - SZ_4K);
	test_err_vfio_map_vaddr(EINVAL, fd, 0, new + 1, EDU_IOVA, SZ_2M);
	test_err_vfio_map_vaddr(ENOENT, fd, 0, new, EDU_IOVA + SZ_2M, SZ_2M);
	vfio_map_vaddr(fd, 0, new, EDU_IOVA, SZ_2M);
	test_err_vfio_map_vaddr(EINVAL, fd, 0, new, EDU_IOVA, SZ_2M);
	/* The same process, the same owner: counted once. */
	EXPECT_EQ(locked + (long)(SZ_2M / 1024), proc_self_status_kb("VmLck"));

	why = edu_for_dma(&self->dev, &edu);
	if (!why) {
		ASSERT_EQ(0, edu_copy_page(&edu));
		EXPECT_EQ(-1, first_byte_not(new + SZ_4K, EDU_COUNT, 0x22));
		edu_close(&edu);
	} else {
		TH_LOG("no DMA check: %s", why);
	}

	vfio_unmap(fd, EDU_IOVA, SZ_2M, &size);
	EXPECT_EQ(SZ_2M, size);
	EXPECT_EQ(locked, proc_self_status_kb("VmLck"));
	munmap(new, SZ_2M);
	close(mfd);
}

/*
 * The update keeps what is pinned: a new vaddr over other memory is not
 * what a device behind an IOMMU reaches, it keeps the old pages.
 */
TEST_F(type1, update_vaddr_keeps_pins)
{
	int fd = self->dev.container_fd;
	struct edu edu;
	const char *why;
	char *other;

	why = edu_for_dma(&self->dev, &edu);
	if (why)
		SKIP(return, "%s", why);
	memset(self->buf, 0x11, SZ_2M);
	other = mmap(NULL, SZ_2M, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, other);
	memset(other, 0x22, SZ_2M);

	vfio_map(fd, self->buf, EDU_IOVA, SZ_2M);
	if (!invalidate(_metadata, &self->dev, EDU_IOVA, SZ_2M, SZ_2M))
		SKIP(return, MDEV_REFUSES);
	/* Invalid, the mapping still reaches the pinned pages. */
	ASSERT_EQ(0, edu_copy_page(&edu));
	EXPECT_EQ(-1, first_byte_not(self->buf + SZ_4K, EDU_COUNT, 0x11));

	vfio_map_vaddr(fd, 0, other, EDU_IOVA, SZ_2M);
	memset(self->buf + SZ_4K, 0x33, SZ_4K);
	ASSERT_EQ(0, edu_copy_page(&edu));
	EXPECT_EQ(-1, first_byte_not(self->buf + SZ_4K, EDU_COUNT, 0x11));
	EXPECT_EQ(-1, first_byte_not(other, SZ_2M, 0x22));

	edu_close(&edu);
	vfio_unmap(fd, EDU_IOVA, SZ_2M, NULL);
	munmap(other, SZ_2M);
}

/*
 * An invalid vaddr does not hold up unmapping, dirty tracking or anything
 * else that does not pin: the mapping is reported and removed as any.
 */
TEST_F(type1, unmap_invalid_vaddr)
{
	const uint64_t npages = SZ_2M / SZ_4K;
	int fd = self->dev.container_fd;
	uint64_t bitmap[npages / 64];
	uint64_t size;
	long locked;

	locked = proc_self_status_kb("VmLck");
	ASSERT_GE(locked, 0);
	vfio_map(fd, self->buf, TEST_IOVA, SZ_1M);
	vfio_map(fd, self->buf + SZ_1M, TEST_IOVA + SZ_1M, SZ_1M);
	vfio_dirty(fd, VFIO_IOMMU_DIRTY_PAGES_FLAG_START);
	if (!invalidate(_metadata, &self->dev, TEST_IOVA + SZ_1M, SZ_1M, SZ_1M))
		SKIP(return, MDEV_REFUSES);

	/* A device behind an IOMMU may still write anywhere: all dirty. */
	memset(bitmap, 0, sizeof(bitmap));
	vfio_get_bitmap(fd, TEST_IOVA, SZ_2M, SZ_4K, bitmap, sizeof(bitmap));
	EXPECT_EQ(npages, bitmap_weight_bits(bitmap, npages));

	/*
	 * Over both, the second invalid already: refused, and the first,
	 * met before it, is left valid (so takes no new vaddr).
	 */
	test_err_vfio_unmap_vaddr(EINVAL, fd, 0, TEST_IOVA, SZ_2M, NULL);
	test_err_vfio_map_vaddr(EINVAL, fd, 0, self->buf, TEST_IOVA, SZ_1M);

	/* Unmapped with a bitmap: reported and removed, pins given back. */
	memset(bitmap, 0, sizeof(bitmap));
	vfio_unmap_bitmap(fd, TEST_IOVA, SZ_2M, SZ_4K, bitmap,
			  sizeof(bitmap), &size);
	EXPECT_EQ(SZ_2M, size);
	EXPECT_EQ(npages, bitmap_weight_bits(bitmap, npages));
	EXPECT_EQ(locked, proc_self_status_kb("VmLck"));
	/* Gone: nothing to update, the IOVA free again. */
	test_err_vfio_map_vaddr(ENOENT, fd, 0, self->buf + SZ_1M,
				TEST_IOVA + SZ_1M, SZ_1M);
	vfio_map(fd, self->buf, TEST_IOVA, SZ_1M);
	vfio_dirty(fd, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP);
}

/* Closing a container whose vaddrs are invalid gives every page back. */
TEST_F(type1, close_with_invalid_vaddr)
{
	int fd = self->dev.container_fd;
	long locked;

	locked = proc_self_status_kb("VmLck");
	ASSERT_GE(locked, 0);
	vfio_map(fd, self->buf, TEST_IOVA, SZ_1M);
	vfio_map(fd, self->buf + SZ_1M, TEST_IOVA + SZ_2M, SZ_1M);
	/* Whole mappings only: a range with a hole reports what it found. */
	if (!invalidate(_metadata, &self->dev, TEST_IOVA, 2 * SZ_2M, SZ_2M))
		SKIP(return, MDEV_REFUSES);
	EXPECT_EQ(locked + (long)(SZ_2M / 1024), proc_self_status_kb("VmLck"));
	vfio_test_device_close(&self->dev);
	EXPECT_EQ(locked, proc_self_status_kb("VmLck"));
}

/* What update_vaddr_child() saw, in memory shared with the test. */
struct update_result {
	int setup;	/* 0, or the errno of dropping the cap or the limit */
	int update;	/* the MAP_DMA with VFIO_DMA_MAP_FLAG_VADDR */
	long before_kb;	/* VmLck before and after it */
	long after_kb;
};

/*
 * In a new process, as the new QEMU of a live update: map other memory and
 * give it to the mapping at TEST_IOVA; with @limit, without CAP_IPC_LOCK
 * and with an RLIMIT_MEMLOCK of MEMLOCK_LIMIT.
 */
static void update_vaddr_child(int fd, bool limit, struct update_result *res)
{
	struct rlimit rlim = { MEMLOCK_LIMIT, MEMLOCK_LIMIT };
	char *mem;

	res->setup = limit ? drop_cap_ipc_lock() : 0;
	if (!res->setup && limit && setrlimit(RLIMIT_MEMLOCK, &rlim))
		res->setup = -errno;
	if (res->setup)
		return;
	mem = mmap(NULL, SZ_2M, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		res->setup = -errno;
		return;
	}
	res->before_kb = proc_self_status_kb("VmLck");
	res->update = __vfio_map_vaddr(fd, 0, mem, TEST_IOVA, SZ_2M);
	res->after_kb = proc_self_status_kb("VmLck");
}

static void run_update_child(struct __test_metadata *_metadata, int fd,
			     bool limit, struct update_result *res)
{
	int status;
	pid_t pid;

	memset(res, 0xff, sizeof(*res));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		update_vaddr_child(fd, limit, res);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, res->setup) TH_LOG("%s", strerror(-res->setup));
	ASSERT_GE(res->before_kb, 0);
}

/*
 * The process that gives the new vaddr becomes the mapping's owner: its
 * locked_vm pays for the pinned pages, under its own limit, and the old
 * owner's is paid back.  Past the new owner's limit the update fails and
 * the mapping stays invalid, the old owner still paying.
 */
TEST_F(type1, update_vaddr_new_owner)
{
	const long pinned_kb = SZ_2M / 1024;
	int fd = self->dev.container_fd;
	struct update_result *res;
	uint64_t size;
	long locked;

	res = mmap(NULL, sizeof(*res), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, res);
	locked = proc_self_status_kb("VmLck");
	ASSERT_GE(locked, 0);
	vfio_map(fd, self->buf, TEST_IOVA, SZ_2M);
	if (!invalidate(_metadata, &self->dev, TEST_IOVA, SZ_2M, SZ_2M))
		SKIP(return, MDEV_REFUSES);

	run_update_child(_metadata, fd, true, res);
	EXPECT_EQ(-ENOMEM, res->update);
	EXPECT_EQ(res->before_kb, res->after_kb);
	EXPECT_EQ(locked + pinned_kb, proc_self_status_kb("VmLck"));
	test_err_vfio_unmap_vaddr(EINVAL, fd, 0, TEST_IOVA, SZ_2M, NULL);

	run_update_child(_metadata, fd, false, res);
	EXPECT_EQ(0, res->update);
	EXPECT_EQ(res->before_kb + pinned_kb, res->after_kb);
	EXPECT_EQ(locked, proc_self_status_kb("VmLck"));

	/* The new owner has exited: unmapping pays back nobody, and works. */
	vfio_unmap(fd, TEST_IOVA, SZ_2M, &size);
	EXPECT_EQ(SZ_2M, size);
	EXPECT_EQ(locked, proc_self_status_kb("VmLck"));
	munmap(res, sizeof(*res));
}

/*
 * No group attaches while a vaddr is invalid; once updated, an mdev may
 * join, and its dma_rw() reads through the new vaddr.  The container is the
 * PCI device's (VFIO_SELFTESTS_PCI_BDF), the mdev the test device.
 */
TEST_F(type1, update_vaddr_then_mdev)
{
	const char *bdf = getenv("VFIO_SELFTESTS_PCI_BDF");
	struct vfio_test_device pci = {
		.container_fd = -1, .group_fd = -1, .device_fd = -1,
	};
	int group = -1, device = -1, fd;
	uint8_t data[SZ_4K];
	char *other;

	if (!vfio_device_is_dirty_sim(device_name) || !bdf)
		SKIP(return, "needs the simulated mdev as the device and VFIO_SELFTESTS_PCI_BDF");
	vfio_test_device_close(&self->dev);
	vfio_test_device_open_on(&pci, bdf, VFIO_TYPE1v2_IOMMU,
				 variant->backend);
	fd = pci.container_fd;
	other = mmap(NULL, SZ_2M, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, other);
	memset(other, 0x22, SZ_2M);

	vfio_map(fd, self->buf, TEST_IOVA, SZ_2M);
	vfio_unmap_vaddr(fd, 0, TEST_IOVA, SZ_2M, NULL);
	group = __vfio_group_open(device_name);
	ASSERT_LE(0, group);
	EXPECT_EQ(-1, ioctl(group, VFIO_GROUP_SET_CONTAINER, &fd));
	EXPECT_EQ(EBUSY, errno);

	vfio_map_vaddr(fd, 0, other, TEST_IOVA, SZ_2M);
	ASSERT_EQ(0, ioctl(group, VFIO_GROUP_SET_CONTAINER, &fd));
	EXPECT_EQ(0, ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_UPDATE_VADDR));
	device = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, device_name);
	ASSERT_LE(0, device);
	sim_read(device, 0, TEST_IOVA, sizeof(data), data, NULL, NULL);
	EXPECT_EQ(-1, first_byte_not(data, sizeof(data), 0x22));
	test_err_vfio_unmap_vaddr(EBUSY, fd, 0, TEST_IOVA, SZ_2M, NULL);

	close(device);
	close(group);
	vfio_test_device_close(&pci);
	munmap(other, SZ_2M);
}

/*
 * Map edu's BAR 0 into the process through its device fd (VM_PFNMAP memory)
 * at @edu->bar: @dev's device on the PCI leg, else the device
 * VFIO_SELFTESTS_PCI_BDF names, opened as @pci in a container of its own on
 * @backend.  Return: 0, -ENODEV when there is no edu to map, or an errno.
 */
static int bar_open(struct vfio_test_device *dev, struct vfio_test_device *pci,
		    struct edu *edu, enum vfio_test_backend backend)
{
	const char *bdf = getenv("VFIO_SELFTESTS_PCI_BDF");
	int ret;

	if (!dev->is_mdev)
		return __edu_open(edu, dev->device_fd);
	if (!bdf || edu_unsupported(bdf))
		return -ENODEV;
	ret = __vfio_test_device_open_on(pci, bdf, VFIO_TYPE1v2_IOMMU, backend);
	return ret ? ret : __edu_open(edu, pci->device_fd);
}

#define NO_BAR	"no edu to map the BAR of: set VFIO_SELFTESTS_PCI_BDF on the mdev leg"

/*
 * The BAR whole, a part of it, and a part at an IOVA whose offset in a
 * 2 MiB page differs from the BAR's: each maps, with nothing counted in
 * locked memory (there is no page to pin behind IOMMU or mdev), each
 * unmaps whole, and the container maps ordinary memory afterwards.
 */
static void bar_map_unmap(struct __test_metadata *_metadata,
			  struct vfio_test_device *dev, struct edu *edu,
			  void *buf)
{
	int fd = dev->container_fd;
	uint8_t *bar = (uint8_t *)edu->bar;
	uint64_t size = edu->bar_size, unmapped;
	long locked, pinned_kb;

	ASSERT_EQ(SZ_1M, size);
	locked = proc_self_status_kb("VmLck");
	ASSERT_GE(locked, 0);

	vfio_map(fd, bar, TEST_IOVA, size);
	vfio_map(fd, bar + 16 * SZ_4K, TEST_IOVA + SZ_2M, 16 * SZ_4K);
	vfio_map(fd, bar + SZ_4K, TEST_IOVA + 2 * SZ_2M + 3 * SZ_4K,
		 size - 2 * SZ_4K);
	EXPECT_EQ(locked, proc_self_status_kb("VmLck"));

	vfio_unmap(fd, TEST_IOVA, size, &unmapped);
	EXPECT_EQ(size, unmapped);
	vfio_unmap(fd, TEST_IOVA + SZ_2M, 16 * SZ_4K, &unmapped);
	EXPECT_EQ(16 * SZ_4K, unmapped);
	vfio_unmap(fd, TEST_IOVA + 2 * SZ_2M + 3 * SZ_4K,
		   size - 2 * SZ_4K, &unmapped);
	EXPECT_EQ(size - 2 * SZ_4K, unmapped);
	EXPECT_EQ(locked, proc_self_status_kb("VmLck"));

	/* The BAR again where it was, then ordinary memory, pinned as ever. */
	pinned_kb = dev->is_mdev ? 0 : SZ_2M / 1024;
	vfio_map(fd, bar, TEST_IOVA, size);
	vfio_map(fd, buf, TEST_IOVA + SZ_2M, SZ_2M);
	EXPECT_EQ(locked + pinned_kb, proc_self_status_kb("VmLck"));
	vfio_unmap(fd, TEST_IOVA, 2 * SZ_2M, &unmapped);
	EXPECT_EQ(size + SZ_2M, unmapped);
	EXPECT_EQ(locked, proc_self_status_kb("VmLck"));
}

TEST_F(type1, map_bar)
{
	int ret;

	ret = bar_open(&self->dev, &self->pci, &self->edu, variant->backend);
	if (ret == -ENODEV)
		SKIP(return, NO_BAR);
	ASSERT_EQ(0, ret) TH_LOG("edu BAR 0: %s", strerror(-ret));
	bar_map_unmap(_metadata, &self->dev, &self->edu, self->buf);
}

/* The same in a type1 (not v2) container. */
TEST_F(type1, map_bar_type1v1)
{
	int ret;

	vfio_test_device_close(&self->dev);
	vfio_test_device_open_on(&self->dev, device_name,
				 VFIO_TYPE1_IOMMU,
				 variant->backend);
	ret = bar_open(&self->dev, &self->pci, &self->edu, variant->backend);
	if (ret == -ENODEV)
		SKIP(return, NO_BAR);
	ASSERT_EQ(0, ret) TH_LOG("edu BAR 0: %s", strerror(-ret));
	bar_map_unmap(_metadata, &self->dev, &self->edu, self->buf);
}

/*
 * A mapping that runs past the BAR's end into unmapped address space: type1
 * finds no pfn for its last page and fails it whole behind an IOMMU, having
 * mapped nothing (the BAR maps again at the same IOVA); without a domain
 * nothing is looked up, so it maps.
 */
TEST_F(type1, map_bar_past_end)
{
	int fd = self->dev.container_fd;
	uint64_t size, unmapped;
	uint8_t *area, *bar;
	long locked;
	int ret;

	ret = bar_open(&self->dev, &self->pci, &self->edu, variant->backend);
	if (ret == -ENODEV)
		SKIP(return, NO_BAR);
	ASSERT_EQ(0, ret) TH_LOG("edu BAR 0: %s", strerror(-ret));
	size = self->edu.bar_size;
	area = mmap(NULL, size + SZ_4K, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	ASSERT_NE(MAP_FAILED, area);
	/* BAR 0's region is at offset 0 of the device fd. */
	bar = mmap(area, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		   self->edu.device_fd, 0);
	if (bar == MAP_FAILED)
		munmap(area, size + SZ_4K);
	ASSERT_EQ(area, bar);
	ASSERT_EQ(0, munmap(area + size, SZ_4K));
	locked = proc_self_status_kb("VmLck");

	if (self->dev.is_mdev) {
		vfio_map(fd, bar, TEST_IOVA, size + SZ_4K);
		vfio_unmap(fd, TEST_IOVA, size + SZ_4K, &unmapped);
		EXPECT_EQ(size + SZ_4K, unmapped);
	} else {
		test_err_vfio_map(EFAULT, fd, bar, TEST_IOVA, size + SZ_4K);
		vfio_map(fd, bar, TEST_IOVA, size);
		vfio_unmap(fd, TEST_IOVA, size, &unmapped);
		EXPECT_EQ(size, unmapped);
	}
	EXPECT_EQ(locked, proc_self_status_kb("VmLck"));
	munmap(bar, size);
}

/*
 * A BAR mapped read-only in the process: a readable and writable mapping
 * of it is refused with EFAULT behind an IOMMU, whether its page table
 * entries are yet to be faulted in (a write fault is refused) or are there
 * but read-only (the first page, once read: 6.1's vfio-pci fills the whole
 * mapping on a fault, 6.12's only the page, so only that page is mapped
 * then); a read-only one maps.  Without a domain all map.
 */
TEST_F(type1, map_bar_read_only)
{
	const uint32_t rw = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
	int fd = self->dev.container_fd;
	uint64_t size, unmapped;
	struct edu ro;
	void *bar;
	int ret;

	ret = bar_open(&self->dev, &self->pci, &self->edu, variant->backend);
	if (ret == -ENODEV)
		SKIP(return, NO_BAR);
	ASSERT_EQ(0, ret) TH_LOG("edu BAR 0: %s", strerror(-ret));
	size = self->edu.bar_size;
	bar = mmap(NULL, size, PROT_READ, MAP_SHARED, self->edu.device_fd, 0);
	ASSERT_NE(MAP_FAILED, bar);

	EXPECT_EQ(self->dev.is_mdev ? 0 : -EFAULT,
		  __vfio_map_prot(fd, bar, TEST_IOVA, size, rw));
	/* Reading a register faults the first page in, read-only. */
	ro.bar = bar;
	EXPECT_EQ(EDU_ID, edu_read(&ro, EDU_REG_ID));
	EXPECT_EQ(self->dev.is_mdev ? 0 : -EFAULT,
		  __vfio_map_prot(fd, bar, TEST_IOVA + SZ_2M, SZ_4K, rw));
	vfio_map_prot(fd, bar, TEST_IOVA + 2 * SZ_2M, size,
		      VFIO_DMA_MAP_FLAG_READ);
	vfio_unmap_all(fd, 0, 0, &unmapped);
	EXPECT_EQ(self->dev.is_mdev ? 2 * size + SZ_4K : size, unmapped);
	munmap(bar, size);
}

/*
 * What an emulated device gets of a BAR mapping: vfio_pin_pages() fails
 * (there is no struct page to give), vfio_dma_rw() reads through the
 * process's mapping of the BAR.
 */
TEST_F(type1, sim_on_bar)
{
	int fd = self->dev.container_fd, dev = self->dev.device_fd;
	uint64_t done, failed, unmapped;
	uint8_t data[SZ_4K];
	long locked;
	int ret;

	if (!vfio_device_is_dirty_sim(device_name))
		SKIP(return, "needs the simulated device");
	ret = bar_open(&self->dev, &self->pci, &self->edu, variant->backend);
	if (ret == -ENODEV)
		SKIP(return, NO_BAR);
	ASSERT_EQ(0, ret) TH_LOG("edu BAR 0: %s", strerror(-ret));
	locked = proc_self_status_kb("VmLck");
	vfio_map(fd, self->edu.bar, TEST_IOVA, self->edu.bar_size);

	sim_write(dev, VFIO_DIRTY_SIM_DMA_PIN, TEST_IOVA, SZ_4K,
		  1, &done, &failed);
	EXPECT_EQ(0, done);
	EXPECT_EQ(1, failed);
	sim_read(dev, 0, TEST_IOVA, SZ_4K, data, &done, &failed);
	EXPECT_EQ(1, done);
	EXPECT_EQ(0, failed);
	EXPECT_EQ(locked, proc_self_status_kb("VmLck"));

	vfio_unmap(fd, TEST_IOVA, self->edu.bar_size, &unmapped);
	EXPECT_EQ(self->edu.bar_size, unmapped);
	EXPECT_EQ(locked, proc_self_status_kb("VmLck"));
}

/*
 * The stock driver's boolean parameters: 0644, off by default, "Y"/"N" as
 * any bool parameter, and a value that is no bool is refused.  Whatever
 * they were is put back in the teardown.
 */
static void bool_param(struct __test_metadata *_metadata, const char *module,
		       const char *param, char *saved, size_t size,
		       const char **to_restore)
{
	char path[256], buf[16];
	struct stat st;

	snprintf(path, sizeof(path), "/sys/module/%s/parameters/%s", module,
		 param);
	ASSERT_EQ(0, stat(path, &st)) TH_LOG("%s: %s", path, strerror(errno));
	EXPECT_EQ(0644, st.st_mode & 07777);
	module_param_read(module, param, saved, size);
	*to_restore = param;
	module_param_write(module, param, "1");
	module_param_read(module, param, buf, sizeof(buf));
	EXPECT_STREQ("Y\n", buf);
	module_param_write(module, param, "0");
	module_param_read(module, param, buf, sizeof(buf));
	EXPECT_STREQ("N\n", buf);
	EXPECT_NE(0, __module_param_write(module, param, "2"));
	module_param_write(module, param, saved);
	*to_restore = NULL;
}

/*
 * allow_unsafe_interrupts: the parameter only.  What it does, accept a
 * group without interrupt remapping, cannot happen here: the guest's
 * intel-iommu remaps interrupts (intremap=on).
 */
TEST_F(type1, param_allow_unsafe_interrupts)
{
	const char *module = vfio_test_backend_module(variant->backend);
	char buf[16];

	module_param_read(module, "allow_unsafe_interrupts", buf, sizeof(buf));
	EXPECT_STREQ("N\n", buf);
	bool_param(_metadata, module, "allow_unsafe_interrupts",
		   self->param_saved, sizeof(self->param_saved), &self->param);
}

/*
 * disable_hugepages: the parameter, and a mapping pinned with it set: all
 * of it counted, all given back, and the page sizes reported unchanged.
 */
TEST_F(type1, param_disable_hugepages)
{
	const char *module = vfio_test_backend_module(variant->backend);
	struct vfio_iommu_type1_info *info;
	int fd = self->dev.container_fd;
	long locked, pinned_kb;
	uint64_t unmapped;
	char buf[16];

	module_param_read(module, "disable_hugepages", buf, sizeof(buf));
	EXPECT_STREQ("N\n", buf);
	bool_param(_metadata, module, "disable_hugepages", self->param_saved,
		   sizeof(self->param_saved), &self->param);

	module_param_read(module, "disable_hugepages",
			  self->param_saved,
			  sizeof(self->param_saved));
	self->param = "disable_hugepages";
	module_param_write(module, "disable_hugepages", "1");
	info = vfio_iommu_info(fd);
	ASSERT_NE(NULL, info);
	EXPECT_EQ(self->dev.is_mdev ? ~(uint64_t)(SZ_4K - 1) : INTEL_IOMMU_PGSIZES,
		  info->iova_pgsizes);
	free(info);

	pinned_kb = self->dev.is_mdev ? 0 : SZ_2M / 1024;
	locked = proc_self_status_kb("VmLck");
	vfio_map(fd, self->buf, TEST_IOVA, SZ_2M);
	EXPECT_EQ(locked + pinned_kb, proc_self_status_kb("VmLck"));
	vfio_unmap(fd, TEST_IOVA, SZ_2M, &unmapped);
	EXPECT_EQ(SZ_2M, unmapped);
	EXPECT_EQ(locked, proc_self_status_kb("VmLck"));
}

int main(int argc, char *argv[])
{
	device_name = vfio_selftests_get_device(&argc, argv);
	return test_harness_run(argc, argv);
}

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
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "vfio_util.h"

/* The stock type1 driver's ceiling: 2^31 pages of 4 KiB, 256 MiB of bitmap. */
#define TYPE1_MAX_DIRTY_BITMAP_SIZE	(256UL << 20)
/* Default of vfio_iommu_type1's dma_entry_limit module parameter. */
#define TYPE1_DMA_ENTRY_LIMIT		65535
/* An IOVA inside the 39-bit space of QEMU's intel-iommu and below its MSI hole. */
#define TEST_IOVA			SZ_1G

static const char *device_name;

FIXTURE(type1) {
	struct vfio_test_device dev;
	void *buf;
};

FIXTURE_VARIANT(type1) {
	enum vfio_test_backend backend;
};

FIXTURE_VARIANT_ADD(type1, stock) {
	.backend = VFIO_BACKEND_TYPE1,
};

FIXTURE_VARIANT_ADD(type1, vfio_dirty) {
	.backend = VFIO_BACKEND_VFIO_DIRTY,
};

FIXTURE_SETUP(type1)
{
	int ret;

	self->dev.container_fd = -1;
	self->dev.group_fd = -1;
	self->dev.device_fd = -1;
	self->buf = MAP_FAILED;
	if (!device_name)
		SKIP(return, "no device: " VFIO_SELFTESTS_HOWTO);

	ret = __vfio_test_device_open_on(&self->dev, device_name,
					 VFIO_TYPE1v2_IOMMU, variant->backend);
	if (ret == -ENOENT)
		SKIP(return, "%s is not loaded",
		     vfio_test_backend_module(variant->backend));
	ASSERT_EQ(0, ret) TH_LOG("opening %s on %s: %s", device_name,
				 vfio_test_backend_module(variant->backend),
				 strerror(-ret));

	self->buf = mmap(NULL, SZ_2M, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
	memset(self->buf, 0x5a, SZ_2M);
}

FIXTURE_TEARDOWN(type1)
{
	if (self->buf != MAP_FAILED)
		munmap(self->buf, SZ_2M);
	vfio_test_device_close(&self->dev);
}

TEST_F(type1, extensions)
{
	int fd = self->dev.container_fd;

	ASSERT_EQ(VFIO_API_VERSION, ioctl(fd, VFIO_GET_API_VERSION));
	ASSERT_EQ(1, ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU));
	ASSERT_EQ(1, ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU));
	ASSERT_EQ(1, ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_UNMAP_ALL));
	ASSERT_EQ(0, ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_SPAPR_TCE_IOMMU));
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
	ASSERT_TRUE(info->iova_pgsizes & SZ_4K);

	mig = (void *)vfio_iommu_info_cap(info, VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION);
	ASSERT_NE(NULL, mig);
	EXPECT_EQ(SZ_4K, mig->pgsize_bitmap);
	EXPECT_EQ(TYPE1_MAX_DIRTY_BITMAP_SIZE, mig->max_dirty_bitmap_size);

	avail = (void *)vfio_iommu_info_cap(info, VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL);
	ASSERT_NE(NULL, avail);
	EXPECT_EQ(TYPE1_DMA_ENTRY_LIMIT, avail->avail);

	ranges = (void *)vfio_iommu_info_cap(info, VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE);
	if (self->dev.is_mdev) {
		/* No IOMMU domain, so no IOVA list: type1 omits the capability. */
		EXPECT_EQ(NULL, ranges);
	} else {
		ASSERT_NE(NULL, ranges);
		for (i = 0; i < ranges->nr_iovas; i++)
			TH_LOG("iova range %u: [0x%llx, 0x%llx]", i,
			       (unsigned long long)ranges->iova_ranges[i].start,
			       (unsigned long long)ranges->iova_ranges[i].end);
		/* The x86 MSI window is reserved: it splits the space. */
		ASSERT_GE(ranges->nr_iovas, 2);
		EXPECT_EQ(0, ranges->iova_ranges[0].start);
		EXPECT_EQ(0xfedfffffULL, ranges->iova_ranges[0].end);
		EXPECT_EQ(0xfef00000ULL, ranges->iova_ranges[1].start);
	}
	free(info);
}

TEST_F(type1, map_unmap_accounting)
{
	int fd = self->dev.container_fd;
	long locked, pinned_kb;
	uint64_t unmapped;

	/* Only a device behind a real IOMMU makes type1 pin at map time. */
	pinned_kb = self->dev.is_mdev ? 0 : SZ_2M / 1024;
	locked = proc_self_status_kb("VmLck");
	ASSERT_GE(locked, 0);

	ASSERT_EQ(0, __vfio_map(fd, self->buf, TEST_IOVA, SZ_2M));
	EXPECT_EQ(locked + pinned_kb, proc_self_status_kb("VmLck"));

	ASSERT_EQ(0, __vfio_unmap(fd, TEST_IOVA, SZ_2M, &unmapped));
	EXPECT_EQ(SZ_2M, unmapped);
	EXPECT_EQ(locked, proc_self_status_kb("VmLck"));

	/* Unmapping nothing succeeds and reports nothing. */
	ASSERT_EQ(0, __vfio_unmap(fd, TEST_IOVA, SZ_2M, &unmapped));
	EXPECT_EQ(0, unmapped);
}

TEST_F(type1, map_errors)
{
	int fd = self->dev.container_fd;
	uint64_t unmapped;

	EXPECT_EQ(-EINVAL, __vfio_map(fd, self->buf, TEST_IOVA + 1, SZ_4K));
	EXPECT_EQ(-EINVAL, __vfio_map(fd, (char *)self->buf + 1, TEST_IOVA, SZ_4K));
	EXPECT_EQ(-EINVAL, __vfio_map(fd, self->buf, TEST_IOVA, 0));
	EXPECT_EQ(-EINVAL, __vfio_map(fd, self->buf, TEST_IOVA, SZ_4K + 1));
	EXPECT_EQ(-EINVAL, __vfio_map(fd, self->buf, UINT64_MAX & ~(SZ_4K - 1), SZ_2M));

	ASSERT_EQ(0, __vfio_map(fd, self->buf, TEST_IOVA, SZ_2M));
	EXPECT_EQ(-EEXIST, __vfio_map(fd, self->buf, TEST_IOVA + SZ_4K, SZ_4K));
	/* type1v2 never bisects a mapping. */
	EXPECT_EQ(-EINVAL, __vfio_unmap(fd, TEST_IOVA, SZ_4K, &unmapped));
	EXPECT_EQ(-EINVAL, __vfio_unmap(fd, TEST_IOVA + SZ_4K, SZ_2M, &unmapped));
	ASSERT_EQ(0, __vfio_unmap(fd, TEST_IOVA, SZ_2M, &unmapped));
	EXPECT_EQ(SZ_2M, unmapped);
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

	ASSERT_EQ(0, __vfio_map(fd, self->buf, TEST_IOVA, SZ_2M));
	ASSERT_EQ(0, __vfio_dirty(fd, VFIO_IOMMU_DIRTY_PAGES_FLAG_START));

	memset(bitmap, 0, sizeof(bitmap));
	ASSERT_EQ(0, __vfio_get_bitmap(fd, TEST_IOVA, SZ_2M, SZ_4K, bitmap,
				       sizeof(bitmap)));
	EXPECT_EQ(expected, bitmap_weight_bits(bitmap, npages));

	/* A page size the tracker does not use is refused. */
	EXPECT_EQ(-EINVAL, __vfio_get_bitmap(fd, TEST_IOVA, SZ_2M, SZ_2M,
					     bitmap, sizeof(bitmap)));
	/* So is a bitmap too small for the range. */
	EXPECT_EQ(-EINVAL, __vfio_get_bitmap(fd, TEST_IOVA, SZ_2M, SZ_4K,
					     bitmap, sizeof(bitmap) - 8));

	ASSERT_EQ(0, __vfio_dirty(fd, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP));
	/* With tracking stopped there is no bitmap to get. */
	EXPECT_EQ(-EINVAL, __vfio_get_bitmap(fd, TEST_IOVA, SZ_2M, SZ_4K,
					     bitmap, sizeof(bitmap)));
	ASSERT_EQ(0, __vfio_unmap(fd, TEST_IOVA, SZ_2M, NULL));
}

int main(int argc, char *argv[])
{
	device_name = vfio_selftests_get_device(&argc, argv);
	return test_harness_run(argc, argv);
}

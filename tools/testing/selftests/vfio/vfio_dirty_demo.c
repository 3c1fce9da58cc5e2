// SPDX-License-Identifier: GPL-2.0
/*
 * vfio_dirty_demo: dirty tracking at the 8 TiB boundary, as one table.
 *
 * Usage: vfio_dirty_demo DEVICE
 *
 * DEVICE is an mdev UUID (an emulated IOMMU: TiB-scale mappings cost
 * nothing until pinned) or a PCI BDF whose IOMMU can address 16 TiB.  Each
 * row is one uAPI call at or across 2^31 pages of 4 KiB, timed, with the
 * errno it returned.  Every mapping lies inside one MAP_NORESERVE region of
 * the process, so no memory is touched but the bitmaps.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>

#include "vfio_util.h"

#define BASE_IOVA	SZ_8T	/* above the low reserved windows */

static int container;
static void *vaddr;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static const char *errname(int ret)
{
	switch (ret) {
	case 0:
		return "ok";
	case -EINVAL:
		return "EINVAL";
	case -E2BIG:
		return "E2BIG";
	case -ENOMEM:
		return "ENOMEM";
	case -EFAULT:
		return "EFAULT";
	default:
		return strerror(-ret);
	}
}

static void row(const char *what, uint64_t bytes, int ret, double ms)
{
	printf("| %-44s | %14llu | %-7s | %9.1f |\n", what,
	       (unsigned long long)(bytes / SZ_4K), errname(ret), ms);
}

static void map(uint64_t offset, uint64_t size)
{
	int ret = __vfio_map(container, (char *)vaddr + offset,
			     BASE_IOVA + offset, size);

	if (ret) {
		fprintf(stderr, "MAP_DMA of %llu bytes: %s\n",
			(unsigned long long)size, strerror(-ret));
		exit(1);
	}
}

static void dirty(uint32_t flag)
{
	int ret = __vfio_dirty(container, flag);

	if (ret) {
		fprintf(stderr, "DIRTY_PAGES 0x%x: %s\n", flag, strerror(-ret));
		exit(1);
	}
}

/* GET_BITMAP (or UNMAP with bitmap) over [BASE_IOVA, BASE_IOVA + size). */
static void query(const char *what, uint64_t size, bool unmap)
{
	uint64_t bytes = (size / SZ_4K + 63) / 64 * 8;
	uint64_t *bitmap;
	double start;
	int ret;

	bitmap = calloc(1, bytes);
	if (!bitmap) {
		fprintf(stderr, "no memory for a %llu-byte bitmap\n",
			(unsigned long long)bytes);
		exit(1);
	}
	start = now_ms();
	if (unmap)
		ret = __vfio_unmap_bitmap(container, BASE_IOVA, size, SZ_4K,
					  bitmap, bytes, NULL);
	else
		ret = __vfio_get_bitmap(container, BASE_IOVA, size, SZ_4K,
					bitmap, bytes);
	row(what, size, ret, now_ms() - start);
	free(bitmap);
}

/* START over one mapping of @size bytes. */
static void start_one(const char *what, uint64_t size)
{
	double start;
	int ret;

	map(0, size);
	start = now_ms();
	ret = __vfio_dirty(container, VFIO_IOMMU_DIRTY_PAGES_FLAG_START);
	row(what, size, ret, now_ms() - start);
	if (!ret)
		query("  GET_BITMAP over it", size, false);
	if (!ret)
		dirty(VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP);
	__vfio_unmap(container, BASE_IOVA, size, NULL);
}

int main(int argc, char *argv[])
{
	struct vfio_iommu_type1_info_cap_migration *mig;
	struct vfio_iommu_type1_info *info;
	struct vfio_test_device dev;
	const char *name;
	int ret;

	name = vfio_selftests_get_device(&argc, argv);
	if (!name) {
		fprintf(stderr, "usage: %s DEVICE: " VFIO_SELFTESTS_HOWTO "\n", argv[0]);
		return 2;
	}
	ret = __vfio_test_device_open(&dev, name, VFIO_TYPE1v2_IOMMU);
	if (ret) {
		fprintf(stderr, "opening %s: %s\n", name, strerror(-ret));
		return 1;
	}
	container = dev.container_fd;

	info = vfio_iommu_info(container);
	mig = info ? (void *)vfio_iommu_info_cap(info,
			VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION) : NULL;
	if (!mig) {
		fprintf(stderr, "no migration capability\n");
		return 1;
	}
	printf("device %s (%s)\n", name, dev.is_mdev ? "mdev" : "pci");
	printf("migration capability: pgsize_bitmap 0x%llx,",
	       (unsigned long long)mig->pgsize_bitmap);
	printf(" max_dirty_bitmap_size %llu (%llu bits)\n\n",
	       (unsigned long long)mig->max_dirty_bitmap_size,
	       (unsigned long long)mig->max_dirty_bitmap_size * 8);
	free(info);

	vaddr = mmap(NULL, SZ_8T + SZ_4K, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vaddr == MAP_FAILED) {
		perror("mmap 8 TiB");
		return 1;
	}

	printf("| %-44s | %14s | %-7s | %9s |\n", "operation", "pages", "result", "ms");
	printf("|%.46s|%.16s|%.9s|%.11s|\n", "----------------------------------------------",
	       "----------------", "---------", "-----------");

	start_one("START, one mapping of 8 TiB - 4 KiB", SZ_8T - SZ_4K);
	start_one("START, one mapping of 8 TiB", SZ_8T);

	map(0, SZ_4T);
	map(SZ_4T, SZ_4T);
	map(SZ_8T, SZ_4K);
	dirty(VFIO_IOMMU_DIRTY_PAGES_FLAG_START);
	query("GET_BITMAP, 4T + 4T + 4K mapped, over 8 TiB", SZ_8T, false);
	query("GET_BITMAP over 8 TiB + 4 KiB", SZ_8T + SZ_4K, false);
	query("UNMAP with bitmap over 8 TiB + 4 KiB", SZ_8T + SZ_4K, true);
	query("UNMAP with bitmap over 8 TiB", SZ_8T, true);
	dirty(VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP);

	munmap(vaddr, SZ_8T + SZ_4K);
	vfio_test_device_close(&dev);
	return 0;
}

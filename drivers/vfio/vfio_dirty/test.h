/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vfio_dirty: the test hooks of test.c that the rest of the module calls:
 * fault points, error paths a test can break, and their stubs in a build
 * without CONFIG_VFIO_DIRTY_TEST.
 */
#ifndef __VFIO_DIRTY_TEST_H
#define __VFIO_DIRTY_TEST_H

#include <linux/errno.h>
#include <linux/types.h>

struct vfio_dirty_iommu;

/**
 * enum vfio_dirty_fault - the fault points: each call that can fail
 * @VFIO_DIRTY_FAULT_OPEN_ALLOC: the container, at open
 * @VFIO_DIRTY_FAULT_INFO_COPY_IN: GET_INFO's header from the user
 * @VFIO_DIRTY_FAULT_INFO_CAP_MIGRATION: its migration capability
 * @VFIO_DIRTY_FAULT_INFO_CAP_DMA_AVAIL: its DMA entries capability
 * @VFIO_DIRTY_FAULT_INFO_CAP_IOVA_RANGE: its IOVA ranges capability
 * @VFIO_DIRTY_FAULT_INFO_COPY_CAPS: its capabilities to the user
 * @VFIO_DIRTY_FAULT_INFO_COPY_OUT: its header to the user
 * @VFIO_DIRTY_FAULT_MAP_COPY_IN: MAP_DMA's argument from the user
 * @VFIO_DIRTY_FAULT_UNMAP_COPY_IN: UNMAP_DMA's argument from the user
 * @VFIO_DIRTY_FAULT_UNMAP_COPY_BITMAP: its struct vfio_bitmap likewise
 * @VFIO_DIRTY_FAULT_UNMAP_COPY_OUT: the size it unmaps (or invalidates)
 *	to the user
 * @VFIO_DIRTY_FAULT_DIRTY_COPY_IN: DIRTY_PAGES's argument from the user
 * @VFIO_DIRTY_FAULT_DIRTY_COPY_RANGE: GET_BITMAP's range likewise
 * @VFIO_DIRTY_FAULT_MAP_ALLOC: a mapping
 * @VFIO_DIRTY_FAULT_PIN_BATCH_ALLOC: the page of a pinning batch
 * @VFIO_DIRTY_FAULT_PIN_USER: pinning pages of a mapping's owner
 * @VFIO_DIRTY_FAULT_ACCOUNT: counting pages in the owner's locked_vm
 * @VFIO_DIRTY_FAULT_IOMMU_MAP: iommu_map() of a run of pinned pages
 * @VFIO_DIRTY_FAULT_IOMMU_MAP_COPY: iommu_map() of a run into a new
 *	domain, copied from another one
 * @VFIO_DIRTY_FAULT_OWNER_ACCOUNT: counting a mapping in its new owner's
 *	locked_vm (VFIO_UPDATE_VADDR)
 * @VFIO_DIRTY_FAULT_GROUP_ALLOC: a group's record
 * @VFIO_DIRTY_FAULT_DOMAIN_ALLOC: a domain's record
 * @VFIO_DIRTY_FAULT_IOMMU_DOMAIN_ALLOC: an IOMMU domain
 * @VFIO_DIRTY_FAULT_IOMMU_ATTACH: attaching a group to an IOMMU domain
 * @VFIO_DIRTY_FAULT_RESV_REGIONS: a group's reserved regions, at attach
 * @VFIO_DIRTY_FAULT_MSI_COOKIE: the software-managed MSI window's cookie
 * @VFIO_DIRTY_FAULT_IOVA_ALLOC: a usable IOVA range
 * @VFIO_DIRTY_FAULT_REFRESH_RESV_REGIONS: reserved regions, when the
 *	usable IOVA ranges are computed again after a group left
 * @VFIO_DIRTY_FAULT_PIN_ALLOC: an emulated device's pin record
 * @VFIO_DIRTY_FAULT_PIN_INSERT: storing it
 * @VFIO_DIRTY_FAULT_DMA_RW_COPY: dma_rw()'s copy
 * @VFIO_DIRTY_FAULT_BITS_STORE: storing an entry of dirty bits
 * @VFIO_DIRTY_FAULT_BITS_TABLE_ALLOC: a table of dirty bits
 * @VFIO_DIRTY_FAULT_BITS_BLOCK_ALLOC: a block of dirty bits
 * @VFIO_DIRTY_FAULT_REPORT_ALLOC: a report's state
 * @VFIO_DIRTY_FAULT_REPORT_COPY_OUT: a report's words to the user
 * @VFIO_DIRTY_FAULT_NR: how many there are
 *
 * A build with CONFIG_VFIO_DIRTY_TEST=y can make any of them fail (see
 * test.c): the call's error path then runs as on a real failure.
 */
enum vfio_dirty_fault {
	VFIO_DIRTY_FAULT_OPEN_ALLOC,
	VFIO_DIRTY_FAULT_INFO_COPY_IN,
	VFIO_DIRTY_FAULT_INFO_CAP_MIGRATION,
	VFIO_DIRTY_FAULT_INFO_CAP_DMA_AVAIL,
	VFIO_DIRTY_FAULT_INFO_CAP_IOVA_RANGE,
	VFIO_DIRTY_FAULT_INFO_COPY_CAPS,
	VFIO_DIRTY_FAULT_INFO_COPY_OUT,
	VFIO_DIRTY_FAULT_MAP_COPY_IN,
	VFIO_DIRTY_FAULT_UNMAP_COPY_IN,
	VFIO_DIRTY_FAULT_UNMAP_COPY_BITMAP,
	VFIO_DIRTY_FAULT_UNMAP_COPY_OUT,
	VFIO_DIRTY_FAULT_DIRTY_COPY_IN,
	VFIO_DIRTY_FAULT_DIRTY_COPY_RANGE,
	VFIO_DIRTY_FAULT_MAP_ALLOC,
	VFIO_DIRTY_FAULT_PIN_BATCH_ALLOC,
	VFIO_DIRTY_FAULT_PIN_USER,
	VFIO_DIRTY_FAULT_ACCOUNT,
	VFIO_DIRTY_FAULT_IOMMU_MAP,
	VFIO_DIRTY_FAULT_IOMMU_MAP_COPY,
	VFIO_DIRTY_FAULT_OWNER_ACCOUNT,
	VFIO_DIRTY_FAULT_GROUP_ALLOC,
	VFIO_DIRTY_FAULT_DOMAIN_ALLOC,
	VFIO_DIRTY_FAULT_IOMMU_DOMAIN_ALLOC,
	VFIO_DIRTY_FAULT_IOMMU_ATTACH,
	VFIO_DIRTY_FAULT_RESV_REGIONS,
	VFIO_DIRTY_FAULT_MSI_COOKIE,
	VFIO_DIRTY_FAULT_IOVA_ALLOC,
	VFIO_DIRTY_FAULT_REFRESH_RESV_REGIONS,
	VFIO_DIRTY_FAULT_PIN_ALLOC,
	VFIO_DIRTY_FAULT_PIN_INSERT,
	VFIO_DIRTY_FAULT_DMA_RW_COPY,
	VFIO_DIRTY_FAULT_BITS_STORE,
	VFIO_DIRTY_FAULT_BITS_TABLE_ALLOC,
	VFIO_DIRTY_FAULT_BITS_BLOCK_ALLOC,
	VFIO_DIRTY_FAULT_REPORT_ALLOC,
	VFIO_DIRTY_FAULT_REPORT_COPY_OUT,
	VFIO_DIRTY_FAULT_NR
};

/**
 * enum vfio_dirty_unwind - error paths a test can break, to show that the
 *	fault injection sweep notices
 * @VFIO_DIRTY_UNWIND_REPORT: a GET_BITMAP that failed clears the bits all
 *	the same (a lost dirty bit)
 * @VFIO_DIRTY_UNWIND_PIN_ACCOUNT: an emulated pin that failed after it was
 *	counted stays counted in locked_vm (a leak)
 */
enum vfio_dirty_unwind {
	VFIO_DIRTY_UNWIND_REPORT,
	VFIO_DIRTY_UNWIND_PIN_ACCOUNT,
};

/* test.c, in a build with CONFIG_VFIO_DIRTY_TEST=y only */
#ifdef CONFIG_VFIO_DIRTY_TEST
long vfio_dirty_test_ioctl(struct vfio_dirty_iommu *iommu, unsigned int cmd,
			   unsigned long arg);
bool vfio_dirty_should_fail(enum vfio_dirty_fault point);
bool vfio_dirty_unwind_broken(enum vfio_dirty_unwind path);
u64 vfio_dirty_test_unmapped(u64 unmapped);
bool vfio_dirty_should_drop(void);
/* spans.c, for test.c */
void vfio_dirty_storage_sizes(u32 *table, u32 *block);
#else
static inline long vfio_dirty_test_ioctl(struct vfio_dirty_iommu *iommu,
					 unsigned int cmd, unsigned long arg)
{
	return -ENOTTY;
}

static inline bool vfio_dirty_should_fail(enum vfio_dirty_fault point)
{
	return false;
}

static inline bool vfio_dirty_unwind_broken(enum vfio_dirty_unwind path)
{
	return false;
}

static inline u64 vfio_dirty_test_unmapped(u64 unmapped)
{
	return unmapped;
}

static inline bool vfio_dirty_should_drop(void)
{
	return false;
}
#endif

#endif /* __VFIO_DIRTY_TEST_H */

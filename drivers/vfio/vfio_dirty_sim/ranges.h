/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vfio_dirty_sim: the DMA logging range splitter.  See ranges.c for the
 * theory of operation.  Pure logic: this header and ranges.c build unchanged
 * in the kernel, in tools/testing/vfio_dirty and in the selftests.
 */
#ifndef __VFIO_DIRTY_SIM_RANGES_H
#define __VFIO_DIRTY_SIM_RANGES_H

#include <linux/types.h>

/**
 * struct vfio_dirty_range - an IOVA range
 * @start: first byte of the range
 * @last: last byte of the range, inclusive
 *
 * A range always holds at least one byte, and may end at U64_MAX.
 */
struct vfio_dirty_range {
	u64 start;
	u64 last;
};

/**
 * struct vfio_dirty_gap - scratch entry for vfio_dirty_ranges_fit()
 * @size: bytes between two neighbouring ranges
 * @index: the gap follows ranges[@index]
 *
 * The caller only allocates these; their contents are private to ranges.c.
 */
struct vfio_dirty_gap {
	u64 size;
	u32 index;
};

int vfio_dirty_range_init(struct vfio_dirty_range *range, u64 iova,
			  u64 length);
int vfio_dirty_ranges_validate(const struct vfio_dirty_range *ranges, u32 n,
			       u64 pgsize);
int vfio_dirty_ranges_fit(struct vfio_dirty_range *ranges, u32 *n, u32 k,
			  u64 max_span, struct vfio_dirty_gap *gaps, u64 *over);

#endif /* __VFIO_DIRTY_SIM_RANGES_H */

/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vfio_dirty: the DMA logging range splitter.  See ranges.c for the theory
 * of operation.  Pure logic: this header and ranges.c build unchanged in the
 * kernel and in tools/testing/vfio_dirty.
 */
#ifndef __VFIO_DIRTY_RANGES_H
#define __VFIO_DIRTY_RANGES_H

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

/**
 * struct vfio_dirty_chunk - one piece of a range, for dirty bitmap reports
 * @start: first byte of the chunk
 * @last: last byte of the chunk, inclusive
 * @bitmap_offset: byte offset of the chunk's first bit in the bitmap of the
 *	whole range; a multiple of 8
 * @bitmap_size: bytes of bitmap the chunk needs, in whole u64 words
 *
 * Set up by vfio_dirty_chunk_first(), advanced by vfio_dirty_chunk_next().
 */
struct vfio_dirty_chunk {
	u64 start;
	u64 last;
	u64 bitmap_offset;
	u64 bitmap_size;
	/* private: */
	u64 range_last;
	u64 max_pages;
	unsigned int pgshift;
};

int vfio_dirty_range_init(struct vfio_dirty_range *range, u64 iova,
			  u64 length);
int vfio_dirty_ranges_validate(const struct vfio_dirty_range *ranges, u32 n,
			       u64 pgsize);
int vfio_dirty_ranges_fit(struct vfio_dirty_range *ranges, u32 *n, u32 k,
			  u64 max_span, struct vfio_dirty_gap *gaps, u64 *over);
int vfio_dirty_chunk_first(struct vfio_dirty_chunk *chunk,
			   const struct vfio_dirty_range *range, u64 pgsize,
			   u64 ceiling);
bool vfio_dirty_chunk_next(struct vfio_dirty_chunk *chunk);

#endif /* __VFIO_DIRTY_RANGES_H */

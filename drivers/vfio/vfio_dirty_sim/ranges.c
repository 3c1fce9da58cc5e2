// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio_dirty_sim: the DMA logging range splitter.
 *
 * Theory of operation
 * ===================
 *
 * Dirty logging is asked for over a set of IOVA ranges, but a device can
 * track only a limited number of them and a limited total span.  This file
 * turns what was asked for into what a device accepts: it checks a set of
 * ranges and fits it into at most k ranges at the least cost.  It is pure
 * logic: no allocation, no locking, nothing but <linux/types.h>,
 * <linux/errno.h>, <linux/sort.h> and <linux/overflow.h>, so that
 * tools/testing/vfio_dirty and the selftests build this very file against
 * small shims.
 *
 * Terms.  A range is [start, last]: 'last' is inclusive, as in VFIO's
 * interval tree.  An exclusive 'end' is never used, because a range that
 * touches the top of the 64-bit space would need end = 2^64.  The uAPI
 * describes a range as (iova, length); vfio_dirty_range_init() converts.
 * 'pgsize' is the tracking granule: a power of two, at least
 * VFIO_DIRTY_PGSIZE_MIN.  A gap is the run of bytes between two neighbouring
 * ranges; adjacent ranges have a gap of size zero.
 *
 * Overflow hazards, and how each is avoided:
 *
 *  - iova + length wraps when the range runs past U64_MAX.  The last byte is
 *    computed as iova + (length - 1) with check_add_overflow(), so a range
 *    whose last byte is U64_MAX is valid.  The core's DMA logging START
 *    computes iova + length, so it refuses that one range with -EOVERFLOW;
 *    this file accepts it, and refuses only ranges that really wrap.
 *  - last - start + 1, a range's length, wraps to 0 for [0, U64_MAX].  Spans
 *    are summed with check_add_overflow(), and a sum that wraps exceeds any
 *    limit.
 *  - A gap, next.start - prev.last - 1, cannot wrap because the ranges are
 *    sorted and disjoint (prev.last < next.start).  Gaps are disjoint pieces
 *    of the 64-bit space, so any sum of them fits in a u64.
 *
 * Invariants of a valid set (vfio_dirty_ranges_validate()): at least one
 * range; each range starts on a pgsize boundary and ends one byte before
 * one; ranges are sorted by start and share no byte (prev.last < next.start).
 * Adjacent ranges are allowed, as in the core.  A caller whose ranges come
 * in any order sorts them first.  vfio_dirty_ranges_fit() trusts that its
 * input has these properties and keeps them.
 *
 * Fitting
 * -------
 *
 * Given n valid ranges and a limit k, vfio_dirty_ranges_fit() rewrites them
 * as min(n, k) ranges that cover every input byte and add the least number
 * of bytes.  Merging across the n - k smallest gaps is optimal: a layout of
 * at most k intervals covering the input leaves at most k - 1 gaps not
 * wholly covered, so it covers at least n - k whole gaps, and at least as
 * many bytes as the n - k smallest ones.  The fitted layout reaches that
 * bound, so its total span (input bytes plus merged gaps) is also the least
 * of any layout of k ranges: when it exceeds a device's span limit, no
 * layout fits, and -E2BIG is the right answer.
 *
 * Gaps are ordered by size, then by position, so that ties go to the lower
 * address.  That order is total, hence the result does not depend on the
 * sort algorithm.  The cost is one sort of n - 1 gaps and two linear passes,
 * O(n log n), with caller-provided scratch.  Repeatedly rescanning for the
 * smallest gap and merging it costs O(n (n - k)) instead.
 *
 * Example, 4K pages, k = 2, ranges [0x0000, 0x0fff] [0x2000, 0x2fff]
 * [0x3000, 0x3fff] [0x9000, 0x9fff]: the gaps are 0x1000, 0 and 0x5000, the
 * two smallest are merged, giving [0x0000, 0x3fff] [0x9000, 0x9fff] with
 * 0x1000 bytes over-tracked.
 */
#include <linux/errno.h>
#include <linux/overflow.h>
#include <linux/sort.h>
#include <linux/types.h>

#include "ranges.h"

/*
 * The smallest tracking granule: the smallest IOMMU page VFIO works with.
 */
#define VFIO_DIRTY_PGSIZE_MIN	4096

static bool vfio_dirty_pgsize_valid(u64 pgsize)
{
	return pgsize >= VFIO_DIRTY_PGSIZE_MIN && !(pgsize & (pgsize - 1));
}

/* Non-empty, starting and ending on @pgsize boundaries. */
static bool vfio_dirty_range_valid(const struct vfio_dirty_range *range,
				   u64 pgsize)
{
	return range->start <= range->last &&
	       !(range->start & (pgsize - 1)) &&
	       (range->last & (pgsize - 1)) == pgsize - 1;
}

/**
 * vfio_dirty_range_init() - make a range from an IOVA and a length
 * @range: the range to fill in
 * @iova: first byte
 * @length: number of bytes
 *
 * @range is left untouched on error.
 *
 * Return: 0 on success, -EINVAL if @length is zero, -EOVERFLOW if the range
 * runs past U64_MAX.  A range whose last byte is U64_MAX is valid.
 */
int vfio_dirty_range_init(struct vfio_dirty_range *range, u64 iova,
			  u64 length)
{
	u64 last;

	if (!length)
		return -EINVAL;
	if (check_add_overflow(iova, length - 1, &last))
		return -EOVERFLOW;
	range->start = iova;
	range->last = last;
	return 0;
}

/**
 * vfio_dirty_ranges_validate() - check a set of ranges before fitting it
 * @ranges: the ranges
 * @n: number of ranges
 * @pgsize: tracking granule
 *
 * Checks the invariants listed at the top of this file.
 *
 * Return: 0 if they hold, -EINVAL if @n is zero, @pgsize is not a power of
 * two of at least 4096, or a range ends before it starts, is not aligned to
 * @pgsize, or does not start after the one before it ends (out of order or
 * overlapping).
 */
int vfio_dirty_ranges_validate(const struct vfio_dirty_range *ranges, u32 n,
			       u64 pgsize)
{
	u32 i;

	if (!n || !vfio_dirty_pgsize_valid(pgsize))
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (!vfio_dirty_range_valid(&ranges[i], pgsize))
			return -EINVAL;
		if (i && ranges[i - 1].last >= ranges[i].start)
			return -EINVAL;
	}
	return 0;
}

/* Total order on gaps: smaller first, then lower address first. */
static int vfio_dirty_gap_cmp(const void *a, const void *b)
{
	const struct vfio_dirty_gap *ga = a;
	const struct vfio_dirty_gap *gb = b;

	if (ga->size != gb->size)
		return ga->size < gb->size ? -1 : 1;
	if (ga->index != gb->index)
		return ga->index < gb->index ? -1 : 1;
	return 0;
}

/* Whether the gap after ranges[@index] sorts no later than @pivot. */
static bool vfio_dirty_gap_merged(u64 size, u32 index,
				  const struct vfio_dirty_gap *pivot)
{
	return size < pivot->size ||
	       (size == pivot->size && index <= pivot->index);
}

/* Whether the @n ranges plus @over bytes of gaps span more than @max_span. */
static bool vfio_dirty_span_exceeds(const struct vfio_dirty_range *ranges,
				    u32 n, u64 over, u64 max_span)
{
	u64 span = over;
	u32 i;

	if (!max_span)
		return false;
	for (i = 0; i < n; i++) {
		/* The length of [0, U64_MAX] wraps: add it in two steps. */
		if (check_add_overflow(span, ranges[i].last - ranges[i].start,
				       &span) ||
		    check_add_overflow(span, (u64)1, &span))
			return true;
	}
	return span > max_span;
}

/**
 * vfio_dirty_ranges_fit() - merge ranges into at most k at the least cost
 * @ranges: valid ranges (see vfio_dirty_ranges_validate()), rewritten in place
 * @n: in: number of @ranges; out: number of fitted ranges, min(@n, @k)
 * @k: the most ranges the device tracks
 * @max_span: the most bytes the fitted ranges may span in total, 0 for no
 *	limit
 * @gaps: scratch for @n - 1 entries, not used when @n <= @k
 * @over: out: bytes covered by the fitted ranges that no input range covers
 *
 * Merges across the @n - @k smallest gaps, ties going to the lower address,
 * which covers the fewest bytes any layout of @k ranges can; see the top of
 * this file.  Runs in O(@n log @n) time.  @ranges, @n and @over are left
 * untouched on error.
 *
 * Return: 0 on success, -EINVAL if @n or @k is zero, -E2BIG if the fitted
 * ranges span more than @max_span, in which case no layout of @k ranges
 * fits.
 */
int vfio_dirty_ranges_fit(struct vfio_dirty_range *ranges, u32 *n, u32 k,
			  u64 max_span, struct vfio_dirty_gap *gaps, u64 *over)
{
	const struct vfio_dirty_gap *pivot;
	u64 merged = 0;
	u32 i, out;

	if (!*n || !k)
		return -EINVAL;

	if (*n <= k) {
		if (vfio_dirty_span_exceeds(ranges, *n, 0, max_span))
			return -E2BIG;
		*over = 0;
		return 0;
	}

	for (i = 0; i < *n - 1; i++) {
		gaps[i].size = ranges[i + 1].start - ranges[i].last - 1;
		gaps[i].index = i;
	}
	sort(gaps, *n - 1, sizeof(*gaps), vfio_dirty_gap_cmp, NULL);
	for (i = 0; i < *n - k; i++)
		merged += gaps[i].size;
	if (vfio_dirty_span_exceeds(ranges, *n, merged, max_span))
		return -E2BIG;

	/*
	 * The last gap to merge.  Merging one gap leaves the others as they
	 * are, so a gap is merged if and only if it sorts no later than this.
	 * ranges[out].last is always the last byte of ranges[i - 1] as it was
	 * on entry, so each gap is measured as it was when sorted.
	 */
	pivot = &gaps[*n - k - 1];
	out = 0;
	for (i = 1; i < *n; i++) {
		u64 size = ranges[i].start - ranges[out].last - 1;

		if (vfio_dirty_gap_merged(size, i - 1, pivot))
			ranges[out].last = ranges[i].last;
		else
			ranges[++out] = ranges[i];
	}
	*n = out + 1;
	*over = merged;
	return 0;
}


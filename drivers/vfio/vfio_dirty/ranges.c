// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio_dirty: the DMA logging range splitter.
 *
 * Theory of operation
 * ===================
 *
 * Dirty logging is asked for over a set of IOVA ranges, but a device can
 * track only a limited number of them, a limited total span, and can report
 * only so much bitmap at a time.  This file turns what was asked for into
 * what a device accepts: it checks a set of ranges, fits it into at most k
 * ranges at the least cost, and cuts a range into report chunks.  It is pure
 * logic: no allocation, no locking, nothing but <linux/types.h>,
 * <linux/errno.h>, <linux/sort.h> and <linux/overflow.h>, so that
 * tools/testing/vfio_dirty builds this very file against small shims.
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
 *  - A report chunk's last byte is found from page counts, never as
 *    start + length, so the chunk that ends at U64_MAX is computed exactly.
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
 *
 * Report chunking
 * ---------------
 *
 * A report for [start, last] is a bitmap whose bit i stands for the page at
 * start + i * pgsize, stored as u64 words as all VFIO dirty bitmaps are.
 * When the bitmap a device or a bounce buffer takes at once is limited to
 * 'ceiling' bytes, the range is reported in chunks.  Every chunk but the
 * last holds floor(ceiling / 8) * 64 pages; the last holds the rest.  Chunk
 * boundaries are thus multiples of 64 pages from the start of the range, so
 * each chunk's first bit is bit 0 of a u64 word of the whole bitmap: a
 * chunk's bits are produced at bit 0 of a buffer and copied to the user
 * bitmap at bitmap_offset without shifting, with whole-word stores, and two
 * chunks never share a word, so no word needs a read-modify-write.
 *
 * Usage::
 *
 *	struct vfio_dirty_chunk chunk;
 *	int ret;
 *
 *	ret = vfio_dirty_chunk_first(&chunk, &range, pgsize, ceiling);
 *	if (ret)
 *		return ret;
 *	do {
 *		report chunk.start..chunk.last into chunk.bitmap_size bytes,
 *		copy them to the user bitmap at chunk.bitmap_offset
 *	} while (vfio_dirty_chunk_next(&chunk));
 */
#include <linux/errno.h>
#include <linux/overflow.h>
#include <linux/sort.h>
#include <linux/types.h>

#include "ranges.h"

/*
 * The smallest tracking granule: the smallest IOMMU page VFIO works with.
 * It also bounds a range to 2^52 pages, so that page counts, bit numbers and
 * bitmap byte offsets stay far from wrapping.
 */
#define VFIO_DIRTY_PGSIZE_MIN	4096

/* VFIO dirty bitmaps are arrays of u64: bits per word. */
#define VFIO_DIRTY_WORD_BITS	64

static bool vfio_dirty_pgsize_valid(u64 pgsize)
{
	return pgsize >= VFIO_DIRTY_PGSIZE_MIN && !(pgsize & (pgsize - 1));
}

static unsigned int vfio_dirty_pgshift(u64 pgsize)
{
	unsigned int shift = 0;

	while (pgsize > 1) {
		pgsize >>= 1;
		shift++;
	}
	return shift;
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

/* Make @start the first byte of the current chunk. */
static void vfio_dirty_chunk_set(struct vfio_dirty_chunk *chunk, u64 start)
{
	/* Pages of the range after the one at @start. */
	u64 rest = (chunk->range_last - start) >> chunk->pgshift;
	u64 pages;

	chunk->start = start;
	if (rest < chunk->max_pages) {
		chunk->last = chunk->range_last;
		pages = rest + 1;
	} else {
		/* max_pages <= rest: no wrap, and last < range_last. */
		chunk->last = start + (chunk->max_pages << chunk->pgshift) - 1;
		pages = chunk->max_pages;
	}
	chunk->bitmap_size = (pages + VFIO_DIRTY_WORD_BITS - 1) /
			     VFIO_DIRTY_WORD_BITS * sizeof(u64);
}

/**
 * vfio_dirty_chunk_first() - start cutting a range into report chunks
 * @chunk: the iterator, set to the first chunk
 * @range: the range to report, aligned to @pgsize
 * @pgsize: tracking granule, one bitmap bit per @pgsize bytes
 * @ceiling: the most bytes of bitmap one chunk may take, at least 8
 *
 * Chunks start at multiples of 64 pages from @range->start, so that each
 * chunk's bits begin on a u64 word of the range's bitmap; see the top of
 * this file.  Each chunk's bitmap takes at most @ceiling bytes.
 *
 * Return: 0 on success, -EINVAL if @pgsize is not a power of two of at
 * least 4096, @range ends before it starts or is not aligned to @pgsize, or
 * @ceiling is less than 8.
 */
int vfio_dirty_chunk_first(struct vfio_dirty_chunk *chunk,
			   const struct vfio_dirty_range *range, u64 pgsize,
			   u64 ceiling)
{
	u64 words, whole;

	if (!vfio_dirty_pgsize_valid(pgsize) ||
	    !vfio_dirty_range_valid(range, pgsize) || ceiling < sizeof(u64))
		return -EINVAL;

	chunk->pgshift = vfio_dirty_pgshift(pgsize);
	chunk->range_last = range->last;
	chunk->bitmap_offset = 0;

	/*
	 * A chunk takes at most @ceiling bytes of bitmap, but never more words
	 * than the whole range needs: that keeps words * 64 from wrapping.
	 */
	words = ceiling / sizeof(u64);
	whole = ((range->last - range->start) >> chunk->pgshift) /
		VFIO_DIRTY_WORD_BITS + 1;
	if (words > whole)
		words = whole;
	chunk->max_pages = words * VFIO_DIRTY_WORD_BITS;

	vfio_dirty_chunk_set(chunk, range->start);
	return 0;
}

/**
 * vfio_dirty_chunk_next() - move to the next report chunk
 * @chunk: the iterator, set up by vfio_dirty_chunk_first()
 *
 * Every chunk but the last holds a multiple of 64 pages, so its bitmap has
 * no padding and the next chunk's bits follow it directly.
 *
 * Return: true if @chunk now describes the next chunk, false if the chunk
 * it described was the last one; @chunk is then left as it was.
 */
bool vfio_dirty_chunk_next(struct vfio_dirty_chunk *chunk)
{
	if (chunk->last == chunk->range_last)
		return false;
	chunk->bitmap_offset += chunk->bitmap_size;
	vfio_dirty_chunk_set(chunk, chunk->last + 1);
	return true;
}

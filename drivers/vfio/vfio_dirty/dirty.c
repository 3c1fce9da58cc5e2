// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio_dirty: dirty page tracking.
 *
 * Theory of operation
 *
 * Bits.  While tracking, each mapping records the pages that may have been
 * written since they were last reported: one bit per page of the
 * container's page size, bit 0 for the mapping's first page.  A mapping may
 * hold 2^31 pages or more, so bit numbers are u64, and the bitmap helpers,
 * which count in int, only ever see one chunk.
 *
 * Chunks.  The bits are stored in chunks of CHUNK_BITS bits (one page of
 * bitmap: 32768 bits, 128 MiB of IOVA with 4 KiB pages), in the mapping's
 * @dirty xarray, indexed by bit / CHUNK_BITS.  A chunk is allocated when one
 * of its bits is first set and freed when the mapping is reported, unless
 * it holds the bit of a pinned page, so the memory follows what is dirtied
 * rather than what is mapped.
 *
 * What is dirty.  A page is reported dirty when its bit is set, and every
 * page is, with no storage at all, while the container has an IOMMU-backed
 * group that never pinned (@unscoped_groups), or once after the last such
 * group left (@all_dirty): such a device may have written anywhere.  Bits
 * are set by dma_rw() writes and by emulated devices' pins.  A pinned page
 * may be written at any time, so it stays dirty while it is pinned: tracking
 * starts with the pinned pages' bits set (the only memory START allocates),
 * a report sets them again after clearing, and an unpin leaves the bit for
 * the next report.  So while tracking, a pinned page's chunk always exists.
 *
 * Reports.  GET_BITMAP, and UNMAP_DMA with GET_DIRTY_BITMAP, lay the bits
 * out from the request's IOVA on, so a mapping's bits may start at any bit
 * of the user's bitmap, and two mappings may share a word.  The uAPI has the
 * user zero the bitmap, so a report writes only the words that have a bit
 * set, and never reads the bitmap.  It gathers the bits in a window of
 * REPORT_WORDS words of kernel memory; the window only moves forward, which
 * is enough because mappings are reported in IOVA order and each mapping's
 * chunks in order.  At the end of each mapping the words it touched are
 * written out (a word it shares with the next mapping is written again,
 * with more bits, by the next), and only then are its bits cleared: a
 * mapping's bits are cleared only once the user has them.
 */
#include <linux/bitmap.h>
#include <linux/gfp.h>
#include <linux/log2.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "private.h"

/* Bits per chunk of a mapping's dirty bits: one page of bitmap. */
#define CHUNK_BITS	(PAGE_SIZE * BITS_PER_BYTE)
/* Words of user bitmap a report gathers before writing them: one page. */
#define REPORT_WORDS	(PAGE_SIZE / sizeof(unsigned long))
#define REPORT_BITS	(REPORT_WORDS * BITS_PER_LONG)

/**
 * struct vfio_dirty_report - a report in progress
 * @iommu: the container, locked for the whole report
 * @bitmap: the user's bitmap
 * @iova: the IOVA of its bit 0
 * @first: the index in @bitmap of the word @words[0] stands for
 * @lo: first word of @words touched since they were last written out
 * @hi: one past the last such word; @lo >= @hi when none
 * @words: the window, REPORT_WORDS words
 */
struct vfio_dirty_report {
	struct vfio_dirty_iommu *iommu;
	u64 __user *bitmap;
	dma_addr_t iova;
	u64 first;
	unsigned long lo;
	unsigned long hi;
	unsigned long *words;
};

/* Set bits [@bit, @last] of @dma, allocating chunks as needed. */
static int set_bits(struct vfio_dirty_dma *dma, u64 bit, u64 last)
{
	unsigned long *chunk;
	u64 n;
	int ret;

	while (bit <= last) {
		chunk = xa_load(&dma->dirty, bit / CHUNK_BITS);
		if (!chunk) {
			chunk = (unsigned long *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
			if (!chunk)
				return -ENOMEM;
			ret = xa_err(xa_store(&dma->dirty, bit / CHUNK_BITS, chunk,
					      GFP_KERNEL_ACCOUNT));
			if (ret) {
				free_page((unsigned long)chunk);
				return ret;
			}
		}
		n = min(last - bit + 1, CHUNK_BITS - bit % CHUNK_BITS);
		bitmap_set(chunk, bit % CHUNK_BITS, n);
		bit += n;
	}
	return 0;
}

/* The bit of the page at index @index (in PAGE_SIZE pages) of a mapping. */
static u64 page_bit(struct vfio_dirty_iommu *iommu, unsigned long index)
{
	return index >> (vfio_dirty_pgshift(iommu) - PAGE_SHIFT);
}

/**
 * vfio_dirty_track_start() - VFIO_IOMMU_DIRTY_PAGES_FLAG_START
 * @iommu: the container
 *
 * Return: 0, or -ENOMEM with tracking not started.
 */
int vfio_dirty_track_start(struct vfio_dirty_iommu *iommu)
{
	struct vfio_dirty_pin *pin;
	struct rb_node *node;
	unsigned long index;
	int ret = 0;

	mutex_lock(&iommu->lock);
	if (iommu->tracking)
		goto out_unlock;
	for (node = rb_first(&iommu->dmas); node; node = rb_next(node)) {
		struct vfio_dirty_dma *dma = rb_entry(node, struct vfio_dirty_dma,
						      node);

		xa_for_each(&dma->pins, index, pin) {
			ret = set_bits(dma, page_bit(iommu, index),
				       page_bit(iommu, index));
			if (ret)
				goto err_clear;
		}
	}
	iommu->tracking = true;
	goto out_unlock;

err_clear:
	for (node = rb_first(&iommu->dmas); node; node = rb_next(node))
		vfio_dirty_dma_clear(rb_entry(node, struct vfio_dirty_dma, node));
out_unlock:
	mutex_unlock(&iommu->lock);
	return ret;
}

/**
 * vfio_dirty_track_stop() - VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP
 * @iommu: the container
 *
 * Forgets every dirty bit.
 */
void vfio_dirty_track_stop(struct vfio_dirty_iommu *iommu)
{
	struct rb_node *node;

	mutex_lock(&iommu->lock);
	iommu->tracking = false;
	for (node = rb_first(&iommu->dmas); node; node = rb_next(node))
		vfio_dirty_dma_clear(rb_entry(node, struct vfio_dirty_dma, node));
	mutex_unlock(&iommu->lock);
}

/**
 * vfio_dirty_mark() - record that bytes of a mapping may have been written
 * @iommu: the container, locked
 * @dma: the mapping
 * @offset: first byte, from the mapping's start
 * @len: bytes, at least one, within the mapping
 *
 * Return: 0, or -ENOMEM with some of the bytes maybe recorded.
 */
int vfio_dirty_mark(struct vfio_dirty_iommu *iommu, struct vfio_dirty_dma *dma,
		    u64 offset, u64 len)
{
	unsigned int pgshift = vfio_dirty_pgshift(iommu);

	lockdep_assert_held(&iommu->lock);
	if (!iommu->tracking)
		return 0;
	return set_bits(dma, offset >> pgshift, (offset + len - 1) >> pgshift);
}

/**
 * vfio_dirty_mark_all() - report every mapped page dirty once more
 * @iommu: the container, locked, whose last group without a dirty scope
 *	just left: what its device wrote since the last report is unknown
 */
void vfio_dirty_mark_all(struct vfio_dirty_iommu *iommu)
{
	struct rb_node *node;

	lockdep_assert_held(&iommu->lock);
	if (!iommu->tracking)
		return;
	for (node = rb_first(&iommu->dmas); node; node = rb_next(node))
		rb_entry(node, struct vfio_dirty_dma, node)->all_dirty = true;
}

/**
 * vfio_dirty_dma_clear() - forget a mapping's dirty bits
 * @dma: the mapping, whose container is locked or gone
 */
void vfio_dirty_dma_clear(struct vfio_dirty_dma *dma)
{
	unsigned long index;
	void *chunk;

	xa_for_each(&dma->dirty, index, chunk)
		free_page((unsigned long)chunk);
	xa_destroy(&dma->dirty);
	dma->all_dirty = false;
}

/* Write out the words of the window touched since the last time. */
static int report_flush(struct vfio_dirty_report *r)
{
	unsigned long i = r->lo, j;

	while (i < r->hi) {
		if (!r->words[i]) {
			i++;
			continue;
		}
		for (j = i + 1; j < r->hi && r->words[j]; j++)
			;
		if (copy_to_user(r->bitmap + r->first + i, &r->words[i],
				 (j - i) * sizeof(u64)))
			return -EFAULT;
		i = j;
	}
	r->lo = REPORT_WORDS;
	r->hi = 0;
	return 0;
}

/* Set @n bits from bit @bit of the user's bitmap; never below the window. */
static int report_set(struct vfio_dirty_report *r, u64 bit, u64 n)
{
	unsigned long off, count;
	u64 word;
	int ret;

	while (n) {
		word = bit / BITS_PER_LONG;
		if (WARN_ON(word < r->first))
			return -EINVAL;
		if (word >= r->first + REPORT_WORDS) {
			ret = report_flush(r);
			if (ret)
				return ret;
			memset(r->words, 0, REPORT_WORDS * sizeof(*r->words));
			r->first = word;
			cond_resched();
		}
		off = bit - r->first * BITS_PER_LONG;
		count = min_t(u64, n, REPORT_BITS - off);
		bitmap_set(r->words, off, count);
		r->lo = min(r->lo, off / BITS_PER_LONG);
		r->hi = max(r->hi, (off + count - 1) / BITS_PER_LONG + 1);
		bit += count;
		n -= count;
	}
	return 0;
}

/* Report the bits of @dma, whose bit 0 is bit @base of the user's bitmap. */
static int report_chunks(struct vfio_dirty_report *r, struct vfio_dirty_dma *dma,
			 u64 base)
{
	unsigned long index, b, e;
	unsigned long *chunk;
	int ret;

	xa_for_each(&dma->dirty, index, chunk) {
		for (b = find_first_bit(chunk, CHUNK_BITS); b < CHUNK_BITS;
		     b = find_next_bit(chunk, CHUNK_BITS, e)) {
			e = find_next_zero_bit(chunk, CHUNK_BITS, b + 1);
			ret = report_set(r, base + (u64)index * CHUNK_BITS + b,
					 e - b);
			if (ret)
				return ret;
		}
	}
	return 0;
}

/*
 * Clear the bits of @dma but those of its pinned pages, and free the chunks
 * left empty.
 */
static void reset_chunks(struct vfio_dirty_iommu *iommu,
			 struct vfio_dirty_dma *dma)
{
	unsigned int pshift = vfio_dirty_pgshift(iommu) - PAGE_SHIFT;
	unsigned long index, first, pindex;
	struct vfio_dirty_pin *pin;
	unsigned long *chunk;

	xa_for_each(&dma->dirty, index, chunk) {
		bitmap_zero(chunk, CHUNK_BITS);
		first = (index * CHUNK_BITS) << pshift;
		xa_for_each_range(&dma->pins, pindex, pin, first,
				  first + (CHUNK_BITS << pshift) - 1)
			__set_bit(page_bit(iommu, pindex) % CHUNK_BITS, chunk);
		if (bitmap_empty(chunk, CHUNK_BITS)) {
			xa_erase(&dma->dirty, index);
			free_page((unsigned long)chunk);
		}
	}
	dma->all_dirty = false;
}

/**
 * vfio_dirty_report_begin() - start a report into a user's bitmap
 * @iommu: the container, locked until vfio_dirty_report_end()
 * @iova: the IOVA of the bitmap's bit 0
 * @bitmap: the user's bitmap, zeroed, big enough for what is reported
 *
 * Return: the report, or ERR_PTR(-ENOMEM).
 */
struct vfio_dirty_report *vfio_dirty_report_begin(struct vfio_dirty_iommu *iommu,
						  dma_addr_t iova,
						  u64 __user *bitmap)
{
	struct vfio_dirty_report *r;

	lockdep_assert_held(&iommu->lock);
	r = kzalloc(sizeof(*r), GFP_KERNEL);
	if (!r)
		return ERR_PTR(-ENOMEM);
	r->words = (unsigned long *)get_zeroed_page(GFP_KERNEL);
	if (!r->words) {
		kfree(r);
		return ERR_PTR(-ENOMEM);
	}
	r->iommu = iommu;
	r->bitmap = bitmap;
	r->iova = iova;
	r->lo = REPORT_WORDS;
	return r;
}

/**
 * vfio_dirty_report_dma() - report a mapping's dirty pages and clear them
 * @report: the report; @dma lies at or above the report's IOVA, and above
 *	every mapping reported before
 * @dma: the mapping
 *
 * Return: 0 with the pages in the user's bitmap and cleared (but the pinned
 * ones), or an errno (-EFAULT: the bitmap could not be written) with them
 * kept.
 */
int vfio_dirty_report_dma(struct vfio_dirty_report *report,
			  struct vfio_dirty_dma *dma)
{
	struct vfio_dirty_iommu *iommu = report->iommu;
	unsigned int pgshift = vfio_dirty_pgshift(iommu);
	u64 base = (dma->iova - report->iova) >> pgshift;
	int ret;

	lockdep_assert_held(&iommu->lock);
	if (dma->all_dirty || iommu->unscoped_groups)
		ret = report_set(report, base, dma->size >> pgshift);
	else
		ret = report_chunks(report, dma, base);
	if (!ret)
		ret = report_flush(report);
	if (!ret)
		reset_chunks(iommu, dma);
	return ret;
}

/**
 * vfio_dirty_report_end() - free a report
 * @report: from vfio_dirty_report_begin()
 */
void vfio_dirty_report_end(struct vfio_dirty_report *report)
{
	free_page((unsigned long)report->words);
	kfree(report);
}

/**
 * vfio_dirty_get_bitmap() - VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP
 * @iommu: the container
 * @iova: first byte
 * @size: bytes; [@iova, @iova + @size) does not wrap
 * @pgsize: the bitmap's page size
 * @bitmap: the user's bitmap, zeroed, checked by vfio_dirty_check_bitmap()
 *
 * The range must cover whole mappings.
 *
 * Return: 0; -EINVAL when not tracking, for a page size other than the
 * container's, a range not aligned to it or straddling a mapping; -EFAULT
 * if the bitmap cannot be written; -ENOMEM.
 */
int vfio_dirty_get_bitmap(struct vfio_dirty_iommu *iommu, dma_addr_t iova,
			  u64 size, u64 pgsize, u64 __user *bitmap)
{
	dma_addr_t last = iova + (size - 1);
	struct vfio_dirty_report *report;
	struct vfio_dirty_dma *dma, *next;
	int ret = 0;

	mutex_lock(&iommu->lock);
	if (!iommu->tracking || pgsize != 1ULL << vfio_dirty_pgshift(iommu) ||
	    (iova | size) & (pgsize - 1)) {
		ret = -EINVAL;
		goto out_unlock;
	}
	dma = vfio_dirty_dma_first(iommu, iova, iova);
	if (dma && dma->iova != iova) {
		ret = -EINVAL;
		goto out_unlock;
	}
	dma = vfio_dirty_dma_first(iommu, last, last);
	if (dma && dma->iova + (dma->size - 1) != last) {
		ret = -EINVAL;
		goto out_unlock;
	}

	report = vfio_dirty_report_begin(iommu, iova, bitmap);
	if (IS_ERR(report)) {
		ret = PTR_ERR(report);
		goto out_unlock;
	}
	for (dma = vfio_dirty_dma_first(iommu, iova, last);
	     dma && dma->iova <= last; dma = next) {
		ret = vfio_dirty_report_dma(report, dma);
		if (ret)
			break;
		next = rb_entry_safe(rb_next(&dma->node), struct vfio_dirty_dma,
				     node);
	}
	vfio_dirty_report_end(report);
out_unlock:
	mutex_unlock(&iommu->lock);
	return ret;
}

/**
 * vfio_dirty_check_bitmap() - check a user's bitmap against the range it is for
 * @size: bytes of IOVA
 * @pgsize: the bitmap's page size
 * @bitmap_size: the bitmap's bytes
 *
 * Return: 0, or -EINVAL if @pgsize is not a power of two, the range holds no
 * page, the bitmap is too small for it or past VFIO_DIRTY_BITMAP_MAX_BYTES.
 */
int vfio_dirty_check_bitmap(u64 size, u64 pgsize, u64 bitmap_size)
{
	u64 npages;

	if (!is_power_of_2(pgsize))
		return -EINVAL;
	npages = size >> __ffs64(pgsize);
	if (!npages || !bitmap_size ||
	    bitmap_size > VFIO_DIRTY_BITMAP_MAX_BYTES ||
	    bitmap_size < DIV_ROUND_UP(npages, 64) * sizeof(u64))
		return -EINVAL;
	return 0;
}

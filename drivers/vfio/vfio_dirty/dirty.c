// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio_dirty: dirty page tracking.
 *
 * Theory of operation
 *
 * The bits themselves, and their generations, are kept by spans.c; this
 * file starts and stops tracking, turns pages into bits, and reports them.
 *
 * What is dirty.  A page is reported dirty when its bit is set, and every
 * page is, with no storage at all, while the container has an IOMMU-backed
 * group that never pinned (@unscoped_groups), or once after the last such
 * group left (@all_dirty): such a device may have written anywhere.  A
 * mapping is also reported whole once when memory for one of its bits
 * could not be had: a device's write is never refused for that, and
 * reporting more than was written loses nothing.  Bits
 * are set by dma_rw() writes and by emulated devices' pins.  A pinned page
 * may be written at any time, so it stays dirty while it is pinned: tracking
 * starts with the pinned pages' bits set (the only memory START allocates),
 * a report sets them again in the new generation (their entries are
 * current then, so a report never drops them), and an unpin leaves the bit
 * for the next report.  So while tracking, a pinned page's entry always
 * exists.
 *
 * Reports.  GET_BITMAP, and UNMAP_DMA with GET_DIRTY_BITMAP, lay the bits
 * out from the request's IOVA on, through the writer of bits.c: only the
 * words of the user's bitmap that hold a set bit are written, and the cost
 * of a report follows the words it writes, not the IOVA it covers.  The
 * user's bitmap is cut into chunks of chunk_size bytes (read once per
 * request), counted from the request's first word; the writer gathers the
 * words it must build in its own buffer of 2 KiB, and copies the others
 * straight from the blocks, or from a constant run of ones, so a request
 * allocates the same whatever its size.  No copy to the user's bitmap
 * crosses a chunk of it, and each is followed by cond_resched().  Mappings
 * are reported in IOVA order, and the writer is flushed at the end of
 * each.  The counters are added to once per request.
 *
 * Nothing lost.  A mapping's bits are cleared, or the mapping removed, only
 * once the user has them all.  GET_BITMAP, and an unmap, report every
 * mapping of the range before they clear or remove any, so a request that
 * fails (-EFAULT) clears nothing and removes nothing.  The container's lock
 * is held from report to removal, so a device cannot write between them: a
 * write before is reported, a write after finds no mapping.
 */
#include <linux/gfp.h>
#include <linux/memcontrol.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "bits.h"
#include "private.h"

/**
 * struct vfio_dirty_report - a report in progress
 * @iommu: the container, locked for the whole report
 * @bitmap: the user's bitmap
 * @chunk: the chunk of the user's bitmap written last, U64_MAX before any
 * @chunks: chunks of the user's bitmap written, for the stats
 * @bytes: bytes of it written, for the stats
 * @writer: lays the bits out
 */
struct vfio_dirty_report {
	struct vfio_dirty_iommu *iommu;
	u64 __user *bitmap;
	u64 chunk;
	u64 chunks;
	u64 bytes;
	struct vfio_dirty_writer writer;
};

/*
 * Set bits [@bit, @last] of @dma.  What they take is charged to the memory
 * cgroup of @dma's owner (the one it is in now, the root cgroup once it
 * has exited), not to the caller's: a kernel thread has none.
 */
static int set_bits(struct vfio_dirty_dma *dma, u64 bit, u64 last)
{
	struct mem_cgroup *memcg = get_mem_cgroup_from_mm(dma->mm), *old;
	int ret;

	old = set_active_memcg(memcg);
	ret = vfio_dirty_spans_set(&dma->dirty, bit, last);
	set_active_memcg(old);
	mem_cgroup_put(memcg);
	return ret;
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
			cond_resched();
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
 * A device's write never fails for want of memory to record it: without
 * it, the whole mapping is reported at the next report instead.
 */
void vfio_dirty_mark(struct vfio_dirty_iommu *iommu, struct vfio_dirty_dma *dma,
		     u64 offset, u64 len)
{
	unsigned int pgshift = vfio_dirty_pgshift(iommu);

	lockdep_assert_held(&iommu->lock);
	if (iommu->tracking &&
	    set_bits(dma, offset >> pgshift, (offset + len - 1) >> pgshift))
		dma->all_dirty = true;
}

/**
 * vfio_dirty_mark_all() - report every mapped page dirty once more
 * @iommu: the container, locked, whose last group without a dirty scope
 *	just left or pinned its first page (what its device wrote since the
 *	last report is unknown), or whose page size changed (the bits kept
 *	are of the old size)
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
	vfio_dirty_spans_clear(&dma->dirty);
	dma->all_dirty = false;
}

/*
 * Clear the bits of @dma, reported, but those of its pinned pages: start a
 * generation, and set the pinned pages' bits in it.  A mapping reported
 * whole, its entries unread, loses them first: a report that reads them
 * drops the stale ones, this drops the rest, so no entry is ever more than
 * one generation old, and a run's parity tells its generation.
 */
static void reset_dma(struct vfio_dirty_iommu *iommu, struct vfio_dirty_dma *dma)
{
	struct vfio_dirty_pin *pin;
	unsigned long index;

	if (dma->all_dirty || iommu->unscoped_groups)
		vfio_dirty_dma_clear(dma);
	vfio_dirty_spans_new_gen(&dma->dirty);
	xa_for_each(&dma->pins, index, pin) {
		/*
		 * A pinned page's entry exists while tracking: setting it
		 * again allocates nothing, unless it turns a run into a
		 * table, or the entries were just dropped.  Should that
		 * fail, the whole mapping is reported next rather than the
		 * page lost.
		 */
		if (set_bits(dma, page_bit(iommu, index),
			     page_bit(iommu, index))) {
			dma->all_dirty = true;
			break;
		}
		cond_resched();
	}
}

/*
 * vfio_dirty_writer.write: store words in the user's bitmap, at most a
 * chunk's worth, one by one in a single user access window.
 */
static int report_write(void *priv, u64 word, const u64 *words, u64 n)
{
	struct vfio_dirty_report *r = priv;
	u64 __user *dst = r->bitmap + word;
	u64 i;

	if (vfio_dirty_should_fail(VFIO_DIRTY_FAULT_REPORT_COPY_OUT) ||
	    !user_write_access_begin(dst, n * sizeof(u64)))
		return -EFAULT;
	for (i = 0; i < n; i++)
		unsafe_put_user(words[i], &dst[i], err_fault);
	user_write_access_end();
	r->bytes += n * sizeof(u64);
	if (word / r->writer.cap != r->chunk) {
		r->chunk = word / r->writer.cap;
		r->chunks++;
	}
	cond_resched();
	return 0;

err_fault:
	user_write_access_end();
	return -EFAULT;
}

/*
 * Report @dma, whose bits start at bit @base of the user's bitmap, and
 * flush the writer.  Its bits are kept: the caller clears them, or removes
 * the mapping, once every mapping of the request is reported.
 */
static int report_dma(struct vfio_dirty_report *r, struct vfio_dirty_dma *dma,
		      u64 base)
{
	struct vfio_dirty_iommu *iommu = r->iommu;
	int ret;

	if (dma->all_dirty || iommu->unscoped_groups)
		ret = vfio_dirty_writer_set(&r->writer, base,
					    dma->size >> vfio_dirty_pgshift(iommu));
	else
		ret = vfio_dirty_spans_report(&dma->dirty, &r->writer, base);
	if (!ret)
		ret = vfio_dirty_writer_flush(&r->writer);
	return ret;
}

/**
 * vfio_dirty_report_check() - may the container report into a bitmap?
 * @iommu: the container, locked
 * @pgsize: the bitmap's page size
 *
 * The rule of every report: the container is tracking, and the bitmap's
 * page size is the container's.  vfio_dirty_report() applies it itself; an
 * unmap asks it too before it asks any device to unpin, so that a request
 * the report would refuse changes nothing.
 *
 * Return: 0, or -EINVAL.
 */
int vfio_dirty_report_check(struct vfio_dirty_iommu *iommu, u64 pgsize)
{
	lockdep_assert_held(&iommu->lock);
	if (!iommu->tracking || pgsize != 1ULL << vfio_dirty_pgshift(iommu))
		return -EINVAL;
	return 0;
}

/**
 * vfio_dirty_report() - copy the dirty pages of mappings to a user's bitmap
 * @iommu: the container, locked
 * @iova: the IOVA of the bitmap's bit 0, aligned to the page size
 * @last: the last byte of IOVA the bitmap covers
 * @first: the first mapping to report, or NULL for none; it and those after
 *	it that start up to @last are reported, and lie inside [@iova, @last]
 * @pgsize: the bitmap's page size, checked by vfio_dirty_report_check()
 * @bitmap: the user's bitmap, zeroed, big enough for [@iova, @last]
 *
 * The mappings' bits are kept: the caller clears them, or removes the
 * mappings, once this succeeded.  The user's bitmap is cut into chunks of
 * chunk_size bytes, as read now.  A report that succeeds counts one request
 * in the stats, and the chunks and bytes it wrote in any case.
 *
 * Return: 0 with every page in the user's bitmap; -EINVAL, refused by
 * vfio_dirty_report_check() with nothing written; -EFAULT if the bitmap
 * could not be written (maybe in part); -ENOMEM.
 */
int vfio_dirty_report(struct vfio_dirty_iommu *iommu, dma_addr_t iova,
		      dma_addr_t last, struct vfio_dirty_dma *first,
		      u64 pgsize, u64 __user *bitmap)
{
	unsigned int pgshift = vfio_dirty_pgshift(iommu);
	struct vfio_dirty_report *r;
	struct vfio_dirty_dma *dma;
	int ret;

	ret = vfio_dirty_report_check(iommu, pgsize);
	if (ret)
		return ret;
	r = vfio_dirty_should_fail(VFIO_DIRTY_FAULT_REPORT_ALLOC) ? NULL :
	    kzalloc(sizeof(*r), GFP_KERNEL_ACCOUNT);
	if (!r)
		return -ENOMEM;
	r->writer.cap = READ_ONCE(vfio_dirty_chunk_size) / sizeof(u64);
	r->writer.write = report_write;
	r->writer.priv = r;
	r->iommu = iommu;
	r->bitmap = bitmap;
	r->chunk = U64_MAX;
	/* A test hook: lose every page of this request. */
	if (vfio_dirty_should_drop())
		first = NULL;
	for (dma = first; dma && dma->iova <= last;
	     dma = vfio_dirty_dma_next(dma)) {
		ret = report_dma(r, dma, (dma->iova - iova) >> pgshift);
		if (ret)
			break;
	}
	if (!ret)
		vfio_dirty_stat_add(VFIO_DIRTY_STAT_REQUESTS, 1);
	vfio_dirty_stat_add(VFIO_DIRTY_STAT_CHUNKS, r->chunks);
	vfio_dirty_stat_add(VFIO_DIRTY_STAT_BITMAP_BYTES, r->bytes);
	kfree(r);
	return ret;
}

/**
 * vfio_dirty_get_bitmap() - VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP
 * @iommu: the container
 * @iova: first byte
 * @size: bytes; [@iova, @iova + @size) does not wrap
 * @pgsize: the bitmap's page size
 * @bitmap: the user's bitmap, zeroed, checked by vfio_dirty_check_bitmap()
 *
 * The range must cover whole mappings (vfio_dirty_dma_check_range()), and
 * the report be allowed (vfio_dirty_report_check()).  Every mapping is
 * reported before any bit is cleared, so that a request that fails clears
 * nothing: the pages stay dirty for the next one.
 *
 * Return: 0; -EINVAL when not tracking, for a page size other than the
 * container's, a range not aligned to it or straddling a mapping; -EFAULT
 * if the bitmap cannot be written; -ENOMEM.
 */
int vfio_dirty_get_bitmap(struct vfio_dirty_iommu *iommu, dma_addr_t iova,
			  u64 size, u64 pgsize, u64 __user *bitmap)
{
	dma_addr_t last = iova + (size - 1);
	struct vfio_dirty_dma *first, *dma;
	int ret;

	mutex_lock(&iommu->lock);
	ret = vfio_dirty_dma_check_range(iommu, iova, size, true);
	if (ret)
		goto out_unlock;
	first = vfio_dirty_dma_first(iommu, iova, last);
	ret = vfio_dirty_report(iommu, iova, last, first, pgsize, bitmap);
	/* A refused report wrote nothing: there is nothing to unwind. */
	if (ret && (ret == -EINVAL ||
		    !vfio_dirty_unwind_broken(VFIO_DIRTY_UNWIND_REPORT)))
		goto out_unlock;
	for (dma = first; dma && dma->iova <= last; dma = vfio_dirty_dma_next(dma))
		reset_dma(iommu, dma);
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
 * The ceiling, max_bitmap_size, is read once, here: a request is held to
 * the value it was checked against.  Both the bitmap the range needs and
 * the one the user declares must fit under it.
 *
 * Return: 0; -EINVAL if @pgsize is not a power of two, the range holds no
 * page or the bitmap is too small for it; -E2BIG past max_bitmap_size (the
 * stock driver says -EINVAL).
 */
int vfio_dirty_check_bitmap(u64 size, u64 pgsize, u64 bitmap_size)
{
	u64 max = READ_ONCE(vfio_dirty_max_bitmap_size);
	u64 npages, need;

	if (!is_power_of_2(pgsize))
		return -EINVAL;
	npages = size >> __ffs64(pgsize);
	if (!npages || !bitmap_size)
		return -EINVAL;
	/* Rounded up without an addition that could wrap. */
	need = (npages / 64 + !!(npages % 64)) * sizeof(u64);
	if (need > max || bitmap_size > max) {
		vfio_dirty_stat_add(VFIO_DIRTY_STAT_REFUSED, 1);
		return -E2BIG;
	}
	if (bitmap_size < need)
		return -EINVAL;
	return 0;
}

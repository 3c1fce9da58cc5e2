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
 * which count in int, only ever see one span of them.
 *
 * Entries.  The bits are kept by spans of SPAN_BITS bits (1 GiB of IOVA
 * with 4 KiB pages, the largest huge page), in the mapping's @dirty
 * xarray, indexed by bit / SPAN_BITS.  A span holds no entry until one of
 * its bits is set.  While its set bits are one run (what a device writing
 * a buffer, or a huge page, leaves), its entry is the run itself, an
 * xarray value: no memory but the xarray's, and a report writes it out as
 * ones, reading nothing else.  The first range set that does not join the
 * run turns it into a chunk: SPAN_BLOCKS pointers to blocks, the bitmaps
 * of bits.c, each of VFIO_DIRTY_BITS bits (128 MiB of IOVA), allocated as
 * bits are set in them.  So the index is small (a span per GiB: its walk
 * and its removal cost little), and the memory of bitmaps follows what is
 * dirtied, by 128 MiB.  Tracking STOP, and the removal of the mapping, drop
 * them all.  The stats counter tracking_bytes counts the chunks and their
 * blocks, over every container; runs and the xarray's own nodes are not
 * counted.  Entries are added and removed only under the container's lock,
 * which every walk of them holds: a walk finds them sixteen at a time under
 * the RCU read lock, and works on them out of it, where it may sleep.
 *
 * Generations.  A GET_BITMAP that succeeded clears the bits of the
 * mappings it reported without touching their entries: it advances each
 * mapping's @dirty_gen, and an entry of another generation holds no bit,
 * whatever it says (it is stale).  A chunk records its generation, a run
 * only its parity: a report that reads a mapping's entries drops the stale
 * ones it finds, and one that reports the mapping whole without reading
 * them drops them all before the generation advances, so no entry is older
 * than the generation before.  A bit set next in a stale run replaces it;
 * one set in a stale chunk clears the words of its blocks first, which
 * makes it current again.  So a report reads each entry it copies once, a
 * chunk that keeps being dirtied is kept, with its blocks, rather than
 * freed and allocated again at each report, and the memory follows what is
 * dirtied rather than what is mapped: what was dirtied in the last two
 * generations.
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
 * straight from the chunks, or from a constant run of ones, so a request
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

static struct kmem_cache *bits_cache;

/* Blocks in a span, and its bits: 1 GiB of IOVA at 4 KiB. */
#define SPAN_BLOCKS	8
#define SPAN_BITS	(SPAN_BLOCKS * VFIO_DIRTY_BITS)

/*
 * A chunk: the bits of a span, by blocks, NULL where none was set.  They
 * hold bits only while @gen is the mapping's @dirty_gen (see Generations
 * above).
 */
struct vfio_dirty_chunk {
	u64 gen;
	struct vfio_dirty_bits *blocks[SPAN_BLOCKS];
};

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

/**
 * vfio_dirty_bits_cache_init() - create the cache of blocks of dirty bits
 *
 * Return: 0 or -ENOMEM.
 */
int vfio_dirty_bits_cache_init(void)
{
	bits_cache = kmem_cache_create("vfio_dirty_bits",
				       sizeof(struct vfio_dirty_bits), 0,
				       SLAB_ACCOUNT, NULL);
	return bits_cache ? 0 : -ENOMEM;
}

/**
 * vfio_dirty_bits_cache_exit() - destroy the cache of blocks of dirty bits
 */
void vfio_dirty_bits_cache_exit(void)
{
	kmem_cache_destroy(bits_cache);
}

/*
 * A run: the bits of a span when they are one run, kept in its slot of the
 * xarray as a value: bit 0 is the parity of its generation, bits 1-18 its
 * first bit, bits 19-36 its length less one.
 */
#define RUN_FIRST_SHIFT	1
#define RUN_LEN_SHIFT	19
#define RUN_MASK	(SPAN_BITS - 1)

static_assert(SPAN_BITS == 1 << (RUN_LEN_SHIFT - RUN_FIRST_SHIFT));
static_assert(RUN_LEN_SHIFT * 2 - RUN_FIRST_SHIFT <= BITS_PER_LONG - 1);

static void *run_entry(struct vfio_dirty_dma *dma, u32 first, u32 n)
{
	return xa_mk_value((dma->dirty_gen & 1) |
			   (unsigned long)first << RUN_FIRST_SHIFT |
			   (unsigned long)(n - 1) << RUN_LEN_SHIFT);
}

static bool run_current(struct vfio_dirty_dma *dma, void *entry)
{
	return (xa_to_value(entry) & 1) == (dma->dirty_gen & 1);
}

static u32 run_first(void *entry)
{
	return xa_to_value(entry) >> RUN_FIRST_SHIFT & RUN_MASK;
}

static u32 run_len(void *entry)
{
	return (xa_to_value(entry) >> RUN_LEN_SHIFT & RUN_MASK) + 1;
}

/* Is @entry, a run or a chunk of @dma, stale (see Generations above)? */
static bool entry_stale(struct vfio_dirty_dma *dma, void *entry)
{
	if (xa_is_value(entry))
		return !run_current(dma, entry);
	return ((struct vfio_dirty_chunk *)entry)->gen != dma->dirty_gen;
}

/*
 * Memory for dirty bits is charged to the memory cgroup of the mapping's
 * owner, whoever dirties them: a device's kernel thread, another process
 * (see set_bits()).  It may be refused: the mapping is then reported whole
 * (see "What is dirty").  So running short of it never wakes the OOM
 * killer, which would kill a process of that cgroup where reporting more
 * loses nothing.
 */
#define VFIO_DIRTY_GFP_BITS \
	(GFP_KERNEL_ACCOUNT | __GFP_RETRY_MAYFAIL | __GFP_NOWARN)

/* Put @entry, a run or a chunk, at @index of @dma's dirty bits. */
static int entry_store(struct vfio_dirty_dma *dma, unsigned long index,
		       void *entry)
{
	if (vfio_dirty_should_fail(VFIO_DIRTY_FAULT_BITS_STORE))
		return -ENOMEM;
	return xa_err(xa_store(&dma->dirty, index, entry, VFIO_DIRTY_GFP_BITS));
}

/* Free @chunk and its blocks.  Return: the bytes freed. */
static s64 chunk_free(struct vfio_dirty_chunk *chunk)
{
	s64 bytes = sizeof(*chunk);
	unsigned int i;

	for (i = 0; i < SPAN_BLOCKS; i++) {
		if (!chunk->blocks[i])
			continue;
		kmem_cache_free(bits_cache, chunk->blocks[i]);
		bytes += sizeof(struct vfio_dirty_bits);
	}
	kfree(chunk);
	return bytes;
}

/*
 * Set bits [@first, @first + @n) of @chunk's span, allocating the blocks
 * they fall in.  Return: 0, or -ENOMEM with some of them maybe set.
 */
static int chunk_set(struct vfio_dirty_chunk *chunk, u32 first, u32 n)
{
	struct vfio_dirty_bits **block;
	u32 take;

	while (n) {
		block = &chunk->blocks[first / VFIO_DIRTY_BITS];
		take = min(n, VFIO_DIRTY_BITS - first % VFIO_DIRTY_BITS);
		if (!*block) {
			if (vfio_dirty_should_fail(VFIO_DIRTY_FAULT_BITS_BLOCK_ALLOC))
				return -ENOMEM;
			*block = kmem_cache_zalloc(bits_cache, VFIO_DIRTY_GFP_BITS);
			if (!*block)
				return -ENOMEM;
			vfio_dirty_stat_add(VFIO_DIRTY_STAT_TRACKING_BYTES,
					    sizeof(**block));
		}
		vfio_dirty_bits_set(*block, first % VFIO_DIRTY_BITS, take);
		first += take;
		n -= take;
	}
	return 0;
}

/* Drop @entry, at @index of @dma's dirty bits. */
static void entry_free(struct vfio_dirty_dma *dma, unsigned long index,
		       void *entry)
{
	xa_erase(&dma->dirty, index);
	if (xa_is_value(entry))
		return;
	dma->dirty_chunks--;
	vfio_dirty_stat_add(VFIO_DIRTY_STAT_TRACKING_BYTES, -chunk_free(entry));
}

/* Entries a walk of a mapping's dirty bits finds under one RCU read lock. */
#define ENTRY_BATCH	16

/**
 * struct entry_batch - a walk of a mapping's dirty bits, in index order
 * @next: the index to look from
 * @done: no entry is left past the last batch
 * @n: entries in the batch
 * @index: their indexes
 * @entry: the entries, runs and chunks
 *
 * Zeroed, it starts at index 0.
 */
struct entry_batch {
	unsigned long next;
	bool done;
	unsigned int n;
	unsigned long index[ENTRY_BATCH];
	void *entry[ENTRY_BATCH];
};

/*
 * Fill @b with the next entries of @dma, whose container is locked (or
 * gone): only its holder adds or removes them, so the chunks stay valid
 * out of the RCU read lock, and the caller may sleep on them.  One walk of
 * the xarray finds a batch, rather than one lookup from its root per
 * entry.  Return: the number of entries, 0 at the end.
 */
static unsigned int entry_batch_next(struct vfio_dirty_dma *dma,
				     struct entry_batch *b)
{
	XA_STATE(xas, &dma->dirty, b->next);
	void *entry;

	b->n = 0;
	if (b->done)
		return 0;
	rcu_read_lock();
	xas_for_each(&xas, entry, ULONG_MAX) {
		b->index[b->n] = xas.xa_index;
		b->entry[b->n] = entry;
		if (++b->n == ENTRY_BATCH)
			break;
	}
	rcu_read_unlock();
	b->done = b->n < ENTRY_BATCH;
	if (b->n)
		b->next = b->index[b->n - 1] + 1;
	return b->n;
}

/*
 * Set bits [@first, @first + @n) of the span of entry @index of @dma: as a
 * run while its bits stay one, in a chunk from the first range that does
 * not join them.  A stale run is replaced, a stale chunk cleared first.
 */
static int entry_set(struct vfio_dirty_dma *dma, unsigned long index,
		     u32 first, u32 n)
{
	void *entry = xa_load(&dma->dirty, index);
	struct vfio_dirty_chunk *chunk = entry;
	u32 run_start, run_n;
	unsigned int i;
	int ret;

	if (!entry || (xa_is_value(entry) && !run_current(dma, entry)))
		return entry_store(dma, index, run_entry(dma, first, n));
	if (xa_is_value(entry)) {
		run_start = run_first(entry);
		run_n = run_len(entry);
		if (vfio_dirty_run_join(&run_start, &run_n, first, n))
			return entry_store(dma, index,
					   run_entry(dma, run_start, run_n));
		chunk = vfio_dirty_should_fail(VFIO_DIRTY_FAULT_BITS_CHUNK_ALLOC) ? NULL :
			kzalloc(sizeof(*chunk), VFIO_DIRTY_GFP_BITS);
		if (!chunk)
			return -ENOMEM;
		vfio_dirty_stat_add(VFIO_DIRTY_STAT_TRACKING_BYTES,
				    sizeof(*chunk));
		chunk->gen = dma->dirty_gen;
		ret = chunk_set(chunk, run_start, run_n);
		if (!ret)
			ret = entry_store(dma, index, chunk);
		if (ret) {
			vfio_dirty_stat_add(VFIO_DIRTY_STAT_TRACKING_BYTES,
					    -chunk_free(chunk));
			return ret;
		}
		dma->dirty_chunks++;
	} else if (chunk->gen != dma->dirty_gen) {
		for (i = 0; i < SPAN_BLOCKS; i++)
			if (chunk->blocks[i])
				vfio_dirty_bits_clear(chunk->blocks[i]);
		chunk->gen = dma->dirty_gen;
	}
	return chunk_set(chunk, first, n);
}

/*
 * Set bits [@bit, @last] of @dma.  What they take is charged to the memory
 * cgroup of @dma's owner (the one it is in now, the root cgroup once it
 * has exited), not to the caller's: a kernel thread has none.
 */
static int set_bits(struct vfio_dirty_dma *dma, u64 bit, u64 last)
{
	struct mem_cgroup *memcg = get_mem_cgroup_from_mm(dma->mm), *old;
	int ret = 0;
	u64 n;

	old = set_active_memcg(memcg);
	while (bit <= last) {
		n = min(last - bit + 1, SPAN_BITS - bit % SPAN_BITS);
		ret = entry_set(dma, bit / SPAN_BITS, bit % SPAN_BITS, n);
		if (ret)
			break;
		bit += n;
	}
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
	struct entry_batch b = {};
	s64 freed = 0;
	unsigned int i;

	/* Only chunks need freeing: the walk stops at the last. */
	while (dma->dirty_chunks && entry_batch_next(dma, &b)) {
		for (i = 0; i < b.n; i++) {
			if (xa_is_value(b.entry[i]))
				continue;
			freed += chunk_free(b.entry[i]);
			dma->dirty_chunks--;
		}
		cond_resched();
	}
	xa_destroy(&dma->dirty);
	vfio_dirty_stat_add(VFIO_DIRTY_STAT_TRACKING_BYTES, -freed);
	dma->all_dirty = false;
}

/*
 * Report the bits of @dma, whose bit 0 is bit @base of the user's bitmap,
 * and drop its stale entries, which hold none.
 */
static int report_entries(struct vfio_dirty_report *r,
			  struct vfio_dirty_dma *dma, u64 base)
{
	struct vfio_dirty_chunk *chunk;
	struct entry_batch b = {};
	unsigned int i, j;
	void *entry;
	u64 bit;
	int ret;

	while (entry_batch_next(dma, &b)) {
		cond_resched();
		for (i = 0; i < b.n; i++) {
			entry = b.entry[i];
			bit = base + (u64)b.index[i] * SPAN_BITS;
			if (entry_stale(dma, entry)) {
				entry_free(dma, b.index[i], entry);
				continue;
			}
			if (xa_is_value(entry)) {
				ret = vfio_dirty_writer_set(&r->writer,
							    bit + run_first(entry),
							    run_len(entry));
				if (ret)
					return ret;
				continue;
			}
			chunk = entry;
			for (j = 0; j < SPAN_BLOCKS; j++) {
				if (!chunk->blocks[j])
					continue;
				ret = vfio_dirty_writer_bits(&r->writer,
							     bit + j * VFIO_DIRTY_BITS,
							     chunk->blocks[j]);
				if (ret)
					return ret;
			}
		}
	}
	return 0;
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
	dma->dirty_gen++;
	xa_for_each(&dma->pins, index, pin) {
		/*
		 * A pinned page's entry exists while tracking: setting it
		 * again allocates nothing, unless it turns a run into a
		 * chunk, or the entries were just dropped.  Should that
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
		ret = report_entries(r, dma, base);
	if (!ret)
		ret = vfio_dirty_writer_flush(&r->writer);
	return ret;
}

/**
 * vfio_dirty_report() - copy the dirty pages of mappings to a user's bitmap
 * @iommu: the container, locked, tracking
 * @iova: the IOVA of the bitmap's bit 0, aligned to the page size
 * @last: the last byte of IOVA the bitmap covers
 * @first: the first mapping to report, or NULL for none; it and those after
 *	it that start up to @last are reported, and lie inside [@iova, @last]
 * @bitmap: the user's bitmap, zeroed, big enough for [@iova, @last]
 *
 * The mappings' bits are kept: the caller clears them, or removes the
 * mappings, once this succeeded.  The user's bitmap is cut into chunks of
 * chunk_size bytes, as read now.
 *
 * Return: 0 with every page in the user's bitmap; -EFAULT if it could not
 * be written (maybe in part); -ENOMEM.
 */
int vfio_dirty_report(struct vfio_dirty_iommu *iommu, dma_addr_t iova,
		      dma_addr_t last, struct vfio_dirty_dma *first,
		      u64 __user *bitmap)
{
	unsigned int pgshift = vfio_dirty_pgshift(iommu);
	struct vfio_dirty_report *r;
	struct vfio_dirty_dma *dma;
	int ret = 0;

	lockdep_assert_held(&iommu->lock);
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
 * The range must cover whole mappings.  Every mapping is reported before
 * any bit is cleared, so that a request that fails clears nothing: the
 * pages stay dirty for the next one.
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
	if (!iommu->tracking || pgsize != 1ULL << vfio_dirty_pgshift(iommu) ||
	    (iova | size) & (pgsize - 1) ||
	    !vfio_dirty_dma_whole(iommu, iova, last)) {
		ret = -EINVAL;
		goto out_unlock;
	}
	first = vfio_dirty_dma_first(iommu, iova, last);
	ret = vfio_dirty_report(iommu, iova, last, first, bitmap);
	if (ret && !vfio_dirty_unwind_broken(VFIO_DIRTY_UNWIND_REPORT))
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

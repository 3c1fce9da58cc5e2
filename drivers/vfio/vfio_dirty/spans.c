// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio_dirty: the dirty bits of a mapping, kept by spans.
 *
 * Theory of operation
 *
 * The storage of one mapping's dirty bits, which the paragraphs below
 * describe (the sizes at 4 KiB pages):
 *
 *   mapping's @xa: an xarray, one slot per span of SPAN_BITS bits (1 GiB)
 *
 *     span 0     span 1        span 2                  span 3    ...
 *   +--------+-------------+-----------------------+--------+
 *   | (none) |     run     |         table         | (none) |
 *   +--------+-------------+-----------------------+--------+
 *              an xarray     | gen                 |
 *              value: gen    | blocks[SPAN_BLOCKS] |
 *              parity,       +---+------+---+------+
 *              first bit,        |      |
 *              length            |      NULL: no bit set in that 128 MiB
 *              (no memory)       v
 *                            block (struct vfio_dirty_bits, bits.c):
 *                            used[]:  one bit per word of words[] that
 *                                     holds a set bit
 *                            words[]: VFIO_DIRTY_BITS bits (128 MiB)
 *
 * A span's slot is empty, a run or a table; a table is SPAN_BLOCKS
 * pointers, each NULL or a block of bits.
 *
 * Bits.  While tracking, each mapping records the pages that may have been
 * written since they were last reported: one bit per page of the
 * container's page size, bit 0 for the mapping's first page (dirty.c turns
 * pages into bits).  A mapping may hold 2^31 pages or more, so bit numbers
 * are u64, and the bitmap helpers, which count in int, only ever see one
 * span of them.
 *
 * Entries.  The bits are kept by spans of SPAN_BITS bits (1 GiB of IOVA
 * with 4 KiB pages, the largest huge page), in the @xa of the mapping's
 * struct vfio_dirty_spans, indexed by bit / SPAN_BITS.  A span holds no
 * entry until one of its bits is set.  While its set bits are one run (what
 * a device writing a buffer, or a huge page, leaves), its entry is the run
 * itself, an xarray value: no memory but the xarray's, and a report writes
 * it out as ones, reading nothing else.  The first range set that does not
 * join the run turns it into a table: SPAN_BLOCKS pointers to blocks, the
 * bitmaps of bits.c, each of VFIO_DIRTY_BITS bits (128 MiB of IOVA),
 * allocated as bits are set in them.  So the index is small (a span per
 * GiB: its walk and its removal cost little), and the memory of bitmaps
 * follows what is dirtied, by 128 MiB.  Tracking STOP, and the removal of
 * the mapping, drop them all.  The stats counter tracking_bytes counts the
 * tables and their blocks, over every container; runs and the xarray's own
 * nodes are not counted.  Entries are added and removed only under the
 * container's lock, which every walk of them holds: a walk finds them
 * sixteen at a time under the RCU read lock, and works on them out of it,
 * where it may sleep.
 *
 * Generations.  A GET_BITMAP that succeeded clears the bits of the
 * mappings it reported without touching their entries: it advances each
 * mapping's @gen, and an entry of another generation holds no bit,
 * whatever it says (it is stale).  A table records its generation, a run
 * only its parity: a report that reads a mapping's entries drops the stale
 * ones it finds, and one that reports the mapping whole without reading
 * them drops them all before the generation advances, so no entry is older
 * than the generation before.  A bit set next in a stale run replaces it;
 * one set in a stale table clears the words of its blocks first, which
 * makes it current again.  So a report reads each entry it copies once, a
 * table that keeps being dirtied is kept, with its blocks, rather than
 * freed and allocated again at each report, and the memory follows what is
 * dirtied rather than what is mapped: what was dirtied in the last two
 * generations.
 *
 * Pure logic over an xarray and a slab cache: this file and spans.h build
 * unchanged in the kernel and in tools/testing/vfio_dirty.
 */
#include <linux/bits.h>
#include <linux/build_bug.h>
#include <linux/gfp.h>
#include <linux/limits.h>
#include <linux/minmax.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/slab.h>

#include "spans.h"
#include "stats.h"
#include "test.h"

static struct kmem_cache *bits_cache;

/* Blocks in a span, and its bits: 1 GiB of IOVA at 4 KiB. */
#define SPAN_BLOCKS	8
#define SPAN_BITS	(SPAN_BLOCKS * VFIO_DIRTY_BITS)

/*
 * A table: the bits of a span, by blocks, NULL where none was set.  They
 * hold bits only while its @gen is that of the mapping's bits (see
 * Generations above).
 */
struct vfio_dirty_table {
	u64 gen;
	struct vfio_dirty_bits *blocks[SPAN_BLOCKS];
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

static void *run_entry(struct vfio_dirty_spans *spans, u32 first, u32 n)
{
	return xa_mk_value((spans->gen & 1) |
			   (unsigned long)first << RUN_FIRST_SHIFT |
			   (unsigned long)(n - 1) << RUN_LEN_SHIFT);
}

static bool run_current(struct vfio_dirty_spans *spans, void *entry)
{
	return (xa_to_value(entry) & 1) == (spans->gen & 1);
}

static u32 run_first(void *entry)
{
	return xa_to_value(entry) >> RUN_FIRST_SHIFT & RUN_MASK;
}

static u32 run_len(void *entry)
{
	return (xa_to_value(entry) >> RUN_LEN_SHIFT & RUN_MASK) + 1;
}

/* Is @entry, a run or a table of @spans, stale (see Generations above)? */
static bool entry_stale(struct vfio_dirty_spans *spans, void *entry)
{
	if (xa_is_value(entry))
		return !run_current(spans, entry);
	return ((struct vfio_dirty_table *)entry)->gen != spans->gen;
}

/*
 * Memory for dirty bits is charged to the memory cgroup of the mapping's
 * owner, whoever dirties them (dirty.c sets it active around the calls that
 * set bits).  It may be refused: the mapping is then reported whole (see
 * "What is dirty" in dirty.c).  So running short of it never wakes the OOM
 * killer, which would kill a process of that cgroup where reporting more
 * loses nothing.
 */
#define VFIO_DIRTY_GFP_BITS \
	(GFP_KERNEL_ACCOUNT | __GFP_RETRY_MAYFAIL | __GFP_NOWARN)

/* Put @entry, a run or a table, at @index of @spans. */
static int entry_store(struct vfio_dirty_spans *spans, unsigned long index,
		       void *entry)
{
	if (vfio_dirty_should_fail(VFIO_DIRTY_FAULT_BITS_STORE))
		return -ENOMEM;
	return xa_err(xa_store(&spans->xa, index, entry, VFIO_DIRTY_GFP_BITS));
}

/* Free @table and its blocks.  Return: the bytes freed. */
static s64 table_free(struct vfio_dirty_table *table)
{
	s64 bytes = sizeof(*table);
	unsigned int i;

	for (i = 0; i < SPAN_BLOCKS; i++) {
		if (!table->blocks[i])
			continue;
		kmem_cache_free(bits_cache, table->blocks[i]);
		bytes += sizeof(struct vfio_dirty_bits);
	}
	kfree(table);
	return bytes;
}

/*
 * Set bits [@first, @first + @n) of @table's span, allocating the blocks
 * they fall in.  Return: 0, or -ENOMEM with some of them maybe set.
 */
static int table_set(struct vfio_dirty_table *table, u32 first, u32 n)
{
	struct vfio_dirty_bits **block;
	u32 take;

	while (n) {
		block = &table->blocks[first / VFIO_DIRTY_BITS];
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

/* Drop @entry, at @index of @spans. */
static void entry_free(struct vfio_dirty_spans *spans, unsigned long index,
		       void *entry)
{
	xa_erase(&spans->xa, index);
	if (xa_is_value(entry))
		return;
	spans->tables--;
	vfio_dirty_stat_add(VFIO_DIRTY_STAT_TRACKING_BYTES, -table_free(entry));
}

/* Entries a walk of a mapping's dirty bits finds under one RCU read lock. */
#define ENTRY_BATCH	16

/**
 * struct entry_batch - a walk of a mapping's dirty bits, in index order
 * @next: the index to look from
 * @done: no entry is left past the last batch
 * @n: entries in the batch
 * @index: their indexes
 * @entry: the entries, runs and tables
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
 * Fill @b with the next entries of @spans, whose container is locked (or
 * gone): only its holder adds or removes them, so the tables stay valid
 * out of the RCU read lock, and the caller may sleep on them.  One walk of
 * the xarray finds a batch, rather than one lookup from its root per
 * entry.  Return: the number of entries, 0 at the end.
 */
static unsigned int entry_batch_next(struct vfio_dirty_spans *spans,
				     struct entry_batch *b)
{
	XA_STATE(xas, &spans->xa, b->next);
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
 * Set bits [@first, @first + @n) of the span of entry @index of @spans: as a
 * run while its bits stay one, in a table from the first range that does
 * not join them.  A stale run is replaced, a stale table cleared first.
 */
static int entry_set(struct vfio_dirty_spans *spans, unsigned long index,
		     u32 first, u32 n)
{
	void *entry = xa_load(&spans->xa, index);
	struct vfio_dirty_table *table = entry;
	u32 run_start, run_n;
	unsigned int i;
	int ret;

	if (!entry || (xa_is_value(entry) && !run_current(spans, entry)))
		return entry_store(spans, index, run_entry(spans, first, n));
	if (xa_is_value(entry)) {
		run_start = run_first(entry);
		run_n = run_len(entry);
		if (vfio_dirty_run_join(&run_start, &run_n, first, n))
			return entry_store(spans, index,
					   run_entry(spans, run_start, run_n));
		table = vfio_dirty_should_fail(VFIO_DIRTY_FAULT_BITS_TABLE_ALLOC) ? NULL :
			kzalloc(sizeof(*table), VFIO_DIRTY_GFP_BITS);
		if (!table)
			return -ENOMEM;
		vfio_dirty_stat_add(VFIO_DIRTY_STAT_TRACKING_BYTES,
				    sizeof(*table));
		table->gen = spans->gen;
		ret = table_set(table, run_start, run_n);
		if (!ret)
			ret = entry_store(spans, index, table);
		if (ret) {
			vfio_dirty_stat_add(VFIO_DIRTY_STAT_TRACKING_BYTES,
					    -table_free(table));
			return ret;
		}
		spans->tables++;
	} else if (table->gen != spans->gen) {
		for (i = 0; i < SPAN_BLOCKS; i++)
			if (table->blocks[i])
				vfio_dirty_bits_clear(table->blocks[i]);
		table->gen = spans->gen;
	}
	return table_set(table, first, n);
}

/**
 * vfio_dirty_spans_init() - start a mapping's dirty bits, none set
 * @spans: zeroed
 */
void vfio_dirty_spans_init(struct vfio_dirty_spans *spans)
{
	xa_init(&spans->xa);
}

/**
 * vfio_dirty_spans_set() - set a range of a mapping's dirty bits
 * @spans: the bits, whose container is locked
 * @bit: the first
 * @last: the last, inclusive, at least @bit
 *
 * Return: 0, or -ENOMEM with some of them maybe set: those set before stay.
 */
int vfio_dirty_spans_set(struct vfio_dirty_spans *spans, u64 bit, u64 last)
{
	u64 n;
	int ret;

	while (bit <= last) {
		n = min(last - bit + 1, SPAN_BITS - bit % SPAN_BITS);
		ret = entry_set(spans, bit / SPAN_BITS, bit % SPAN_BITS, n);
		if (ret)
			return ret;
		bit += n;
	}
	return 0;
}

/**
 * vfio_dirty_spans_clear() - forget a mapping's dirty bits, and free them
 * @spans: the bits, whose container is locked or gone
 */
void vfio_dirty_spans_clear(struct vfio_dirty_spans *spans)
{
	struct entry_batch b = {};
	s64 freed = 0;
	unsigned int i;

	/* Only tables need freeing: the walk stops at the last. */
	while (spans->tables && entry_batch_next(spans, &b)) {
		for (i = 0; i < b.n; i++) {
			if (xa_is_value(b.entry[i]))
				continue;
			freed += table_free(b.entry[i]);
			spans->tables--;
		}
		cond_resched();
	}
	xa_destroy(&spans->xa);
	vfio_dirty_stat_add(VFIO_DIRTY_STAT_TRACKING_BYTES, -freed);
}

/**
 * vfio_dirty_spans_new_gen() - clear a mapping's dirty bits, reported
 * @spans: the bits, whose container is locked, and whose entries were all
 *	read by vfio_dirty_spans_report() or dropped by
 *	vfio_dirty_spans_clear() since the generation before
 *
 * Starts a generation, in which every bit is clear, touching no entry.
 */
void vfio_dirty_spans_new_gen(struct vfio_dirty_spans *spans)
{
	spans->gen++;
}

/**
 * vfio_dirty_spans_report() - lay out a mapping's dirty bits
 * @spans: the bits, whose container is locked
 * @w: the writer, whose bit @base is the mapping's bit 0
 * @base: see @w
 *
 * Also drops the stale entries, which hold no bit.  The bits are kept, and
 * the writer is not flushed.
 *
 * Return: 0, or what the writer returned.
 */
int vfio_dirty_spans_report(struct vfio_dirty_spans *spans,
			    struct vfio_dirty_writer *w, u64 base)
{
	struct vfio_dirty_table *table;
	struct entry_batch b = {};
	unsigned int i, j;
	void *entry;
	u64 bit;
	int ret;

	while (entry_batch_next(spans, &b)) {
		cond_resched();
		for (i = 0; i < b.n; i++) {
			entry = b.entry[i];
			bit = base + (u64)b.index[i] * SPAN_BITS;
			if (entry_stale(spans, entry)) {
				entry_free(spans, b.index[i], entry);
				continue;
			}
			if (xa_is_value(entry)) {
				ret = vfio_dirty_writer_set(w,
							    bit + run_first(entry),
							    run_len(entry));
				if (ret)
					return ret;
				continue;
			}
			table = entry;
			for (j = 0; j < SPAN_BLOCKS; j++) {
				if (!table->blocks[j])
					continue;
				ret = vfio_dirty_writer_bits(w,
							     bit + j * VFIO_DIRTY_BITS,
							     table->blocks[j]);
				if (ret)
					return ret;
			}
		}
	}
	return 0;
}

#ifdef CONFIG_VFIO_DIRTY_TEST
/**
 * vfio_dirty_storage_sizes() - the sizes tracking_bytes counts, for test.c
 * @table: filled in with the bytes of a table
 * @block: filled in with the bytes of a block
 */
void vfio_dirty_storage_sizes(u32 *table, u32 *block)
{
	*table = sizeof(struct vfio_dirty_table);
	*block = sizeof(struct vfio_dirty_bits);
}
#endif

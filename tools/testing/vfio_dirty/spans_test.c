// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the dirty bits of mappings, drivers/vfio/vfio_dirty/spans.c
 * (spans, runs, tables, blocks and generations), built in userspace with
 * bits.c and the stand-ins of kernel.c.  Prints TAP; exits 1 if any test
 * fails.
 *
 * The tests drive the bits as dirty.c does: ranges set as dma_rw() writes
 * and pins set them; reports laid out by the writer of bits.c into one
 * bitmap where the mappings follow each other, each starting at any bit
 * (where the report API puts a mapping depends on its IOVA and the page
 * size: here, on a random base), chunks of any size, and writes to the
 * bitmap that may fail; a new generation after a report that succeeded,
 * with the pinned pages set again (GET_BITMAP's clear); the bits dropped
 * when a mapping is removed or tracking stops.  A plain bitmap per mapping
 * holds what was set.  After every report the bitmap is held against it bit
 * by bit, and after every step tracking_bytes against what the stand-in
 * allocators have live.  Allocations are made to fail through
 * vfio_dirty_should_fail(): the bits set before must all stay, and dirty.c
 * then reports the mapping whole until its next clear.  The random inputs
 * come from a fixed seed.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/minmax.h>
#include <linux/slab.h>

#include "spans.h"
#include "stats.h"
#include "test.h"
#include "unit.h"

/* Up to three mappings of up to 20 blocks (2.5 spans) each, and gaps. */
#define MAX_MAPS	3
#define MAX_BLOCKS	20
#define MAX_MAP_BITS	((u64)MAX_BLOCKS * VFIO_DIRTY_BITS)
#define MAX_PINS	8
#define DEST_WORDS	(MAX_MAPS * (MAX_MAP_BITS / 64 + 4) + 4)

static_assert(VFIO_DIRTY_FAULT_NR <= 64);

/**
 * struct map - a mapping's dirty bits and what a report must say of them
 * @spans: the bits
 * @base: the bit of the report's bitmap where the mapping's bit 0 lands
 * @nbits: the mapping's bits (pages)
 * @must: the bits set since the last clear: a report holds them all
 * @may: @must, and the ranges whose setting failed: a report holds no
 *	other bit
 * @whole: a setting failed: dirty.c reports the mapping whole, and drops
 *	its bits at the next clear
 * @fresh: nothing was set since the generation began
 * @pins: its pinned pages' bits, set again at each clear
 * @npins: how many
 */
struct map {
	struct vfio_dirty_spans spans;
	u64 base;
	u64 nbits;
	u64 must[MAX_MAP_BITS / 64];
	u64 may[MAX_MAP_BITS / 64];
	bool whole;
	bool fresh;
	u64 pins[MAX_PINS];
	unsigned int npins;
};

static struct map maps[MAX_MAPS];
static unsigned int nmaps;

/* The report's bitmap, and the bounds the model puts on it. */
static u64 dest[DEST_WORDS];
static u64 lo[DEST_WORDS];
static u64 hi[DEST_WORDS];

/* What spans.c told stats.c. */
static s64 tracking_bytes;

void vfio_dirty_stat_add(enum vfio_dirty_stat stat, s64 delta)
{
	EXPECT_INT(stat, VFIO_DIRTY_STAT_TRACKING_BYTES);
	tracking_bytes += delta;
}

/*
 * The fault points: the fail_nth-th call from when it was set fails (0:
 * none does); the points asked and the points failed, as bit masks.
 */
static u64 fail_nth, fail_calls, points_asked, points_failed;

bool vfio_dirty_should_fail(enum vfio_dirty_fault point)
{
	EXPECT(point == VFIO_DIRTY_FAULT_BITS_STORE ||
	       point == VFIO_DIRTY_FAULT_BITS_TABLE_ALLOC ||
	       point == VFIO_DIRTY_FAULT_BITS_BLOCK_ALLOC);
	points_asked |= 1ULL << point;
	if (!fail_nth || ++fail_calls != fail_nth)
		return false;
	points_failed |= 1ULL << point;
	return true;
}

static void fail_after(u64 nth)
{
	fail_nth = nth;
	fail_calls = 0;
}

/* A failure was set and has not come yet. */
static bool fail_pending(void)
{
	return fail_nth && fail_calls < fail_nth;
}

static void model_set(u64 *map, u64 first, u64 last)
{
	u64 bit;

	for (bit = first; bit <= last; bit++)
		map[bit / 64] |= 1ULL << (bit % 64);
}

static void check_accounting(int line)
{
	long tables = 0;
	unsigned int i;

	for (i = 0; i < nmaps; i++)
		tables += maps[i].spans.tables;
	if (tracking_bytes != slab_live.bytes)
		diag(line, "tracking_bytes %lld, live bytes %lld\n",
		     tracking_bytes, slab_live.bytes);
	if (tables != slab_live.kmalloc_objects)
		diag(line, "%ld tables counted, %ld live\n", tables,
		     slab_live.kmalloc_objects);
}

#define CHECK_ACCOUNTING()	check_accounting(__LINE__)

/*
 * Set bits [@first, @last] of @m, as dirty.c's vfio_dirty_mark() does:
 * when it fails, the mapping is reported whole.  Whether it fails is the
 * fault points' doing only.
 */
static int map_set(struct map *m, u64 first, u64 last, int line)
{
	bool pending = fail_pending();
	int ret;

	ret = vfio_dirty_spans_set(&m->spans, first, last);
	m->fresh = false;
	model_set(m->may, first, last);
	if (ret) {
		if (ret != -ENOMEM || !pending || fail_pending())
			diag(line, "set [%llu, %llu]: %d, with no fault\n",
			     first, last, ret);
		m->whole = true;
	} else {
		if (pending && !fail_pending())
			diag(line, "set [%llu, %llu]: 0 with a fault\n", first,
			     last);
		model_set(m->must, first, last);
	}
	check_accounting(line);
	return ret;
}

static void map_init(struct map *m, u64 base, u64 nbits)
{
	memset(m, 0, sizeof(*m));
	vfio_dirty_spans_init(&m->spans);
	m->base = base;
	m->nbits = nbits;
	m->fresh = true;
}

/* Drop @m's bits, as tracking STOP or the removal of the mapping does. */
static void map_clear(struct map *m)
{
	vfio_dirty_spans_clear(&m->spans);
	memset(m->must, 0, sizeof(m->must));
	memset(m->may, 0, sizeof(m->may));
	m->whole = false;
	m->fresh = true;
}

/*
 * Lay @maps out at random: the first at bit 0 to 127 of the bitmap, each
 * next one right after the one before or a few bits further, so that two
 * may share a word; most of many blocks, some of a few bits.
 */
static void maps_init(unsigned int n)
{
	u64 base = rng_below(128), nbits;
	unsigned int i;

	nmaps = n;
	for (i = 0; i < n; i++) {
		nbits = rng_below(4) ? 1 + rng_below(MAX_MAP_BITS) :
				       1 + rng_below(100);
		map_init(&maps[i], base, nbits);
		base += nbits + (rng_below(2) ? 0 : rng_below(130));
	}
}

/* Tear every mapping down: nothing may stay allocated or counted. */
static void maps_exit(int line)
{
	unsigned int i;

	fail_after(0);
	for (i = 0; i < nmaps; i++)
		map_clear(&maps[i]);
	check_accounting(line);
	nmaps = 0;
	if (tracking_bytes || slab_live.bytes || slab_live.kmalloc_objects ||
	    slab_live.cache_objects)
		diag(line, "after teardown: tracking_bytes %lld, %lld bytes live\n",
		     tracking_bytes, slab_live.bytes);
}

#define MAPS_EXIT()	maps_exit(__LINE__)

/* The writer's destination, the report's bitmap: as report_write() does. */
static u64 writes, fail_write_at;

static int dest_write(void *priv, u64 word, const u64 *words, u64 n)
{
	struct vfio_dirty_writer *w = priv;
	u64 i;

	if (++writes == fail_write_at)
		return -EFAULT;
	EXPECT(n >= 1 && n <= w->cap);
	EXPECT(word / w->cap == (word + n - 1) / w->cap);
	EXPECT(word + n <= DEST_WORDS);
	for (i = 0; i < n; i++)
		EXPECT(words[i] != 0);
	memcpy(&dest[word], words, n * sizeof(u64));
	return 0;
}

/* Chunks of the bitmap, in words: one, odd sizes, and as the default. */
static u64 random_cap(void)
{
	static const u64 caps[] = { 1, 2, 3, 7, 64, 513, 4096, 262144 };

	return caps[rng_below(ARRAY_SIZE(caps))];
}

/* OR @src, bits of a mapping whose bit 0 lands at bit @base, into @map. */
static void place(u64 *map, const u64 *src, u64 nbits, u64 base)
{
	u64 i, w = base / 64;
	unsigned int s = base % 64;

	for (i = 0; i < (nbits + 63) / 64; i++) {
		map[w + i] |= src[i] << s;
		if (s)
			map[w + i + 1] |= src[i] >> (64 - s);
	}
}

/*
 * Report every mapping, in order, into a zeroed bitmap, flushing the writer
 * after each, as vfio_dirty_report() does; the bitmap's @fail_at-th write
 * fails (0: none).  Return: 0 with the bitmap held against the model bit
 * by bit, or the error, the bitmap then unchecked.
 */
static int report_all(u64 fail_at, int line)
{
	struct vfio_dirty_writer w = {
		.cap = random_cap(), .write = dest_write, .priv = &w,
	};
	u64 i, got, miss, extra;
	unsigned int k;
	int ret = 0;

	memset(dest, 0, sizeof(dest));
	memset(lo, 0, sizeof(lo));
	memset(hi, 0, sizeof(hi));
	writes = 0;
	fail_write_at = fail_at;
	for (k = 0; k < nmaps && !ret; k++) {
		ret = vfio_dirty_spans_report(&maps[k].spans, &w, maps[k].base);
		if (!ret)
			ret = vfio_dirty_writer_flush(&w);
		place(lo, maps[k].must, maps[k].nbits, maps[k].base);
		place(hi, maps[k].may, maps[k].nbits, maps[k].base);
	}
	check_accounting(line);
	if (ret) {
		if (ret != -EFAULT || writes != fail_at)
			diag(line, "report: %d after %llu writes\n", ret, writes);
		return ret;
	}
	if (fail_at && writes >= fail_at)
		diag(line, "report: 0, its write %llu failed\n", fail_at);
	for (i = 0; i < DEST_WORDS; i++) {
		got = dest[i];
		miss = lo[i] & ~got;
		extra = got & ~hi[i];
		if (miss || extra) {
			diag(line, "bit %llu: %s\n",
			     i * 64 + __builtin_ctzll(miss | extra),
			     miss ? "set, not reported" : "reported, never set");
			break;
		}
	}
	/* A report drops the stale entries: those of an idle mapping, all. */
	for (k = 0; k < nmaps; k++)
		if (maps[k].fresh && maps[k].spans.gen && maps[k].spans.xa.n)
			diag(line, "mapping %u: %lu entries left, none current\n",
			     k, maps[k].spans.xa.n);
	return 0;
}

#define REPORT(fail_at)	report_all(fail_at, __LINE__)

/*
 * GET_BITMAP: report every mapping; once that succeeded, clear their bits,
 * as dirty.c's reset_dma() does: drop them all for a mapping reported
 * whole, start a generation, and set the pinned pages again.
 */
static void get_bitmap(u64 fail_at, int line)
{
	struct map *m;
	unsigned int k, i;

	if (report_all(fail_at, line))
		return;
	for (k = 0; k < nmaps; k++) {
		m = &maps[k];
		if (m->whole)
			map_clear(m);
		memset(m->must, 0, sizeof(m->must));
		memset(m->may, 0, sizeof(m->may));
		vfio_dirty_spans_new_gen(&m->spans);
		m->fresh = true;
		for (i = 0; i < m->npins; i++)
			if (map_set(m, m->pins[i], m->pins[i], line))
				break;
	}
}

#define GET_BITMAP(fail_at)	get_bitmap(fail_at, __LINE__)

/*
 * Tracking STOP, then START, which sets the pinned pages' bits: if that
 * fails, START drops every bit and fails (dirty.c's track_start()).
 */
static void restart(int line)
{
	unsigned int k, i;

	for (k = 0; k < nmaps; k++)
		map_clear(&maps[k]);
	CHECK_ACCOUNTING();
	for (k = 0; k < nmaps; k++) {
		for (i = 0; i < maps[k].npins; i++) {
			if (!map_set(&maps[k], maps[k].pins[i],
				     maps[k].pins[i], line))
				continue;
			for (k = 0; k < nmaps; k++)
				map_clear(&maps[k]);
			if (tracking_bytes || slab_live.bytes)
				diag(line, "failed START kept %lld bytes\n",
				     tracking_bytes);
			return;
		}
	}
}

/*
 * A range of @m to set, of the shapes devices write: a page (a pin, a small
 * write), a short write, one across a block's boundary (every eighth a
 * span's), one next to the last (joining a run, or one bit away), a long
 * one across blocks and spans, the whole mapping.
 */
static void pick_range(const struct map *m, u64 prev, u64 *first, u64 *last)
{
	u64 n;

	switch (rng_below(8)) {
	case 0:
		*first = rng_below(m->nbits);
		n = 1;
		break;
	case 1:
	case 2:
		*first = rng_below(m->nbits);
		n = 1 + rng_below(200);
		break;
	case 3:
		*first = rng_below(m->nbits / VFIO_DIRTY_BITS + 1) *
			 VFIO_DIRTY_BITS;
		*first -= min(*first, rng_below(100));
		n = 1 + rng_below(300);
		break;
	case 4:
	case 5:
		*first = prev + rng_below(3);
		n = 1 + rng_below(rng_below(2) ? 64 : 4096);
		if (rng_below(2) && *first > n + 2)
			*first -= n + rng_below(3);
		break;
	case 6:
		*first = rng_below(m->nbits);
		n = 1 + rng_below(3 * 8 * VFIO_DIRTY_BITS);
		break;
	default:
		*first = 0;
		n = m->nbits;
	}
	*first = min(*first, m->nbits - 1);
	*last = min(*first + n - 1, m->nbits - 1);
}

/*
 * Random sequences of sets, pins, unpins, reports, GET_BITMAPs (some whose
 * writes fail part way), removals, STOP and START, with allocations made
 * to fail now and then, over one to three mappings.
 */
static void test_random_sequences(void)
{
	unsigned int seq, step;
	u64 first, last, prev = 0;
	struct map *m;

	for (seq = 0; seq < 24; seq++) {
		rng_state = seq;
		maps_init(1 + rng_below(MAX_MAPS));
		for (step = 0; step < 300 && !failed; step++) {
			m = &maps[rng_below(nmaps)];
			switch (rng_below(20)) {
			case 0 ... 10:
				if (!rng_below(12))
					fail_after(1 + rng_below(3));
				pick_range(m, prev, &first, &last);
				map_set(m, first, last, __LINE__);
				prev = last + 1;
				fail_after(0);
				break;
			case 11:
				if (m->npins == MAX_PINS)
					break;
				m->pins[m->npins] = rng_below(m->nbits);
				map_set(m, m->pins[m->npins], m->pins[m->npins],
					__LINE__);
				m->npins++;
				break;
			case 12:
				/* An unpin: its bit stays for the next report. */
				if (m->npins) {
					m->npins--;
					m->pins[rng_below(m->npins + 1)] =
						m->pins[m->npins];
				}
				break;
			case 13:
			case 14:
				REPORT(rng_below(4) ? 0 : 1 + rng_below(8));
				break;
			case 15 ... 17:
				GET_BITMAP(rng_below(6) ? 0 : 1 + rng_below(8));
				break;
			case 18:
				if (!rng_below(4)) {
					if (!rng_below(3))
						fail_after(1 + rng_below(4));
					restart(__LINE__);
					fail_after(0);
					break;
				}
				/* The mapping removed, and mapped again. */
				map_clear(m);
				map_init(m, m->base, m->nbits);
				CHECK_ACCOUNTING();
				break;
			default:
				/* Two reports in a row find the same bits. */
				REPORT(0);
				REPORT(0);
			}
		}
		REPORT(0);
		MAPS_EXIT();
	}
}

/*
 * While the bits set in each span are one run, they take no memory: ranges
 * that overlap or touch the run so far, across generations, in a mapping
 * of several spans.
 */
static void test_runs_take_no_memory(void)
{
	u64 lo_bit, hi_bit, first, last;
	unsigned int gen, step;

	rng_state = 100;
	nmaps = 1;
	map_init(&maps[0], 5, MAX_MAP_BITS);
	for (gen = 0; gen < 8 && !failed; gen++) {
		lo_bit = rng_below(MAX_MAP_BITS);
		hi_bit = lo_bit;
		map_set(&maps[0], lo_bit, hi_bit, __LINE__);
		for (step = 0; step < 40; step++) {
			first = lo_bit - min(lo_bit, rng_below(40000));
			last = min(hi_bit + 1 + rng_below(40000),
				   MAX_MAP_BITS - 1);
			if (rng_below(2))
				first = lo_bit + rng_below(hi_bit - lo_bit + 1);
			else
				last = hi_bit - rng_below(hi_bit - lo_bit + 1);
			if (first > last)
				continue;
			map_set(&maps[0], first, last, __LINE__);
			lo_bit = min(lo_bit, first);
			hi_bit = max(hi_bit, last);
			EXPECT_U64(slab_live.bytes, 0);
			if (step % 8 == 0)
				REPORT(0);
		}
		GET_BITMAP(0);
		EXPECT_U64(slab_live.bytes, 0);
	}
	MAPS_EXIT();
}

/*
 * A table is kept with its blocks while its span keeps being dirtied (no
 * allocation per report), and dropped by the first report that finds it
 * holding nothing of the current generation.
 */
static void test_tables_follow_the_dirtied(void)
{
	long long held;
	unsigned int i;

	nmaps = 1;
	map_init(&maps[0], 0, MAX_MAP_BITS);
	map_set(&maps[0], 10, 10, __LINE__);
	map_set(&maps[0], 20, 20, __LINE__);
	map_set(&maps[0], VFIO_DIRTY_BITS + 5, VFIO_DIRTY_BITS + 5, __LINE__);
	held = slab_live.bytes;
	EXPECT(held > 0);
	EXPECT_U64(maps[0].spans.tables, 1);
	for (i = 0; i < 4; i++) {
		GET_BITMAP(0);
		map_set(&maps[0], 10 + i, 10 + i, __LINE__);
		map_set(&maps[0], 30, 30, __LINE__);
		EXPECT_U64(slab_live.bytes, held);
	}
	GET_BITMAP(0);
	EXPECT_U64(slab_live.bytes, held);
	REPORT(0);
	EXPECT_U64(slab_live.bytes, 0);
	EXPECT_U64(maps[0].spans.xa.n, 0);
	MAPS_EXIT();
}

/*
 * Each allocation of a scenario made to fail in turn, as the fail_nth
 * selftest does in the kernel: the bits set before stay, those of the
 * failed range may be set in part, the accounting holds, and every fault
 * point is reached.
 */
static void test_fail_each_allocation(void)
{
	u64 nth, first, last, prev = 0;
	unsigned int step;
	bool hit;

	points_failed = 0;
	for (nth = 1; !failed; nth++) {
		rng_state = 200;
		maps_init(2);
		fail_after(nth);
		for (step = 0; step < 60; step++) {
			struct map *m = &maps[step % 2];

			pick_range(m, prev, &first, &last);
			map_set(m, first, last, __LINE__);
			prev = last + 1;
			if (step % 10 == 9)
				GET_BITMAP(0);
		}
		REPORT(0);
		hit = !fail_pending();
		MAPS_EXIT();
		if (!hit)
			break;
	}
	EXPECT(nth > 10);
	EXPECT(points_failed & 1ULL << VFIO_DIRTY_FAULT_BITS_STORE);
	EXPECT(points_failed & 1ULL << VFIO_DIRTY_FAULT_BITS_TABLE_ALLOC);
	EXPECT(points_failed & 1ULL << VFIO_DIRTY_FAULT_BITS_BLOCK_ALLOC);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "random_sequences", test_random_sequences },
		{ "runs_take_no_memory", test_runs_take_no_memory },
		{ "tables_follow_the_dirtied", test_tables_follow_the_dirtied },
		{ "fail_each_allocation", test_fail_each_allocation },
	};
	int status;

	if (vfio_dirty_bits_cache_init())
		return 1;
	status = unit_main(tests, ARRAY_SIZE(tests));
	vfio_dirty_bits_cache_exit();
	return status;
}

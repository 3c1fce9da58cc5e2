// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio_dirty: blocks of dirty bits and the writer that lays them out in a
 * user's bitmap.
 *
 * Theory of operation
 *
 * Blocks.  A mapping's dirty bits are kept in blocks of VFIO_DIRTY_BITS
 * bits (dirty.c allocates them as pages are dirtied).  Next to its bits a
 * block keeps @used, one bit per 64-bit word that holds a bit: so walking a
 * block costs what it holds, not its size.  Bits are only ever set one
 * range at a time, or all cleared at once, which keeps @used exact.
 *
 * Runs.  While the bits set in a span of a mapping are one run, dirty.c
 * keeps the run's first bit and length instead of blocks:
 * vfio_dirty_run_join() says whether a range set next keeps them one run,
 * and the writer lays a run out as ones.
 *
 * The writer.  A report lays out the bits of the mappings of a range into
 * the user's bitmap, whose bit 0 stands for the range's first page: a
 * mapping's bit 0 may fall at any bit of it, and two mappings may share a
 * word.  The uAPI has the user zero the bitmap, so only words with a bit
 * set are written, and the bitmap is never read.  The destination is cut
 * into chunks of @cap words, and no write crosses from one to the next.
 * Words that land in the destination as they are stored (a block's words,
 * when its bit 0 falls on a word's bit 0; a run of ones) are written
 * straight from where they are, a consecutive run per write.  Words that
 * must be built (shifted, or a part of a word) are gathered in @buf, a run
 * of consecutive words, and written out when the next word does not extend
 * the run, when @buf or the chunk is full, before a run written straight,
 * or when the caller flushes (at the end of each mapping).  So a report
 * needs no memory but the writer's, whatever its size.
 *
 * Order.  Bits are given in increasing order: each call's first bit lies
 * after every bit given before, except that it may share the last word
 * given.  That word may have been written out already (at the end of a
 * mapping, or as the last of a run written straight); the writer keeps it
 * as @tail, so that when the next bits fall in it, it is written again,
 * with all of its bits.  A run written straight starts at a word's bit 0,
 * so it never shares its first word with what came before.
 *
 * Widths.  Bit numbers and counts are u64 here: a request may cover 2^31
 * pages and more.  A block's bit numbers are u32.
 */
#include <linux/bitops.h>
#include <linux/minmax.h>
#include <linux/string.h>

#include "bits.h"

/* The source of runs of ones: a block's worth. */
static const u64 ones[VFIO_DIRTY_BITS_WORDS] = {
	[0 ... VFIO_DIRTY_BITS_WORDS - 1] = ~0ULL
};

/* Set bits [@bit, @bit + @n) of @map, @n at least 1. */
static void set_range(u64 *map, u32 bit, u32 n)
{
	u32 w = bit / 64, last = (bit + n - 1) / 64;
	u64 head = ~0ULL << (bit % 64);
	u64 tail = ~0ULL >> (63 - (bit + n - 1) % 64);

	if (w == last) {
		map[w] |= head & tail;
		return;
	}
	map[w++] |= head;
	if (w < last)
		memset(&map[w], 0xff, (last - w) * sizeof(u64));
	map[last] |= tail;
}

/*
 * The first word of @block at or after word @w that holds a bit, or, when
 * @used is false, that holds none; VFIO_DIRTY_BITS_WORDS if there is none.
 */
static u32 next_word(const struct vfio_dirty_bits *block, u32 w, bool used)
{
	u64 map;

	while (w < VFIO_DIRTY_BITS_WORDS) {
		map = used ? block->used[w / 64] : ~block->used[w / 64];
		map &= ~0ULL << (w % 64);
		if (map)
			return w - w % 64 + __ffs64(map);
		w = w - w % 64 + 64;
	}
	return VFIO_DIRTY_BITS_WORDS;
}

/**
 * vfio_dirty_bits_set() - set bits of a block
 * @block: the block
 * @bit: the first bit
 * @n: how many, at least 1; @bit + @n is at most VFIO_DIRTY_BITS
 */
void vfio_dirty_bits_set(struct vfio_dirty_bits *block, u32 bit, u32 n)
{
	set_range(block->words, bit, n);
	set_range(block->used, bit / 64, (bit + n - 1) / 64 - bit / 64 + 1);
}

/**
 * vfio_dirty_bits_clear() - clear every bit of a block
 * @block: the block; only the words that hold a bit are written
 */
void vfio_dirty_bits_clear(struct vfio_dirty_bits *block)
{
	u32 w, end;

	for (w = next_word(block, 0, true); w < VFIO_DIRTY_BITS_WORDS;
	     w = next_word(block, end, true)) {
		end = next_word(block, w, false);
		memset(&block->words[w], 0, (end - w) * sizeof(u64));
	}
	memset(block->used, 0, sizeof(block->used));
}

/**
 * vfio_dirty_run_join() - join a range of bits to a run of them
 * @first: the run's first bit
 * @n: its bits, at least 1
 * @bit: the range's first bit
 * @count: its bits, at least 1
 *
 * Return: true, with the run grown to cover the range, when the two overlap
 * or touch; false, with the run unchanged, when bits would lie between.
 */
bool vfio_dirty_run_join(u32 *first, u32 *n, u32 bit, u32 count)
{
	u32 end = max(*first + *n, bit + count);

	if (bit > *first + *n || bit + count < *first)
		return false;
	*first = min(*first, bit);
	*n = end - *first;
	return true;
}

/**
 * vfio_dirty_writer_flush() - write out the words gathered
 * @w: the writer
 *
 * Return: 0, or what @w->write returned, the words then kept.
 */
int vfio_dirty_writer_flush(struct vfio_dirty_writer *w)
{
	int ret;

	if (!w->n)
		return 0;
	ret = w->write(w->priv, w->first, w->buf, w->n);
	if (ret)
		return ret;
	w->tail = w->buf[w->n - 1];
	w->tail_word = w->first + w->n - 1;
	w->has_tail = true;
	w->n = 0;
	return 0;
}

/*
 * Put @val at word @word of the destination, ORed with what it holds, unless
 * it is zero.  @word is at least the last word put before.
 */
static int put_word(struct vfio_dirty_writer *w, u64 word, u64 val)
{
	int ret;

	if (!val)
		return 0;
	if (w->n && word == w->first + w->n - 1) {
		w->buf[w->n - 1] |= val;
		return 0;
	}
	if (w->n && (word != w->first + w->n || word % w->cap == 0 ||
		     w->n == VFIO_DIRTY_WRITER_WORDS)) {
		ret = vfio_dirty_writer_flush(w);
		if (ret)
			return ret;
	}
	if (!w->n) {
		w->first = word;
		if (w->has_tail && w->tail_word == word)
			val |= w->tail;
	}
	w->buf[w->n++] = val;
	return 0;
}

/*
 * Write @n words, none zero, straight from @src, or ones when @src is NULL,
 * from word @word of the destination on, after the words gathered.  @word
 * is past every word put before.
 */
static int put_straight(struct vfio_dirty_writer *w, u64 word, const u64 *src,
			u64 n)
{
	u64 take;
	int ret;

	ret = vfio_dirty_writer_flush(w);
	if (ret)
		return ret;
	while (n) {
		take = min(n, w->cap - word % w->cap);
		if (!src)
			take = min_t(u64, take, VFIO_DIRTY_BITS_WORDS);
		ret = w->write(w->priv, word, src ? src : ones, take);
		if (ret)
			return ret;
		if (src)
			src += take;
		word += take;
		n -= take;
	}
	w->tail = src ? src[-1] : ~0ULL;
	w->tail_word = word - 1;
	w->has_tail = true;
	return 0;
}

/**
 * vfio_dirty_writer_set() - lay out a run of set bits
 * @w: the writer
 * @bit: the destination bit of the first
 * @n: how many, at least 1
 *
 * Return: 0, or what @w->write returned.
 */
int vfio_dirty_writer_set(struct vfio_dirty_writer *w, u64 bit, u64 n)
{
	u64 word = bit / 64, end = bit + n;
	int ret;

	if (bit % 64) {
		u64 val = ~0ULL << (bit % 64);

		if (end - word * 64 < 64)
			val &= ~(~0ULL << (end % 64));
		ret = put_word(w, word, val);
		if (ret)
			return ret;
		word++;
	}
	if (end / 64 > word) {
		ret = put_straight(w, word, NULL, end / 64 - word);
		if (ret)
			return ret;
		word = end / 64;
	}
	if (end % 64 && word * 64 < end)
		return put_word(w, word, ~(~0ULL << (end % 64)));
	return 0;
}

/**
 * vfio_dirty_writer_bits() - lay out the bits of a block
 * @w: the writer
 * @bit: the destination bit of the block's bit 0
 * @block: the block
 *
 * Only the words of the block that hold a bit are visited.  When @bit is a
 * word's bit 0, they are written straight from the block, a run of
 * consecutive words per write.
 *
 * Return: 0, or what @w->write returned.
 */
int vfio_dirty_writer_bits(struct vfio_dirty_writer *w, u64 bit,
			   const struct vfio_dirty_bits *block)
{
	unsigned int shift = bit % 64;
	u64 base = bit / 64;
	u32 i, end;
	int ret;

	for (i = next_word(block, 0, true); i < VFIO_DIRTY_BITS_WORDS;
	     i = next_word(block, end, true)) {
		end = next_word(block, i, false);
		if (!shift) {
			ret = put_straight(w, base + i, &block->words[i],
					   end - i);
			if (ret)
				return ret;
			continue;
		}
		for (; i < end; i++) {
			ret = put_word(w, base + i, block->words[i] << shift);
			if (!ret)
				ret = put_word(w, base + i + 1,
					       block->words[i] >> (64 - shift));
			if (ret)
				return ret;
		}
	}
	return 0;
}

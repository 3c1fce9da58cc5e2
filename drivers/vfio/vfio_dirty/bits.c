// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio_dirty: chunks of dirty bits and the writer that lays them out in a
 * user's bitmap.
 *
 * Theory of operation
 *
 * Chunks.  A mapping's dirty bits are kept in chunks of VFIO_DIRTY_BITS
 * bits (dirty.c allocates them as pages are dirtied).  Next to its bits a
 * chunk keeps @used, one bit per 64-bit word that holds a bit: so walking a
 * chunk costs what it holds, not its size.  Bits are only ever set one
 * range at a time, or all cleared at once, which keeps @used exact.
 *
 * The writer.  A report lays out the bits of the mappings of a range into
 * the user's bitmap, whose bit 0 stands for the range's first page: a
 * mapping's bit 0 may fall at any bit of it, and two mappings may share a
 * word.  The uAPI has the user zero the bitmap, so only words with a bit
 * set are written, and the bitmap is never read.  The words are gathered in
 * @buf, a run of consecutive words within one chunk of the destination, and
 * written out when the next word does not extend the run, when the chunk
 * ends, or when the caller flushes (at the end of each mapping).  So the
 * memory a report needs is one chunk of destination, and a write never
 * crosses a chunk.
 *
 * Order.  Bits are given in increasing order: each call's first bit lies
 * after every bit given before, except that it may share the last word
 * given.  That word may have been written out already (by a flush at the
 * end of a mapping); the writer keeps it as @tail, so that when the next
 * bits fall in it, it is written again, with all of its bits.
 *
 * Widths.  Bit numbers and counts are u64 here: a request may cover 2^31
 * pages and more.  A chunk's bit numbers are u32.
 */
#include <linux/bitops.h>
#include <linux/minmax.h>
#include <linux/string.h>

#include "bits.h"

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

/**
 * vfio_dirty_bits_set() - set bits of a chunk
 * @chunk: the chunk
 * @bit: the first bit
 * @n: how many, at least 1; @bit + @n is at most VFIO_DIRTY_BITS
 */
void vfio_dirty_bits_set(struct vfio_dirty_bits *chunk, u32 bit, u32 n)
{
	set_range(chunk->words, bit, n);
	set_range(chunk->used, bit / 64, (bit + n - 1) / 64 - bit / 64 + 1);
}

/**
 * vfio_dirty_bits_clear() - clear every bit of a chunk
 * @chunk: the chunk; only the words that hold a bit are written
 */
void vfio_dirty_bits_clear(struct vfio_dirty_bits *chunk)
{
	unsigned int i;
	u64 used;

	for (i = 0; i < VFIO_DIRTY_BITS_WORDS / 64; i++) {
		for (used = chunk->used[i]; used; used &= used - 1)
			chunk->words[i * 64 + __ffs64(used)] = 0;
		chunk->used[i] = 0;
	}
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
 * Put @m words at word @word of the destination, ORed with what it holds:
 * @src's, or all ones when @src is NULL.  @word is at least the last word
 * put before.
 */
static int put_words(struct vfio_dirty_writer *w, u64 word, const u64 *src,
		     u64 m)
{
	u64 room, take;
	int ret;

	while (m) {
		if (w->n && word == w->first + w->n - 1) {
			w->buf[w->n - 1] |= src ? *src++ : ~0ULL;
			word++;
			m--;
			continue;
		}
		if (!w->n || word != w->first + w->n ||
		    (w->first + w->n) % w->cap == 0) {
			ret = vfio_dirty_writer_flush(w);
			if (ret)
				return ret;
			w->first = word;
			if (w->has_tail && w->tail_word == word) {
				w->buf[0] = w->tail;
				w->n = 1;
				continue;
			}
		}
		room = w->cap - (w->first + w->n) % w->cap;
		take = min(m, room);
		if (src) {
			memcpy(&w->buf[w->n], src, take * sizeof(u64));
			src += take;
		} else {
			memset(&w->buf[w->n], 0xff, take * sizeof(u64));
		}
		w->n += take;
		word += take;
		m -= take;
	}
	return 0;
}

/* Put one word, unless it is zero. */
static int put_word(struct vfio_dirty_writer *w, u64 word, u64 val)
{
	return val ? put_words(w, word, &val, 1) : 0;
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
		ret = put_words(w, word, NULL, end / 64 - word);
		if (ret)
			return ret;
		word = end / 64;
	}
	if (end % 64 && word * 64 < end)
		return put_word(w, word, ~(~0ULL << (end % 64)));
	return 0;
}

/**
 * vfio_dirty_writer_bits() - lay out the bits of a chunk
 * @w: the writer
 * @bit: the destination bit of the chunk's bit 0
 * @chunk: the chunk
 *
 * Only the words of the chunk that hold a bit are visited.
 *
 * Return: 0, or what @w->write returned.
 */
int vfio_dirty_writer_bits(struct vfio_dirty_writer *w, u64 bit,
			   const struct vfio_dirty_bits *chunk)
{
	unsigned int shift = bit % 64, i, j, run;
	u64 word = bit / 64, used, rest;
	int ret;

	for (i = 0; i < VFIO_DIRTY_BITS_WORDS / 64; i++) {
		used = chunk->used[i];
		while (used) {
			j = __ffs64(used);
			if (!shift) {
				/* Aligned: copy the whole run of words. */
				rest = ~(used >> j);
				run = rest ? __ffs64(rest) : 64 - j;
				ret = put_words(w, word + i * 64 + j,
						&chunk->words[i * 64 + j], run);
				if (ret)
					return ret;
				used = j + run == 64 ? 0 :
				       used & (~0ULL << (j + run));
				continue;
			}
			rest = chunk->words[i * 64 + j];
			ret = put_word(w, word + i * 64 + j, rest << shift);
			if (!ret)
				ret = put_word(w, word + i * 64 + j + 1,
					       rest >> (64 - shift));
			if (ret)
				return ret;
			used &= used - 1;
		}
	}
	return 0;
}

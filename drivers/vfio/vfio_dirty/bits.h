/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vfio_dirty: blocks of dirty bits and the writer that lays them out in a
 * user's bitmap.  See bits.c for the theory of operation.  Pure logic: this
 * header and bits.c build unchanged in the kernel and in
 * tools/testing/vfio_dirty.
 */
#ifndef __VFIO_DIRTY_BITS_H
#define __VFIO_DIRTY_BITS_H

#include <linux/types.h>

/* 64-bit words of bits in a block, and the bits: 128 MiB of IOVA at 4 KiB. */
#define VFIO_DIRTY_BITS_WORDS	512
#define VFIO_DIRTY_BITS		(VFIO_DIRTY_BITS_WORDS * 64)

/**
 * struct vfio_dirty_bits - a block of a mapping's dirty bits
 * @used: bit w is set if and only if @words[w] is not zero
 * @words: the bits; bit b of the block is bit b % 64 of @words[b / 64]
 *
 * A zeroed block holds no bit.
 */
struct vfio_dirty_bits {
	u64 used[VFIO_DIRTY_BITS_WORDS / 64];
	u64 words[VFIO_DIRTY_BITS_WORDS];
};

void vfio_dirty_bits_set(struct vfio_dirty_bits *block, u32 bit, u32 n);
void vfio_dirty_bits_clear(struct vfio_dirty_bits *block);
bool vfio_dirty_run_join(u32 *first, u32 *n, u32 bit, u32 count);

/* Words the writer gathers before writing them out: 2 KiB. */
#define VFIO_DIRTY_WRITER_WORDS	256

/**
 * struct vfio_dirty_writer - bits on their way to a zeroed bitmap
 * @cap: words in a chunk of the destination: the destination is cut into
 *	chunks of @cap words, counted from its word 0, and no write crosses
 *	from one to the next
 * @write: writes @n words from @words to the destination, from its word
 *	@word on; returns 0 or an errno
 * @priv: for @write
 * @first: the destination word @buf[0] stands for
 * @n: words in @buf
 * @tail: the last word written out, when @has_tail
 * @tail_word: its index in the destination
 * @has_tail: a word was written out
 * @buf: words gathered, consecutive, within one chunk of the destination
 *
 * The caller sets @cap, @write and @priv, and zeroes the rest.
 */
struct vfio_dirty_writer {
	u64 cap;
	int (*write)(void *priv, u64 word, const u64 *words, u64 n);
	void *priv;
	/* private: */
	u64 first;
	u64 n;
	u64 tail;
	u64 tail_word;
	bool has_tail;
	u64 buf[VFIO_DIRTY_WRITER_WORDS];
};

int vfio_dirty_writer_set(struct vfio_dirty_writer *w, u64 bit, u64 n);
int vfio_dirty_writer_bits(struct vfio_dirty_writer *w, u64 bit,
			   const struct vfio_dirty_bits *block);
int vfio_dirty_writer_flush(struct vfio_dirty_writer *w);

#endif /* __VFIO_DIRTY_BITS_H */

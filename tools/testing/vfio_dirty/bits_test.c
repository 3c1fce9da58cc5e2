// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the blocks of dirty bits, of runs of them, and of the
 * writer that lays them out in a user's bitmap,
 * drivers/vfio/vfio_dirty/bits.c, built in userspace.  Prints TAP; exits 1
 * if any test fails.
 *
 * The writer writes into a destination array the way the kernel copies to
 * the user's bitmap: each write replaces the words it covers.  Every test
 * checks the destination bit by bit against a plain reference, and every
 * write against the writer's rules: only words with a bit set, never past
 * the end of a chunk of the destination.  The random inputs come from a
 * fixed seed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/minmax.h>

#include "bits.h"
#include "unit.h"

/* The destination: 4096 words, 262144 bits. */
#define DEST_WORDS	4096ULL
#define DEST_BITS	(DEST_WORDS * 64)

static u64 dest[DEST_WORDS];
static u64 ref[DEST_WORDS];
static u64 writes, words_written, fail_at;

static void ref_set(u64 bit, u64 n)
{
	for (; n; n--, bit++)
		ref[bit / 64] |= 1ULL << (bit % 64);
}

static int dest_write(void *priv, u64 word, const u64 *words, u64 n)
{
	struct vfio_dirty_writer *w = priv;
	u64 i;

	if (++writes == fail_at)
		return -EFAULT;
	EXPECT(n >= 1 && n <= w->cap && n <= VFIO_DIRTY_BITS_WORDS);
	EXPECT(word / w->cap == (word + n - 1) / w->cap);
	EXPECT(word + n <= DEST_WORDS);
	for (i = 0; i < n; i++)
		EXPECT(words[i] != 0);
	memcpy(&dest[word], words, n * sizeof(u64));
	words_written += n;
	return 0;
}

static void writer_init(struct vfio_dirty_writer *w, u64 cap)
{
	memset(w, 0, sizeof(*w));
	w->cap = cap;
	w->write = dest_write;
	w->priv = w;
	memset(dest, 0, sizeof(dest));
	memset(ref, 0, sizeof(ref));
	writes = 0;
	words_written = 0;
	fail_at = 0;
}

static void expect_dest(int line)
{
	u64 i;

	for (i = 0; i < DEST_WORDS; i++) {
		if (dest[i] != ref[i]) {
			diag(line, "word %llu: got 0x%llx, want 0x%llx\n", i,
			     dest[i], ref[i]);
			return;
		}
	}
}

#define EXPECT_DEST()	expect_dest(__LINE__)

/* The block's @used must be exactly its nonzero words. */
static void expect_used(const struct vfio_dirty_bits *c, int line)
{
	unsigned int i;

	for (i = 0; i < VFIO_DIRTY_BITS_WORDS; i++) {
		bool used = c->used[i / 64] >> (i % 64) & 1;

		if (used != !!c->words[i]) {
			diag(line, "word %u: used %d, value 0x%llx\n", i, used,
			     c->words[i]);
			return;
		}
	}
}

/* Fill @c with random runs of bits below @limit, and @model with them. */
static void block_fill_below(struct vfio_dirty_bits *c, bool *model,
			     unsigned int limit)
{
	unsigned int k, bit, n, i;

	memset(c, 0, sizeof(*c));
	memset(model, 0, VFIO_DIRTY_BITS);
	for (k = rng_below(12); k; k--) {
		bit = rng_below(limit);
		n = 1 + rng_below(rng_below(4) ? 100 : limit - bit);
		if (bit + n > limit)
			n = limit - bit;
		vfio_dirty_bits_set(c, bit, n);
		for (i = bit; i < bit + n; i++)
			model[i] = true;
	}
}

static void block_fill(struct vfio_dirty_bits *c, bool *model)
{
	block_fill_below(c, model, VFIO_DIRTY_BITS);
}

static void test_bits_set_clear(void)
{
	static struct vfio_dirty_bits c;
	static bool model[VFIO_DIRTY_BITS];
	unsigned int round, i;

	rng_state = 3;
	for (round = 0; round < 300; round++) {
		block_fill(&c, model);
		for (i = 0; i < VFIO_DIRTY_BITS; i++) {
			if (model[i] != (c.words[i / 64] >> (i % 64) & 1)) {
				diag(__LINE__, "round %u bit %u: want %d\n",
				     round, i, model[i]);
				break;
			}
		}
		expect_used(&c, __LINE__);
		vfio_dirty_bits_clear(&c);
		for (i = 0; i < VFIO_DIRTY_BITS_WORDS; i++)
			EXPECT(!c.words[i]);
		expect_used(&c, __LINE__);
	}
}

static void test_bits_set_edges(void)
{
	static struct vfio_dirty_bits c;

	memset(&c, 0, sizeof(c));
	vfio_dirty_bits_set(&c, 0, VFIO_DIRTY_BITS);
	EXPECT_U64(c.words[0], ~0ULL);
	EXPECT_U64(c.words[VFIO_DIRTY_BITS_WORDS - 1], ~0ULL);
	EXPECT_U64(c.used[VFIO_DIRTY_BITS_WORDS / 64 - 1], ~0ULL);
	expect_used(&c, __LINE__);

	memset(&c, 0, sizeof(c));
	vfio_dirty_bits_set(&c, 63, 2);
	EXPECT_U64(c.words[0], 1ULL << 63);
	EXPECT_U64(c.words[1], 1);
	EXPECT_U64(c.used[0], 3);
	vfio_dirty_bits_set(&c, VFIO_DIRTY_BITS - 1, 1);
	EXPECT_U64(c.words[VFIO_DIRTY_BITS_WORDS - 1], 1ULL << 63);
	expect_used(&c, __LINE__);
}

/*
 * Joining ranges to a run, against a model of the bits: a join succeeds
 * exactly when the model's set bits stay one run, and the run is then
 * exactly them; a refused join leaves the run as it was.  Ranges that touch
 * the run at either end, overlap it, hold it or lie in it are all drawn.
 */
static void test_run_join(void)
{
	static bool model[VFIO_DIRTY_BITS];
	u32 first, n, bit, count, i, lo, hi;
	unsigned int round, step;
	bool joined, one_run;

	rng_state = 11;
	for (round = 0; round < 2000; round++) {
		memset(model, 0, sizeof(model));
		first = rng_below(VFIO_DIRTY_BITS);
		n = 1 + rng_below(min(VFIO_DIRTY_BITS - first, 64U));
		for (i = first; i < first + n; i++)
			model[i] = true;
		for (step = 0; step < 8; step++) {
			lo = first > 70 ? first - 70 : 0;
			hi = min(first + n + 70, (u32)VFIO_DIRTY_BITS);
			bit = lo + rng_below(hi - lo);
			count = 1 + rng_below(min(VFIO_DIRTY_BITS - bit, 80U));
			one_run = bit <= first + n && bit + count >= first;
			joined = vfio_dirty_run_join(&first, &n, bit, count);
			EXPECT(joined == one_run);
			if (!joined)
				continue;
			for (i = bit; i < bit + count; i++)
				model[i] = true;
			for (i = 0; i < VFIO_DIRTY_BITS; i++) {
				if (model[i] != (i >= first && i < first + n)) {
					diag(__LINE__, "round %u bit %u: want %d\n",
					     round, i, model[i]);
					break;
				}
			}
		}
	}

	first = 0;
	n = 1;
	EXPECT(vfio_dirty_run_join(&first, &n, 1, VFIO_DIRTY_BITS - 1));
	EXPECT_U64(first, 0);
	EXPECT_U64(n, VFIO_DIRTY_BITS);
	first = 5;
	n = 1;
	EXPECT(!vfio_dirty_run_join(&first, &n, 7, 1));
	EXPECT(!vfio_dirty_run_join(&first, &n, 3, 1));
	EXPECT_U64(first, 5);
	EXPECT_U64(n, 1);
	EXPECT(vfio_dirty_run_join(&first, &n, 4, 1));
	EXPECT(vfio_dirty_run_join(&first, &n, 6, 1));
	EXPECT_U64(first, 4);
	EXPECT_U64(n, 3);
}

/* Runs: the first bit of each at or after the end of the one before. */
static void test_writer_set_random(void)
{
	struct vfio_dirty_writer w;
	u64 bit, n, round;

	rng_state = 4;
	for (round = 0; round < 2000; round++) {
		writer_init(&w, 1 + rng_below(rng_below(2) ? 8 : 200));
		bit = rng_below(200);
		while (bit < DEST_BITS) {
			n = 1 + rng_below(rng_below(5) ? 70 : 5000);
			if (bit + n > DEST_BITS)
				n = DEST_BITS - bit;
			EXPECT_INT(vfio_dirty_writer_set(&w, bit, n), 0);
			ref_set(bit, n);
			/* A mapping may end here. */
			if (!rng_below(3))
				EXPECT_INT(vfio_dirty_writer_flush(&w), 0);
			bit += n + (rng_below(3) ? rng_below(300) : 0);
		}
		EXPECT_INT(vfio_dirty_writer_flush(&w), 0);
		EXPECT_DEST();
		if (failed)
			return;
	}
}

/* Chunks at aligned and unaligned bits, with runs between them. */
static void test_writer_bits_random(void)
{
	static struct vfio_dirty_bits c;
	static bool model[VFIO_DIRTY_BITS];
	struct vfio_dirty_writer w;
	u64 bit, round, i, n;

	rng_state = 5;
	for (round = 0; round < 300; round++) {
		writer_init(&w, 1 + rng_below(rng_below(2) ? 16 : 1000));
		bit = rng_below(2) ? 64 * rng_below(8) : rng_below(500);
		while (bit + VFIO_DIRTY_BITS <= DEST_BITS) {
			block_fill(&c, model);
			EXPECT_INT(vfio_dirty_writer_bits(&w, bit, &c), 0);
			for (i = 0; i < VFIO_DIRTY_BITS; i++)
				if (model[i])
					ref_set(bit + i, 1);
			bit += VFIO_DIRTY_BITS;
			if (!rng_below(2)) {
				EXPECT_INT(vfio_dirty_writer_flush(&w), 0);
				/* The next mapping, maybe in the same word. */
				bit += rng_below(2) ? 0 : rng_below(3000);
				if (!rng_below(3) && bit + 100 < DEST_BITS) {
					n = 1 + rng_below(100);
					EXPECT_INT(vfio_dirty_writer_set(&w, bit, n), 0);
					ref_set(bit, n);
					bit += n;
				}
			}
		}
		EXPECT_INT(vfio_dirty_writer_flush(&w), 0);
		EXPECT_DEST();
		if (failed)
			return;
	}
}

/* Two mappings share a word; the first is written out before the second. */
static void test_writer_shared_word(void)
{
	static struct vfio_dirty_bits c;
	struct vfio_dirty_writer w;

	writer_init(&w, 4);
	EXPECT_INT(vfio_dirty_writer_set(&w, 10, 20), 0);
	EXPECT_INT(vfio_dirty_writer_flush(&w), 0);
	EXPECT_INT(vfio_dirty_writer_set(&w, 30, 3), 0);
	EXPECT_INT(vfio_dirty_writer_flush(&w), 0);
	memset(&c, 0, sizeof(c));
	vfio_dirty_bits_set(&c, 0, 1);
	vfio_dirty_bits_set(&c, 100, 1);
	EXPECT_INT(vfio_dirty_writer_bits(&w, 40, &c), 0);
	EXPECT_INT(vfio_dirty_writer_flush(&w), 0);
	ref_set(10, 23);
	ref_set(40, 1);
	ref_set(140, 1);
	EXPECT_DEST();
	/* Word 0 was written three times, word 2 once. */
	EXPECT_U64(words_written, 4);
}

/* Only the words with a bit set are written, each once. */
static void test_writer_sparse(void)
{
	static struct vfio_dirty_bits c;
	struct vfio_dirty_writer w;
	u64 i;

	writer_init(&w, 512);
	memset(&c, 0, sizeof(c));
	for (i = 0; i < VFIO_DIRTY_BITS; i += 1024)
		vfio_dirty_bits_set(&c, i, 128);
	EXPECT_INT(vfio_dirty_writer_bits(&w, 0, &c), 0);
	EXPECT_INT(vfio_dirty_writer_flush(&w), 0);
	for (i = 0; i < VFIO_DIRTY_BITS; i += 1024)
		ref_set(i, 128);
	EXPECT_DEST();
	EXPECT_U64(words_written, 2 * VFIO_DIRTY_BITS / 1024);
	EXPECT_U64(writes, VFIO_DIRTY_BITS / 1024);
}

/*
 * A run of all ones: its partial first and last words are gathered, the
 * rest is written straight, in writes of a block's worth of words at most
 * that do not cross a chunk of the destination.
 */
static void test_writer_long_run(void)
{
	struct vfio_dirty_writer w;

	writer_init(&w, 1024);
	EXPECT_INT(vfio_dirty_writer_set(&w, 5, DEST_BITS - 10), 0);
	EXPECT_INT(vfio_dirty_writer_flush(&w), 0);
	ref_set(5, DEST_BITS - 10);
	EXPECT_DEST();
	/* Word 0; words 1-511, 512-1023, then two per 1024; word 4095. */
	EXPECT_U64(writes, 1 + 2 * DEST_WORDS / 1024 + 1);
	EXPECT_U64(words_written, DEST_WORDS);
}

/*
 * A block at a word's bit 0 is written straight; its last word, shared
 * with the next mapping, is written again with the next mapping's bits.
 */
static void test_writer_straight_tail(void)
{
	static struct vfio_dirty_bits c;
	struct vfio_dirty_writer w;

	writer_init(&w, 8);
	memset(&c, 0, sizeof(c));
	vfio_dirty_bits_set(&c, 64, 36);
	EXPECT_INT(vfio_dirty_writer_bits(&w, 0, &c), 0);
	EXPECT_U64(writes, 1);
	EXPECT_INT(vfio_dirty_writer_flush(&w), 0);
	EXPECT_INT(vfio_dirty_writer_set(&w, 100, 5), 0);
	EXPECT_INT(vfio_dirty_writer_flush(&w), 0);
	ref_set(64, 41);
	EXPECT_DEST();
	EXPECT_U64(writes, 2);
	EXPECT_U64(words_written, 2);
}

/*
 * Mappings as a report meets them: random lengths, one after the other or
 * with gaps, each reported whole (all dirty) or block by block, with bits
 * only within the mapping, and the writer flushed after each.
 */
static void report_block_below(struct vfio_dirty_writer *w, u64 bit, u64 limit)
{
	static struct vfio_dirty_bits c;
	static bool model[VFIO_DIRTY_BITS];
	u64 i;

	block_fill_below(&c, model, min_t(u64, limit, VFIO_DIRTY_BITS));
	EXPECT_INT(vfio_dirty_writer_bits(w, bit, &c), 0);
	for (i = 0; i < VFIO_DIRTY_BITS; i++)
		if (model[i])
			ref_set(bit + i, 1);
}

static void test_writer_mappings_random(void)
{
	struct vfio_dirty_writer w;
	u64 bit, len, k, round;

	rng_state = 6;
	for (round = 0; round < 500; round++) {
		writer_init(&w, 1 + rng_below(rng_below(2) ? 16 : 1000));
		bit = rng_below(200);
		while (bit < DEST_BITS) {
			len = 1 + rng_below(rng_below(3) ? 300 :
					    3 * VFIO_DIRTY_BITS);
			if (bit + len > DEST_BITS)
				len = DEST_BITS - bit;
			if (!rng_below(4)) {
				EXPECT_INT(vfio_dirty_writer_set(&w, bit, len), 0);
				ref_set(bit, len);
			} else {
				/* A block the mapping's pages never dirtied is not there. */
				for (k = 0; k * VFIO_DIRTY_BITS < len; k++)
					if (rng_below(4))
						report_block_below(&w, bit + k * VFIO_DIRTY_BITS,
								   len - k * VFIO_DIRTY_BITS);
			}
			EXPECT_INT(vfio_dirty_writer_flush(&w), 0);
			bit += len + (rng_below(2) ? 0 : rng_below(200));
		}
		EXPECT_DEST();
		if (failed)
			return;
	}
}

/* A write that fails is returned, by whichever call made it. */
static void test_writer_fault(void)
{
	static struct vfio_dirty_bits c;
	struct vfio_dirty_writer w;

	writer_init(&w, 2);
	fail_at = 1;
	EXPECT_INT(vfio_dirty_writer_set(&w, 0, 64 * 5), -EFAULT);
	EXPECT_U64(words_written, 0);

	writer_init(&w, 8);
	fail_at = 1;
	EXPECT_INT(vfio_dirty_writer_set(&w, 0, 10), 0);
	EXPECT_INT(vfio_dirty_writer_flush(&w), -EFAULT);

	writer_init(&w, 8);
	fail_at = 2;
	memset(&c, 0, sizeof(c));
	vfio_dirty_bits_set(&c, 0, 1);
	vfio_dirty_bits_set(&c, 64 * 100, 1);
	EXPECT_INT(vfio_dirty_writer_bits(&w, 3, &c), 0);
	EXPECT_INT(vfio_dirty_writer_flush(&w), -EFAULT);
	EXPECT_U64(words_written, 1);
	EXPECT_U64(dest[0], 1 << 3);
}

static const struct unit_test tests[] = {
	{ "bits_set_clear", test_bits_set_clear },
	{ "bits_set_edges", test_bits_set_edges },
	{ "run_join", test_run_join },
	{ "writer_set_random", test_writer_set_random },
	{ "writer_bits_random", test_writer_bits_random },
	{ "writer_shared_word", test_writer_shared_word },
	{ "writer_sparse", test_writer_sparse },
	{ "writer_long_run", test_writer_long_run },
	{ "writer_straight_tail", test_writer_straight_tail },
	{ "writer_mappings_random", test_writer_mappings_random },
	{ "writer_fault", test_writer_fault },
};

int main(void)
{
	return unit_main(tests, ARRAY_SIZE(tests));
}

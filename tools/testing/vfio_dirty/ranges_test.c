// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the DMA logging range splitter, drivers/vfio/vfio_dirty_sim/
 * ranges.c, built in userspace.  Prints TAP; exits 1 if any test fails.
 *
 * Fitting is checked against a brute force over every subset of gaps on
 * thousands of small random inputs, and against a reference that merges
 * the smallest gap, lowest address first, one at a time.  The random inputs
 * come from a fixed seed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ranges.h"
#include "unit.h"

#define PG		4096ULL
#define TOP		(~0ULL)

static struct vfio_dirty_range pages(u64 first, u64 count)
{
	return (struct vfio_dirty_range){
		.start = first * PG,
		.last = (first + count) * PG - 1,
	};
}

static bool same_ranges(const struct vfio_dirty_range *a,
			const struct vfio_dirty_range *b, u32 n)
{
	return !memcmp(a, b, n * sizeof(*a));
}

/* Fit a copy of @in; returns the error, fills @out, @nr and @over. */
static int fit(const struct vfio_dirty_range *in, u32 n, u32 k, u64 max_span,
	       struct vfio_dirty_range *out, u32 *nr, u64 *over)
{
	struct vfio_dirty_gap gaps[16];

	memcpy(out, in, n * sizeof(*in));
	*nr = n;
	return vfio_dirty_ranges_fit(out, nr, k, max_span, gaps, over);
}

static void test_range_init(void)
{
	struct vfio_dirty_range r = { 1, 2 };

	EXPECT_INT(vfio_dirty_range_init(&r, 0x10000, 0x2000), 0);
	EXPECT_U64(r.start, 0x10000);
	EXPECT_U64(r.last, 0x11fff);

	r = (struct vfio_dirty_range){ 1, 2 };
	EXPECT_INT(vfio_dirty_range_init(&r, 0x10000, 0), -EINVAL);
	EXPECT(r.start == 1 && r.last == 2);

	EXPECT_INT(vfio_dirty_range_init(&r, TOP - PG + 1, PG), 0);
	EXPECT_U64(r.start, TOP - PG + 1);
	EXPECT_U64(r.last, TOP);

	EXPECT_INT(vfio_dirty_range_init(&r, 0, TOP), 0);
	EXPECT_U64(r.last, TOP - 1);
	EXPECT_INT(vfio_dirty_range_init(&r, 1, TOP), 0);
	EXPECT_U64(r.last, TOP);

	r = (struct vfio_dirty_range){ 1, 2 };
	EXPECT_INT(vfio_dirty_range_init(&r, TOP - PG + 1, 2 * PG), -EOVERFLOW);
	EXPECT_INT(vfio_dirty_range_init(&r, 2, TOP), -EOVERFLOW);
	EXPECT_INT(vfio_dirty_range_init(&r, TOP, 2), -EOVERFLOW);
	EXPECT(r.start == 1 && r.last == 2);
}

static void test_validate_ok(void)
{
	struct vfio_dirty_range r[] = {
		pages(0, 1), pages(1, 2), pages(10, 5), pages(100, 1),
		{ TOP - 4 * PG + 1, TOP },
	};

	EXPECT_INT(vfio_dirty_ranges_validate(r, ARRAY_SIZE(r), PG), 0);
	EXPECT_INT(vfio_dirty_ranges_validate(r, 1, PG), 0);

	r[0] = (struct vfio_dirty_range){ 0, TOP };
	EXPECT_INT(vfio_dirty_ranges_validate(r, 1, PG), 0);
	EXPECT_INT(vfio_dirty_ranges_validate(r, 1, 1ULL << 63), 0);
}

static void test_validate_empty(void)
{
	struct vfio_dirty_range r = pages(0, 1);

	EXPECT_INT(vfio_dirty_ranges_validate(&r, 0, PG), -EINVAL);
	EXPECT_INT(vfio_dirty_ranges_validate(NULL, 0, PG), -EINVAL);
}

static void test_validate_pgsize(void)
{
	struct vfio_dirty_range r = pages(0, 16);

	EXPECT_INT(vfio_dirty_ranges_validate(&r, 1, 0), -EINVAL);
	EXPECT_INT(vfio_dirty_ranges_validate(&r, 1, 1), -EINVAL);
	EXPECT_INT(vfio_dirty_ranges_validate(&r, 1, 2048), -EINVAL);
	EXPECT_INT(vfio_dirty_ranges_validate(&r, 1, 3 * PG), -EINVAL);
	EXPECT_INT(vfio_dirty_ranges_validate(&r, 1, PG), 0);
	EXPECT_INT(vfio_dirty_ranges_validate(&r, 1, 16 * PG), 0);
	EXPECT_INT(vfio_dirty_ranges_validate(&r, 1, 32 * PG), -EINVAL);
}

static void test_validate_unaligned(void)
{
	struct vfio_dirty_range r[] = { pages(0, 1), pages(4, 1) };

	r[1].start += 512;
	EXPECT_INT(vfio_dirty_ranges_validate(r, 2, PG), -EINVAL);
	r[1] = pages(4, 1);
	r[1].last -= 1;
	EXPECT_INT(vfio_dirty_ranges_validate(r, 2, PG), -EINVAL);
	r[1] = pages(4, 1);
	r[1].last += 1;
	EXPECT_INT(vfio_dirty_ranges_validate(r, 2, PG), -EINVAL);
	r[1] = pages(4, 1);
	EXPECT_INT(vfio_dirty_ranges_validate(r, 2, PG), 0);
	EXPECT_INT(vfio_dirty_ranges_validate(r, 2, 2 * PG), -EINVAL);
	r[1] = pages(4, 2);
	EXPECT_INT(vfio_dirty_ranges_validate(r, 2, 2 * PG), -EINVAL);
	r[0] = pages(0, 2);
	EXPECT_INT(vfio_dirty_ranges_validate(r, 2, 2 * PG), 0);
}

static void test_validate_overlap(void)
{
	struct vfio_dirty_range r[] = { pages(0, 4), pages(3, 4) };

	EXPECT_INT(vfio_dirty_ranges_validate(r, 2, PG), -EINVAL);
	r[1] = r[0];
	EXPECT_INT(vfio_dirty_ranges_validate(r, 2, PG), -EINVAL);
	r[1] = pages(1, 1);
	EXPECT_INT(vfio_dirty_ranges_validate(r, 2, PG), -EINVAL);
	r[1] = pages(4, 4);
	EXPECT_INT(vfio_dirty_ranges_validate(r, 2, PG), 0);
}

static void test_validate_unsorted(void)
{
	struct vfio_dirty_range r[] = { pages(0, 1), pages(8, 1), pages(4, 1) };

	EXPECT_INT(vfio_dirty_ranges_validate(r, 3, PG), -EINVAL);
	EXPECT_INT(vfio_dirty_ranges_validate(r, 2, PG), 0);
}

static void test_validate_inverted(void)
{
	struct vfio_dirty_range r = { 2 * PG, PG - 1 };

	EXPECT_INT(vfio_dirty_ranges_validate(&r, 1, PG), -EINVAL);
}

static void test_fit_n_le_k(void)
{
	const struct vfio_dirty_range in[] = {
		pages(0, 1), pages(5, 2), pages(7, 1), pages(100, 3),
	};
	struct vfio_dirty_range out[ARRAY_SIZE(in)];
	u64 over = 1;
	u32 nr;

	EXPECT_INT(fit(in, 4, 4, 0, out, &nr, &over), 0);
	EXPECT_U64(nr, 4);
	EXPECT_U64(over, 0);
	EXPECT(same_ranges(in, out, 4));

	over = 1;
	EXPECT_INT(fit(in, 4, 1000, 0, out, &nr, &over), 0);
	EXPECT_U64(nr, 4);
	EXPECT_U64(over, 0);
	EXPECT(same_ranges(in, out, 4));

	EXPECT_INT(fit(in, 1, 1, 0, out, &nr, &over), 0);
	EXPECT_U64(nr, 1);
	EXPECT(same_ranges(in, out, 1));
}

static void test_fit_k1(void)
{
	const struct vfio_dirty_range in[] = {
		pages(3, 1), pages(5, 2), pages(7, 1), pages(100, 3),
	};
	struct vfio_dirty_range out[ARRAY_SIZE(in)];
	u64 over;
	u32 nr;

	EXPECT_INT(fit(in, 4, 1, 0, out, &nr, &over), 0);
	EXPECT_U64(nr, 1);
	EXPECT_U64(out[0].start, in[0].start);
	EXPECT_U64(out[0].last, in[3].last);
	EXPECT_U64(over, (1 + 0 + 92) * PG);
}

static void test_fit_adjacent(void)
{
	const struct vfio_dirty_range in[] = {
		pages(0, 1), pages(2, 1), pages(3, 1), pages(4, 2), pages(9, 1),
	};
	struct vfio_dirty_range out[ARRAY_SIZE(in)];
	u64 over;
	u32 nr;

	/* Two zero gaps: merging both costs nothing. */
	EXPECT_INT(fit(in, 5, 3, 0, out, &nr, &over), 0);
	EXPECT_U64(nr, 3);
	EXPECT_U64(over, 0);
	EXPECT(out[0].start == in[0].start && out[0].last == in[0].last);
	EXPECT(out[1].start == in[1].start && out[1].last == in[3].last);
	EXPECT(out[2].start == in[4].start && out[2].last == in[4].last);

	/* Then the one-page gap, before the three-page one. */
	EXPECT_INT(fit(in, 5, 2, 0, out, &nr, &over), 0);
	EXPECT_U64(nr, 2);
	EXPECT_U64(over, PG);
	EXPECT(out[0].start == in[0].start && out[0].last == in[3].last);
	EXPECT(out[1].start == in[4].start && out[1].last == in[4].last);
}

static void test_fit_ties(void)
{
	/* Gaps of 2, 1, 2, 1, 2 pages. */
	const struct vfio_dirty_range in[] = {
		pages(0, 1), pages(3, 1), pages(5, 1), pages(8, 1),
		pages(10, 1), pages(13, 1),
	};
	struct vfio_dirty_range out[ARRAY_SIZE(in)];
	u64 over;
	u32 nr;

	/* Both 1-page gaps, then the lowest 2-page gap. */
	EXPECT_INT(fit(in, 6, 3, 0, out, &nr, &over), 0);
	EXPECT_U64(nr, 3);
	EXPECT_U64(over, 4 * PG);
	EXPECT(out[0].start == in[0].start && out[0].last == in[2].last);
	EXPECT(out[1].start == in[3].start && out[1].last == in[4].last);
	EXPECT(out[2].start == in[5].start && out[2].last == in[5].last);

	/* The lower of the two 1-page gaps. */
	EXPECT_INT(fit(in, 6, 5, 0, out, &nr, &over), 0);
	EXPECT_U64(nr, 5);
	EXPECT_U64(over, PG);
	EXPECT(out[1].start == in[1].start && out[1].last == in[2].last);
	EXPECT(out[2].start == in[3].start && out[2].last == in[3].last);
}

static void test_fit_top(void)
{
	const struct vfio_dirty_range in[] = {
		pages(0, 2), pages(10, 1), { TOP - 3 * PG + 1, TOP },
	};
	struct vfio_dirty_range out[ARRAY_SIZE(in)];
	u64 over;
	u32 nr;

	EXPECT_INT(vfio_dirty_ranges_validate(in, 3, PG), 0);

	EXPECT_INT(fit(in, 3, 2, 0, out, &nr, &over), 0);
	EXPECT_U64(nr, 2);
	EXPECT_U64(over, 8 * PG);
	EXPECT(out[0].start == 0 && out[0].last == in[1].last);
	EXPECT(out[1].start == in[2].start && out[1].last == TOP);

	/* All of the 64-bit space: its 2^64 bytes exceed any limit. */
	EXPECT_INT(fit(in, 3, 1, 0, out, &nr, &over), 0);
	EXPECT_U64(nr, 1);
	EXPECT(out[0].start == 0 && out[0].last == TOP);
	EXPECT_U64(over, 0 - 6 * PG);
	EXPECT_INT(fit(in, 3, 1, TOP, out, &nr, &over), -E2BIG);
	EXPECT_INT(fit(in, 3, 3, TOP, out, &nr, &over), 0);

	out[0] = (struct vfio_dirty_range){ 0, TOP };
	nr = 1;
	EXPECT_INT(vfio_dirty_ranges_fit(out, &nr, 1, TOP, NULL, &over),
		   -E2BIG);
	EXPECT_INT(vfio_dirty_ranges_fit(out, &nr, 1, 0, NULL, &over), 0);
}

static void test_fit_span_limit(void)
{
	const struct vfio_dirty_range in[] = {
		pages(0, 2), pages(4, 1), pages(6, 3), pages(20, 1),
	};
	struct vfio_dirty_range out[ARRAY_SIZE(in)];
	u64 over = 7, span;
	u32 nr;

	/* k = 2 merges the gaps of 2 and 1 pages: 7 + 3 pages. */
	span = (7 + 3) * PG;
	EXPECT_INT(fit(in, 4, 2, span, out, &nr, &over), 0);
	EXPECT_U64(nr, 2);
	EXPECT_U64(over, 3 * PG);

	over = 7;
	EXPECT_INT(fit(in, 4, 2, span - PG, out, &nr, &over), -E2BIG);
	EXPECT(same_ranges(in, out, 4));
	EXPECT_U64(nr, 4);
	EXPECT_U64(over, 7);

	/* The limit holds when nothing is merged, too. */
	span = 7 * PG;
	EXPECT_INT(fit(in, 4, 4, span, out, &nr, &over), 0);
	EXPECT_INT(fit(in, 4, 4, span - PG, out, &nr, &over), -E2BIG);
	EXPECT_INT(fit(in, 4, 4, 1, out, &nr, &over), -E2BIG);
}

static void test_fit_einval(void)
{
	struct vfio_dirty_range r = pages(0, 1);
	u64 over = 7;
	u32 nr = 0;

	EXPECT_INT(vfio_dirty_ranges_fit(&r, &nr, 1, 0, NULL, &over), -EINVAL);
	nr = 1;
	EXPECT_INT(vfio_dirty_ranges_fit(&r, &nr, 0, 0, NULL, &over), -EINVAL);
	EXPECT_U64(nr, 1);
	EXPECT_U64(over, 7);
}

/* The example at the top of ranges.c. */
static void test_fit_example(void)
{
	const struct vfio_dirty_range in[] = {
		{ 0x0000, 0x0fff }, { 0x2000, 0x2fff },
		{ 0x3000, 0x3fff }, { 0x9000, 0x9fff },
	};
	struct vfio_dirty_range out[ARRAY_SIZE(in)];
	u64 over;
	u32 nr;

	EXPECT_INT(fit(in, 4, 2, 0, out, &nr, &over), 0);
	EXPECT_U64(nr, 2);
	EXPECT(out[0].start == 0x0000 && out[0].last == 0x3fff);
	EXPECT(out[1].start == 0x9000 && out[1].last == 0x9fff);
	EXPECT_U64(over, 0x1000);
}

#define BRUTE_MAX_N	10
#define BRUTE_CASES	20000

static u64 gap_after(const struct vfio_dirty_range *r, u32 i)
{
	return r[i + 1].start - r[i].last - 1;
}

/* The least cost of any choice of gaps that leaves at most k ranges. */
static u64 brute_force(const struct vfio_dirty_range *r, u32 n, u32 k)
{
	u64 best = TOP;
	u32 mask, i;

	for (mask = 0; mask < 1U << (n - 1); mask++) {
		u64 cost = 0;

		if (n - __builtin_popcount(mask) > k)
			continue;
		for (i = 0; i + 1 < n; i++)
			if (mask & (1U << i))
				cost += gap_after(r, i);
		if (cost < best)
			best = cost;
	}
	return best;
}

/* Merge the smallest gap, lowest address first, until k ranges are left. */
static u32 rescan(struct vfio_dirty_range *r, u32 n, u32 k)
{
	while (n > k) {
		u32 i, min = 0;

		for (i = 1; i + 1 < n; i++)
			if (gap_after(r, i) < gap_after(r, min))
				min = i;
		r[min].last = r[min + 1].last;
		memmove(&r[min + 1], &r[min + 2], (n - min - 2) * sizeof(*r));
		n--;
	}
	return n;
}

/*
 * Random sorted ranges, in pages of a random size: lengths up to 4 pages,
 * gaps from a small set so that ties and adjacency are common, now and then
 * a huge gap, and now and then the whole set at the top or bottom of the
 * 64-bit space.
 */
static u32 random_ranges(struct vfio_dirty_range *r, u32 n, u64 *pgsize)
{
	static const u64 gap_pages[] = { 0, 0, 1, 1, 2, 3, 5, 8 };
	u64 len[BRUTE_MAX_N], gap[BRUTE_MAX_N], first, total = 0;
	unsigned int shift = 12 + rng_below(10);
	u32 i;

	*pgsize = 1ULL << shift;
	for (i = 0; i < n; i++) {
		len[i] = 1 + rng_below(4);
		gap[i] = rng_below(10) ? gap_pages[rng_below(8)] :
			 rng_below(1ULL << 30);
		total += len[i] + (i + 1 < n ? gap[i] : 0);
	}
	switch (rng_below(4)) {
	case 0:
		first = 0;
		break;
	case 1:
		first = (TOP >> shift) + 1 - total;
		break;
	default:
		first = rng_below(1ULL << 30);
	}
	for (i = 0; i < n; i++) {
		r[i].start = first << shift;
		r[i].last = ((first + len[i]) << shift) - 1;
		first += len[i] + gap[i];
	}
	return n;
}

/* @out is @in with some gaps merged: same ends, nothing else added. */
static bool is_merge_of(const struct vfio_dirty_range *in, u32 n,
			const struct vfio_dirty_range *out, u32 nr)
{
	u32 i = 0, j;

	for (j = 0; j < nr; j++) {
		if (i >= n || out[j].start != in[i].start)
			return false;
		while (i < n && in[i].last < out[j].last)
			i++;
		if (i >= n || in[i].last != out[j].last)
			return false;
		i++;
	}
	return i == n;
}

static void test_fit_brute_force(void)
{
	struct vfio_dirty_range in[BRUTE_MAX_N], out[BRUTE_MAX_N];
	struct vfio_dirty_range ref[BRUTE_MAX_N];
	u32 c, i, n, k, nr;
	u64 pgsize, over, span;

	rng_state = 1;
	for (c = 0; c < BRUTE_CASES && !failed; c++) {
		n = random_ranges(in, 1 + rng_below(BRUTE_MAX_N), &pgsize);
		k = 1 + rng_below(n + 1);
		EXPECT_INT(vfio_dirty_ranges_validate(in, n, pgsize), 0);

		EXPECT_INT(fit(in, n, k, 0, out, &nr, &over), 0);
		EXPECT_U64(nr, n < k ? n : k);
		EXPECT_U64(over, brute_force(in, n, k));
		EXPECT_INT(vfio_dirty_ranges_validate(out, nr, pgsize), 0);
		EXPECT(is_merge_of(in, n, out, nr));

		memcpy(ref, in, sizeof(in));
		EXPECT_U64(rescan(ref, n, k), nr);
		EXPECT(same_ranges(ref, out, nr));

		/* The least span is accepted, one byte less is not. */
		span = over;
		for (i = 0; i < n; i++)
			span += in[i].last - in[i].start + 1;
		EXPECT_INT(fit(in, n, k, span, out, &nr, &over), 0);
		EXPECT_INT(fit(in, n, k, span - 1, out, &nr, &over), -E2BIG);
		EXPECT(same_ranges(in, out, n));
	}
	if (failed)
		append("# in random case %u\n", c - 1);
}

static const struct unit_test tests[] = {
	{ "range_init", test_range_init },
	{ "validate_ok", test_validate_ok },
	{ "validate_empty", test_validate_empty },
	{ "validate_pgsize", test_validate_pgsize },
	{ "validate_unaligned", test_validate_unaligned },
	{ "validate_overlap", test_validate_overlap },
	{ "validate_unsorted", test_validate_unsorted },
	{ "validate_inverted", test_validate_inverted },
	{ "fit_n_le_k", test_fit_n_le_k },
	{ "fit_k1", test_fit_k1 },
	{ "fit_adjacent", test_fit_adjacent },
	{ "fit_ties", test_fit_ties },
	{ "fit_top", test_fit_top },
	{ "fit_span_limit", test_fit_span_limit },
	{ "fit_einval", test_fit_einval },
	{ "fit_example", test_fit_example },
	{ "fit_brute_force", test_fit_brute_force },
};

int main(void)
{
	return unit_main(tests, ARRAY_SIZE(tests));
}

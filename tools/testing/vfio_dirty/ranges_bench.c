// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark of vfio_dirty_ranges_fit() against the plain way to fit n
 * ranges into k: find the smallest gap with a linear scan, merge it, and
 * scan again, n - k times, for O(n (n - k)) time.  That is what the VFIO
 * core's vfio_combine_iova_ranges() does over its interval tree; here the
 * scan walks a linked list laid over an array, which is faster than a tree.
 *
 * The ranges model a virtio-mem device: 2 MiB blocks, each range a run of
 * plugged blocks, separated by holes of random size, from a fixed seed.
 * Both ways must over-track the same number of bytes; the program exits 1
 * if they do not.
 *
 * The rescan is stopped after RESCAN_BUDGET_NS.  Its full time is then
 * extrapolated from the merges done, each merge costing a scan of the
 * ranges left, and the row says so.  Its total is then checked two ways
 * instead: its partial total against the sum of as many smallest gaps
 * (sorted here with qsort()), and both ways in full on the last ranges of
 * the layout, few enough for the rescan to finish.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ranges.h"

#define BLOCK		(2ULL << 20)
#define NSEC		1000000000ULL
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* Stop the rescan after this long; keeps the whole run near a minute. */
#define RESCAN_BUDGET_NS	(25 * NSEC)

/* Repeat short runs for this long, and keep the best time. */
#define REPEAT_NS		(NSEC / 5)

/* The most ranges on which a stopped rescan is checked in full. */
#define CHECK_RANGES		65536

static const struct {
	u32 n;
	u32 k;
} cases[] = {
	{ 1024, 256 },
	{ 32768, 256 },
	{ 262144, 256 },
	{ 1000000, 256 },
};

static u64 rng_state = 1;

/* splitmix64 */
static u64 rng(void)
{
	u64 z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NSEC + ts.tv_nsec;
}

static void *xmalloc(size_t size)
{
	void *p = malloc(size);

	if (!p) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	return p;
}

/*
 * A virtio-mem-like layout from 4 GiB up: runs of 1 to 8 plugged blocks,
 * holes of 1 to 64 blocks, and one hole in 16 of up to 4096 blocks.
 */
static void make_layout(struct vfio_dirty_range *r, u32 n)
{
	u64 block = 2048;
	u32 i;

	for (i = 0; i < n; i++) {
		u64 run = 1 + rng() % 8;

		r[i].start = block * BLOCK;
		r[i].last = (block + run) * BLOCK - 1;
		block += run;
		block += 1 + (rng() % 16 ? rng() % 64 : rng() % 4096);
	}
}

/* Fit n ranges into k: rescan for the smallest gap after each merge. */
struct rescan {
	struct vfio_dirty_range *r;
	u32 *next;	/* index of the next range left, @end for none */
	u32 end;	/* ranges at the start */
	u32 n;		/* ranges left */
	u64 over;	/* bytes of the gaps merged */
	u64 merges;
};

static void rescan_init(struct rescan *rs, const struct vfio_dirty_range *r,
			u32 n)
{
	u32 i;

	memcpy(rs->r, r, n * sizeof(*r));
	for (i = 0; i < n; i++)
		rs->next[i] = i + 1;
	rs->end = n;
	rs->n = n;
	rs->over = 0;
	rs->merges = 0;
}

/* Merge until k ranges are left or @deadline passes; true if done. */
static bool rescan_run(struct rescan *rs, u32 k, u64 deadline)
{
	struct vfio_dirty_range *r = rs->r;
	u32 *next = rs->next;

	while (rs->n > k) {
		u64 min_gap = ~0ULL;
		u32 i, j, min = 0;

		/* The first smallest gap: ties go to the lower address. */
		for (i = 0, j = next[0]; j < rs->end; i = j, j = next[j]) {
			u64 gap = r[j].start - r[i].last - 1;

			if (gap < min_gap) {
				min_gap = gap;
				min = i;
			}
		}
		r[min].last = r[next[min]].last;
		next[min] = next[next[min]];
		rs->over += min_gap;
		rs->n--;
		rs->merges++;
		if (!(rs->merges % 16) && now_ns() > deadline)
			return rs->n == k;
	}
	return true;
}

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/* The sum of the @m smallest gaps of @r, found by sorting them all. */
static u64 smallest_gaps(const struct vfio_dirty_range *r, u32 n, u64 m)
{
	u64 *gaps = xmalloc(n * sizeof(*gaps));
	u64 sum = 0;
	u32 i;

	for (i = 0; i + 1 < n; i++)
		gaps[i] = r[i + 1].start - r[i].last - 1;
	qsort(gaps, n - 1, sizeof(*gaps), cmp_u64);
	for (i = 0; i < m; i++)
		sum += gaps[i];
	free(gaps);
	return sum;
}

/* Best time of vfio_dirty_ranges_fit() over repeated runs. */
static u64 time_fit(const struct vfio_dirty_range *in, u32 n, u32 k,
		    struct vfio_dirty_range *work, struct vfio_dirty_gap *gaps,
		    u64 *over)
{
	u64 best = ~0ULL, spent = 0, t;
	u32 nr;
	int ret;

	do {
		memcpy(work, in, n * sizeof(*in));
		nr = n;
		t = now_ns();
		ret = vfio_dirty_ranges_fit(work, &nr, k, 0, gaps, over);
		t = now_ns() - t;
		if (ret || nr != k) {
			fprintf(stderr, "fit failed: %d, %u ranges\n", ret, nr);
			exit(1);
		}
		if (t < best)
			best = t;
		spent += t;
	} while (spent < REPEAT_NS);
	return best;
}

/* Time the rescan; sets *done to false if the budget ran out first. */
static u64 time_rescan(const struct vfio_dirty_range *in, u32 n, u32 k,
		       struct rescan *rs, bool *done)
{
	u64 best = ~0ULL, spent = 0, t;

	do {
		rescan_init(rs, in, n);
		t = now_ns();
		*done = rescan_run(rs, k, t + RESCAN_BUDGET_NS);
		t = now_ns() - t;
		if (t < best)
			best = t;
		spent += t;
	} while (*done && spent < REPEAT_NS);
	return best;
}

/*
 * A merge with c ranges left scans c - 1 gaps: scale the time of the merges
 * done by the gaps all n - k merges scan.
 */
static double extrapolate(u64 ns, u32 n, u32 k, u64 merges)
{
	double all = ((double)n * (n - 1) - (double)k * (k - 1)) / 2;
	double left = (double)n - merges;
	double done = ((double)n * (n - 1) - left * (left - 1)) / 2;

	return ns * all / done;
}

static void format_time(char *buf, size_t size, double ns)
{
	if (ns < 1e6)
		snprintf(buf, size, "%.1f us", ns / 1e3);
	else if (ns < 1e9)
		snprintf(buf, size, "%.2f ms", ns / 1e6);
	else
		snprintf(buf, size, "%.2f s", ns / 1e9);
}

/* Fit and rescan the last CHECK_RANGES of @n ranges in full; true if equal. */
static bool check_last(const struct vfio_dirty_range *in, u32 n, u32 k,
		       struct vfio_dirty_range *work,
		       struct vfio_dirty_gap *gaps, struct rescan *rs)
{
	u32 m = n < CHECK_RANGES ? n : CHECK_RANGES, nr = m;
	u64 over;

	in += n - m;
	memcpy(work, in, m * sizeof(*in));
	if (vfio_dirty_ranges_fit(work, &nr, k, 0, gaps, &over))
		return false;
	rescan_init(rs, in, m);
	rescan_run(rs, k, ~0ULL);
	printf("#   last %u ranges in full: fit %llu, rescan %llu bytes\n",
	       m, over, rs->over);
	return over == rs->over;
}

/*
 * The rescan of @n ranges stopped early: check its partial total, the fit's
 * total @over, and both ways in full on fewer ranges.  True if all agree.
 */
static bool check_stopped(const struct vfio_dirty_range *in, u32 n, u32 k,
			  u64 over, struct vfio_dirty_range *work,
			  struct vfio_dirty_gap *gaps, struct rescan *rs)
{
	bool ok = true;

	if (rs->over != smallest_gaps(in, n, rs->merges)) {
		printf("#   MISMATCH: partial rescan total\n");
		ok = false;
	} else {
		printf("#   partial rescan total = sum of the %llu smallest gaps\n",
		       rs->merges);
	}
	if (over != smallest_gaps(in, n, n - k)) {
		printf("#   MISMATCH: fit total\n");
		ok = false;
	} else {
		printf("#   fit total = sum of the %u smallest gaps\n", n - k);
	}
	if (!check_last(in, n, k, work, gaps, rs)) {
		printf("#   MISMATCH: last ranges\n");
		ok = false;
	}
	return ok;
}

int main(void)
{
	struct vfio_dirty_range *in, *work;
	struct vfio_dirty_gap *gaps;
	struct rescan rs;
	bool ok = true;
	u32 max_n = 0, c;

	for (c = 0; c < ARRAY_SIZE(cases); c++)
		if (cases[c].n > max_n)
			max_n = cases[c].n;
	in = xmalloc(max_n * sizeof(*in));
	work = xmalloc(max_n * sizeof(*work));
	gaps = xmalloc(max_n * sizeof(*gaps));
	rs.r = xmalloc(max_n * sizeof(*rs.r));
	rs.next = xmalloc(max_n * sizeof(*rs.next));

	printf("%8s %5s %10s %12s %10s %20s %20s\n", "n", "k", "fit",
	       "rescan", "ratio", "over-tracked fit", "over-tracked rescan");
	for (c = 0; c < ARRAY_SIZE(cases); c++) {
		u32 n = cases[c].n, k = cases[c].k;
		char fit_s[32], rescan_s[32];
		u64 fit_ns, rescan_ns, over;
		double rescan_total;
		bool done;

		rng_state = 1;
		make_layout(in, n);
		if (vfio_dirty_ranges_validate(in, n, 4096)) {
			fprintf(stderr, "bad layout for n = %u\n", n);
			return 1;
		}

		fit_ns = time_fit(in, n, k, work, gaps, &over);
		rescan_ns = time_rescan(in, n, k, &rs, &done);
		rescan_total = done ? rescan_ns :
			       extrapolate(rescan_ns, n, k, rs.merges);

		format_time(fit_s, sizeof(fit_s), fit_ns);
		format_time(rescan_s, sizeof(rescan_s), rescan_total);
		printf("%8u %5u %10s %12s %9.0fx %20llu ", n, k, fit_s,
		       rescan_s, rescan_total / fit_ns, over);
		if (done) {
			printf("%20llu\n", rs.over);
			if (over != rs.over) {
				printf("#   MISMATCH\n");
				ok = false;
			}
		} else {
			printf("%20s  (extrapolated from %llu merges)\n", "-",
			       rs.merges);
			if (!check_stopped(in, n, k, over, work, gaps, &rs))
				ok = false;
		}
	}

	free(rs.next);
	free(rs.r);
	free(gaps);
	free(work);
	free(in);
	printf("%s\n", ok ? "over-tracked totals: all equal" :
	       "over-tracked totals: MISMATCH");
	return ok ? 0 : 1;
}

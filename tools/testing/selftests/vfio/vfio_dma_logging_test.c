// SPDX-License-Identifier: GPL-2.0
/*
 * VFIO device DMA logging (VFIO_DEVICE_FEATURE_DMA_LOGGING_START, _STOP and
 * _REPORT) at its limits: the 256 ranges the VFIO core takes, the fewer a
 * device tracks, and the fitting in between, which may track more than was
 * asked for but must never lose a written page.
 *
 * The device is any VFIO device with DMA logging.  A device without it
 * (vfio-pci on a device that has no variant driver, such as QEMU's edu)
 * fails START with -ENOTTY, and every test skips saying so.  The tests that
 * look inside the device (its sysfs knobs and counters, its DMA engine) need
 * a vfio_dirty_sim instance and skip on anything else.
 *
 * The tests that read the log need REPORT, which the VFIO core implements
 * with IOVA bitmaps.  A kernel built without CONFIG_IOMMUFD_DRIVER (Debian's
 * 6.12) has none, and fails every REPORT with -EOPNOTSUPP once the
 * arguments are checked: those tests skip there, the others run.  main()
 * probes both once, before the tests.
 *
 * What a REPORT may do is bounded: every written page in the window is
 * reported, pages in gaps that fitting merged may be, nothing else is, no
 * bit outside the caller's bitmap is touched, and only the window is
 * cleared, whatever the window's alignment and the device's granule.
 *
 * IOVAs start at 1 GiB, inside the 39-bit space of QEMU's intel-iommu; on a
 * vfio_dirty_sim instance (an emulated IOMMU) only the tests that run its
 * DMA engine map memory there.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/vfio_dirty_sim.h>

#include "kselftest_harness.h"
#include "dma_logging.h"
#include "vfio_util.h"

#define TEST_IOVA			SZ_1G
/* Where the virtio-mem-like layout starts: above the rest, 2 MiB aligned. */
#define TEST_IOVA_HIGH			(64 * SZ_1G)

/* vfio_dirty_sim's tracker: 8 ranges, no span limit (0). */
#define SIM_DEFAULT_MAX_RANGES		8
#define SIM_DEFAULT_MAX_SPAN		0
#define SIM_MDEV_TYPE			"vfio_dirty_sim"

#define NOT_SIM "%s is not a " SIM_MDEV_TYPE " instance"
#define NO_IOMMUFD_DRIVER \
	"REPORT fails with EOPNOTSUPP for every device: this kernel's VFIO core has no IOVA bitmaps (CONFIG_IOMMUFD_DRIVER)"

static const char *device_name;
/* From main(): START and REPORT of one range, 0 or a negative errno. */
static int probe_start;
static int probe_report;

/* Knuth's MMIX LCG: layouts are pseudo-random, and the same on every run. */
static uint32_t lcg(uint64_t *state, uint32_t bound)
{
	*state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (*state >> 33) % bound;
}

/*
 * Fill @r with @n ranges in IOVA order from @iova up: each of 1 to @max_len
 * units of @unit bytes, separated by gaps of @min_gap to @max_gap units.
 */
static void layout_make(struct vfio_device_feature_dma_logging_range *r,
			uint32_t n, uint64_t iova, uint64_t unit,
			uint32_t max_len, uint32_t min_gap, uint32_t max_gap,
			uint64_t seed)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		if (i)
			iova += (min_gap + lcg(&seed, max_gap - min_gap + 1)) *
				unit;
		r[i].iova = iova;
		r[i].length = (1 + lcg(&seed, max_len)) * unit;
		iova += r[i].length;
	}
}

/* Fisher-Yates, so that the kernel and the fitter get no help from the order. */
static void layout_shuffle(struct vfio_device_feature_dma_logging_range *r,
			   uint32_t n, uint64_t seed)
{
	struct vfio_device_feature_dma_logging_range tmp;
	uint32_t i, j;

	for (i = n - 1; i > 0; i--) {
		j = lcg(&seed, i + 1);
		tmp = r[i];
		r[i] = r[j];
		r[j] = tmp;
	}
}

/* Merge the ranges of the sorted @r that touch; return how many are left. */
static uint32_t layout_merge(struct vfio_device_feature_dma_logging_range *r,
			     uint32_t n)
{
	uint32_t i, out = 0;

	for (i = 1; i < n; i++) {
		if (r[out].iova + r[out].length == r[i].iova)
			r[out].length += r[i].length;
		else
			r[++out] = r[i];
	}
	return out + 1;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * The gaps between the sorted, disjoint @r, smallest first: the sum of those
 * ranked @from to @to - 1.  Fitting n ranges into k merges the n - k
 * smallest gaps, so that is what it adds to the tracked span.
 */
static uint64_t gaps_sum(const struct vfio_device_feature_dma_logging_range *r,
			 uint32_t n, uint32_t from, uint32_t to)
{
	uint64_t *gaps, sum = 0;
	uint32_t i;

	gaps = calloc(n, sizeof(*gaps));
	if (!gaps)
		return UINT64_MAX;
	for (i = 0; i + 1 < n; i++)
		gaps[i] = r[i + 1].iova - (r[i].iova + r[i].length);
	qsort(gaps, n - 1, sizeof(*gaps), u64_cmp);
	for (i = from; i < to; i++)
		sum += gaps[i];
	free(gaps);
	return sum;
}

static uint64_t layout_bytes(const struct vfio_device_feature_dma_logging_range *r,
			     uint32_t n)
{
	uint64_t sum = 0;
	uint32_t i;

	for (i = 0; i < n; i++)
		sum += r[i].length;
	return sum;
}

/*
 * Whether @name is a vfio_dirty_sim instance: an mdev of the type the
 * module registers.  Fills in @dir, its sysfs directory.
 */
static bool sim_sysfs_dir(const char *name, char *dir, size_t size)
{
	snprintf(dir, size, "/sys/bus/mdev/devices/%s", name);
	return vfio_device_is_dirty_sim(name);
}

static int sysfs_read_u64(const char *dir, const char *file, uint64_t *val)
{
	char path[PATH_MAX];
	unsigned long long v;
	int ret = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	if (fscanf(f, "%llu", &v) == 1)
		*val = v;
	else
		ret = -EIO;
	fclose(f);
	return ret;
}

/* Return 0, or the negative errno of open() or of the store. */
static int __sysfs_write(const char *dir, const char *file, const char *str)
{
	char path[PATH_MAX];
	ssize_t len;
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	len = write(fd, str, strlen(str));
	if (len < 0)
		ret = -errno;
	else if ((size_t)len != strlen(str))
		ret = -EIO;
	close(fd);
	return ret;
}

static int __sysfs_write_u64(const char *dir, const char *file, uint64_t val)
{
	char str[32];

	snprintf(str, sizeof(str), "%llu\n", (unsigned long long)val);
	return __sysfs_write(dir, file, str);
}

/* Assert that the sysfs file @file of the fixture's device reads @expected. */
#define EXPECT_SYSFS(expected, file) do {				\
	const char *__file = (file);					\
	uint64_t __val = UINT64_MAX;					\
									\
	ASSERT_EQ(0, sysfs_read_u64(self->sysfs, __file, &__val));	\
	EXPECT_EQ((uint64_t)(expected), __val) TH_LOG("%s", __file);	\
} while (0)

/* What the simulated device writes. */
#define SIM_PATTERN	0xd1d1d1d1d1d1d1d1ULL

FIXTURE(dma_logging) {
	struct vfio_test_device dev;
	bool is_sim;
	char sysfs[PATH_MAX];
	/* The sim's knobs as setup found them, restored by teardown. */
	uint64_t max_ranges;
	uint64_t max_span;
	void *buf;
	size_t buf_size;
	long tracking;		/* vfio_dirty_tracking_bytes() before the test */
};

FIXTURE_SETUP(dma_logging)
{
	self->buf = MAP_FAILED;
	self->tracking = vfio_dirty_tracking_bytes();
	if (!vfio_fixture_open(_metadata, &self->dev, device_name, false))
		return;
	if (probe_start == -ENOTTY)
		SKIP(return, "%s has no DMA logging: START fails with ENOTTY",
		     device_name);

	self->is_sim = sim_sysfs_dir(device_name, self->sysfs,
				     sizeof(self->sysfs));
	if (self->is_sim) {
		ASSERT_EQ(0, sysfs_read_u64(self->sysfs, "log_max_ranges",
					    &self->max_ranges));
		ASSERT_EQ(0, sysfs_read_u64(self->sysfs, "log_max_span",
					    &self->max_span));
	}
}

FIXTURE_TEARDOWN(dma_logging)
{
	if (self->is_sim) {
		EXPECT_EQ(0, __sysfs_write_u64(self->sysfs, "log_max_ranges",
					       self->max_ranges));
		EXPECT_EQ(0, __sysfs_write_u64(self->sysfs, "log_max_span",
					       self->max_span));
	}
	if (self->buf != MAP_FAILED)
		munmap(self->buf, self->buf_size);
	vfio_test_device_close(&self->dev);
	EXPECT_EQ(self->tracking, vfio_dirty_tracking_bytes());
}

/*
 * Back [TEST_IOVA, TEST_IOVA + @size) with anonymous memory, for the DMA
 * engine; teardown unmaps *@buf.
 */
static int test_map(int container_fd, void **buf, size_t size)
{
	*buf = mmap(NULL, size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (*buf == MAP_FAILED)
		return -errno;
	return __vfio_map(container_fd, *buf, TEST_IOVA, size);
}

TEST_F(dma_logging, range_cap)
{
	const uint32_t max = dma_logging_max_ranges();
	struct vfio_device_feature_dma_logging_range *r, *shuffled, bad[2];
	int fd = self->dev.device_fd;

	/* The core's limit, one kernel page of ranges, is checked at max + 1. */
	r = calloc(max + 1, sizeof(*r));
	shuffled = calloc(max + 1, sizeof(*r));
	ASSERT_NE(NULL, r);
	ASSERT_NE(NULL, shuffled);
	layout_make(r, max + 1, TEST_IOVA, SZ_4K, 4, 1, 64, 1);
	memcpy(shuffled, r, (max + 1) * sizeof(*r));
	layout_shuffle(shuffled, max, 2);

	dma_logging_start(fd, SZ_4K, r, 1);
	dma_logging_stop(fd);

	dma_logging_start(fd, SZ_4K, shuffled, max);
	if (self->is_sim) {
		uint32_t k = self->max_ranges < max ? self->max_ranges : max;

		/* The sim fits what the core took into its own few ranges. */
		EXPECT_SYSFS(max, "log_ranges_requested");
		EXPECT_SYSFS(k, "log_ranges_fitted");
		EXPECT_SYSFS(gaps_sum(r, max, 0, max - k), "log_bytes_overtracked");
		EXPECT_SYSFS(0, "log_pages_reported");
		/* One START at a time: the core keeps no state, the sim refuses. */
		test_err_dma_logging_start(EBUSY, fd, SZ_4K, r, 1);
	} else {
		EXPECT_NE(0, __dma_logging_start(fd, SZ_4K, r, 1));
	}
	dma_logging_stop(fd);
	/* Stopping what is stopped succeeds. */
	dma_logging_stop(fd);

	test_err_dma_logging_start(E2BIG, fd, SZ_4K, shuffled, max + 1);
	test_err_dma_logging_start(EINVAL, fd, SZ_4K, r, 0);

	bad[0] = (struct vfio_device_feature_dma_logging_range)
		 { TEST_IOVA + 512, SZ_4K };
	test_err_dma_logging_start(EINVAL, fd, SZ_4K, bad, 1);
	bad[0] = (struct vfio_device_feature_dma_logging_range)
		 { TEST_IOVA, SZ_4K + 512 };
	test_err_dma_logging_start(EINVAL, fd, SZ_4K, bad, 1);

	/* Two ranges sharing one page, in either order; each alone is valid. */
	bad[0] = (struct vfio_device_feature_dma_logging_range)
		 { TEST_IOVA, 2 * SZ_4K };
	bad[1] = (struct vfio_device_feature_dma_logging_range)
		 { TEST_IOVA + SZ_4K, 2 * SZ_4K };
	test_err_dma_logging_start(EINVAL, fd, SZ_4K, bad, 2);
	dma_logging_start(fd, SZ_4K, bad + 1, 1);
	dma_logging_stop(fd);
	bad[1] = bad[0];
	bad[0] = (struct vfio_device_feature_dma_logging_range)
		 { TEST_IOVA + SZ_4K, 2 * SZ_4K };
	test_err_dma_logging_start(EINVAL, fd, SZ_4K, bad, 2);
	dma_logging_start(fd, SZ_4K, bad + 1, 1);
	dma_logging_stop(fd);

	/* iova + length wraps past 2^64. */
	bad[0] = (struct vfio_device_feature_dma_logging_range)
		 { UINT64_MAX - SZ_4K + 1, 2 * SZ_4K };
	test_err_dma_logging_start(EOVERFLOW, fd, SZ_4K, bad, 1);
	/* It is exactly 2^64: the core computes iova + length and refuses too. */
	bad[0].length = SZ_4K;
	test_err_dma_logging_start(EOVERFLOW, fd, SZ_4K, bad, 1);

	if (self->is_sim) {
		/* The sim's own checks: an empty range, a bad page size. */
		bad[0] = (struct vfio_device_feature_dma_logging_range)
			 { TEST_IOVA, 0 };
		test_err_dma_logging_start(EINVAL, fd, SZ_4K, bad, 1);
		bad[0].length = SZ_4K;
		test_err_dma_logging_start(EINVAL, fd, SZ_4K / 2, bad, 1);
		/* Refused STARTs leave the counters of the last good one. */
		EXPECT_SYSFS(1, "log_ranges_requested");
	}

	/* None of the refused STARTs left logging on. */
	dma_logging_start(fd, SZ_4K, r, 1);
	dma_logging_stop(fd);
	free(shuffled);
	free(r);
}

/* 256 ranges into trackers of every interesting size. */
TEST_F(dma_logging, fit_limits)
{
	static const uint32_t limits[] = { 1, 2, 8, 255, 256 };
	const uint32_t max = dma_logging_max_ranges();
	struct vfio_device_feature_dma_logging_range *r, *shuffled;
	int fd = self->dev.device_fd;
	uint32_t i, k;

	if (!self->is_sim)
		SKIP(return, NOT_SIM, device_name);
	r = calloc(max, sizeof(*r));
	shuffled = calloc(max, sizeof(*r));
	ASSERT_NE(NULL, r);
	ASSERT_NE(NULL, shuffled);
	/* Gaps of 1 to 16 pages among 256: many ties, broken by address. */
	layout_make(r, max, TEST_IOVA, SZ_4K, 2, 1, 16, 3);
	memcpy(shuffled, r, max * sizeof(*r));
	layout_shuffle(shuffled, max, 4);

	for (i = 0; i < ARRAY_SIZE(limits); i++) {
		k = limits[i];
		ASSERT_EQ(0, __sysfs_write_u64(self->sysfs, "log_max_ranges", k));
		ASSERT_EQ(0, __dma_logging_start(fd, SZ_4K, shuffled, max))
			TH_LOG("log_max_ranges %u", k);
		EXPECT_SYSFS(max, "log_ranges_requested");
		EXPECT_SYSFS(k, "log_ranges_fitted");
		EXPECT_SYSFS(gaps_sum(r, max, 0, max - k), "log_bytes_overtracked");
		dma_logging_stop(fd);
	}

	/* Fewer ranges than the tracker holds are tracked as they are. */
	dma_logging_start(fd, SZ_4K, shuffled, 17);
	EXPECT_SYSFS(17, "log_ranges_requested");
	EXPECT_SYSFS(17, "log_ranges_fitted");
	EXPECT_SYSFS(0, "log_bytes_overtracked");
	dma_logging_stop(fd);
	free(shuffled);
	free(r);
}

TEST_F(dma_logging, sysfs_knobs)
{
	static const char *const bad_ranges[] = { "0", "257", "garbage", "-1",
						  "\n", "8 ranges", "0x101" };
	static const char *const bad_spans[] = { "1", "4097", "6144",
						 "garbage", "-4096" };
	unsigned int i;

	if (!self->is_sim)
		SKIP(return, NOT_SIM, device_name);
	EXPECT_EQ(SIM_DEFAULT_MAX_RANGES, self->max_ranges)
		TH_LOG("log_max_ranges was left changed by an earlier test");
	EXPECT_EQ(SIM_DEFAULT_MAX_SPAN, self->max_span)
		TH_LOG("log_max_span was left changed by an earlier test");

	ASSERT_EQ(0, __sysfs_write(self->sysfs, "log_max_ranges", "1\n"));
	EXPECT_SYSFS(1, "log_max_ranges");
	ASSERT_EQ(0, __sysfs_write(self->sysfs, "log_max_ranges", "256\n"));
	EXPECT_SYSFS(256, "log_max_ranges");
	for (i = 0; i < ARRAY_SIZE(bad_ranges); i++) {
		EXPECT_EQ(-EINVAL, __sysfs_write(self->sysfs, "log_max_ranges",
						 bad_ranges[i]))
			TH_LOG("log_max_ranges <- %s", bad_ranges[i]);
		EXPECT_SYSFS(256, "log_max_ranges");
	}
	/* Past 32 bits, kstrtou32() says ERANGE. */
	EXPECT_EQ(-ERANGE, __sysfs_write(self->sysfs, "log_max_ranges",
					 "4294967553"));
	EXPECT_SYSFS(256, "log_max_ranges");

	ASSERT_EQ(0, __sysfs_write(self->sysfs, "log_max_span", "4096\n"));
	EXPECT_SYSFS(SZ_4K, "log_max_span");
	ASSERT_EQ(0, __sysfs_write_u64(self->sysfs, "log_max_span", SZ_8T));
	EXPECT_SYSFS(SZ_8T, "log_max_span");
	for (i = 0; i < ARRAY_SIZE(bad_spans); i++) {
		EXPECT_EQ(-EINVAL, __sysfs_write(self->sysfs, "log_max_span",
						 bad_spans[i]))
			TH_LOG("log_max_span <- %s", bad_spans[i]);
		EXPECT_SYSFS(SZ_8T, "log_max_span");
	}
	ASSERT_EQ(0, __sysfs_write(self->sysfs, "log_max_span", "0\n"));
	EXPECT_SYSFS(0, "log_max_span");

	/* The counters are read-only. */
	EXPECT_EQ(-EACCES, __sysfs_write(self->sysfs, "log_ranges_requested", "0"));
	EXPECT_EQ(-EACCES, __sysfs_write(self->sysfs, "log_pages_reported", "0"));
}

/* A span limit refuses a layout whose best fitting is too wide, and only that. */
TEST_F(dma_logging, span_limit)
{
	struct vfio_device_feature_dma_logging_range r[12];
	const uint32_t n = ARRAY_SIZE(r), k = SIM_DEFAULT_MAX_RANGES;
	int fd = self->dev.device_fd;
	uint64_t span;
	uint32_t used;

	if (!self->is_sim)
		SKIP(return, NOT_SIM, device_name);
	layout_make(r, n, TEST_IOVA, SZ_4K, 8, 1, 32, 5);
	/* 12 ranges into 8 merges the 4 smallest gaps. */
	span = layout_bytes(r, n) + gaps_sum(r, n, 0, n - k);
	ASSERT_EQ(0, __sysfs_write_u64(self->sysfs, "log_max_ranges", k));

	ASSERT_EQ(0, __sysfs_write_u64(self->sysfs, "log_max_span", span - SZ_4K));
	test_err_dma_logging_start(E2BIG, fd, SZ_4K, r, n);
	/* Fewer ranges only widen the span: the fitter gives up at one. */
	EXPECT_EQ(-E2BIG, dma_logging_start_fitted(fd, SZ_4K, r, n, &used));
	EXPECT_EQ(1, used);

	ASSERT_EQ(0, __sysfs_write_u64(self->sysfs, "log_max_span", span));
	dma_logging_start(fd, SZ_4K, r, n);
	EXPECT_SYSFS(n, "log_ranges_requested");
	EXPECT_SYSFS(k, "log_ranges_fitted");
	EXPECT_SYSFS(span - layout_bytes(r, n), "log_bytes_overtracked");
	dma_logging_stop(fd);

	ASSERT_EQ(0, dma_logging_start_fitted(fd, SZ_4K, r, n, &used));
	EXPECT_EQ(n, used);
	dma_logging_stop(fd);

	/* Within the tracker's ranges the span is what was asked for. */
	ASSERT_EQ(0, __sysfs_write_u64(self->sysfs, "log_max_span",
				       layout_bytes(r, k) - SZ_4K));
	test_err_dma_logging_start(E2BIG, fd, SZ_4K, r, k);
	ASSERT_EQ(0, __sysfs_write_u64(self->sysfs, "log_max_span",
				       layout_bytes(r, k)));
	dma_logging_start(fd, SZ_4K, r, k);
	EXPECT_SYSFS(0, "log_bytes_overtracked");
	dma_logging_stop(fd);
}

/*
 * The layout of report_lossless: 4 pages before the first range, 24 ranges
 * of 1 to 3 pages, gaps of 1 to 23 pages, all different, and 4 pages after
 * the last range.  Fitted into 8 ranges, the 16 smallest gaps (1 to 16
 * pages) are merged, the 7 largest are kept.
 */
#define LOSSLESS_RANGES		24
#define LOSSLESS_MARGIN		(4 * SZ_4K)

static uint64_t lossless_gap_pages(uint32_t i)
{
	/* 7 is prime to 23: i = 0..22 gives every size from 1 to 23 once. */
	return 1 + (i * 7) % (LOSSLESS_RANGES - 1);
}

/* Where the page at @iova lies: in a range, a merged gap, or nowhere tracked. */
enum page_kind { PAGE_RANGE, PAGE_MERGED_GAP, PAGE_UNTRACKED };

static enum page_kind
lossless_kind(const struct vfio_device_feature_dma_logging_range *r,
	      uint64_t iova, uint32_t k)
{
	uint32_t i;

	for (i = 0; i < LOSSLESS_RANGES; i++) {
		if (iova < r[i].iova)
			break;
		if (iova < r[i].iova + r[i].length)
			return PAGE_RANGE;
	}
	if (i == 0 || i == LOSSLESS_RANGES)
		return PAGE_UNTRACKED;
	/* In the gap after r[i - 1]: merged if among the n - k smallest. */
	return lossless_gap_pages(i - 1) <= LOSSLESS_RANGES - k ?
	       PAGE_MERGED_GAP : PAGE_UNTRACKED;
}

TEST_F(dma_logging, report_lossless)
{
	struct vfio_device_feature_dma_logging_range r[LOSSLESS_RANGES];
	const uint32_t n = LOSSLESS_RANGES, k = SIM_DEFAULT_MAX_RANGES;
	uint64_t iova, end, npages, page, done, failed, reported = 0;
	int fd = self->dev.device_fd;
	uint64_t in_ranges = 0, in_merged = 0, bits;
	/* The 16 smallest gaps: 1 + 2 + ... + 16 pages. */
	const uint64_t merged_pages = (n - k) * (n - k + 1) / 2;
	uint64_t *bitmap;
	uint64_t seed = 6;
	uint32_t i;

	if (!self->is_sim)
		SKIP(return, NOT_SIM, device_name);
	if (probe_report == -EOPNOTSUPP)
		SKIP(return, NO_IOMMUFD_DRIVER);

	iova = TEST_IOVA + LOSSLESS_MARGIN;
	for (i = 0; i < n; i++) {
		r[i].iova = iova;
		r[i].length = (1 + lcg(&seed, 3)) * SZ_4K;
		in_ranges += r[i].length / SZ_4K;
		iova += r[i].length;
		if (i + 1 < n)
			iova += lossless_gap_pages(i) * SZ_4K;
	}
	end = iova + LOSSLESS_MARGIN;
	npages = (end - TEST_IOVA) / SZ_4K;
	bitmap = calloc((npages + 63) / 64, sizeof(*bitmap));
	ASSERT_NE(NULL, bitmap);
	self->buf_size = end - TEST_IOVA;
	ASSERT_EQ(0, test_map(self->dev.container_fd, &self->buf,
			      self->buf_size));

	ASSERT_EQ(0, __sysfs_write_u64(self->sysfs, "log_max_ranges", k));
	dma_logging_start(fd, SZ_4K, r, n);
	EXPECT_SYSFS(k, "log_ranges_fitted");
	EXPECT_SYSFS(merged_pages * SZ_4K, "log_bytes_overtracked");

	/* The device writes every page of every range. */
	for (i = 0; i < n; i++) {
		sim_write(fd, 0, r[i].iova, r[i].length, SIM_PATTERN, &done,
			  &failed);
		ASSERT_EQ(r[i].length / SZ_4K, done);
		ASSERT_EQ(0, failed);
	}
	dma_logging_report(fd, TEST_IOVA, end - TEST_IOVA, SZ_4K, bitmap);
	for (page = 0; page < npages; page++) {
		iova = TEST_IOVA + page * SZ_4K;
		/* Every written page, and nothing else: none was written. */
		EXPECT_EQ(lossless_kind(r, iova, k) == PAGE_RANGE,
			  bitmap_test_bit(bitmap, page))
			TH_LOG("page at 0x%llx", (unsigned long long)iova);
	}
	bits = bitmap_weight_bits(bitmap, npages);
	EXPECT_EQ(in_ranges, bits);
	reported += bits;

	/* Now every page that is in no range: the margins and every gap. */
	sim_write(fd, 0, TEST_IOVA, LOSSLESS_MARGIN, SIM_PATTERN, &done,
		  &failed);
	ASSERT_EQ(LOSSLESS_MARGIN / SZ_4K, done);
	for (i = 0; i + 1 < n; i++) {
		iova = r[i].iova + r[i].length;
		sim_write(fd, 0, iova, r[i + 1].iova - iova, SIM_PATTERN, &done,
			  &failed);
		ASSERT_EQ((r[i + 1].iova - iova) / SZ_4K, done);
		ASSERT_EQ(0, failed);
	}
	sim_write(fd, 0, end - LOSSLESS_MARGIN, LOSSLESS_MARGIN, SIM_PATTERN,
		  &done, &failed);
	ASSERT_EQ(LOSSLESS_MARGIN / SZ_4K, done);

	memset(bitmap, 0, (npages + 63) / 64 * sizeof(*bitmap));
	dma_logging_report(fd, TEST_IOVA, end - TEST_IOVA, SZ_4K, bitmap);
	for (page = 0; page < npages; page++) {
		iova = TEST_IOVA + page * SZ_4K;
		switch (lossless_kind(r, iova, k)) {
		case PAGE_RANGE:
			/* Reported and cleared, not written since. */
			EXPECT_FALSE(bitmap_test_bit(bitmap, page))
				TH_LOG("range page at 0x%llx",
				       (unsigned long long)iova);
			break;
		case PAGE_MERGED_GAP:
			/* Tracked because of the fitting: may be reported. */
			in_merged += bitmap_test_bit(bitmap, page);
			break;
		case PAGE_UNTRACKED:
			EXPECT_FALSE(bitmap_test_bit(bitmap, page))
				TH_LOG("untracked page at 0x%llx",
				       (unsigned long long)iova);
			break;
		}
	}
	bits = bitmap_weight_bits(bitmap, npages);
	EXPECT_EQ(in_merged, bits);
	reported += bits;
	TH_LOG("%llu of %llu written pages in merged gaps reported",
	       (unsigned long long)in_merged, (unsigned long long)merged_pages);

	/* Read and clear: nothing is left to report. */
	memset(bitmap, 0, (npages + 63) / 64 * sizeof(*bitmap));
	dma_logging_report(fd, TEST_IOVA, end - TEST_IOVA, SZ_4K, bitmap);
	EXPECT_EQ(0, bitmap_weight_bits(bitmap, npages));
	EXPECT_SYSFS(reported, "log_pages_reported");

	dma_logging_stop(fd);
	free(bitmap);
}

/*
 * The bits of a REPORT where the bitmap is cut: around u64 words; across
 * the user pages that hold the bitmap, which starts 8 bytes before a page
 * boundary, so that bits 0 to 63 and the rest lie on different pages; at
 * 32768 bits, one page's worth; at the last page; in a coarser report
 * granule; and in a window that starts and ends mid-word.
 */
#define BOUNDARY_PAGES		65536	/* 256 MiB: two pages of bitmap */

static const uint64_t boundary_pages[] = {
	0, 62, 63, 64, 65, 127, 128, 511, 512, 4095, 4096, 32767, 32768,
	32769, 32831, 32832, BOUNDARY_PAGES - 1,
};

TEST_F(dma_logging, report_boundaries)
{
	struct vfio_device_feature_dma_logging_range range = {
		TEST_IOVA, BOUNDARY_PAGES * SZ_4K
	};
	const uint64_t bitmap_bytes = BOUNDARY_PAGES / 8;
	int fd = self->dev.device_fd;
	uint64_t done, failed, page, *bitmap;
	unsigned int i, n = 0;
	char *bitmap_buf;

	if (!self->is_sim)
		SKIP(return, NOT_SIM, device_name);
	if (probe_report == -EOPNOTSUPP)
		SKIP(return, NO_IOMMUFD_DRIVER);

	/* Nothing is touched but the pages the device writes. */
	self->buf_size = range.length;
	ASSERT_EQ(0, test_map(self->dev.container_fd, &self->buf,
			      self->buf_size));
	bitmap_buf = mmap(NULL, bitmap_bytes + 2 * SZ_4K, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, bitmap_buf);
	bitmap = (uint64_t *)(bitmap_buf + SZ_4K - sizeof(uint64_t));

	dma_logging_start(fd, SZ_4K, &range, 1);
	for (i = 0; i < ARRAY_SIZE(boundary_pages); i++) {
		sim_write(fd, 0, TEST_IOVA + boundary_pages[i] * SZ_4K, SZ_4K,
			  SIM_PATTERN, &done, &failed);
		ASSERT_EQ(1, done);
	}
	memset(bitmap, 0, bitmap_bytes);
	dma_logging_report(fd, TEST_IOVA, range.length, SZ_4K, bitmap);
	/* Each written page is reported; then they are the only ones. */
	for (i = 0; i < ARRAY_SIZE(boundary_pages); i++) {
		EXPECT_TRUE(bitmap_test_bit(bitmap, boundary_pages[i]))
			TH_LOG("page %llu",
			       (unsigned long long)boundary_pages[i]);
	}
	EXPECT_EQ(ARRAY_SIZE(boundary_pages),
		  bitmap_weight_bits(bitmap, BOUNDARY_PAGES));

	/* Again, reported in 2 MiB granules: one bit per 512 pages. */
	for (i = 0; i < ARRAY_SIZE(boundary_pages); i++) {
		sim_write(fd, 0, TEST_IOVA + boundary_pages[i] * SZ_4K, SZ_4K,
			  SIM_PATTERN, &done, &failed);
	}
	memset(bitmap, 0, bitmap_bytes);
	dma_logging_report(fd, TEST_IOVA, range.length, SZ_2M, bitmap);
	for (page = 0; page < BOUNDARY_PAGES; page += 512) {
		bool written = false;

		for (i = 0; i < ARRAY_SIZE(boundary_pages); i++)
			written |= boundary_pages[i] / 512 == page / 512;
		n += written;
		EXPECT_EQ(written, bitmap_test_bit(bitmap, page / 512))
			TH_LOG("2 MiB block %llu", (unsigned long long)page / 512);
	}
	EXPECT_EQ(n, bitmap_weight_bits(bitmap, BOUNDARY_PAGES / 512));

	/*
	 * Pages 62 to 128 written, a window of 63 to 128 reported: it clears
	 * those 66 pages only, and page 62 is left for the next report.
	 */
	sim_write(fd, 0, TEST_IOVA + 62 * SZ_4K, 67 * SZ_4K, SIM_PATTERN, &done,
		  &failed);
	ASSERT_EQ(67, done);
	memset(bitmap, 0, bitmap_bytes);
	dma_logging_report(fd, TEST_IOVA + 63 * SZ_4K,
			   66 * SZ_4K, SZ_4K, bitmap);
	EXPECT_EQ(66, bitmap_weight_bits(bitmap, 66));
	EXPECT_EQ(66, bitmap_weight_bits(bitmap, BOUNDARY_PAGES));
	memset(bitmap, 0, bitmap_bytes);
	dma_logging_report(fd, TEST_IOVA, range.length, SZ_4K, bitmap);
	EXPECT_EQ(1, bitmap_weight_bits(bitmap, BOUNDARY_PAGES));
	EXPECT_TRUE(bitmap_test_bit(bitmap, 62));

	dma_logging_stop(fd);
	munmap(bitmap_buf, bitmap_bytes + 2 * SZ_4K);
}

/*
 * A device may log in granules coarser than a REPORT's pages (START's
 * page_size is the device's choice, the REPORT's the caller's), and a
 * REPORT window need not start or end on a granule, nor even on a page.
 * The device must handle any window (see struct vfio_log_ops): report every
 * written page the window covers, by replicating a granule's bit if need
 * be, set no bit outside the bitmap it was given, and clear the log for the
 * window only.
 *
 * The bitmaps of these tests lie in a page of canaries, at an offset that
 * the tests vary, so that any byte written outside them is seen.
 */
#define GRANULE		SZ_2M
#define CANARY		0x5a

/* A zeroed bitmap of @nwords u64 at @off in @page, canaries around it. */
static uint64_t *canary_bitmap(uint8_t *page, size_t off, size_t nwords)
{
	memset(page, CANARY, SZ_4K);
	memset(page + off, 0, nwords * sizeof(uint64_t));
	return (uint64_t *)(page + off);
}

/*
 * Bytes of @page outside the bitmap of canary_bitmap() that were written;
 * *@first is the offset of the first of them.
 */
static size_t canary_damage(const uint8_t *page, size_t off, size_t nwords,
			    size_t *first)
{
	size_t i, damage = 0;

	for (i = 0; i < SZ_4K; i++) {
		if (i >= off && i < off + nwords * sizeof(uint64_t))
			continue;
		if (page[i] != CANARY && !damage++)
			*first = i;
	}
	return damage;
}

/* What the tests of REPORT windows log, with memory behind it. */
static const struct vfio_device_feature_dma_logging_range coarse_range = {
	TEST_IOVA, 2 * GRANULE
};

/*
 * The page at 1 MiB is written, then reported by a window that starts
 * there (granule 2 MiB) or 512 bytes into it (granule 4 KiB): the start of
 * the granule lies below the window.
 */
TEST_F(dma_logging, report_window_start)
{
	static const struct {
		uint64_t granule;
		uint64_t window;
		size_t off;
	} cases[] = {
		{ GRANULE, SZ_1M, 0 },
		{ GRANULE, SZ_1M, 512 },
		{ SZ_4K, SZ_1M + 512, 0 },
		{ SZ_4K, SZ_1M + 512, 512 },
	};
	int fd = self->dev.device_fd;
	uint64_t done, failed, *bitmap;
	size_t damage, first = 0;
	unsigned int i;
	uint8_t *page;
	char what[96];
	int ret;

	if (!self->is_sim)
		SKIP(return, NOT_SIM, device_name);
	if (probe_report == -EOPNOTSUPP)
		SKIP(return, NO_IOMMUFD_DRIVER);
	page = mmap(NULL, SZ_4K, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, page);

	self->buf_size = coarse_range.length;
	ASSERT_EQ(0, test_map(self->dev.container_fd, &self->buf,
			      self->buf_size));

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		dma_logging_start(fd, cases[i].granule, &coarse_range, 1);
		sim_write(fd, 0, TEST_IOVA + SZ_1M, SZ_4K, SIM_PATTERN, &done,
			  &failed);
		ASSERT_EQ(1, done);
		snprintf(what, sizeof(what),
			 "granule 0x%llx, window at +0x%llx, bitmap at page offset %zu",
			 (unsigned long long)cases[i].granule,
			 (unsigned long long)cases[i].window, cases[i].off);
		bitmap = canary_bitmap(page, cases[i].off, 4);
		ret = __dma_logging_report(fd, TEST_IOVA + cases[i].window,
					   SZ_4K, SZ_4K, bitmap);
		damage = canary_damage(page, cases[i].off, 4, &first);
		/* Refusing a window off the page grid would be fine too. */
		if (!ret || cases[i].window % SZ_4K == 0) {
			EXPECT_EQ(0, ret);
			EXPECT_TRUE(bitmap_test_bit(bitmap, 0))
				TH_LOG("%s: written page not reported", what);
		}
		EXPECT_EQ(0, damage)
			TH_LOG("%s: %zu bytes written outside the bitmap, from page offset %zu",
			       what, damage, first);
		dma_logging_stop(fd);
	}
	munmap(page, SZ_4K);
}

/* A window that ends one page past the written page at 1 MiB: 257 bits. */
TEST_F(dma_logging, report_window_end)
{
	const uint64_t nbits = SZ_1M / SZ_4K + 1, nwords = (nbits + 63) / 64;
	int fd = self->dev.device_fd;
	uint64_t done, failed, *bitmap;
	size_t damage, first = 0;
	uint8_t *page;

	if (!self->is_sim)
		SKIP(return, NOT_SIM, device_name);
	if (probe_report == -EOPNOTSUPP)
		SKIP(return, NO_IOMMUFD_DRIVER);
	page = mmap(NULL, SZ_4K, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, page);
	self->buf_size = coarse_range.length;
	ASSERT_EQ(0, test_map(self->dev.container_fd, &self->buf,
			      self->buf_size));
	dma_logging_start(fd, GRANULE, &coarse_range, 1);

	/* Over both granules, aligned: the written one only. */
	sim_write(fd, 0, TEST_IOVA + SZ_1M, SZ_4K, SIM_PATTERN, &done, &failed);
	ASSERT_EQ(1, done);
	bitmap = canary_bitmap(page, 512, 2 * GRANULE / SZ_4K / 64);
	dma_logging_report(fd, TEST_IOVA, 2 * GRANULE, SZ_4K, bitmap);
	EXPECT_TRUE(bitmap_test_bit(bitmap, SZ_1M / SZ_4K));
	EXPECT_EQ(0, bitmap_weight_bits(bitmap + GRANULE / SZ_4K / 64,
					GRANULE / SZ_4K));
	EXPECT_EQ(0, canary_damage(page, 512, 2 * GRANULE / SZ_4K / 64, &first));

	sim_write(fd, 0, TEST_IOVA + SZ_1M, SZ_4K, SIM_PATTERN, &done, &failed);
	bitmap = canary_bitmap(page, 512, nwords);
	dma_logging_report(fd, TEST_IOVA, nbits * SZ_4K, SZ_4K, bitmap);
	damage = canary_damage(page, 512, nwords, &first);
	EXPECT_TRUE(bitmap_test_bit(bitmap, nbits - 1));
	EXPECT_EQ(0, damage)
		TH_LOG("%zu bytes written past the bitmap at page offset 512, from %zu",
		       damage, first);

	dma_logging_stop(fd);
	munmap(page, SZ_4K);
}

/*
 * The page at 1.5 MiB is written; a window of [0, 1 MiB) may report it (same
 * granule), but must leave it to a report of [1 MiB, 2 MiB).  The bitmaps
 * are a granule's worth: what report_window_end checks is not checked here.
 */
TEST_F(dma_logging, report_clears_window_only)
{
	int fd = self->dev.device_fd;
	uint64_t done, failed, bitmap[GRANULE / SZ_4K / 64];

	if (!self->is_sim)
		SKIP(return, NOT_SIM, device_name);
	if (probe_report == -EOPNOTSUPP)
		SKIP(return, NO_IOMMUFD_DRIVER);
	self->buf_size = coarse_range.length;
	ASSERT_EQ(0, test_map(self->dev.container_fd, &self->buf,
			      self->buf_size));
	dma_logging_start(fd, GRANULE, &coarse_range, 1);
	sim_write(fd, 0, TEST_IOVA + 3 * SZ_1M / 2, SZ_4K, SIM_PATTERN, &done,
		  &failed);
	ASSERT_EQ(1, done);

	memset(bitmap, 0, sizeof(bitmap));
	dma_logging_report(fd, TEST_IOVA, SZ_1M, SZ_4K, bitmap);
	memset(bitmap, 0, sizeof(bitmap));
	dma_logging_report(fd, TEST_IOVA + SZ_1M, SZ_1M, SZ_4K, bitmap);
	EXPECT_TRUE(bitmap_test_bit(bitmap, SZ_1M / 2 / SZ_4K))
		TH_LOG("the page at 1.5 MiB was cleared by a report of [0, 1 MiB)");
	dma_logging_stop(fd);
}

/*
 * virtio-mem plugs guest memory in 2 MiB blocks: a VM that grew and shrank
 * has tens of thousands of mappings, which no START can carry.
 */
#define VIRTIO_MEM_RANGES	32768

TEST_F(dma_logging, fitter_large_layout)
{
	const uint32_t max = dma_logging_max_ranges();
	struct vfio_device_feature_dma_logging_range *r, *sorted;
	int fd = self->dev.device_fd;
	uint32_t m, used;

	r = calloc(VIRTIO_MEM_RANGES, sizeof(*r));
	sorted = calloc(VIRTIO_MEM_RANGES, sizeof(*r));
	ASSERT_NE(NULL, r);
	ASSERT_NE(NULL, sorted);
	/* Blocks of 1 to 4 x 2 MiB, holes of 0 (adjacent) to 3 blocks. */
	layout_make(sorted, VIRTIO_MEM_RANGES, TEST_IOVA_HIGH, SZ_2M, 4, 0, 3, 7);
	memcpy(r, sorted, VIRTIO_MEM_RANGES * sizeof(*r));
	layout_shuffle(r, VIRTIO_MEM_RANGES, 8);
	m = layout_merge(sorted, VIRTIO_MEM_RANGES);
	ASSERT_GT(m, max);

	ASSERT_EQ(0, dma_logging_start_fitted(fd, SZ_4K, r, VIRTIO_MEM_RANGES,
					      &used));
	EXPECT_LE(used, max);
	EXPECT_GE(used, 1);
	if (self->is_sim) {
		uint32_t k = self->max_ranges < used ? self->max_ranges : used;

		/* The sim takes all the core does: no retry was needed. */
		EXPECT_EQ(max, used);
		EXPECT_SYSFS(used, "log_ranges_requested");
		EXPECT_SYSFS(k, "log_ranges_fitted");
		/*
		 * Fitting m into used merged the m - used smallest gaps; the
		 * device merged the next used - k.
		 */
		EXPECT_SYSFS(gaps_sum(sorted, m, m - used, m - k),
			     "log_bytes_overtracked");
	}
	dma_logging_stop(fd);

	/* The fitter left the caller's ranges alone. */
	layout_make(sorted, VIRTIO_MEM_RANGES, TEST_IOVA_HIGH, SZ_2M, 4, 0, 3, 7);
	layout_shuffle(sorted, VIRTIO_MEM_RANGES, 8);
	EXPECT_EQ(0, memcmp(r, sorted, VIRTIO_MEM_RANGES * sizeof(*r)));
	free(sorted);
	free(r);
}

/* What the fitter refuses itself, and what it merges before fitting. */
TEST_F(dma_logging, fitter_input)
{
	struct vfio_device_feature_dma_logging_range r[300], bad[2];
	int fd = self->dev.device_fd;
	uint32_t i, used;

	used = 1;
	EXPECT_EQ(-EINVAL, dma_logging_start_fitted(fd, SZ_4K, r, 0, &used));
	EXPECT_EQ(0, used);
	bad[0] = (struct vfio_device_feature_dma_logging_range){ TEST_IOVA, 0 };
	EXPECT_EQ(-EINVAL, dma_logging_start_fitted(fd, SZ_4K, bad, 1, &used));
	bad[0].length = SZ_4K + 512;
	EXPECT_EQ(-EINVAL, dma_logging_start_fitted(fd, SZ_4K, bad, 1, &used));
	bad[0].length = SZ_4K;
	EXPECT_EQ(-EINVAL, dma_logging_start_fitted(fd, SZ_4K / 2, bad, 1, &used));
	EXPECT_EQ(-EINVAL, dma_logging_start_fitted(fd, 3 * SZ_4K, bad, 1, &used));
	bad[0] = (struct vfio_device_feature_dma_logging_range)
		 { UINT64_MAX - SZ_4K + 1, 2 * SZ_4K };
	EXPECT_EQ(-EOVERFLOW, dma_logging_start_fitted(fd, SZ_4K, bad, 1, &used));
	bad[0].length = SZ_4K;
	EXPECT_EQ(-EOVERFLOW, dma_logging_start_fitted(fd, SZ_4K, bad, 1, &used));
	EXPECT_EQ(0, used);

	/*
	 * 150 pairs of touching ranges, one pair overlapping, in any order:
	 * 150 ranges, which a START carries as they are.
	 */
	layout_make(r, 150, TEST_IOVA, 2 * SZ_4K, 3, 1, 9, 9);
	for (i = 0; i < 150; i++) {
		r[150 + i].iova = r[i].iova + SZ_4K;
		r[150 + i].length = r[i].length - SZ_4K;
		r[i].length = SZ_4K;
	}
	r[299].iova -= SZ_4K;
	r[299].length += SZ_4K;
	layout_shuffle(r, 300, 10);
	ASSERT_EQ(0, dma_logging_start_fitted(fd, SZ_4K, r, 300, &used));
	EXPECT_EQ(150, used);
	if (self->is_sim) {
		uint32_t k = self->max_ranges < 150 ? self->max_ranges : 150;

		/* What the device got is the 150 ranges, whole and sorted. */
		layout_make(r, 150, TEST_IOVA, 2 * SZ_4K, 3, 1, 9, 9);
		EXPECT_SYSFS(150, "log_ranges_requested");
		EXPECT_SYSFS(k, "log_ranges_fitted");
		EXPECT_SYSFS(gaps_sum(r, 150, 0, 150 - k), "log_bytes_overtracked");
	}
	dma_logging_stop(fd);
}

TEST_F(dma_logging, report_args)
{
	struct vfio_device_feature_dma_logging_range range = { TEST_IOVA, SZ_2M };
	static const uint64_t bad_sizes[] = { 0, 1, SZ_4K / 2, SZ_4K + 1,
					      3 * SZ_4K, SZ_2M - SZ_4K };
	int fd = self->dev.device_fd;
	uint64_t bitmap[8];
	unsigned int i;

	/* With logging on, so that only the arguments can be wrong. */
	dma_logging_start(fd, SZ_4K, &range, 1);
	for (i = 0; i < ARRAY_SIZE(bad_sizes); i++) {
		EXPECT_EQ(-EINVAL, __dma_logging_report(fd, TEST_IOVA, SZ_2M,
							bad_sizes[i], bitmap))
			TH_LOG("page_size %llu", (unsigned long long)bad_sizes[i]);
	}
	test_err_dma_logging_report(EOVERFLOW, fd, UINT64_MAX - SZ_4K + 1,
				    2 * SZ_4K, SZ_4K, bitmap);
	/* iova + length is exactly 2^64, which the core refuses as well. */
	test_err_dma_logging_report(EOVERFLOW, fd, UINT64_MAX - SZ_4K + 1,
				    SZ_4K, SZ_4K, bitmap);
	test_err_dma_logging_report(EOVERFLOW, fd, SZ_4K, UINT64_MAX,
				    SZ_4K, bitmap);
	dma_logging_stop(fd);
}

/*
 * A REPORT while logging is off fails; the sim says -EINVAL.  Return true
 * if it failed as expected.
 */
static bool report_refused(bool is_sim, int ret)
{
	return is_sim ? ret == -EINVAL : ret != 0;
}

TEST_F(dma_logging, report_stopped)
{
	struct vfio_device_feature_dma_logging_range range = { TEST_IOVA, SZ_2M };
	int fd = self->dev.device_fd;
	uint64_t bitmap[8] = { 0 };
	int ret;

	if (probe_report == -EOPNOTSUPP)
		SKIP(return, NO_IOMMUFD_DRIVER);
	ret = __dma_logging_report(fd, TEST_IOVA, SZ_2M, SZ_4K, bitmap);
	EXPECT_TRUE(report_refused(self->is_sim, ret)) TH_LOG("never started: %d", ret);

	dma_logging_start(fd, SZ_4K, &range, 1);
	dma_logging_report(fd, TEST_IOVA, SZ_2M, SZ_4K, bitmap);
	EXPECT_EQ(0, bitmap_weight_bits(bitmap, SZ_2M / SZ_4K));
	dma_logging_stop(fd);

	ret = __dma_logging_report(fd, TEST_IOVA, SZ_2M, SZ_4K, bitmap);
	EXPECT_TRUE(report_refused(self->is_sim, ret)) TH_LOG("stopped: %d", ret);
}

/* Closing the device stops logging: a new open may START again. */
TEST_F(dma_logging, close_stops)
{
	struct vfio_device_feature_dma_logging_range range = { TEST_IOVA, SZ_2M };
	int ret;

	dma_logging_start(self->dev.device_fd, SZ_4K, &range, 1);
	vfio_test_device_close(&self->dev);
	ret = __vfio_test_device_open(&self->dev, device_name, VFIO_TYPE1v2_IOMMU);
	ASSERT_EQ(0, ret) TH_LOG("reopening %s: %s", device_name, strerror(-ret));
	dma_logging_start(self->dev.device_fd, SZ_4K, &range, 1);
	dma_logging_stop(self->dev.device_fd);
}

/* START and REPORT one range, once, so that each test knows what to skip. */
static void probe_device(void)
{
	struct vfio_device_feature_dma_logging_range range = { TEST_IOVA, SZ_4K };
	struct vfio_test_device dev;
	uint64_t bitmap = 0;

	if (!device_name ||
	    __vfio_test_device_open(&dev, device_name, VFIO_TYPE1v2_IOMMU))
		return;
	probe_start = __dma_logging_start(dev.device_fd, SZ_4K, &range, 1);
	if (!probe_start) {
		probe_report = __dma_logging_report(dev.device_fd, TEST_IOVA,
						    SZ_4K, SZ_4K, &bitmap);
		__dma_logging_stop(dev.device_fd);
	}
	vfio_test_device_close(&dev);
}

int main(int argc, char *argv[])
{
	device_name = vfio_selftests_get_device(&argc, argv);
	probe_device();
	return test_harness_run(argc, argv);
}

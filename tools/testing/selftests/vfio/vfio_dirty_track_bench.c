// SPDX-License-Identifier: GPL-2.0
/*
 * vfio_dirty_track_bench: the cost of dirty tracking of one large mapping,
 * from 1 GiB to 64 TiB, on each backend, as one table.
 *
 * Usage: vfio_dirty_track_bench [-r REPS] UUID
 *
 * UUID is a vfio_dirty_sim instance: an emulated IOMMU, so a TiB-scale
 * mapping costs nothing until it is tracked, and a DMA engine that dirties
 * pages the way a mediated device does (vfio_dma_rw()).  For each size, one
 * mapping at IOVA 0 (at 8 TiB, two of 4 TiB, on both backends: the stock
 * driver tracks no mapping of 2^31 pages, but reports over 8 TiB of smaller
 * ones), and for each amount dirtied, the table gives:
 *
 *   - START: VFIO_IOMMU_DIRTY_PAGES_FLAG_START;
 *   - GET_BITMAP over the whole size, after the pages were dirtied;
 *   - UNMAP with VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP over the whole
 *     size, after they were dirtied again (the report cleared them);
 *   - the tracking memory: for vfio_iommu_type1, how much VmallocUsed of
 *     /proc/meminfo grew across START (its bitmap, allocated there); for
 *     vfio_dirty, stats/tracking_bytes once the pages are dirtied (its
 *     tables of dirty bits: a span of 1 GiB whose dirty pages are one
 *     run takes none).
 *
 * "0.1%" is one page in 1024, as runs of RUN_PAGES pages spread over the
 * whole mapping, its first and last pages included; "all" is every page.
 * Each report must hold exactly that many set bits; a report that does not
 * aborts the row.
 *
 * Where both backends run, the device dirties the pages, with DMA writes.
 * Every mapping lies inside one MAP_NORESERVE anonymous region; the runs
 * the device writes are backed by MAP_FIXED | MAP_SHARED mappings of one
 * memfd of RUN_PAGES pages, the same memory under every run, so that
 * dirtying 2^21 pages (0.1% of 8 TiB) needs 2 MiB of RAM.  A device cannot
 * write terabytes in a test VM: "all" past ALL_BY_DEVICE, and everything at
 * the sizes only vfio_dirty runs, is dirtied with vfio_dirty's test hook
 * (VFIO_DIRTY_TEST_SET_DIRTY, CONFIG_VFIO_DIRTY_TEST), which records pages
 * as a device write does, without the write.  Those rows have no stock
 * figure.
 *
 * The stock driver refuses any report over more than 2^31 pages (8 TiB at
 * 4 KiB): it is not run at 16 and 64 TiB, where vfio_dirty runs, one
 * mapping, with max_bitmap_size raised to the size's bitmap (restored
 * after).  The user's bitmap is zeroed by the program before each call,
 * outside the timing, as by a VMM that keeps its bitmap: the page faults
 * of a fresh bitmap's first writes cost the same whichever call makes
 * them, and under TCG they would hide the drivers' own cost.  Each case
 * runs REPS times (default 3), both backends in each repetition, in
 * alternating order; the table gives medians and the ratio vfio_dirty /
 * vfio_iommu_type1.
 *
 * Under the table, two floors of a 0.1% report where the stock driver
 * runs, each run's words written at their place in a bitmap zeroed as
 * before a call: by this program's own stores ("user"), and by the kernel
 * ("kernel"), which copies them from a file of ones with preadv(), IOV_MAX
 * runs per call.  A driver's report is made by the kernel, whose first
 * store to each page of the bitmap costs more under TCG than the program's
 * (it does not find the page in the TLB the program's memset filled), so
 * the kernel floor is the one a driver can approach (preadv() also walks
 * its iovecs and the file's pages, so a report may come in a little under
 * it), and kernel floor / stock about the best ratio a driver can reach.
 *
 * After the tables, the same medians as a data file (lib/bench_data.c),
 * vfio_dirty_track_bench.dat: one block per amount dirtied (none, 0.1%,
 * all), one row per size, each backend's four operations and the two
 * floors (of the 0.1% block only).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/uio.h>

#include "bench_data.h"
#include "vfio_util.h"

#define SZ_1T			(SZ_4T / 4)
#define SZ_16T			(2 * SZ_8T)
#define SZ_64T			(8 * SZ_8T)
/* The largest mapping the device dirties whole: 2^18 pages. */
#define ALL_BY_DEVICE		SZ_1G
/* Pages per dirty run: 2 MiB, one DMA write and one memfd mapping each. */
#define RUN_PAGES		512ULL
#define RUN_BYTES		(RUN_PAGES * SZ_4K)
/* "0.1%": one page in 1024, so that every size holds whole runs. */
#define DIRTY_SHIFT		10
#define DEFAULT_REPS		3
#define MAX_REPS		15
#define PATTERN			0x5a5a5a5a5a5a5a5aULL

static const struct {
	const char *name;
	uint64_t bytes;
	unsigned int maps;	/* mappings of equal size it is made of */
	bool type1;		/* the stock driver runs it */
	const char *ceiling;	/* vfio_dirty's max_bitmap_size, if raised */
} sizes[] = {
	{ "1 GiB", SZ_1G, 1, true, NULL },
	{ "1 TiB", SZ_1T, 1, true, NULL },
	{ "2 TiB", 2 * SZ_1T, 1, true, NULL },
	{ "4 TiB", SZ_4T, 1, true, NULL },
	{ "8 TiB", SZ_8T, 2, true, NULL },
	{ "16 TiB", SZ_16T, 1, false, "1G" },
	{ "64 TiB", SZ_64T, 1, false, "2G" },
};

#define NR_SIZES	ARRAY_SIZE(sizes)

enum { DIRTY_NONE, DIRTY_SOME, DIRTY_ALL, NR_DIRTY };

static const char *const dirty_names[NR_DIRTY] = {
	[DIRTY_NONE]	= "none",
	[DIRTY_SOME]	= "0.1%",
	[DIRTY_ALL]	= "all",
};

enum { OP_START, OP_GET, OP_UNMAP, OP_MEM, NR_OPS };

static const char *const op_names[NR_OPS] = {
	[OP_START]	= "START",
	[OP_GET]	= "GET_BITMAP",
	[OP_UNMAP]	= "UNMAP with bitmap",
	[OP_MEM]	= "tracking memory",
};

/*
 * One cell of the table.  @ret is the first error the operation returned
 * (the case then stops), @mismatch a report with the wrong number of bits.
 */
static struct cell {
	int n;
	int ret;
	bool mismatch;
	uint64_t dirty;
	double v[MAX_REPS];
} cells[NR_SIZES][NR_DIRTY][NR_OPS][VFIO_NR_BACKENDS];

/* The floors of a 0.1% report, per size (see the top). */
enum { FLOOR_USER, FLOOR_KERNEL, NR_FLOORS };

static const char *const floor_names[NR_FLOORS] = {
	[FLOOR_USER]	= "user",
	[FLOOR_KERNEL]	= "kernel",
};

static struct cell floors[NR_SIZES][NR_FLOORS];

static const char *device_name;
static struct vfio_test_device dev = {
	.container_fd = -1, .group_fd = -1, .device_fd = -1,
};

static char *vaddr;
static int memfd = -1;
/* IOV_MAX runs' words of ones, the kernel floor's source. */
static int ones_fd = -1;
static char saved_ceiling[32];
static int status;

static void die(const char *what, int ret)
{
	fprintf(stderr, "vfio_dirty_track_bench: %s: %s\n", what, strerror(-ret));
	vfio_dirty_ceiling_restore(saved_ceiling);
	exit(1);
}

/* The runs of 0.1% of a mapping of @bytes. */
static uint64_t nr_runs(uint64_t bytes)
{
	return ((bytes / SZ_4K) >> DIRTY_SHIFT) / RUN_PAGES;
}

/* Does the amount @d exist at size @s, and does the device dirty it? */
static bool case_exists(unsigned int s, unsigned int d)
{
	return d != DIRTY_SOME || nr_runs(sizes[s].bytes) >= 2;
}

static bool by_device(unsigned int s, unsigned int d)
{
	if (d == DIRTY_SOME)
		return sizes[s].type1;
	return d == DIRTY_ALL && sizes[s].bytes <= ALL_BY_DEVICE;
}

/* The runs to dirty at size @s, amount @d. */
static uint64_t case_runs(unsigned int s, unsigned int d)
{
	if (d == DIRTY_NONE)
		return 0;
	if (d == DIRTY_ALL)
		return sizes[s].bytes / RUN_BYTES;
	return nr_runs(sizes[s].bytes);
}

/* The IOVA of run @i of case (@s, @d); 0.1%: from 0 to the end. */
static uint64_t run_iova(unsigned int s, unsigned int d, uint64_t i)
{
	uint64_t bytes = sizes[s].bytes, nr = case_runs(s, d), iova;

	if (d == DIRTY_ALL)
		return i * RUN_BYTES;
	iova = i * (bytes - RUN_BYTES) / (nr - 1);
	return iova / RUN_BYTES * RUN_BYTES;
}

/* Back the runs the device writes at size @s with the memfd, or anon. */
static void back_runs(unsigned int s, bool with_memfd)
{
	unsigned int d;
	uint64_t i;
	void *p;

	for (d = 0; d < NR_DIRTY; d++) {
		if (!case_exists(s, d) || !by_device(s, d))
			continue;
		for (i = 0; i < case_runs(s, d); i++) {
			if (with_memfd)
				p = mmap(vaddr + run_iova(s, d, i), RUN_BYTES,
					 PROT_READ | PROT_WRITE,
					 MAP_SHARED | MAP_FIXED, memfd, 0);
			else
				p = mmap(vaddr + run_iova(s, d, i), RUN_BYTES,
					 PROT_READ | PROT_WRITE,
					 MAP_PRIVATE | MAP_ANONYMOUS |
					 MAP_NORESERVE | MAP_FIXED, -1, 0);
			if (p == MAP_FAILED)
				die("mmap of a dirty run", -errno);
		}
	}
}

/*
 * Dirty the pages of case (@s, @d): by the device's writes, or by the test
 * hook.  Return: 0, or the hook's errno.
 */
static int dirty_case(unsigned int s, unsigned int d)
{
	uint64_t i, done, failed, piece = sizes[s].bytes / sizes[s].maps;
	int ret;

	if (d == DIRTY_ALL && !by_device(s, d)) {
		/* The hook marks pages of one mapping per call. */
		for (i = 0; i < sizes[s].maps; i++) {
			ret = __vfio_dirty_test_set_dirty(dev.container_fd,
							  i * piece, piece);
			if (ret)
				return ret;
		}
		return 0;
	}
	for (i = 0; i < case_runs(s, d); i++) {
		if (!by_device(s, d)) {
			ret = __vfio_dirty_test_set_dirty(dev.container_fd,
							  run_iova(s, d, i),
							  RUN_BYTES);
			if (ret)
				return ret;
			continue;
		}
		ret = __sim_write(dev.device_fd, 0, run_iova(s, d, i),
				  RUN_BYTES, PATTERN, &done, &failed);
		if (ret || done != RUN_PAGES)
			die("the device's write", ret ? ret : -EIO);
	}
	return 0;
}

static void record(struct cell *c, int ret, double v)
{
	if (ret && !c->ret)
		c->ret = ret;
	if (!ret)
		c->v[c->n++] = v;
}

/* A bitmap of @words 64-bit words, zeroed, its pages faulted in. */
static uint64_t *zeroed_bitmap(uint64_t words, const char *what)
{
	uint64_t *bitmap;

	bitmap = mmap(NULL, words * 8, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (bitmap == MAP_FAILED)
		die(what, -errno);
	memset(bitmap, 0, words * 8);
	return bitmap;
}

/*
 * GET_BITMAP, or UNMAP with bitmap, over a mapping of @bytes at IOVA 0,
 * which must report @want dirty pages.  Return: 0, the call's errno, or
 * -EBADMSG on a wrong count.
 */
static int report(struct cell *c, uint64_t bytes, bool do_unmap, uint64_t want)
{
	uint64_t words = bytes / SZ_4K / 64;
	uint64_t *bitmap;
	double t;
	int ret;

	bitmap = zeroed_bitmap(words, "the user bitmap");
	t = now_ms();
	if (do_unmap)
		ret = __vfio_unmap_bitmap(dev.container_fd, 0, bytes, SZ_4K,
					  bitmap, words * 8, NULL);
	else
		ret = __vfio_get_bitmap(dev.container_fd, 0, bytes, SZ_4K,
					bitmap, words * 8);
	t = now_ms() - t;
	record(c, ret, t);
	if (!ret) {
		c->dirty = bitmap_weight_bits(bitmap, words * 64);
		if (c->dirty != want) {
			fprintf(stderr, "%s reported %llu dirty pages, %llu written\n",
				do_unmap ? "UNMAP" : "GET_BITMAP",
				(unsigned long long)c->dirty,
				(unsigned long long)want);
			c->mismatch = true;
			ret = -EBADMSG;
		}
	}
	munmap(bitmap, words * 8);
	return ret;
}

/* A file of IOV_MAX runs' words of ones, in memory, for the kernel floor. */
static int ones_file(void)
{
	static uint64_t ones[IOV_MAX * RUN_PAGES / 64];
	int fd;

	memset(ones, 0xff, sizeof(ones));
	fd = memfd_create("vfio_dirty_track_bench_ones", 0);
	if (fd < 0)
		die("memfd_create", -errno);
	if (pwrite(fd, ones, sizeof(ones), 0) != sizeof(ones))
		die("writing the file of ones", -EIO);
	return fd;
}

/* One repetition of one case: size @s, dirty amount @d, backend @b. */
static void run_case(unsigned int s, unsigned int d, unsigned int b)
{
	struct cell *c[NR_OPS] = {
		&cells[s][d][OP_START][b], &cells[s][d][OP_GET][b],
		&cells[s][d][OP_UNMAP][b], &cells[s][d][OP_MEM][b],
	};
	uint64_t bytes = sizes[s].bytes, piece = bytes / sizes[s].maps;
	uint64_t want = case_runs(s, d) * RUN_PAGES;
	long long before = 0;
	unsigned int i;
	double t;
	int ret;

	/* A case that failed once is not run again. */
	if (c[OP_START]->ret || c[OP_GET]->ret || c[OP_UNMAP]->ret ||
	    c[OP_GET]->mismatch || c[OP_UNMAP]->mismatch)
		return;
	for (i = 0; i < sizes[s].maps; i++) {
		ret = __vfio_map(dev.container_fd, vaddr + i * piece, i * piece,
				 piece);
		if (ret)
			die("MAP_DMA", ret);
	}
	if (b == VFIO_BACKEND_TYPE1)
		before = proc_meminfo_kb("VmallocUsed") * 1024LL;
	t = now_ms();
	ret = __vfio_dirty(dev.container_fd, VFIO_IOMMU_DIRTY_PAGES_FLAG_START);
	t = now_ms() - t;
	record(c[OP_START], ret, t);
	if (ret)
		goto out_unmap;
	if (b == VFIO_BACKEND_TYPE1)
		record(c[OP_MEM], 0,
		       proc_meminfo_kb("VmallocUsed") * 1024LL - before);

	ret = dirty_case(s, d);
	if (ret) {
		record(c[OP_GET], ret, 0);
		goto out_stop;
	}
	if (b == VFIO_BACKEND_VFIO_DIRTY)
		record(c[OP_MEM], 0, vfio_dirty_tracking_bytes());
	if (report(c[OP_GET], bytes, false, want))
		goto out_stop;
	ret = dirty_case(s, d);
	if (ret) {
		record(c[OP_UNMAP], ret, 0);
		goto out_stop;
	}
	report(c[OP_UNMAP], bytes, true, want);

out_stop:
	__vfio_dirty(dev.container_fd, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP);
out_unmap:
	__vfio_unmap_all(dev.container_fd, 0, 0, NULL);
}

/* The kernel floor's writes: copy ones to the words of @n runs. */
static int kernel_stores(struct iovec *iov, unsigned int n)
{
	ssize_t len = preadv(ones_fd, iov, n, 0);

	if (len < 0)
		return -errno;
	return len == (ssize_t)(n * RUN_PAGES / 8) ? 0 : -EIO;
}

/* One measure of floor @f of a 0.1% report at size @s (see the top). */
static void measure_floor(unsigned int s, unsigned int f)
{
	uint64_t words = sizes[s].bytes / SZ_4K / 64, runs = case_runs(s, DIRTY_SOME);
	static struct iovec iov[IOV_MAX];
	struct cell *c = &floors[s][f];
	uint64_t *bitmap, i, j, w;
	unsigned int n = 0;
	int ret = 0;
	double t;

	bitmap = zeroed_bitmap(words, "the floor's bitmap");
	t = now_ms();
	for (i = 0; i < runs && !ret; i++) {
		w = run_iova(s, DIRTY_SOME, i) / SZ_4K / 64;
		if (f == FLOOR_USER) {
			for (j = 0; j < RUN_PAGES / 64; j++)
				bitmap[w + j] = ~0ULL;
			continue;
		}
		iov[n].iov_base = &bitmap[w];
		iov[n].iov_len = RUN_PAGES / 8;
		if (++n == IOV_MAX || i == runs - 1) {
			ret = kernel_stores(iov, n);
			n = 0;
		}
	}
	t = now_ms() - t;
	if (ret)
		die("the kernel floor's preadv", ret);
	record(c, 0, t);
	c->dirty = bitmap_weight_bits(bitmap, words * 64);
	if (c->dirty != runs * RUN_PAGES)
		die("the floor's bitmap", -EBADMSG);
	munmap(bitmap, words * 8);
}

/* Does backend @b run case (@s, @d)? */
static bool runs_case(unsigned int s, unsigned int d, unsigned int b)
{
	if (!case_exists(s, d))
		return false;
	if (b != VFIO_BACKEND_TYPE1)
		return true;
	return sizes[s].type1 && (d == DIRTY_NONE || by_device(s, d));
}

static void run_size(unsigned int s, int reps)
{
	unsigned int i, b, d;
	int rep, ret;

	if (sizes[s].ceiling) {
		ret = __vfio_dirty_ceiling_set(sizes[s].ceiling, saved_ceiling,
					       sizeof(saved_ceiling));
		if (ret)
			die("raising max_bitmap_size", ret);
	}
	back_runs(s, true);
	for (rep = 0; rep < reps; rep++) {
		for (i = 0; i < VFIO_NR_BACKENDS; i++) {
			b = rep % 2 ? VFIO_NR_BACKENDS - 1 - i : i;
			if (b == VFIO_BACKEND_TYPE1 && !sizes[s].type1)
				continue;
			ret = __vfio_test_device_open_on(&dev, device_name,
							 VFIO_TYPE1v2_IOMMU,
							 b);
			if (ret)
				die(vfio_test_backend_module(b), ret);
			for (d = 0; d < NR_DIRTY; d++)
				if (runs_case(s, d, b))
					run_case(s, d, b);
			vfio_test_device_close(&dev);
		}
		if (sizes[s].type1 && case_exists(s, DIRTY_SOME))
			for (i = 0; i < NR_FLOORS; i++)
				measure_floor(s, i);
	}
	back_runs(s, false);
	vfio_dirty_ceiling_restore(saved_ceiling);
}

/* Format cell @c of operation @op into @buf; return its median, or -1. */
static double format_cell(char *buf, size_t size, struct cell *c, int op)
{
	double med;

	if (c->mismatch) {
		snprintf(buf, size, "MISMATCH: %llu dirty",
			 (unsigned long long)c->dirty);
		return -1;
	}
	if (c->ret) {
		snprintf(buf, size, "%s", vfio_errname(c->ret));
		return -1;
	}
	if (!c->n) {
		snprintf(buf, size, "-");
		return -1;
	}
	med = median(c->v, c->n);
	if (op == OP_MEM)
		snprintf(buf, size, "%24.0f KiB", med / 1024);
	else if (op == OP_START)
		snprintf(buf, size, "%25.1f ms", med);
	else
		snprintf(buf, size, "%-11llu dirty %8.1f ms",
			 (unsigned long long)c->dirty, med);
	return med;
}

static void print_table(int reps)
{
	char cell[VFIO_NR_BACKENDS][48], ratio[16], pages[24];
	double med[VFIO_NR_BACKENDS];
	unsigned int s, d, op, b, f;

	printf("vfio_dirty_track_bench: device %s, medians of %d\n",
	       device_name, reps);
	printf("one mapping at IOVA 0; 8 TiB: two of 4 TiB\n");
	printf("0.1%% dirty: 1 page in %u, in runs of %llu pages, first to last page\n",
	       1U << DIRTY_SHIFT, RUN_PAGES);
	printf("| %-6s | %11s | %-5s | %-17s | %-28s | %-28s | %8s |\n",
	       "size", "pages", "dirty", "operation",
	       vfio_test_backend_module(VFIO_BACKEND_TYPE1),
	       vfio_test_backend_module(VFIO_BACKEND_VFIO_DIRTY), "ratio");
	printf("|%s|%s|%s|%s|%s|%s|%s|\n", dashes(8), dashes(13), dashes(7),
	       dashes(19), dashes(30), dashes(30), dashes(10));
	for (s = 0; s < NR_SIZES; s++) {
		for (d = 0; d < NR_DIRTY; d++) {
			if (!case_exists(s, d))
				continue;
			for (op = 0; op < NR_OPS; op++) {
				for (b = 0; b < VFIO_NR_BACKENDS; b++)
					med[b] = format_cell(cell[b], sizeof(cell[b]),
							     &cells[s][d][op][b], op);
				if (med[0] > 0 && med[1] >= 0)
					snprintf(ratio, sizeof(ratio), "%.3f",
						 med[1] / med[0]);
				else
					snprintf(ratio, sizeof(ratio), "-");
				snprintf(pages, sizeof(pages), "%llu",
					 (unsigned long long)(sizes[s].bytes / SZ_4K));
				printf("| %-6s | %11s | %-5s | %-17s | %28s | %28s | %8s |\n",
				       d || op ? "" : sizes[s].name,
				       d || op ? "" : pages,
				       op ? "" : dirty_names[d], op_names[op],
				       cell[0], cell[1], ratio);
			}
		}
	}
	printf("tracking memory: %s: VmallocUsed growth across START; %s: %s\n",
	       vfio_test_backend_module(VFIO_BACKEND_TYPE1),
	       vfio_test_backend_module(VFIO_BACKEND_VFIO_DIRTY),
	       "stats/tracking_bytes once dirtied");
	printf("dirtied by: the device's DMA writes where both drivers run; %s\n",
	       "vfio_dirty's test hook (no stock figure) for \"all\" past 1 GiB and at 16 and 64 TiB");
	printf("user bitmap: zeroed by the program before each call, outside the timing\n");

	printf("floors of a 0.1%% report: its stores alone, %s\n",
	       "by this program (user) and by the kernel (preadv of ones)");
	printf("| %-6s | %6s | %-6s | %10s | %-28s | %10s |\n", "size", "runs",
	       "floor", "time", "stock GET_BITMAP", "floor/stock");
	printf("|%s|%s|%s|%s|%s|%s|\n", dashes(8), dashes(8), dashes(8),
	       dashes(12), dashes(30), dashes(13));
	for (s = 0; s < NR_SIZES; s++) {
		/* Both floors are measured, or neither. */
		if (!floors[s][FLOOR_USER].n)
			continue;
		med[0] = format_cell(cell[0], sizeof(cell[0]),
				     &cells[s][DIRTY_SOME][OP_GET][0], OP_GET);
		for (f = 0; f < NR_FLOORS; f++) {
			med[1] = median(floors[s][f].v, floors[s][f].n);
			if (med[0] > 0)
				snprintf(ratio, sizeof(ratio), "%.3f",
					 med[1] / med[0]);
			else
				snprintf(ratio, sizeof(ratio), "-");
			printf("| %-6s | %6llu | %-6s | %7.2f ms | %28s | %11s |\n",
			       f ? "" : sizes[s].name,
			       (unsigned long long)case_runs(s, DIRTY_SOME),
			       floor_names[f], med[1], cell[0], ratio);
		}
	}
}

/* A median as a data file's column: @scale times it, or "-". */
static void print_datum(struct cell *c, double scale)
{
	if (c->ret || c->mismatch || !c->n)
		printf(" %12s", "-");
	else
		printf(" %12.3f", median(c->v, c->n) * scale);
}

static void print_data(int argc, char *argv[])
{
	unsigned int s, d, op, b, f;

	bench_data_begin("vfio_dirty_track_bench.dat", argc, argv,
			 "bytes mapped; per backend (vfio_iommu_type1, then vfio_dirty): START ms, GET_BITMAP ms, UNMAP with bitmap ms, tracking memory KiB; 0.1% report floors (user, kernel) ms; one block per amount dirtied");
	for (d = 0; d < NR_DIRTY; d++) {
		printf("%s# dirty: %s\n", d ? "\n\n" : "", dirty_names[d]);
		for (s = 0; s < NR_SIZES; s++) {
			if (!case_exists(s, d))
				continue;
			printf("%llu", (unsigned long long)sizes[s].bytes);
			for (b = 0; b < VFIO_NR_BACKENDS; b++)
				for (op = 0; op < NR_OPS; op++)
					print_datum(&cells[s][d][op][b],
						    op == OP_MEM ? 1.0 / 1024 : 1);
			/* The floors are of a 0.1% report. */
			for (f = 0; f < NR_FLOORS; f++)
				if (d == DIRTY_SOME)
					print_datum(&floors[s][f], 1);
				else
					printf(" %12s", "-");
			printf("\n");
		}
	}
	bench_data_end();
}

int main(int argc, char *argv[])
{
	int opt, reps = DEFAULT_REPS;
	unsigned int s, d, op, b;

	device_name = vfio_selftests_get_device(&argc, argv);
	while ((opt = getopt(argc, argv, "r:")) != -1) {
		if (opt != 'r')
			goto usage;
		reps = atoi(optarg);
	}
	if (!device_name || !vfio_device_is_dirty_sim(device_name) ||
	    reps < 1 || reps > MAX_REPS)
		goto usage;

	vaddr = mmap(NULL, SZ_64T, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vaddr == MAP_FAILED)
		die("mmap of 64 TiB", -errno);
	memfd = memfd_create("vfio_dirty_track_bench", 0);
	if (memfd < 0)
		die("memfd_create", -errno);
	if (ftruncate(memfd, RUN_BYTES))
		die("ftruncate", -errno);
	ones_fd = ones_file();

	for (s = 0; s < NR_SIZES; s++)
		run_size(s, reps);
	print_table(reps);
	print_data(argc, argv);

	for (s = 0; s < NR_SIZES; s++)
		for (d = 0; d < NR_DIRTY; d++)
			for (op = 0; op < NR_OPS; op++)
				for (b = 0; b < VFIO_NR_BACKENDS; b++)
					if (cells[s][d][op][b].mismatch)
						status = 1;
	close(ones_fd);
	close(memfd);
	munmap(vaddr, SZ_64T);
	return status;

usage:
	fprintf(stderr, "usage: %s [-r REPS] UUID: a vfio_dirty_sim instance\n",
		argv[0]);
	fprintf(stderr, "REPS: 1 to %d (default %d)\n", MAX_REPS, DEFAULT_REPS);
	return 2;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * vfio_dirty_bench: the cost of MAP_DMA and UNMAP_DMA on each backend, as
 * one table.
 *
 * Usage: vfio_dirty_bench [-r REPS] DEVICE
 *
 * DEVICE is a PCI device bound to vfio-pci (the edu in the VM runner), so
 * that every mapping is pinned and written into a real IOMMU domain.  The
 * cases:
 *
 *   - MAP_DMA, then UNMAP_DMA, of 256 MiB of anonymous memory in 4 KiB
 *     pages, and of 256 MiB in 2 MiB hugetlb pages (the memory is touched
 *     first, so that only pinning and IOMMU work is timed);
 *   - 10000 cycles of MAP_DMA and UNMAP_DMA of one 4 KiB page.
 *
 * Each case runs REPS times (default 11) on each backend, both backends in
 * every repetition, in alternating order, so that drift hits both alike;
 * the container is opened afresh for each.  The table gives the median of
 * each backend and the ratio vfio_dirty / vfio_iommu_type1, whose target
 * is at most TARGET_RATIO.
 *
 * Hugetlb pages are reserved through /proc/sys/vm/nr_hugepages when too
 * few are, and the old value is put back; without them those rows say why
 * they were skipped.
 *
 * After the table, the same medians as a data file (lib/bench_data.c),
 * vfio_dirty_bench.dat: one row per case.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>

#include "bench_data.h"
#include "vfio_util.h"

#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT		26
#endif
#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB		(21 << MAP_HUGE_SHIFT)
#endif

#define BIG_SIZE		(256UL << 20)
#define BIG_HUGEPAGES		(BIG_SIZE / SZ_2M)
/* Asked for when fewer are reserved: the mapping plus some slack. */
#define WANT_HUGEPAGES		160
#define CYCLES			10000
#define MAX_REPS		101
#define DEFAULT_REPS		11
#define TARGET_RATIO		1.05
/* Inside the 39-bit space of QEMU's intel-iommu, below the MSI window. */
#define BENCH_IOVA		SZ_1G
#define NR_HUGEPAGES		"/proc/sys/vm/nr_hugepages"

enum {
	ROW_MAP_4K,
	ROW_UNMAP_4K,
	ROW_MAP_2M,
	ROW_UNMAP_2M,
	ROW_CYCLES,
	NR_ROWS,
};

static const char *const row_names[NR_ROWS] = {
	[ROW_MAP_4K]	= "MAP_DMA 256 MiB, 4 KiB pages",
	[ROW_UNMAP_4K]	= "UNMAP_DMA 256 MiB, 4 KiB pages",
	[ROW_MAP_2M]	= "MAP_DMA 256 MiB, 2 MiB pages",
	[ROW_UNMAP_2M]	= "UNMAP_DMA 256 MiB, 2 MiB pages",
	[ROW_CYCLES]	= "10000 x MAP+UNMAP_DMA of 4 KiB",
};

/* The first column of the data file. */
static const char *const row_keys[NR_ROWS] = {
	[ROW_MAP_4K]	= "map_256M_4K",
	[ROW_UNMAP_4K]	= "unmap_256M_4K",
	[ROW_MAP_2M]	= "map_256M_2M",
	[ROW_UNMAP_2M]	= "unmap_256M_2M",
	[ROW_CYCLES]	= "map_unmap_4K_x10000",
};

/* ms[row][backend][rep] */
static double ms[NR_ROWS][VFIO_NR_BACKENDS][MAX_REPS];
static char hugepage_skip[128];
static bool backend_missing[VFIO_NR_BACKENDS];
/* nr_hugepages to put back at exit, or -1. */
static long old_nr_hugepages = -1;
static const char *device_name;

static void die(const char *what, int ret)
{
	fprintf(stderr, "vfio_dirty_bench: %s: %s\n", what, strerror(-ret));
	exit(1);
}

/* Touched anonymous memory in 4 KiB pages (no THP), or NULL. */
static void *alloc_4k(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	madvise(p, size, MADV_NOHUGEPAGE);
	memset(p, 0x5a, size);
	return p;
}

static void restore_hugepages(void)
{
	if (old_nr_hugepages >= 0)
		__sysfs_write_long(NR_HUGEPAGES, old_nr_hugepages);
}

/*
 * Touched anonymous memory in 2 MiB hugetlb pages, reserving them first if
 * too few are (put back at exit); or NULL with the reason in hugepage_skip.
 */
static void *alloc_2m(size_t size)
{
	long nr = sysfs_read_long(NR_HUGEPAGES);
	void *p;

	if (nr >= 0 && nr < WANT_HUGEPAGES) {
		if (!__sysfs_write_long(NR_HUGEPAGES, WANT_HUGEPAGES)) {
			old_nr_hugepages = nr;
			atexit(restore_hugepages);
		}
		nr = sysfs_read_long(NR_HUGEPAGES);
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB,
		 -1, 0);
	if (p == MAP_FAILED) {
		snprintf(hugepage_skip, sizeof(hugepage_skip),
			 "no %lu free 2 MiB pages (nr_hugepages %ld): %s",
			 BIG_HUGEPAGES, nr, strerror(errno));
		return NULL;
	}
	memset(p, 0x5a, size);
	return p;
}

static void map(int fd, void *vaddr, uint64_t iova, uint64_t size)
{
	int ret = __vfio_map(fd, vaddr, iova, size);

	if (ret)
		die("MAP_DMA", ret);
}

static void unmap(int fd, uint64_t iova, uint64_t size)
{
	uint64_t unmapped;
	int ret = __vfio_unmap(fd, iova, size, &unmapped);

	if (ret)
		die("UNMAP_DMA", ret);
	if (unmapped != size)
		die("UNMAP_DMA unmapped a different size", -EIO);
}

/* MAP_DMA then UNMAP_DMA of all of @buf, into @map_row and @map_row + 1. */
static void time_big(int fd, void *buf, int map_row, unsigned int b, int rep)
{
	double t0, t1, t2;

	t0 = now_ms();
	map(fd, buf, BENCH_IOVA, BIG_SIZE);
	t1 = now_ms();
	unmap(fd, BENCH_IOVA, BIG_SIZE);
	t2 = now_ms();
	ms[map_row][b][rep] = t1 - t0;
	ms[map_row + 1][b][rep] = t2 - t1;
}

static void time_cycles(int fd, void *page, unsigned int b, int rep)
{
	double t0;
	int i;

	t0 = now_ms();
	for (i = 0; i < CYCLES; i++) {
		map(fd, page, BENCH_IOVA, SZ_4K);
		unmap(fd, BENCH_IOVA, SZ_4K);
	}
	ms[ROW_CYCLES][b][rep] = now_ms() - t0;
}

/* One repetition of every case on backend @b, in a fresh container. */
static void run_one(unsigned int b, int rep, void *buf_4k, void *buf_2m)
{
	struct vfio_test_device dev;
	int ret;

	ret = __vfio_test_device_open_on(&dev, device_name, VFIO_TYPE1v2_IOMMU,
					 b);
	if (ret == -ENOENT) {
		backend_missing[b] = true;
		return;
	}
	if (ret)
		die(vfio_test_backend_module(b), ret);

	time_big(dev.container_fd, buf_4k, ROW_MAP_4K, b, rep);
	if (buf_2m)
		time_big(dev.container_fd, buf_2m, ROW_MAP_2M, b, rep);
	time_cycles(dev.container_fd, buf_4k, b, rep);
	vfio_test_device_close(&dev);
}

static void print_table(int reps, bool have_2m)
{
	unsigned int met = 0, rated = 0;
	double med[VFIO_NR_BACKENDS], ratio;
	unsigned int b;
	int r;

	printf("| %-32s | %16s | %16s | %8s | %-7s |\n", "case (median ms)",
	       vfio_test_backend_module(VFIO_BACKEND_TYPE1),
	       vfio_test_backend_module(VFIO_BACKEND_VFIO_DIRTY),
	       "ratio", "<= 1.05");
	printf("|%s|%s|%s|%s|%s|\n", dashes(34), dashes(18), dashes(18),
	       dashes(10), dashes(9));
	for (r = 0; r < NR_ROWS; r++) {
		if (!have_2m && (r == ROW_MAP_2M || r == ROW_UNMAP_2M)) {
			printf("| %-32s | skipped: %s\n", row_names[r],
			       hugepage_skip);
			continue;
		}
		printf("| %-32s |", row_names[r]);
		for (b = 0; b < VFIO_NR_BACKENDS; b++) {
			if (backend_missing[b]) {
				printf(" %16s |", "not loaded");
				continue;
			}
			med[b] = median(ms[r][b], reps);
			printf(" %16.2f |", med[b]);
		}
		if (backend_missing[0] || backend_missing[1]) {
			printf(" %8s | %-7s |\n", "-", "-");
			continue;
		}
		ratio = med[1] / med[0];
		rated++;
		met += ratio <= TARGET_RATIO;
		printf(" %8.3f | %-7s |\n", ratio,
		       ratio <= TARGET_RATIO ? "yes" : "NO");
	}
	printf("target vfio_dirty/type1 <= %.2f: met by %u of %u rows\n",
	       TARGET_RATIO, met, rated);
}

/* The medians print_table() left sorted, as a data file. */
static void print_data(int argc, char *argv[], int reps, bool have_2m)
{
	unsigned int b;
	int r;

	bench_data_begin("vfio_dirty_bench.dat", argc, argv,
			 "case; median ms of vfio_iommu_type1, then of vfio_dirty");
	for (r = 0; r < NR_ROWS; r++) {
		if (!have_2m && (r == ROW_MAP_2M || r == ROW_UNMAP_2M))
			continue;
		printf("%s", row_keys[r]);
		for (b = 0; b < VFIO_NR_BACKENDS; b++)
			if (backend_missing[b])
				printf(" -");
			else
				printf(" %.3f", median(ms[r][b], reps));
		printf("\n");
	}
	bench_data_end();
}

int main(int argc, char *argv[])
{
	void *buf_4k, *buf_2m;
	int opt, rep, reps = DEFAULT_REPS;
	unsigned int i, b;

	device_name = vfio_selftests_get_device(&argc, argv);
	while ((opt = getopt(argc, argv, "r:")) != -1) {
		if (opt != 'r')
			goto usage;
		reps = atoi(optarg);
	}
	if (!device_name || reps < 1 || reps > MAX_REPS)
		goto usage;

	buf_4k = alloc_4k(BIG_SIZE);
	if (!buf_4k)
		die("256 MiB of 4 KiB pages", -ENOMEM);
	buf_2m = alloc_2m(BIG_SIZE);

	printf("vfio_dirty_bench: device %s, %d repetitions per backend, IOVA 0x%lx\n",
	       device_name, reps, BENCH_IOVA);
	for (rep = 0; rep < reps; rep++) {
		for (i = 0; i < VFIO_NR_BACKENDS; i++) {
			b = rep % 2 ? VFIO_NR_BACKENDS - 1 - i : i;
			run_one(b, rep, buf_4k, buf_2m);
		}
	}
	if (backend_missing[0] && backend_missing[1])
		die("no backend", -ENOENT);
	print_table(reps, buf_2m);
	print_data(argc, argv, reps, buf_2m);

	if (buf_2m)
		munmap(buf_2m, BIG_SIZE);
	munmap(buf_4k, BIG_SIZE);
	return 0;

usage:
	fprintf(stderr, "usage: %s [-r REPS (1-%d)] DEVICE: " VFIO_SELFTESTS_HOWTO "\n",
		argv[0], MAX_REPS);
	return 2;
}

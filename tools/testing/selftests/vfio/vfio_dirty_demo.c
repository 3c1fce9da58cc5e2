// SPDX-License-Identifier: GPL-2.0
/*
 * vfio_dirty_demo: dirty tracking at and past the 8 TiB boundary, as one
 * table, for the stock type1 driver and for vfio_dirty side by side.
 *
 * Usage: vfio_dirty_demo UUID
 *
 * UUID is a vfio_dirty_sim instance: an emulated IOMMU, so TiB-scale
 * mappings cost nothing, and a DMA engine that writes known pages.  Each
 * row is one uAPI call, timed, with the errno it returned or, for a
 * report, how many pages it reported dirty; each column is one backend
 * setup: vfio_iommu_type1, vfio_dirty with its default ceiling (the stock
 * 256 MiB of bitmap), and vfio_dirty with max_bitmap_size raised to 1 GiB.
 * Every mapping lies inside one MAP_NORESERVE region of the process, so no
 * memory is touched but the bitmaps.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>

#include "vfio_util.h"

#define SZ_16T		(2 * SZ_8T)

enum { ROW_START_8T_4K, ROW_GET_8T_4K, ROW_START_8T, ROW_START_16T,
	ROW_GET_16T, ROW_GET_SMALL_8T, ROW_GET_SMALL_8T_4K,
	ROW_UNMAP_SMALL_8T_4K, ROW_VIOMMU, NR_ROWS };

static const struct {
	const char *what;
	uint64_t bytes;
} rows[NR_ROWS] = {
	[ROW_START_8T_4K] = { "START, one mapping of 8 TiB - 4 KiB", SZ_8T - SZ_4K },
	[ROW_GET_8T_4K] = { "  GET_BITMAP over it", SZ_8T - SZ_4K },
	[ROW_START_8T] = { "START, one mapping of 8 TiB", SZ_8T },
	[ROW_START_16T] = { "START, one mapping of 16 TiB", SZ_16T },
	[ROW_GET_16T] = { "  GET_BITMAP over it", SZ_16T },
	[ROW_GET_SMALL_8T] = { "4T + 4T + 4K mapped: GET_BITMAP over 8 TiB", SZ_8T },
	[ROW_GET_SMALL_8T_4K] = { "  GET_BITMAP over 8 TiB + 4 KiB", SZ_8T + SZ_4K },
	[ROW_UNMAP_SMALL_8T_4K] = { "  UNMAP with bitmap over 8 TiB + 4 KiB", SZ_8T + SZ_4K },
	[ROW_VIOMMU] = { "vIOMMU reset: UNMAP with bitmap over 16 TiB", SZ_16T },
};

static const struct {
	const char *title;
	enum vfio_test_backend backend;
	const char *ceiling;
} columns[] = {
	{ "vfio_iommu_type1", VFIO_BACKEND_TYPE1, NULL },
	{ "vfio_dirty", VFIO_BACKEND_VFIO_DIRTY, NULL },
	{ "vfio_dirty, 1G ceiling", VFIO_BACKEND_VFIO_DIRTY, "1G" },
};

#define NR_COLUMNS	ARRAY_SIZE(columns)

static struct {
	bool ran;
	bool report;
	int ret;
	uint64_t dirty;
	double ms;
} cells[NR_ROWS][NR_COLUMNS];

static struct vfio_test_device dev;
static char *vaddr;

static void die(const char *what, int ret)
{
	fprintf(stderr, "vfio_dirty_demo: %s: %s\n", what, strerror(-ret));
	exit(1);
}

static void map(uint64_t iova, uint64_t size)
{
	int ret = __vfio_map(dev.container_fd, vaddr + iova, iova, size);

	if (ret)
		die("MAP_DMA", ret);
}

static void unmap(uint64_t iova, uint64_t size)
{
	__vfio_unmap(dev.container_fd, iova, size, NULL);
}

/* The device writes the page at @iova. */
static void dev_write(uint64_t iova)
{
	uint64_t done = 0, failed = 0;
	int ret;

	ret = __sim_write(dev.device_fd, 0, iova, SZ_4K, 0x5a5a5a5a5a5a5a5aULL,
			  &done, &failed);
	if (ret || done != 1)
		die("the device's write", ret ? ret : -EIO);
}

static void start(int row, int col)
{
	double t = now_ms();

	cells[row][col].ret = __vfio_dirty(dev.container_fd,
					   VFIO_IOMMU_DIRTY_PAGES_FLAG_START);
	cells[row][col].ms = now_ms() - t;
	cells[row][col].ran = true;
}

/* GET_BITMAP, or UNMAP with bitmap, over [0, rows[row].bytes). */
static void report(int row, int col, bool do_unmap)
{
	uint64_t npages = rows[row].bytes / SZ_4K;
	uint64_t bytes = (npages + 63) / 64 * 8;
	uint64_t *bitmap;
	double t;
	int ret;

	bitmap = calloc(1, bytes);
	if (!bitmap)
		die("the user bitmap", -ENOMEM);
	t = now_ms();
	if (do_unmap)
		ret = __vfio_unmap_bitmap(dev.container_fd, 0, rows[row].bytes,
					  SZ_4K, bitmap, bytes, NULL);
	else
		ret = __vfio_get_bitmap(dev.container_fd, 0, rows[row].bytes,
					SZ_4K, bitmap, bytes);
	cells[row][col].ms = now_ms() - t;
	cells[row][col].ret = ret;
	cells[row][col].ran = true;
	cells[row][col].report = true;
	if (!ret)
		cells[row][col].dirty = bitmap_weight_bits(bitmap, npages);
	free(bitmap);
}

static void stop(void)
{
	__vfio_dirty(dev.container_fd, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP);
}

/*
 * One mapping of @row's size: START, and when it worked, the device writes
 * the first and last pages and @get_row (if any) reports them.
 */
static void one_mapping(int row, int get_row, int col)
{
	uint64_t size = rows[row].bytes;

	map(0, size);
	start(row, col);
	if (!cells[row][col].ret) {
		dev_write(0);
		dev_write(size - SZ_4K);
		if (get_row >= 0)
			report(get_row, col, false);
		stop();
	}
	unmap(0, size);
}

static void run_column(const char *name, int col)
{
	char old[32] = "";
	int ret;

	if (columns[col].ceiling) {
		ret = __vfio_dirty_ceiling_set(columns[col].ceiling, old,
					       sizeof(old));
		if (ret)
			die("setting max_bitmap_size", ret);
	}
	ret = __vfio_test_device_open_on(&dev, name, VFIO_TYPE1v2_IOMMU,
					 columns[col].backend);
	if (ret)
		die(columns[col].title, ret);

	one_mapping(ROW_START_8T_4K, ROW_GET_8T_4K, col);
	one_mapping(ROW_START_8T, -1, col);
	one_mapping(ROW_START_16T, ROW_GET_16T, col);

	/* Small mappings around 2^31 pages: 4 TiB, 4 TiB and 4 KiB. */
	map(0, SZ_4T);
	map(SZ_4T, SZ_4T);
	map(SZ_8T, SZ_4K);
	__vfio_dirty(dev.container_fd, VFIO_IOMMU_DIRTY_PAGES_FLAG_START);
	dev_write(SZ_8T - SZ_4K);
	dev_write(SZ_8T);
	report(ROW_GET_SMALL_8T, col, false);
	dev_write(SZ_8T - SZ_4K);
	report(ROW_GET_SMALL_8T_4K, col, false);
	dev_write(SZ_8T);
	report(ROW_UNMAP_SMALL_8T_4K, col, true);
	stop();
	__vfio_unmap_all(dev.container_fd, 0, 0, NULL);

	/* What QEMU does when a vIOMMU guest resets a device. */
	map(0, SZ_2M);
	map(SZ_8T, SZ_2M);
	map(SZ_16T - SZ_2M, SZ_2M);
	__vfio_dirty(dev.container_fd, VFIO_IOMMU_DIRTY_PAGES_FLAG_START);
	dev_write(SZ_4K);
	dev_write(SZ_8T);
	dev_write(SZ_16T - SZ_4K);
	report(ROW_VIOMMU, col, true);
	stop();
	__vfio_unmap_all(dev.container_fd, 0, 0, NULL);

	vfio_test_device_close(&dev);
	vfio_dirty_ceiling_restore(old);
}

static void print_table(void)
{
	char cell[32];
	unsigned int c;
	int r;

	printf("| %-45s | %10s |", "operation", "pages");
	for (c = 0; c < NR_COLUMNS; c++)
		printf(" %-24s |", columns[c].title);
	printf("\n|%.47s|%.12s|", "-----------------------------------------------",
	       "------------");
	for (c = 0; c < NR_COLUMNS; c++)
		printf("%.26s|", "--------------------------");
	printf("\n");
	for (r = 0; r < NR_ROWS; r++) {
		printf("| %-45s | %10llu |", rows[r].what,
		       (unsigned long long)(rows[r].bytes / SZ_4K));
		for (c = 0; c < NR_COLUMNS; c++) {
			if (!cells[r][c].ran)
				snprintf(cell, sizeof(cell), "-");
			else if (cells[r][c].ret)
				snprintf(cell, sizeof(cell), "%s", vfio_errname(cells[r][c].ret));
			else if (cells[r][c].report)
				snprintf(cell, sizeof(cell), "%llu dirty",
					 (unsigned long long)cells[r][c].dirty);
			else
				snprintf(cell, sizeof(cell), "ok");
			if (cells[r][c].ran)
				printf(" %-12s %9.1f ms |", cell, cells[r][c].ms);
			else
				printf(" %-24s |", cell);
		}
		printf("\n");
	}
}

int main(int argc, char *argv[])
{
	const char *name;
	unsigned int c;

	name = vfio_selftests_get_device(&argc, argv);
	if (!name || !vfio_device_is_dirty_sim(name)) {
		fprintf(stderr, "usage: %s UUID: a vfio_dirty_sim instance\n", argv[0]);
		return 2;
	}
	vaddr = mmap(NULL, SZ_16T, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vaddr == MAP_FAILED)
		die("mmap of 16 TiB", -errno);

	for (c = 0; c < NR_COLUMNS; c++)
		run_column(name, c);
	print_table();
	munmap(vaddr, SZ_16T);
	return 0;
}

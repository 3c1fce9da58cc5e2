// SPDX-License-Identifier: GPL-2.0
/*
 * The cost of QEMU's dirty bitmap syncs with the container's tracking, on
 * the stock vfio_iommu_type1 and on vfio_dirty, for VMs of 1, 4 and 8 TiB
 * (and 16 TiB on vfio_dirty, which the stock driver's ceiling, and QEMU's
 * blocker, refuse), in one boot: a table, not a test.
 *
 * For each size and backend, QEMU (lib/qemu.c) runs a VM of that much RAM,
 * never allocated, with the simulated device assigned, and starts a
 * migration to nowhere SYNCS times, each cancelled after its first sync
 * (the one of its setup: a later one waits for a pass over all of the
 * RAM, which takes hours at these sizes).  QEMU's own trace events,
 * with timestamps, time each sync (migration_bitmap_sync_start to _end) and
 * the part of it spent in vfio's queries (to the last
 * vfio_container_query_dirty_bitmap of the sync: the GET_BITMAP ioctls and
 * QEMU merging their bitmaps into its own); the rest is QEMU's walk of its
 * own bitmaps.  The kernel's share is measured apart, in this process, on
 * another instance of the device: a container of the same backend with
 * QEMU's two mappings (2 GiB at 0, the rest at 4 GiB), tracking started,
 * and one GET_BITMAP over each, nothing dirty, as a sync makes them.
 * Medians; nothing is written by the device.
 *
 * Usage: vfio_dirty_qemu_bench (vmtest.sh -m 6G: QEMU's bitmaps for 16 TiB
 * take about 3 GiB of the guest).
 *
 * After the table, the same medians as a data file (lib/bench_data.c),
 * vfio_dirty_qemu_bench.dat: one row per size, each backend's columns.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "bench_data.h"
#include "qemu.h"
#include "vfio_util.h"

#define SYNCS		3
#define LOW		(2ULL << 30)
#define HIGH_IOVA	(4ULL << 30)
#define CEILING		"512M"

static const char header[] =
	"| RAM | backend          | kernel | QEMU sync | vfio queries | QEMU's walk |\n"
	"|-----|------------------|--------|-----------|--------------|-------------|\n";

/* The kernel's GET_BITMAPs of one sync, in ms (median of SYNCS), or -1. */
static double kernel_sync(const char *uuid, enum vfio_test_backend backend,
			  unsigned long long ram)
{
	unsigned long long high = ram - LOW;
	struct vfio_test_device dev;
	double t[SYNCS] = { 0 }, start;
	uint64_t *bitmap;
	char *region;
	int i, ret;

	if (__vfio_test_device_open_on(&dev, uuid, VFIO_TYPE1v2_IOMMU, backend))
		return -1;
	region = mmap(NULL, ram, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	bitmap = calloc(high / SZ_4K / 8, 1);
	ret = region == MAP_FAILED || !bitmap ||
	      __vfio_map(dev.container_fd, region, 0, LOW) ||
	      __vfio_map(dev.container_fd, region + LOW, HIGH_IOVA, high) ||
	      __vfio_dirty(dev.container_fd, VFIO_IOMMU_DIRTY_PAGES_FLAG_START);
	for (i = 0; !ret && i < SYNCS; i++) {
		start = now_ms();
		ret = __vfio_get_bitmap(dev.container_fd, 0, LOW, SZ_4K, bitmap,
					LOW / SZ_4K / 8) ||
		      __vfio_get_bitmap(dev.container_fd, HIGH_IOVA, high, SZ_4K,
					bitmap, high / SZ_4K / 8);
		t[i] = now_ms() - start;
	}
	free(bitmap);
	if (region != MAP_FAILED)
		munmap(region, ram);
	vfio_test_device_close(&dev);
	return ret ? -1 : median(t, SYNCS);
}

/* The time of day, in seconds, of a trace line "YYYY-MM-DDTHH:MM:SS.uuuuuuZ". */
static double trace_time(const char *line)
{
	int h, m;
	double s;

	if (sscanf(line, "%*d-%*d-%*dT%d:%d:%lfZ", &h, &m, &s) != 3)
		return -1;
	return h * 3600 + m * 60 + s;
}

/* From QEMU's log: each sync's time and its vfio part, in ms, medians. */
static void parse_syncs(const char *log, double *sync_ms, double *vfio_ms)
{
	double total[64], vfio[64], start = -1, last = -1, t;
	char line[512];
	int n = 0;
	FILE *f = fopen(log, "r");

	while (f && fgets(line, sizeof(line), f) && n < 64) {
		t = trace_time(line);
		if (strstr(line, " migration_bitmap_sync_start")) {
			start = t;
			last = t;
		} else if (strstr(line, " vfio_container_query_dirty_bitmap")) {
			last = t;
		} else if (strstr(line, " migration_bitmap_sync_end") && start >= 0) {
			total[n] = (t - start) * 1e3;
			vfio[n++] = (last - start) * 1e3;
			start = -1;
		}
	}
	if (f)
		fclose(f);
	*sync_ms = median(total, n);
	*vfio_ms = median(vfio, n);
}

/* QEMU's syncs of a VM of @size on @backend; 0, or why not in @why. */
static int qemu_syncs(const char *uuid, enum vfio_test_backend backend,
		      const char *size, double *sync_ms, double *vfio_ms,
		      char *why, size_t why_size)
{
	char dev[256], mem[128], status[32], *r = NULL;
	const char *const args[] = {
		"-machine", "q35,memory-backend=ram",
		"-cpu", "qemu64,phys-bits=46", "-object", mem, "-m", size,
		"-device", dev, "-msg", "timestamp=on",
		"-trace", "migration_bitmap_sync_*",
		"-trace", "vfio_container_query_dirty_bitmap", NULL };
	double deadline;
	struct qemu q;
	int ret, i;

	sim_qdev(dev, sizeof(dev), uuid, true);
	snprintf(mem, sizeof(mem), "memory-backend-ram,id=ram,size=%s,reserve=off",
		 size);
	ret = qemu_start_on(&q, "bench", backend, args);
	if (ret) {
		snprintf(why, why_size, "QEMU did not start (%s)", strerror(-ret));
		qemu_stop(&q);
		return ret;
	}
	for (i = 0; !ret && i < SYNCS; i++) {
		ret = -EPROTO;
		if (!qmp_ok(&q, QMP_MIGRATE_TO_NOWHERE))
			break;
		deadline = now_ms() + 600 * 1e3;
		for (;;) {
			free(r);
			r = qmp(&q, "{\"execute\": \"query-migrate\"}");
			json_str(r, "status", status, sizeof(status));
			if (!strcmp(status, "active") &&
			    json_num(r, "dirty-sync-count") >= 1) {
				ret = 0;
				break;
			}
			if (strcmp(status, "setup") || now_ms() > deadline)
				break;
			usleep(100 * 1000);
		}
		snprintf(why, why_size, "migration %s", status);
		qmp_ok(&q, "{\"execute\": \"migrate_cancel\"}");
		free(qemu_migration_wait(&q, 120));
	}
	free(r);
	qemu_stop(&q);
	if (!ret)
		parse_syncs(q.log, sync_ms, vfio_ms);
	return ret;
}

/* A figure of the data file: @v, or "-" when it was not measured. */
static void print_datum(double v)
{
	if (v < 0)
		printf(" %9s", "-");
	else
		printf(" %9.2f", v);
}

int main(int argc, char *argv[])
{
	static const struct {
		const char *size;
		unsigned long long bytes;
	} sizes[] = {
		{ "1T", 1ULL << 40 }, { "4T", 4ULL << 40 },
		{ "8T", 8ULL << 40 }, { "16T", 16ULL << 40 },
	};
	char qemu_uuid[64], own_uuid[64], ceiling[32] = "", why[128];
	double kernel, sync_ms, vfio_ms;
	/* [size][backend]: kernel, QEMU sync, vfio queries; -1: none */
	double data[ARRAY_SIZE(sizes)][VFIO_NR_BACKENDS][3];
	const char *missing = qemu_missing();
	unsigned int i, b, c;

	if (missing) {
		printf("no QEMU: %s\n", missing);
		return 4;
	}
	sim_create(qemu_uuid, sizeof(qemu_uuid));
	sim_create(own_uuid, sizeof(own_uuid));
	missing = sim_missing(qemu_uuid);
	if (missing || !own_uuid[0] || qemu_prepare() ||
	    __vfio_dirty_ceiling_set(CEILING, ceiling, sizeof(ceiling))) {
		printf("cannot run: %s\n",
		       missing ?: "no second instance, firmware or ceiling");
		return 1;
	}
	printf("QEMU's dirty bitmap syncs with the container's tracking, ms, median of %d;\n"
	       "kernel: its GET_BITMAPs of one sync; nothing dirty; max_bitmap_size %s\n\n",
	       SYNCS, CEILING);
	printf("%s", header);
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		for (b = 0; b < VFIO_NR_BACKENDS; b++) {
			const char *name = vfio_test_backend_module(b);

			printf("| %-3s | %-16s |", sizes[i].size, name);
			fflush(stdout);
			for (c = 0; c < 3; c++)
				data[i][b][c] = -1;
			kernel = kernel_sync(own_uuid, b, sizes[i].bytes);
			if (kernel < 0) {
				printf(" %6s | %9s | %12s | %11s |\n",
				       "refused", "-", "-", "-");
				continue;
			}
			if (qemu_syncs(qemu_uuid, b, sizes[i].size,
				       &sync_ms, &vfio_ms, why, sizeof(why))) {
				printf(" %6.2f | %s\n", kernel, why);
				continue;
			}
			printf(" %6.2f | %9.1f | %12.1f | %11.1f |\n", kernel,
			       sync_ms, vfio_ms, sync_ms - vfio_ms);
			data[i][b][0] = kernel;
			data[i][b][1] = sync_ms;
			data[i][b][2] = vfio_ms;
		}
	}
	bench_data_begin("vfio_dirty_qemu_bench.dat", argc, argv,
			 "VM RAM bytes; per backend (vfio_iommu_type1, then vfio_dirty): kernel GET_BITMAPs of one sync, QEMU sync, its vfio queries, ms");
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		printf("%llu", sizes[i].bytes);
		for (b = 0; b < VFIO_NR_BACKENDS; b++)
			for (c = 0; c < 3; c++)
				print_datum(data[i][b][c]);
		printf("\n");
	}
	bench_data_end();
	vfio_dirty_ceiling_restore(ceiling);
	sim_remove(qemu_uuid);
	sim_remove(own_uuid);
	return 0;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers for VFIO device DMA logging, and the userspace range fitter.
 *
 * The VFIO core takes at most LOG_MAX_RANGES ranges in one
 * VFIO_DEVICE_FEATURE_DMA_LOGGING_START, the ranges that fit into one kernel
 * page, while a process may have thousands of mappings (virtio-mem plugs
 * memory in 2 MiB blocks).  dma_logging_start_fitted() closes that gap the
 * way the kernel side does: it sorts and merges the mappings, then merges
 * across the smallest gaps until few enough ranges are left, with the very
 * splitter the simulated device uses (drivers/vfio/vfio_dirty_sim/ranges.c,
 * built here against the shims of tools/testing/vfio_dirty).  Merging
 * across the smallest gaps tracks the fewest bytes that were not asked for;
 * see the theory of operation in ranges.c.
 *
 * A device may still refuse that many ranges, or their span, with -E2BIG:
 * the fitter then halves the number of ranges and fits again, down to one.
 *
 * Example: mappings [0, 4K) [8K, 12K) [12K, 16K) [36K, 40K) and a limit of
 * two ranges: [8K, 12K) and [12K, 16K) touch and become [8K, 16K), the gaps
 * are then 4K and 20K, and the smallest is merged: [0, 16K) [36K, 40K), 4K
 * tracked that no mapping covers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include "dma_logging.h"

/*
 * ranges.h names its types as the kernel does; the uAPI <linux/types.h>
 * has only the __u32 and __u64 spellings, and no bool.  These are the
 * definitions of the shim ranges.c is built with
 * (tools/testing/vfio_dirty/include/linux/types.h).
 */
#include <stdbool.h>
typedef unsigned int u32;
typedef unsigned long long u64;
#include "ranges.h"

/* struct vfio_device_feature and the largest payload of a logging feature. */
#define DMA_LOGGING_FEATURE_WORDS					\
	((sizeof(struct vfio_device_feature) +				\
	  sizeof(struct vfio_device_feature_dma_logging_report) +	\
	  sizeof(uint64_t) - 1) / sizeof(uint64_t))

static int dma_logging_feature(int device_fd, uint32_t flags,
			       const void *data, size_t size)
{
	uint64_t buf[DMA_LOGGING_FEATURE_WORDS];
	struct vfio_device_feature *feature = (void *)buf;

	feature->argsz = sizeof(*feature) + size;
	feature->flags = flags;
	memcpy(feature->data, data, size);
	return ioctl(device_fd, VFIO_DEVICE_FEATURE, feature) ? -errno : 0;
}

int __dma_logging_start(int device_fd, uint64_t page_size,
			const struct vfio_device_feature_dma_logging_range *ranges,
			uint32_t n)
{
	struct vfio_device_feature_dma_logging_control control = {
		.page_size = page_size,
		.num_ranges = n,
		.ranges = (uintptr_t)ranges,
	};

	return dma_logging_feature(device_fd, VFIO_DEVICE_FEATURE_SET |
				   VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
				   &control, sizeof(control));
}

int __dma_logging_stop(int device_fd)
{
	return dma_logging_feature(device_fd, VFIO_DEVICE_FEATURE_SET |
				   VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP,
				   NULL, 0);
}

int __dma_logging_report(int device_fd, uint64_t iova, uint64_t length,
			 uint64_t page_size, uint64_t *bitmap)
{
	struct vfio_device_feature_dma_logging_report report = {
		.iova = iova,
		.length = length,
		.page_size = page_size,
		.bitmap = (uintptr_t)bitmap,
	};

	return dma_logging_feature(device_fd, VFIO_DEVICE_FEATURE_GET |
				   VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT,
				   &report, sizeof(report));
}

int __dma_logging_probe(int device_fd, uint32_t feature)
{
	uint32_t op = feature == VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT ?
		      VFIO_DEVICE_FEATURE_GET : VFIO_DEVICE_FEATURE_SET;

	return dma_logging_feature(device_fd, VFIO_DEVICE_FEATURE_PROBE | op |
				   feature, NULL, 0);
}

uint32_t dma_logging_max_ranges(void)
{
	return sysconf(_SC_PAGESIZE) /
	       sizeof(struct vfio_device_feature_dma_logging_range);
}

static int dma_logging_range_cmp(const void *a, const void *b)
{
	const struct vfio_dirty_range *ra = a;
	const struct vfio_dirty_range *rb = b;

	if (ra->start != rb->start)
		return ra->start < rb->start ? -1 : 1;
	if (ra->last != rb->last)
		return ra->last < rb->last ? -1 : 1;
	return 0;
}

/* Sort @ranges and merge those that overlap or touch; return how many are left. */
static uint32_t dma_logging_sort_merge(struct vfio_dirty_range *ranges,
				       uint32_t n)
{
	uint32_t i, out = 0;

	qsort(ranges, n, sizeof(*ranges), dma_logging_range_cmp);
	for (i = 1; i < n; i++) {
		/* A range that ends at the top swallows all that follow. */
		if (ranges[out].last == UINT64_MAX ||
		    ranges[i].start <= ranges[out].last + 1) {
			if (ranges[i].last > ranges[out].last)
				ranges[out].last = ranges[i].last;
		} else {
			ranges[++out] = ranges[i];
		}
	}
	return out + 1;
}

int dma_logging_start_fitted(int device_fd, uint64_t page_size,
			     const struct vfio_device_feature_dma_logging_range *ranges,
			     uint32_t n, uint32_t *used)
{
	struct vfio_device_feature_dma_logging_range *req = NULL;
	struct vfio_dirty_range *merged = NULL, *fitted = NULL;
	struct vfio_dirty_gap *gaps = NULL;
	uint32_t i, m, k, nr;
	u64 over;
	int ret;

	*used = 0;
	if (!n)
		return -EINVAL;

	merged = calloc(n, sizeof(*merged));
	fitted = calloc(n, sizeof(*fitted));
	gaps = calloc(n, sizeof(*gaps));
	req = calloc(n, sizeof(*req));
	if (!merged || !fitted || !gaps || !req) {
		ret = -ENOMEM;
		goto out_free;
	}

	for (i = 0; i < n; i++) {
		ret = vfio_dirty_range_init(&merged[i], ranges[i].iova,
					    ranges[i].length);
		if (ret)
			goto out_free;
	}
	m = dma_logging_sort_merge(merged, n);
	ret = vfio_dirty_ranges_validate(merged, m, page_size);
	if (ret)
		goto out_free;
	/* The core computes iova + length: it refuses a range ending at the top. */
	if (merged[m - 1].last == UINT64_MAX) {
		ret = -EOVERFLOW;
		goto out_free;
	}

	k = dma_logging_max_ranges();
	if (k > m)
		k = m;
	for (;;) {
		memcpy(fitted, merged, m * sizeof(*fitted));
		nr = m;
		ret = vfio_dirty_ranges_fit(fitted, &nr, k, 0, gaps, &over);
		if (ret)
			goto out_free;
		for (i = 0; i < nr; i++) {
			req[i].iova = fitted[i].start;
			req[i].length = fitted[i].last - fitted[i].start + 1;
		}
		*used = nr;
		ret = __dma_logging_start(device_fd, page_size, req, nr);
		if (ret != -E2BIG || k == 1)
			break;
		k /= 2;
	}

out_free:
	free(req);
	free(gaps);
	free(fitted);
	free(merged);
	return ret;
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio_dirty_sim DMA logging: struct vfio_log_ops over the DMA engine.
 *
 * Theory of operation
 *
 * A device that logs its own DMA (the VFIO_DEVICE_FEATURE_DMA_LOGGING_*
 * uAPI) holds a tracker with room for a few ranges; the VFIO core accepts up
 * to LOG_MAX_RANGES from userspace.  log_start fits what it is given into
 * @log_max_ranges ranges with the range splitter (ranges.c),
 * merging across the smallest gaps, which adds the fewest possible bytes;
 * it refuses with -E2BIG a layout whose span exceeds @log_max_span, rather
 * than track less than asked.
 *
 * Every successful write of the engine reaches vfio_dirty_sim_log_mark(),
 * which marks its page dirty when it lies in a tracked range: gaps merged by
 * the fitting are tracked too, so they may be reported (over-tracking is
 * allowed, losing a page is not).  Dirty pages are kept in an xarray keyed by
 * IOVA >> log page shift, so memory follows what is dirtied, not the span
 * tracked.  A mark never fails: it allocates with __GFP_NOFAIL, since a lost
 * mark would be a lost dirty page.  log_read_and_clear reports and forgets
 * the marks in the range asked for.
 *
 * The VFIO core keeps no logging state (see struct vfio_log_ops): a second
 * log_start is refused with -EBUSY, and log_stop or a report while stopped
 * are handled.  Closing the device stops logging.
 *
 * All logging state is under @log_lock; see struct vfio_dirty_sim.
 */
#include <linux/device.h>
#include <linux/interval_tree.h>
#include <linux/iova_bitmap.h>
#include <linux/log2.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/sysfs.h>

#include "sim.h"

/* What the VFIO core accepts at most: "ranges should fit into a single page". */
#define SIM_LOG_MAX_RANGES \
	(PAGE_SIZE / sizeof(struct vfio_device_feature_dma_logging_range))

/* A tracker of 8 ranges: fewer than the core allows, as real devices have. */
#define SIM_LOG_DEFAULT_MAX_RANGES	8

static bool sim_log_tracked(struct vfio_dirty_sim *sim, u64 iova)
{
	u32 lo = 0, hi = sim->log_nr_ranges;

	lockdep_assert_held(&sim->log_lock);

	while (lo < hi) {
		u32 mid = lo + (hi - lo) / 2;

		if (iova < sim->log_ranges[mid].start)
			hi = mid;
		else if (iova > sim->log_ranges[mid].last)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

/**
 * vfio_dirty_sim_log_mark() - the engine wrote the page at @iova
 * @sim: the device
 * @iova: the page, page aligned
 */
void vfio_dirty_sim_log_mark(struct vfio_dirty_sim *sim, u64 iova)
{
	mutex_lock(&sim->log_lock);
	if (sim->logging && sim_log_tracked(sim, iova))
		xa_store(&sim->log_dirty, iova >> sim->log_page_shift,
			 xa_mk_value(1), GFP_KERNEL_ACCOUNT | __GFP_NOFAIL);
	mutex_unlock(&sim->log_lock);
}

/* The core's interval tree, in IOVA order, as ranges the splitter takes. */
static int sim_log_collect(struct rb_root_cached *root, u32 nnodes,
			   struct vfio_dirty_range *ranges)
{
	struct interval_tree_node *node;
	u32 n = 0;

	for (node = interval_tree_iter_first(root, 0, ULONG_MAX); node;
	     node = interval_tree_iter_next(node, 0, ULONG_MAX)) {
		/* A zero length comes in as last = start - 1. */
		if (n == nnodes || node->last < node->start)
			return -EINVAL;
		ranges[n].start = node->start;
		ranges[n].last = node->last;
		n++;
	}
	return n == nnodes ? 0 : -EINVAL;
}

static int sim_log_start(struct vfio_device *vdev,
			 struct rb_root_cached *root, u32 nnodes,
			 u64 *page_size)
{
	struct vfio_dirty_sim *sim = to_sim(vdev);
	struct vfio_dirty_range *ranges;
	struct vfio_dirty_gap *gaps;
	u32 n = nnodes;
	u64 over;
	int ret;

	if (*page_size < PAGE_SIZE || !is_power_of_2(*page_size))
		return -EINVAL;

	ranges = kvcalloc(nnodes, sizeof(*ranges), GFP_KERNEL_ACCOUNT);
	if (!ranges)
		return -ENOMEM;
	gaps = kvcalloc(nnodes, sizeof(*gaps), GFP_KERNEL_ACCOUNT);
	if (!gaps) {
		ret = -ENOMEM;
		goto out_free_ranges;
	}
	ret = sim_log_collect(root, nnodes, ranges);
	if (ret)
		goto out_free_gaps;
	ret = vfio_dirty_ranges_validate(ranges, n, *page_size);
	if (ret)
		goto out_free_gaps;

	mutex_lock(&sim->log_lock);
	if (sim->logging) {
		ret = -EBUSY;
		goto out_unlock;
	}
	ret = vfio_dirty_ranges_fit(ranges, &n, sim->log_max_ranges,
				    sim->log_max_span, gaps, &over);
	if (ret) {
		dev_dbg(vdev->dev, "%u ranges do not fit %u ranges of at most %llu bytes\n",
			nnodes, sim->log_max_ranges, sim->log_max_span);
		goto out_unlock;
	}
	sim->log_ranges = ranges;
	ranges = NULL;
	sim->log_nr_ranges = n;
	sim->log_page_shift = ilog2(*page_size);
	sim->log_ranges_requested = nnodes;
	sim->log_ranges_fitted = n;
	sim->log_bytes_overtracked = over;
	sim->log_pages_reported = 0;
	sim->logging = true;
out_unlock:
	mutex_unlock(&sim->log_lock);
out_free_gaps:
	kvfree(gaps);
out_free_ranges:
	kvfree(ranges);
	return ret;
}

static void sim_log_stop_locked(struct vfio_dirty_sim *sim)
{
	lockdep_assert_held(&sim->log_lock);

	sim->logging = false;
	xa_destroy(&sim->log_dirty);
	kvfree(sim->log_ranges);
	sim->log_ranges = NULL;
	sim->log_nr_ranges = 0;
}

static int sim_log_stop(struct vfio_device *vdev)
{
	struct vfio_dirty_sim *sim = to_sim(vdev);

	mutex_lock(&sim->log_lock);
	sim_log_stop_locked(sim);
	mutex_unlock(&sim->log_lock);
	return 0;
}

static int sim_log_read_and_clear(struct vfio_device *vdev,
				  unsigned long iova, unsigned long length,
				  struct iova_bitmap *dirty)
{
	struct vfio_dirty_sim *sim = to_sim(vdev);
	unsigned long index, first, last, end, start, stop;
	unsigned int shift;
	void *entry;
	int ret = 0;

	if (!length)
		return 0;
	mutex_lock(&sim->log_lock);
	if (!sim->logging) {
		ret = -EINVAL;
		goto out_unlock;
	}
	/*
	 * The window need not be aligned to the logging page: report only the
	 * part of a page inside it, and forget a mark only when the window
	 * covered its whole page (a partly covered page is reported again by
	 * the next report that reaches it).
	 */
	shift = sim->log_page_shift;
	end = iova + (length - 1);
	first = iova >> shift;
	last = end >> shift;
	xa_for_each_range(&sim->log_dirty, index, entry, first, last) {
		start = max(index << shift, iova);
		stop = min((index << shift) + ((1UL << shift) - 1), end);
		iova_bitmap_set(dirty, start, stop - start + 1);
		if (start == index << shift && stop - start + 1 == 1UL << shift)
			xa_erase(&sim->log_dirty, index);
		sim->log_pages_reported++;
	}
out_unlock:
	mutex_unlock(&sim->log_lock);
	return ret;
}

const struct vfio_log_ops vfio_dirty_sim_log_ops = {
	.log_start = sim_log_start,
	.log_stop = sim_log_stop,
	.log_read_and_clear = sim_log_read_and_clear,
};

/**
 * vfio_dirty_sim_log_init() - set up DMA logging of a new device
 * @sim: the device
 */
void vfio_dirty_sim_log_init(struct vfio_dirty_sim *sim)
{
	mutex_init(&sim->log_lock);
	xa_init(&sim->log_dirty);
	sim->log_max_ranges = SIM_LOG_DEFAULT_MAX_RANGES;
}

/**
 * vfio_dirty_sim_log_close() - stop DMA logging when the device is closed
 * @sim: the device
 */
void vfio_dirty_sim_log_close(struct vfio_dirty_sim *sim)
{
	mutex_lock(&sim->log_lock);
	sim_log_stop_locked(sim);
	mutex_unlock(&sim->log_lock);
}

/**
 * vfio_dirty_sim_log_release() - tear down what vfio_dirty_sim_log_init() set up
 * @sim: the device, closed
 */
void vfio_dirty_sim_log_release(struct vfio_dirty_sim *sim)
{
	mutex_destroy(&sim->log_lock);
}

/* sysfs: the tracker's limits (read-write) and counters (read-only). */

static ssize_t sim_log_show_u64(struct device *dev, char *buf, u64 *field)
{
	struct vfio_dirty_sim *sim = dev_to_sim(dev);
	u64 val;

	mutex_lock(&sim->log_lock);
	val = *field;
	mutex_unlock(&sim->log_lock);
	return sysfs_emit(buf, "%llu\n", val);
}

static ssize_t log_ranges_requested_show(struct device *dev,
					 struct device_attribute *attr,
					 char *buf)
{
	return sim_log_show_u64(dev, buf, &dev_to_sim(dev)->log_ranges_requested);
}
static DEVICE_ATTR_RO(log_ranges_requested);

static ssize_t log_ranges_fitted_show(struct device *dev,
				      struct device_attribute *attr,
				      char *buf)
{
	return sim_log_show_u64(dev, buf, &dev_to_sim(dev)->log_ranges_fitted);
}
static DEVICE_ATTR_RO(log_ranges_fitted);

static ssize_t log_bytes_overtracked_show(struct device *dev,
					  struct device_attribute *attr,
					  char *buf)
{
	return sim_log_show_u64(dev, buf, &dev_to_sim(dev)->log_bytes_overtracked);
}
static DEVICE_ATTR_RO(log_bytes_overtracked);

static ssize_t log_pages_reported_show(struct device *dev,
				       struct device_attribute *attr,
				       char *buf)
{
	return sim_log_show_u64(dev, buf, &dev_to_sim(dev)->log_pages_reported);
}
static DEVICE_ATTR_RO(log_pages_reported);

static ssize_t log_max_span_show(struct device *dev,
				 struct device_attribute *attr, char *buf)
{
	return sim_log_show_u64(dev, buf, &dev_to_sim(dev)->log_max_span);
}

static ssize_t log_max_span_store(struct device *dev,
				  struct device_attribute *attr,
				  const char *buf, size_t count)
{
	struct vfio_dirty_sim *sim = dev_to_sim(dev);
	u64 val;
	int ret;

	ret = kstrtou64(buf, 0, &val);
	if (ret)
		return ret;
	if (!PAGE_ALIGNED(val))
		return -EINVAL;
	mutex_lock(&sim->log_lock);
	sim->log_max_span = val;
	mutex_unlock(&sim->log_lock);
	return count;
}
static DEVICE_ATTR_RW(log_max_span);

static ssize_t log_max_ranges_show(struct device *dev,
				   struct device_attribute *attr, char *buf)
{
	struct vfio_dirty_sim *sim = dev_to_sim(dev);
	u32 val;

	mutex_lock(&sim->log_lock);
	val = sim->log_max_ranges;
	mutex_unlock(&sim->log_lock);
	return sysfs_emit(buf, "%u\n", val);
}

static ssize_t log_max_ranges_store(struct device *dev,
				    struct device_attribute *attr,
				    const char *buf, size_t count)
{
	struct vfio_dirty_sim *sim = dev_to_sim(dev);
	u32 val;
	int ret;

	ret = kstrtou32(buf, 0, &val);
	if (ret)
		return ret;
	if (!val || val > SIM_LOG_MAX_RANGES)
		return -EINVAL;
	mutex_lock(&sim->log_lock);
	sim->log_max_ranges = val;
	mutex_unlock(&sim->log_lock);
	return count;
}
static DEVICE_ATTR_RW(log_max_ranges);

static struct attribute *vfio_dirty_sim_log_attrs[] = {
	&dev_attr_log_max_ranges.attr,
	&dev_attr_log_max_span.attr,
	&dev_attr_log_ranges_requested.attr,
	&dev_attr_log_ranges_fitted.attr,
	&dev_attr_log_bytes_overtracked.attr,
	&dev_attr_log_pages_reported.attr,
	NULL,
};

const struct attribute_group vfio_dirty_sim_log_group = {
	.attrs = vfio_dirty_sim_log_attrs,
};

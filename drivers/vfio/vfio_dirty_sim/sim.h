/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vfio_dirty_sim: the internal API between the files of the simulated device.
 *
 *   main.c  registration with mdev and VFIO, the ioctl table, sysfs
 *   dma.c   the DMA engine: transfers, pinned pages, the background writer,
 *           and the per-page write log
 *   log.c   DMA logging (struct vfio_log_ops) over the engine's writes
 */
#ifndef VFIO_DIRTY_SIM_H
#define VFIO_DIRTY_SIM_H

#include <linux/maple_tree.h>
#include <linux/mutex.h>
#include <linux/types.h>
#include <linux/vfio.h>
#include <linux/xarray.h>

#include "../vfio_dirty/ranges.h"

struct task_struct;
struct vfio_dirty_sim_range;

/**
 * struct vfio_dirty_sim - one instance of the simulated device
 * @vdev: the VFIO device; the VFIO core allocates and frees the whole state
 * @seq: the last sequence number a page write took
 * @failed: page writes that failed since open or the last log clear
 * @wlog: page index (IOVA >> PAGE_SHIFT) -> xa_mk_value(sequence number of
 *        the last successful write of that page)
 * @pin_lock: protects @pinned and @fenced; held across a transfer through
 *            a pinned page, so that dma_unmap never unpins a page in use
 * @pinned: page index -> the struct page pinned there by vfio_pin_pages();
 *          marked when pinned for reading only
 * @fenced: page index ranges the container unmapped, where the engine does
 *          not pin again until userspace programs a pinned transfer there
 * @unmap_delay_ms: dma_unmap sleeps this long before it unpins (sysfs)
 * @unmap_ignore: dma_unmap unpins nothing, as a broken device (sysfs)
 * @unmap_calls: dma_unmap calls so far (sysfs)
 * @writer_lock: serializes starting and stopping the background writer
 * @writer: the background writer thread, or NULL
 * @writer_ranges: what the writer writes, in turn
 * @writer_nr_ranges: entries in @writer_ranges
 * @writer_pattern: the value it writes
 * @writer_pin: whether it writes through pinned pages
 * @log_lock: protects every @log_* field
 * @logging: between a successful log_start and log_stop
 * @log_page_shift: log2 of the page size DMA logging reports in
 * @log_ranges: the tracked ranges, after fitting
 * @log_nr_ranges: entries in @log_ranges
 * @log_dirty: tracked page index (IOVA >> @log_page_shift) -> dirty mark
 * @log_max_ranges: how many ranges the tracker holds (sysfs knob)
 * @log_max_span: largest span the tracker covers, 0 for no limit (sysfs)
 * @log_ranges_requested: ranges asked for by the last log_start
 * @log_ranges_fitted: ranges tracked after fitting them
 * @log_bytes_overtracked: gap bytes the fitting added to the tracked span
 * @log_pages_reported: pages reported dirty since the last log_start
 *
 * Lock order: @writer_lock, then @pin_lock, then @log_lock.  The VFIO
 * container's own lock nests inside @pin_lock (vfio_pin_pages()).
 */
struct vfio_dirty_sim {
	struct vfio_device vdev;

	atomic64_t seq;
	atomic64_t failed;
	struct xarray wlog;

	struct mutex pin_lock;		/* protects @pinned and @fenced */
	struct xarray pinned;
	struct maple_tree fenced;
	unsigned int unmap_delay_ms;
	bool unmap_ignore;
	atomic64_t unmap_calls;

	struct mutex writer_lock;	/* protects @writer* */
	struct task_struct *writer;
	struct vfio_dirty_sim_range *writer_ranges;
	u32 writer_nr_ranges;
	u64 writer_pattern;
	bool writer_pin;

	struct mutex log_lock;		/* protects @log* and @logging */
	bool logging;
	unsigned int log_page_shift;
	struct vfio_dirty_range *log_ranges;
	u32 log_nr_ranges;
	struct xarray log_dirty;
	u32 log_max_ranges;
	u64 log_max_span;
	u64 log_ranges_requested;
	u64 log_ranges_fitted;
	u64 log_bytes_overtracked;
	u64 log_pages_reported;
};

static inline struct vfio_dirty_sim *to_sim(struct vfio_device *vdev)
{
	return container_of(vdev, struct vfio_dirty_sim, vdev);
}

/* The device of a sysfs attribute of an instance. */
static inline struct vfio_dirty_sim *dev_to_sim(struct device *dev)
{
	return dev_get_drvdata(dev);
}

void vfio_dirty_sim_dma_init(struct vfio_dirty_sim *sim);
void vfio_dirty_sim_dma_release(struct vfio_dirty_sim *sim);
void vfio_dirty_sim_dma_close(struct vfio_dirty_sim *sim);
void vfio_dirty_sim_dma_unmap(struct vfio_device *vdev, u64 iova, u64 length);
long vfio_dirty_sim_ioctl_dma(struct vfio_dirty_sim *sim, void __user *arg,
			      bool write);
long vfio_dirty_sim_ioctl_writer_start(struct vfio_dirty_sim *sim,
				       void __user *arg);
long vfio_dirty_sim_ioctl_writer_stop(struct vfio_dirty_sim *sim);
long vfio_dirty_sim_ioctl_log_read(struct vfio_dirty_sim *sim,
				   void __user *arg);

extern const struct vfio_log_ops vfio_dirty_sim_log_ops;
void vfio_dirty_sim_log_init(struct vfio_dirty_sim *sim);
void vfio_dirty_sim_log_close(struct vfio_dirty_sim *sim);
void vfio_dirty_sim_log_release(struct vfio_dirty_sim *sim);
extern const struct attribute_group vfio_dirty_sim_log_group;
extern const struct attribute_group vfio_dirty_sim_dma_group;
void vfio_dirty_sim_log_mark(struct vfio_dirty_sim *sim, u64 iova);

#endif /* VFIO_DIRTY_SIM_H */

/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vfio_dirty_sim: the internal API between the files of the simulated device.
 *
 *   main.c       registration with mdev and VFIO, the ioctl table
 *   pci.c        the PCI function: config space, BAR0's registers, the
 *                region and interrupt answers of a vfio-pci device
 *   dma.c        the DMA engine: transfers, pinned pages, the background
 *                writer, and the per-page write log
 *   log.c        DMA logging (struct vfio_log_ops) over the engine's writes
 *   migration.c  VFIO migration v2: the state machine and the state stream
 *   control.c    the sysfs files that drive the writer from the host
 *   ranges.c     the range splitter log.c fits a START's ranges with
 */
#ifndef VFIO_DIRTY_SIM_H
#define VFIO_DIRTY_SIM_H

#include <linux/maple_tree.h>
#include <linux/mutex.h>
#include <linux/pci_regs.h>
#include <linux/types.h>
#include <linux/vfio.h>
#include <linux/vfio_dirty_sim.h>
#include <linux/wait.h>
#include <linux/xarray.h>

#include "ranges.h"

struct file;
struct task_struct;

/*
 * Interfaces that differ between the supported kernels, told apart by
 * Kbuild from the target's headers.
 */
#ifdef VFIO_DIRTY_SIM_CONST_BIN_ATTR
/* 7.3, not 6.1 or 6.12: sysfs binary attributes are const. */
#define SIM_BIN_ATTR_CONST const
#else
#define SIM_BIN_ATTR_CONST
#endif

/**
 * struct vfio_dirty_sim_regs - BAR0's registers: the writer's programming
 * @ctrl: VFIO_DIRTY_SIM_CTRL_RUN and the writer's flags
 * @status: the errno, positive, of the last start through @ctrl; 0 if it
 *          started
 * @nr_ranges: how many of @ranges the writer writes
 * @pattern: the value it writes
 * @ranges: what it writes, in turn
 *
 * While @ctrl has VFIO_DIRTY_SIM_CTRL_RUN the writer's part (@nr_ranges,
 * @pattern, @ranges and the flags) is latched: writes to it are ignored,
 * so that the writer thread reads it without a lock.
 */
struct vfio_dirty_sim_regs {
	u32 ctrl;
	u32 status;
	u32 nr_ranges;
	u64 pattern;
	struct vfio_dirty_sim_range ranges[VFIO_DIRTY_SIM_WRITER_MAX_RANGES];
};

/**
 * struct vfio_dirty_sim - one instance of the simulated device
 * @vdev: the VFIO device; the VFIO core allocates and frees the whole state
 * @seq: the last sequence number a page write took
 * @failed: page writes that failed since open or the last log clear
 * @wlog: page index (IOVA >> PAGE_SHIFT) -> xa_mk_value(sequence number of
 *        the last successful write of that page)
 * @pin_lock: protects @pinned and @fenced; held across a transfer through
 *            a pinned page, so that dma_unmap never unpins a page in use,
 *            and never across a call into the IOMMU backend
 * @pinned: page index -> the struct page pinned there by vfio_pin_pages(),
 *          marked when pinned for reading only; or SIM_BUSY while the
 *          page is being pinned or unpinned
 * @pin_wait: woken when a SIM_BUSY slot of @pinned settles
 * @fenced: page index ranges the container unmapped, where the engine does
 *          not pin again until userspace programs a pinned transfer there
 * @unmap_delay_ms: dma_unmap sleeps this long before it unpins (sysfs)
 * @unmap_ignore: dma_unmap unpins nothing, as a broken device (sysfs)
 * @unmap_calls: dma_unmap calls so far (sysfs)
 * @state_lock: protects the device's state: @open, @config, @regs,
 *              @writer, @mig_state and @mig_file
 * @open: between open_device and close_device
 * @config: the PCI configuration space
 * @regs: BAR0's registers
 * @writer: the background writer thread, or NULL; it runs exactly when
 *          @regs asks for it, the device is open and @mig_state allows DMA
 * @mig_state: the VFIO migration state
 * @mig_file: the file of the migration data transfer in progress, or NULL
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
 * Lock order: @state_lock, then @pin_lock, then @log_lock; a migration
 * file's lock nests inside @state_lock.  None of them is held across a
 * call into the IOMMU backend (vfio_pin_pages(), vfio_unpin_pages(),
 * vfio_dma_rw()), which calls dma_unmap, and so takes @pin_lock, with
 * locks of its own held.  Stopping the writer under @state_lock waits for
 * its write in flight, which may be in the backend: the backend never
 * waits for @state_lock.
 */
struct vfio_dirty_sim {
	struct vfio_device vdev;

	atomic64_t seq;
	atomic64_t failed;
	struct xarray wlog;

	struct mutex pin_lock;		/* protects @pinned and @fenced */
	struct xarray pinned;
	wait_queue_head_t pin_wait;
	struct maple_tree fenced;
	unsigned int unmap_delay_ms;
	bool unmap_ignore;
	atomic64_t unmap_calls;

	struct mutex state_lock;	/* see above */
	bool open;
	u8 config[PCI_CFG_SPACE_SIZE];
	struct vfio_dirty_sim_regs regs;
	struct task_struct *writer;
	enum vfio_device_mig_state mig_state;
	struct file *mig_file;

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
int vfio_dirty_sim_writer_prepare(struct vfio_dirty_sim *sim, u32 flags,
				  const struct vfio_dirty_sim_range *ranges,
				  u32 nr_ranges);
int vfio_dirty_sim_writer_start(struct vfio_dirty_sim *sim, u32 flags,
				u64 pattern,
				const struct vfio_dirty_sim_range *ranges,
				u32 nr_ranges);
int vfio_dirty_sim_writer_stop(struct vfio_dirty_sim *sim);
void vfio_dirty_sim_writer_ctrl(struct vfio_dirty_sim *sim, u32 ctrl);
int vfio_dirty_sim_writer_sync(struct vfio_dirty_sim *sim);
u64 vfio_dirty_sim_log_entry(struct vfio_dirty_sim *sim, unsigned long index);

/* Whether the device may issue DMA in its migration state. */
static inline bool vfio_dirty_sim_dma_allowed(struct vfio_dirty_sim *sim)
{
	return sim->mig_state == VFIO_DEVICE_STATE_RUNNING ||
	       sim->mig_state == VFIO_DEVICE_STATE_RUNNING_P2P;
}

void vfio_dirty_sim_pci_reset(struct vfio_dirty_sim *sim);
long vfio_dirty_sim_pci_ioctl(struct vfio_dirty_sim *sim, unsigned int cmd,
			      void __user *arg);
ssize_t vfio_dirty_sim_pci_rw(struct vfio_dirty_sim *sim, char __user *buf,
			      size_t count, loff_t *ppos, bool write);
int vfio_dirty_sim_region_info(struct vfio_region_info *info);
void vfio_dirty_sim_config_load(struct vfio_dirty_sim *sim, const u8 *config);

extern const struct vfio_migration_ops vfio_dirty_sim_mig_ops;
void vfio_dirty_sim_mig_reset(struct vfio_dirty_sim *sim);
const char *vfio_dirty_sim_mig_state_name(enum vfio_device_mig_state state);

extern const struct attribute_group vfio_dirty_sim_control_group;

extern const struct vfio_log_ops vfio_dirty_sim_log_ops;
void vfio_dirty_sim_log_init(struct vfio_dirty_sim *sim);
void vfio_dirty_sim_log_close(struct vfio_dirty_sim *sim);
void vfio_dirty_sim_log_release(struct vfio_dirty_sim *sim);
extern const struct attribute_group vfio_dirty_sim_log_group;
extern const struct attribute_group vfio_dirty_sim_dma_group;
void vfio_dirty_sim_log_mark(struct vfio_dirty_sim *sim, u64 iova);

#endif /* VFIO_DIRTY_SIM_H */

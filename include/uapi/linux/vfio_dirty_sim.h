/* SPDX-License-Identifier: GPL-2.0-only WITH Linux-syscall-note */
/*
 * vfio_dirty_sim: the uAPI of the simulated device.
 *
 * The simulated device is an mdev with an emulated IOMMU.  Its DMA engine
 * reads and writes guest memory through the VFIO container the device's
 * group is attached to, exactly as a mediated device does: through
 * vfio_dma_rw(), or through pages pinned with vfio_pin_pages().  Userspace
 * drives the engine with the ioctls below, issued on the device file
 * descriptor (from VFIO_GROUP_GET_DEVICE_FD).
 *
 * Every write of a page is logged: the device keeps, per page, the sequence
 * number of the last write to it that succeeded, and counts the writes that
 * failed (an IOVA that is not mapped, or no longer).  A sequence number is
 * taken from a per-device counter, starting at 1, *before* the write is
 * attempted.  So once an ioctl that removes a mapping has returned, any
 * write whose number is above VFIO_DIRTY_SIM_LOG_READ's @seq read after that
 * return started after the mapping was gone, and cannot have succeeded.
 *
 * All IOVAs and lengths are in bytes and must be multiples of the host page
 * size; a length must not be zero.  Invalid arguments fail with -EINVAL,
 * bad user pointers with -EFAULT.
 */
#ifndef _UAPI_LINUX_VFIO_DIRTY_SIM_H
#define _UAPI_LINUX_VFIO_DIRTY_SIM_H

#include <linux/ioctl.h>
#include <linux/types.h>
#include <linux/vfio.h>

/* Device ioctls of the simulated device, far above the VFIO core's. */
#define VFIO_DIRTY_SIM_BASE	0xd0

/**
 * struct vfio_dirty_sim_dma - one DMA transfer
 * @argsz: sizeof(struct vfio_dirty_sim_dma)
 * @flags: VFIO_DIRTY_SIM_DMA_PIN: transfer through pages pinned with
 *         vfio_pin_pages() (kept pinned until the container unmaps them)
 *         instead of vfio_dma_rw(); a read pins for reading only
 *         (IOMMU_READ), a write for reading and writing, pinning again a
 *         page pinned for reading only
 * @iova: first byte, page aligned
 * @length: bytes, page aligned, at most VFIO_DIRTY_SIM_DMA_MAX
 * @pattern: writes: every 8 bytes of every page get this value; reads: 0
 * @data: reads: user buffer of @length bytes for the data; writes: 0
 * @pages_done: out: pages transferred
 * @pages_failed: out: pages that could not be transferred
 *
 * The transfer goes page by page and does not stop at a failed page: each
 * page succeeds or fails on its own, and is logged.  The ioctl returns 0
 * when it ran, whatever the outcome of each page.
 */
struct vfio_dirty_sim_dma {
	__u32 argsz;
	__u32 flags;
#define VFIO_DIRTY_SIM_DMA_PIN		(1 << 0)
	__aligned_u64 iova;
	__aligned_u64 length;
	__aligned_u64 pattern;
	__aligned_u64 data;
	__aligned_u64 pages_done;
	__aligned_u64 pages_failed;
};

/* The largest single transfer: 64 MiB. */
#define VFIO_DIRTY_SIM_DMA_MAX		(64ULL << 20)

/* Write @pattern to [@iova, @iova + @length). */
#define VFIO_DIRTY_SIM_DMA_WRITE	_IO(VFIO_TYPE, VFIO_DIRTY_SIM_BASE + 0)
/* Read [@iova, @iova + @length) into @data. */
#define VFIO_DIRTY_SIM_DMA_READ		_IO(VFIO_TYPE, VFIO_DIRTY_SIM_BASE + 1)

/**
 * struct vfio_dirty_sim_range - an IOVA range
 * @iova: first byte, page aligned
 * @length: bytes, page aligned, not zero
 */
struct vfio_dirty_sim_range {
	__aligned_u64 iova;
	__aligned_u64 length;
};

/**
 * struct vfio_dirty_sim_writer - start the background writer
 * @argsz: sizeof(struct vfio_dirty_sim_writer)
 * @flags: VFIO_DIRTY_SIM_DMA_PIN, as for struct vfio_dirty_sim_dma;
 *         VFIO_DIRTY_SIM_WRITER_STAMP: the first 8 bytes of each page
 *         written hold that write's sequence number instead of @pattern
 * @nr_ranges: entries in @ranges, 1 to VFIO_DIRTY_SIM_WRITER_MAX_RANGES
 * @__reserved: must be 0
 * @pattern: the value written, as for struct vfio_dirty_sim_dma
 * @ranges: user pointer to @nr_ranges struct vfio_dirty_sim_range
 *
 * A kernel thread writes every page of every range in turn, over and over,
 * until VFIO_DIRTY_SIM_WRITER_STOP, a VFIO_DEVICE_RESET or the device is
 * closed.  Each write is logged as above.  -EBUSY if a writer is started
 * already (through this ioctl, BAR0 or sysfs: there is one per device).
 * While the device's migration state forbids DMA (STOP, STOP_COPY,
 * RESUMING) a started writer is paused: it issues no write until the
 * device runs again.
 */
struct vfio_dirty_sim_writer {
	__u32 argsz;
	__u32 flags;
#define VFIO_DIRTY_SIM_WRITER_STAMP	(1 << 1)
	__u32 nr_ranges;
	__u32 __reserved;
	__aligned_u64 pattern;
	__aligned_u64 ranges;
};

#define VFIO_DIRTY_SIM_WRITER_MAX_RANGES	256

#define VFIO_DIRTY_SIM_WRITER_START	_IO(VFIO_TYPE, VFIO_DIRTY_SIM_BASE + 2)
/* Stop the writer and wait for it; no argument.  -ENOENT if none runs. */
#define VFIO_DIRTY_SIM_WRITER_STOP	_IO(VFIO_TYPE, VFIO_DIRTY_SIM_BASE + 3)

/**
 * struct vfio_dirty_sim_log - read the device's write log
 * @argsz: sizeof(struct vfio_dirty_sim_log)
 * @flags: VFIO_DIRTY_SIM_LOG_CLEAR: forget the pages read (their entries
 *         become 0) and the failed-write count
 * @iova: first page, page aligned
 * @npages: pages to read, 1 to VFIO_DIRTY_SIM_LOG_MAX_PAGES
 * @seqs: user pointer to @npages __u64: for each page, the sequence number
 *        of the last write to it that succeeded, 0 if none
 * @seq: out: the last sequence number taken so far
 * @failed: out: writes that failed since the device was opened (or since
 *          the last VFIO_DIRTY_SIM_LOG_CLEAR)
 */
struct vfio_dirty_sim_log {
	__u32 argsz;
	__u32 flags;
#define VFIO_DIRTY_SIM_LOG_CLEAR	(1 << 0)
	__aligned_u64 iova;
	__aligned_u64 npages;
	__aligned_u64 seqs;
	__aligned_u64 seq;
	__aligned_u64 failed;
};

#define VFIO_DIRTY_SIM_LOG_MAX_PAGES	(1ULL << 20)

#define VFIO_DIRTY_SIM_LOG_READ		_IO(VFIO_TYPE, VFIO_DIRTY_SIM_BASE + 4)

/*
 * The simulated device is a PCI function (VFIO_DEVICE_FLAGS_PCI): a
 * conventional header with the IDs below, no capabilities and no
 * interrupts, and one BAR, BAR0, a 32-bit memory BAR of
 * VFIO_DIRTY_SIM_BAR0_SIZE bytes holding the writer's registers.  0x1234
 * is not a vendor ID the PCI-SIG assigned to anyone: QEMU's own test
 * devices (edu, 1234:11e8) use it too.  Class 0xff0000: a device that
 * fits no defined class.
 */
#define VFIO_DIRTY_SIM_PCI_VENDOR_ID	0x1234
#define VFIO_DIRTY_SIM_PCI_DEVICE_ID	0xd1d5
#define VFIO_DIRTY_SIM_PCI_CLASS	0xff0000
#define VFIO_DIRTY_SIM_PCI_REVISION	0x01
#define VFIO_DIRTY_SIM_BAR0_SIZE	0x2000

/*
 * BAR0's registers, 64 bits each, little endian, read and written 4 or 8
 * bytes at a time at a naturally aligned offset.  Offsets that hold no
 * register read 0 and ignore writes.
 *
 * CTRL (read-write): the writer's flags (VFIO_DIRTY_SIM_DMA_PIN,
 * VFIO_DIRTY_SIM_WRITER_STAMP, as VFIO_DIRTY_SIM_WRITER_START takes them)
 * and VFIO_DIRTY_SIM_CTRL_RUN.  Setting RUN starts the writer over
 * NR_RANGES ranges of RANGE_IOVA/RANGE_LENGTH with PATTERN, as
 * VFIO_DIRTY_SIM_WRITER_START does; if they are invalid RUN stays clear
 * and STATUS holds the errno.  Clearing RUN stops the writer and waits for
 * its last write.  While RUN is set the flags, NR_RANGES, PATTERN and the
 * ranges are latched: writes to them are ignored.  A writer started
 * through the ioctl or sysfs reads back here the same way.
 * STATUS (read-only): 0, or the errno (positive) of the last start
 * through CTRL that failed.
 * SEQ, FAILED (read-only): the write log's counters, as
 * VFIO_DIRTY_SIM_LOG_READ's @seq and @failed.
 */
#define VFIO_DIRTY_SIM_REG_CTRL		0x00
#define VFIO_DIRTY_SIM_CTRL_RUN		(1U << 31)
#define VFIO_DIRTY_SIM_REG_STATUS	0x08
#define VFIO_DIRTY_SIM_REG_NR_RANGES	0x10
#define VFIO_DIRTY_SIM_REG_PATTERN	0x18
#define VFIO_DIRTY_SIM_REG_SEQ		0x20
#define VFIO_DIRTY_SIM_REG_FAILED	0x28
/* Range @i, 0 to VFIO_DIRTY_SIM_WRITER_MAX_RANGES - 1. */
#define VFIO_DIRTY_SIM_REG_RANGE_IOVA(i)	(0x1000 + 16 * (i))
#define VFIO_DIRTY_SIM_REG_RANGE_LENGTH(i)	(0x1008 + 16 * (i))

#endif /* _UAPI_LINUX_VFIO_DIRTY_SIM_H */

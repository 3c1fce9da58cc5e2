// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio_dirty_sim DMA engine.
 *
 * Theory of operation
 *
 * The device reads and writes process memory through the VFIO container its
 * group is attached to, the way a mediated device does: with vfio_dma_rw(),
 * or through a page pinned with vfio_pin_pages().  The IOMMU backend sees
 * both and marks the pages dirty in its own tracking.
 *
 * Terms.  A *page* is a host page of IOVA space; its *index* is IOVA >>
 * PAGE_SHIFT (it fits an unsigned long on 64-bit hosts, the only ones VFIO
 * type1 supports).  A *write* is one page written with a 64-bit pattern.
 * Ranges from userspace are [iova, iova + length) with both page aligned;
 * they are checked once, at the ioctl, and carried as (first, last) page
 * indexes inside, so that a range ending at the top of the 64-bit space
 * never overflows.
 *
 * The write log.  Each write takes a sequence number before it starts, and
 * records it for its page when, and only when, it succeeded.  So "page P has
 * sequence S" means the device put data in P, and every write numbered above
 * the counter's value at some instant started after that instant.  Failed
 * writes are counted.  The log slot of a page is reserved before the write,
 * and clearing the log keeps it reserved, so that recording a success
 * never needs memory: a write is never lost from the log.  The log, the
 * pinned pages and the fences grow with what userspace asks, and are
 * charged to its memory cgroup.
 *
 * Pinned pages.  In pin mode a page is pinned at its first write, or read,
 * and stays pinned (as a device holding a DMA mapping would) until the
 * container unmaps it: the backend then calls dma_unmap and the device
 * unpins everything it holds in the range.  A read pins the page for
 * reading only (IOMMU_READ), as a device that only reads a buffer does; a
 * later write through it pins it again for writing.  @pin_lock is held
 * across a transfer through a pinned page, so dma_unmap waits for it and
 * the engine never touches a page it no longer holds.
 *
 * No lock of the device is held across a call into the backend
 * (vfio_pin_pages(), vfio_unpin_pages(), vfio_dma_rw()): the backend calls
 * dma_unmap, which takes @pin_lock, with a lock of its own held (vfio_dirty's
 * devices_lock, type1's device_list_lock), and the stock type1 driver takes
 * that lock under the lock of its pin path (iommu->lock) when a device
 * registers, so @pin_lock held across a pin would close a cycle through
 * them.  While a page is being pinned or unpinned with
 * @pin_lock dropped, its slot in @pinned holds SIM_BUSY: a transfer of
 * that page and dma_unmap wait until the slot settles, so dma_unmap still
 * returns only once nothing is pinned in its range.  That wait is a wait
 * for the backend's lock, which dma_unmap's own unpin takes anyway.
 *
 * Fences.  The backend calls dma_unmap with its lock dropped, then checks
 * that nothing is pinned in the range any more and retries if something is
 * (the stock type1 driver gives up with BUG() after ten tries).  A device
 * must therefore stop pinning there, as a real one stops DMA until its
 * driver programs it again: dma_unmap fences the range, a pinned transfer
 * to a fenced page fails, and only userspace lifts a fence, by programming
 * a pinned transfer there (VFIO_DIRTY_SIM_DMA_WRITE, _READ or
 * _WRITER_START with VFIO_DIRTY_SIM_DMA_PIN).  So the background writer
 * never pins again in a range unmapped under it; a user who races a new
 * pinned transfer against an unmap of the same range is the only way left
 * to make the backend retry.
 * Writes through vfio_dma_rw() pin nothing and need no fence.
 *
 * The background writer is a kernel thread that writes the pages of its
 * ranges in turn until stopped; closing the device stops it, so a device is
 * never removed while its engine runs.  Its programming lives in BAR0's
 * registers (struct vfio_dirty_sim_regs), whichever way it was started:
 * the ioctl, sysfs, or a write of CTRL.  *Started* means CTRL has RUN;
 * the thread runs while the writer is started and the migration state
 * allows DMA, and is otherwise *paused* (vfio_dirty_sim_writer_sync()).
 * With VFIO_DIRTY_SIM_WRITER_STAMP each page written begins with the
 * write's sequence number, so the data itself says which write it is.
 */
#include <linux/highmem.h>
#include <linux/iommu.h>
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vfio_dirty_sim.h>
#include <linux/wait.h>

#include "sim.h"

/* A range [iova, iova + length) as inclusive page indexes. */
struct sim_pages {
	unsigned long first;
	unsigned long last;
};

static int sim_check_range(struct vfio_dirty_sim *sim, u64 iova, u64 length,
			   u64 max, struct sim_pages *p)
{
	u64 end;

	if (!length || !PAGE_ALIGNED(iova) || !PAGE_ALIGNED(length) ||
	    (max && length > max)) {
		dev_dbg(sim->vdev.dev, "range %#llx+%#llx: empty, unaligned or too long\n",
			iova, length);
		return -EINVAL;
	}
	/* end may wrap to exactly 0: the range then ends at the top of IOVA. */
	if (check_add_overflow(iova, length, &end) && end) {
		dev_dbg(sim->vdev.dev, "range %#llx+%#llx: wraps\n", iova, length);
		return -EINVAL;
	}
	p->first = iova >> PAGE_SHIFT;
	p->last = (iova + (length - 1)) >> PAGE_SHIFT;
	return 0;
}

static void sim_fill(void *buf, u64 pattern)
{
	u64 *word = buf;
	unsigned int i;

	for (i = 0; i < PAGE_SIZE / sizeof(*word); i++)
		word[i] = pattern;
}

/* Marks pages of @pinned that were pinned for reading only. */
#define SIM_PINNED_RO	XA_MARK_1
/* The slot of a page in @pinned while the backend pins or unpins it. */
#define SIM_BUSY	xa_mk_value(0)

/* Wait, @pin_lock dropped, until page @index is no longer SIM_BUSY. */
static void sim_wait_settled(struct vfio_dirty_sim *sim, unsigned long index)
{
	mutex_unlock(&sim->pin_lock);
	wait_event(sim->pin_wait, xa_load(&sim->pinned, index) != SIM_BUSY);
	mutex_lock(&sim->pin_lock);
}

/*
 * The page at @index pinned for @prot (IOMMU_READ, or with IOMMU_WRITE),
 * pinning it if it is not: a page pinned for reading only is pinned again
 * for a write.  Called with @pin_lock held, which it drops around the
 * backend's calls; it returns with it held, which keeps the page pinned
 * until the caller drops it.
 */
static int sim_pin_locked(struct vfio_dirty_sim *sim, unsigned long index,
			  int prot, struct page **page)
{
	dma_addr_t iova = (dma_addr_t)index << PAGE_SHIFT;
	void *entry;
	int ret;

	lockdep_assert_held(&sim->pin_lock);
	while ((entry = xa_load(&sim->pinned, index)) == SIM_BUSY)
		sim_wait_settled(sim, index);
	if (entry && !((prot & IOMMU_WRITE) &&
		       xa_get_mark(&sim->pinned, index, SIM_PINNED_RO))) {
		*page = entry;
		return 0;
	}
	if (mtree_load(&sim->fenced, index))
		return -EFAULT;
	ret = xa_err(xa_store(&sim->pinned, index, SIM_BUSY, GFP_KERNEL_ACCOUNT));
	if (ret)
		return ret;
	mutex_unlock(&sim->pin_lock);

	if (entry)
		vfio_unpin_pages(&sim->vdev, iova, 1);
	ret = vfio_pin_pages(&sim->vdev, iova, 1, prot, page);

	mutex_lock(&sim->pin_lock);
	if (ret != 1) {
		xa_erase(&sim->pinned, index);
		wake_up_all(&sim->pin_wait);
		return ret < 0 ? ret : -EFAULT;
	}
	/* The slot exists: storing into it allocates nothing. */
	xa_store(&sim->pinned, index, *page, GFP_KERNEL_ACCOUNT);
	if (prot & IOMMU_WRITE)
		xa_clear_mark(&sim->pinned, index, SIM_PINNED_RO);
	else
		xa_set_mark(&sim->pinned, index, SIM_PINNED_RO);
	wake_up_all(&sim->pin_wait);
	return 0;
}

static int sim_write_pinned(struct vfio_dirty_sim *sim, unsigned long index,
			    u64 pattern, const u64 *stamp)
{
	struct page *page;
	void *va;
	int ret;

	mutex_lock(&sim->pin_lock);
	ret = sim_pin_locked(sim, index, IOMMU_READ | IOMMU_WRITE, &page);
	if (!ret) {
		va = kmap_local_page(page);
		sim_fill(va, pattern);
		if (stamp)
			*(u64 *)va = *stamp;
		kunmap_local(va);
	}
	mutex_unlock(&sim->pin_lock);
	return ret;
}

static int sim_read_pinned(struct vfio_dirty_sim *sim, unsigned long index,
			   void *buf)
{
	struct page *page;
	int ret;

	mutex_lock(&sim->pin_lock);
	ret = sim_pin_locked(sim, index, IOMMU_READ, &page);
	if (!ret)
		memcpy_from_page(buf, page, 0, PAGE_SIZE);
	mutex_unlock(&sim->pin_lock);
	return ret;
}

/* Userspace programs pinned transfers to pages @first to @last: lift fences. */
static int sim_unfence(struct vfio_dirty_sim *sim, unsigned long first,
		       unsigned long last)
{
	int ret;

	mutex_lock(&sim->pin_lock);
	ret = mtree_store_range(&sim->fenced, first, last, NULL,
				GFP_KERNEL_ACCOUNT);
	mutex_unlock(&sim->pin_lock);
	return ret;
}

/*
 * One logged write of page @index: @buf holds the pattern already, for the
 * vfio_dma_rw() path; with @stamp its first word takes the write's
 * sequence number.
 */
static int sim_write_page(struct vfio_dirty_sim *sim, unsigned long index,
			  u64 pattern, u64 *buf, bool pin, bool stamp)
{
	dma_addr_t iova = (dma_addr_t)index << PAGE_SHIFT;
	void *old;
	u64 seq;
	int ret;

	/* A new slot reads as NULL until stored; an old one keeps its value. */
	ret = xa_insert(&sim->wlog, index, NULL, GFP_KERNEL_ACCOUNT);
	if (ret && ret != -EBUSY)
		return ret;

	seq = atomic64_inc_return(&sim->seq);
	if (stamp)
		buf[0] = seq;
	if (pin)
		ret = sim_write_pinned(sim, index, pattern, stamp ? &seq : NULL);
	else
		ret = vfio_dma_rw(&sim->vdev, iova, buf, PAGE_SIZE, true);
	if (ret) {
		atomic64_inc(&sim->failed);
		return ret;
	}

	/* Writes of one page may race: the log keeps the highest number. */
	xa_lock(&sim->wlog);
	old = xa_load(&sim->wlog, index);
	if (!old || xa_to_value(old) < seq)
		__xa_store(&sim->wlog, index, xa_mk_value(seq), GFP_ATOMIC);
	xa_unlock(&sim->wlog);

	vfio_dirty_sim_log_mark(sim, iova);
	return 0;
}

static int sim_read_page(struct vfio_dirty_sim *sim, unsigned long index,
			 void *buf, bool pin)
{
	if (pin)
		return sim_read_pinned(sim, index, buf);
	return vfio_dma_rw(&sim->vdev, (dma_addr_t)index << PAGE_SHIFT, buf,
			   PAGE_SIZE, false);
}

/**
 * vfio_dirty_sim_ioctl_dma() - VFIO_DIRTY_SIM_DMA_WRITE and _READ
 * @sim: the device
 * @arg: user pointer to struct vfio_dirty_sim_dma
 * @write: a write, else a read
 *
 * Return: 0 once the transfer ran (each page's outcome is in the result),
 * -EINVAL, -EFAULT or -ENOMEM.
 */
long vfio_dirty_sim_ioctl_dma(struct vfio_dirty_sim *sim, void __user *arg,
			      bool write)
{
	unsigned long minsz = offsetofend(struct vfio_dirty_sim_dma, pages_failed);
	struct vfio_dirty_sim_dma dma;
	struct sim_pages p;
	unsigned long index;
	void __user *data;
	void *buf;
	int ret;

	if (copy_from_user(&dma, arg, minsz))
		return -EFAULT;
	if (dma.argsz < minsz || dma.flags & ~VFIO_DIRTY_SIM_DMA_PIN) {
		dev_dbg(sim->vdev.dev, "DMA: argsz %u or flags %#x\n",
			dma.argsz, dma.flags);
		return -EINVAL;
	}
	if (write ? dma.data != 0 : dma.pattern != 0) {
		dev_dbg(sim->vdev.dev, "DMA: a write takes no data, a read no pattern\n");
		return -EINVAL;
	}
	ret = sim_check_range(sim, dma.iova, dma.length, VFIO_DIRTY_SIM_DMA_MAX, &p);
	if (ret)
		return ret;
	data = u64_to_user_ptr(dma.data);

	if (dma.flags & VFIO_DIRTY_SIM_DMA_PIN) {
		ret = sim_unfence(sim, p.first, p.last);
		if (ret)
			return ret;
	}
	/*
	 * Freed before the ioctl returns: not charged, so that a transfer
	 * under a tight memory.max does not wake the OOM killer before the
	 * backend is even reached.
	 */
	buf = kmalloc(PAGE_SIZE, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	if (write)
		sim_fill(buf, dma.pattern);

	dma.pages_done = 0;
	dma.pages_failed = 0;
	for (index = p.first; ; index++) {
		if (write) {
			ret = sim_write_page(sim, index, dma.pattern, buf,
					     dma.flags & VFIO_DIRTY_SIM_DMA_PIN,
					     false);
		} else {
			ret = sim_read_page(sim, index, buf,
					    dma.flags & VFIO_DIRTY_SIM_DMA_PIN);
			if (!ret && copy_to_user(data, buf, PAGE_SIZE)) {
				ret = -EFAULT;
				goto out_free;
			}
			data += PAGE_SIZE;
		}
		if (ret == -ENOMEM)
			goto out_free;
		if (ret)
			dma.pages_failed++;
		else
			dma.pages_done++;
		if (index == p.last)
			break;
		cond_resched();
	}
	ret = copy_to_user(arg, &dma, minsz) ? -EFAULT : 0;
out_free:
	kfree(buf);
	return ret;
}

static int sim_writer_fn(void *data)
{
	struct vfio_dirty_sim *sim = data;
	const struct vfio_dirty_sim_regs *regs = &sim->regs;
	bool pin = regs->ctrl & VFIO_DIRTY_SIM_DMA_PIN;
	bool stamp = regs->ctrl & VFIO_DIRTY_SIM_WRITER_STAMP;
	struct sim_pages p;
	unsigned long index;
	void *buf;
	u32 i;

	/* @regs is latched while the writer runs: see struct vfio_dirty_sim_regs. */
	buf = kmalloc(PAGE_SIZE, GFP_KERNEL);
	if (!buf)
		goto out_wait;
	sim_fill(buf, regs->pattern);

	while (!kthread_should_stop()) {
		for (i = 0; i < regs->nr_ranges; i++) {
			/* Checked when the writer started. */
			sim_check_range(sim, regs->ranges[i].iova,
					regs->ranges[i].length, 0, &p);
			for (index = p.first; ; index++) {
				/*
				 * Stopping waits for this: every write the
				 * writer began is done and logged by then.
				 */
				if (kthread_should_stop())
					goto out_free;
				sim_write_page(sim, index, regs->pattern, buf,
					       pin, stamp);
				if (index == p.last)
					break;
				cond_resched();
			}
		}
	}
out_free:
	kfree(buf);
	return 0;

out_wait:
	/* kthread_stop() must find the thread alive. */
	while (!kthread_should_stop())
		schedule_timeout_interruptible(HZ);
	return -ENOMEM;
}

/**
 * vfio_dirty_sim_writer_sync() - run the writer thread exactly when it should
 * @sim: the device, with @state_lock held
 *
 * The thread runs while @regs has VFIO_DIRTY_SIM_CTRL_RUN, the device is
 * open and its migration state allows DMA.  Stopping it waits until its
 * last write is done, logged and marked dirty.
 *
 * Return: 0, or the error of starting the thread.
 */
int vfio_dirty_sim_writer_sync(struct vfio_dirty_sim *sim)
{
	bool run = sim->regs.ctrl & VFIO_DIRTY_SIM_CTRL_RUN && sim->open &&
		   vfio_dirty_sim_dma_allowed(sim);
	struct task_struct *task;

	lockdep_assert_held(&sim->state_lock);

	if (run == !!sim->writer)
		return 0;
	if (!run) {
		kthread_stop(sim->writer);
		sim->writer = NULL;
		return 0;
	}
	task = kthread_run(sim_writer_fn, sim, "vfio_dirty_sim");
	if (IS_ERR(task))
		return PTR_ERR(task);
	sim->writer = task;
	return 0;
}

/**
 * vfio_dirty_sim_writer_prepare() - check a writer's programming
 * @sim: the device
 * @flags: VFIO_DIRTY_SIM_DMA_PIN and VFIO_DIRTY_SIM_WRITER_STAMP
 * @ranges: what it is to write
 * @nr_ranges: entries in @ranges
 *
 * Checks the flags and the ranges and, for a writer that pins, lifts the
 * fences in its ranges as programming a pinned transfer does.
 *
 * Return: 0, -EINVAL or -ENOMEM.
 */
int vfio_dirty_sim_writer_prepare(struct vfio_dirty_sim *sim, u32 flags,
				  const struct vfio_dirty_sim_range *ranges,
				  u32 nr_ranges)
{
	struct sim_pages p;
	u32 i;
	int ret;

	if (flags & ~(VFIO_DIRTY_SIM_DMA_PIN | VFIO_DIRTY_SIM_WRITER_STAMP) ||
	    !nr_ranges || nr_ranges > VFIO_DIRTY_SIM_WRITER_MAX_RANGES) {
		dev_dbg(sim->vdev.dev, "writer: flags %#x or %u ranges\n",
			flags, nr_ranges);
		return -EINVAL;
	}
	for (i = 0; i < nr_ranges; i++) {
		ret = sim_check_range(sim, ranges[i].iova, ranges[i].length, 0, &p);
		if (ret)
			return ret;
	}
	for (i = 0; flags & VFIO_DIRTY_SIM_DMA_PIN && i < nr_ranges; i++) {
		sim_check_range(sim, ranges[i].iova, ranges[i].length, 0, &p);
		ret = sim_unfence(sim, p.first, p.last);
		if (ret)
			return ret;
	}
	return 0;
}

/* Start the writer @sim->regs describes; @state_lock held, RUN clear. */
static int sim_writer_run(struct vfio_dirty_sim *sim)
{
	struct vfio_dirty_sim_regs *regs = &sim->regs;
	int ret;

	lockdep_assert_held(&sim->state_lock);

	ret = vfio_dirty_sim_writer_prepare(sim, regs->ctrl, regs->ranges,
					    regs->nr_ranges);
	if (ret)
		return ret;
	regs->ctrl |= VFIO_DIRTY_SIM_CTRL_RUN;
	ret = vfio_dirty_sim_writer_sync(sim);
	if (ret)
		regs->ctrl &= ~VFIO_DIRTY_SIM_CTRL_RUN;
	return ret;
}

/**
 * vfio_dirty_sim_writer_start() - program and start the writer
 * @sim: the device
 * @flags: VFIO_DIRTY_SIM_DMA_PIN and VFIO_DIRTY_SIM_WRITER_STAMP
 * @pattern: the value it writes
 * @ranges: what it writes, in turn
 * @nr_ranges: entries in @ranges
 *
 * What VFIO_DIRTY_SIM_WRITER_START and the sysfs file "writer" do: the
 * registers take the programming, as a driver would write them through
 * BAR0, and the writer starts, paused while the migration state forbids
 * DMA.
 *
 * Return: 0, -EBUSY if a writer is started, -ENODEV if the device is not
 * open, -EINVAL or -ENOMEM.
 */
int vfio_dirty_sim_writer_start(struct vfio_dirty_sim *sim, u32 flags,
				u64 pattern,
				const struct vfio_dirty_sim_range *ranges,
				u32 nr_ranges)
{
	struct vfio_dirty_sim_regs *regs = &sim->regs;
	int ret;

	mutex_lock(&sim->state_lock);
	ret = vfio_dirty_sim_writer_prepare(sim, flags, ranges, nr_ranges);
	if (ret)
		goto out_unlock;
	if (!sim->open) {
		ret = -ENODEV;
		goto out_unlock;
	}
	if (regs->ctrl & VFIO_DIRTY_SIM_CTRL_RUN) {
		ret = -EBUSY;
		goto out_unlock;
	}
	regs->ctrl = flags;
	regs->pattern = pattern;
	regs->nr_ranges = nr_ranges;
	memcpy(regs->ranges, ranges, array_size(nr_ranges, sizeof(*ranges)));
	ret = sim_writer_run(sim);
out_unlock:
	mutex_unlock(&sim->state_lock);
	return ret;
}

/**
 * vfio_dirty_sim_writer_stop() - stop the writer and wait for it
 * @sim: the device
 *
 * Return: 0 once the writer has stopped, -ENOENT if none was started.
 */
int vfio_dirty_sim_writer_stop(struct vfio_dirty_sim *sim)
{
	int ret = 0;

	mutex_lock(&sim->state_lock);
	if (sim->regs.ctrl & VFIO_DIRTY_SIM_CTRL_RUN) {
		sim->regs.ctrl &= ~VFIO_DIRTY_SIM_CTRL_RUN;
		vfio_dirty_sim_writer_sync(sim);
	} else {
		ret = -ENOENT;
	}
	mutex_unlock(&sim->state_lock);
	return ret;
}

/**
 * vfio_dirty_sim_writer_ctrl() - a write of BAR0's CTRL register
 * @sim: the device, with @state_lock held
 * @ctrl: the value written
 *
 * Unknown bits are ignored.  Setting VFIO_DIRTY_SIM_CTRL_RUN starts the
 * writer the registers describe and sets STATUS; clearing it stops the
 * writer.  While RUN stays set nothing changes.
 */
void vfio_dirty_sim_writer_ctrl(struct vfio_dirty_sim *sim, u32 ctrl)
{
	struct vfio_dirty_sim_regs *regs = &sim->regs;
	bool run = ctrl & VFIO_DIRTY_SIM_CTRL_RUN;

	lockdep_assert_held(&sim->state_lock);

	if (regs->ctrl & VFIO_DIRTY_SIM_CTRL_RUN) {
		if (!run) {
			regs->ctrl &= ~VFIO_DIRTY_SIM_CTRL_RUN;
			vfio_dirty_sim_writer_sync(sim);
		}
		return;
	}
	regs->ctrl = ctrl & (VFIO_DIRTY_SIM_DMA_PIN |
			     VFIO_DIRTY_SIM_WRITER_STAMP);
	if (run)
		regs->status = -sim_writer_run(sim);
}

/**
 * vfio_dirty_sim_ioctl_writer_start() - VFIO_DIRTY_SIM_WRITER_START
 * @sim: the device
 * @arg: user pointer to struct vfio_dirty_sim_writer
 *
 * Return: 0, -EBUSY if a writer is started, -EINVAL, -EFAULT or -ENOMEM.
 */
long vfio_dirty_sim_ioctl_writer_start(struct vfio_dirty_sim *sim,
				       void __user *arg)
{
	unsigned long minsz = offsetofend(struct vfio_dirty_sim_writer, ranges);
	struct vfio_dirty_sim_writer w;
	struct vfio_dirty_sim_range *ranges;
	int ret;

	if (copy_from_user(&w, arg, minsz))
		return -EFAULT;
	if (w.argsz < minsz || w.__reserved || !w.nr_ranges ||
	    w.nr_ranges > VFIO_DIRTY_SIM_WRITER_MAX_RANGES) {
		dev_dbg(sim->vdev.dev, "writer: argsz %u, reserved %u or %u ranges\n",
			w.argsz, w.__reserved, w.nr_ranges);
		return -EINVAL;
	}

	ranges = memdup_user(u64_to_user_ptr(w.ranges),
			     array_size(w.nr_ranges, sizeof(*ranges)));
	if (IS_ERR(ranges))
		return PTR_ERR(ranges);
	ret = vfio_dirty_sim_writer_start(sim, w.flags, w.pattern, ranges,
					  w.nr_ranges);
	kfree(ranges);
	return ret;
}

/**
 * vfio_dirty_sim_ioctl_writer_stop() - VFIO_DIRTY_SIM_WRITER_STOP
 * @sim: the device
 *
 * Return: 0 once the writer has stopped, -ENOENT if none was started.
 */
long vfio_dirty_sim_ioctl_writer_stop(struct vfio_dirty_sim *sim)
{
	return vfio_dirty_sim_writer_stop(sim);
}

/*
 * The sequence number the log holds for page @index, 0 if none; with
 * @clear, the log forgets it but keeps the page's slot reserved, so that a
 * write in flight records its number there without allocating.
 */
static u64 sim_log_take(struct vfio_dirty_sim *sim, unsigned long index,
			bool clear)
{
	void *entry;

	if (!clear) {
		entry = xa_load(&sim->wlog, index);
		return xa_is_value(entry) ? xa_to_value(entry) : 0;
	}
	xa_lock(&sim->wlog);
	entry = xa_load(&sim->wlog, index);
	if (xa_is_value(entry))
		__xa_cmpxchg(&sim->wlog, index, entry, XA_ZERO_ENTRY, GFP_ATOMIC);
	xa_unlock(&sim->wlog);
	return xa_is_value(entry) ? xa_to_value(entry) : 0;
}

/**
 * vfio_dirty_sim_log_entry() - the write log's entry of one page
 * @sim: the device
 * @index: the page, IOVA >> PAGE_SHIFT
 *
 * Return: the sequence number of the last successful write of the page,
 * 0 if none.
 */
u64 vfio_dirty_sim_log_entry(struct vfio_dirty_sim *sim, unsigned long index)
{
	return sim_log_take(sim, index, false);
}

/**
 * vfio_dirty_sim_ioctl_log_read() - VFIO_DIRTY_SIM_LOG_READ
 * @sim: the device
 * @arg: user pointer to struct vfio_dirty_sim_log
 *
 * Return: 0, -EINVAL or -EFAULT.
 */
long vfio_dirty_sim_ioctl_log_read(struct vfio_dirty_sim *sim,
				   void __user *arg)
{
	unsigned long minsz = offsetofend(struct vfio_dirty_sim_log, failed);
	struct vfio_dirty_sim_log log;
	u64 __user *useqs;
	unsigned long index;
	struct sim_pages p;
	u64 i, seq;
	int ret;

	if (copy_from_user(&log, arg, minsz))
		return -EFAULT;
	if (log.argsz < minsz || log.flags & ~VFIO_DIRTY_SIM_LOG_CLEAR ||
	    !log.npages || log.npages > VFIO_DIRTY_SIM_LOG_MAX_PAGES) {
		dev_dbg(sim->vdev.dev, "log: argsz %u, flags %#x or %llu pages\n",
			log.argsz, log.flags, log.npages);
		return -EINVAL;
	}
	ret = sim_check_range(sim, log.iova, log.npages << PAGE_SHIFT, 0, &p);
	if (ret)
		return ret;
	useqs = u64_to_user_ptr(log.seqs);

	/* Sample the counters first: every seq read below is at most @seq. */
	log.seq = atomic64_read(&sim->seq);
	log.failed = log.flags & VFIO_DIRTY_SIM_LOG_CLEAR ?
		     atomic64_xchg(&sim->failed, 0) : atomic64_read(&sim->failed);
	for (i = 0, index = p.first; i < log.npages; i++, index++) {
		seq = sim_log_take(sim, index, log.flags & VFIO_DIRTY_SIM_LOG_CLEAR);
		if (put_user(seq, useqs + i))
			return -EFAULT;
		cond_resched();
	}
	return copy_to_user(arg, &log, minsz) ? -EFAULT : 0;
}

/*
 * Unpin every page the engine holds between page indexes @first and @last,
 * once the pins and unpins in flight there are done.
 */
static void sim_unpin(struct vfio_dirty_sim *sim, unsigned long first,
		      unsigned long last)
{
	unsigned long index = first;
	void *entry;

	mutex_lock(&sim->pin_lock);
	while ((entry = xa_find(&sim->pinned, &index, last, XA_PRESENT))) {
		if (entry == SIM_BUSY) {
			sim_wait_settled(sim, index);
			continue;
		}
		xa_store(&sim->pinned, index, SIM_BUSY, GFP_KERNEL_ACCOUNT);
		mutex_unlock(&sim->pin_lock);
		vfio_unpin_pages(&sim->vdev, (dma_addr_t)index << PAGE_SHIFT, 1);
		mutex_lock(&sim->pin_lock);
		xa_erase(&sim->pinned, index);
		wake_up_all(&sim->pin_wait);
		if (index++ == last)
			break;
	}
	mutex_unlock(&sim->pin_lock);
}

/**
 * vfio_dirty_sim_dma_unmap() - the vfio_device_ops dma_unmap callback
 * @vdev: the device
 * @iova: first byte the container unmaps
 * @length: bytes
 *
 * Unpins every page the engine holds in the range, after any transfer in
 * progress through one of them, and fences the range against pinning.
 * The sysfs knobs make it slow (unmap_delay_ms), to widen the window in
 * which the backend has its lock dropped, or broken (unmap_ignore).
 */
void vfio_dirty_sim_dma_unmap(struct vfio_device *vdev, u64 iova, u64 length)
{
	struct vfio_dirty_sim *sim = to_sim(vdev);
	unsigned int delay = READ_ONCE(sim->unmap_delay_ms);
	struct sim_pages p;

	atomic64_inc(&sim->unmap_calls);
	if (delay)
		msleep(delay);
	if (READ_ONCE(sim->unmap_ignore) ||
	    sim_check_range(sim, iova, length, 0, &p))
		return;
	mutex_lock(&sim->pin_lock);
	/*
	 * A fence costs one maple tree entry whatever the range's size; the
	 * allocation may sleep but must not fail, or the engine could pin
	 * again under the backend's retry loop.
	 */
	mtree_store_range(&sim->fenced, p.first, p.last, xa_mk_value(1),
			  GFP_KERNEL_ACCOUNT | __GFP_NOFAIL);
	mutex_unlock(&sim->pin_lock);
	sim_unpin(sim, p.first, p.last);
}

/**
 * vfio_dirty_sim_dma_close() - stop the engine when the device is closed
 * @sim: the device
 *
 * Stops the writer, unpins everything and lifts every fence: nothing of the
 * engine outlives an open of the device.
 */
void vfio_dirty_sim_dma_close(struct vfio_dirty_sim *sim)
{
	mutex_lock(&sim->state_lock);
	sim->open = false;
	sim->regs.ctrl &= ~VFIO_DIRTY_SIM_CTRL_RUN;
	vfio_dirty_sim_writer_sync(sim);
	mutex_unlock(&sim->state_lock);
	sim_unpin(sim, 0, ULONG_MAX);
	mutex_lock(&sim->pin_lock);
	mtree_destroy(&sim->fenced);
	mutex_unlock(&sim->pin_lock);
	xa_destroy(&sim->wlog);
	atomic64_set(&sim->failed, 0);
}

/**
 * vfio_dirty_sim_dma_init() - set up the engine of a new device
 * @sim: the device
 */
void vfio_dirty_sim_dma_init(struct vfio_dirty_sim *sim)
{
	atomic64_set(&sim->seq, 0);
	atomic64_set(&sim->failed, 0);
	xa_init(&sim->wlog);
	mutex_init(&sim->pin_lock);
	xa_init(&sim->pinned);
	init_waitqueue_head(&sim->pin_wait);
	mt_init(&sim->fenced);
	atomic64_set(&sim->unmap_calls, 0);
	mutex_init(&sim->state_lock);
}

/**
 * vfio_dirty_sim_dma_release() - tear down what vfio_dirty_sim_dma_init() set up
 * @sim: the device, closed
 */
void vfio_dirty_sim_dma_release(struct vfio_dirty_sim *sim)
{
	/* dma_unmap may have fenced ranges since the last close. */
	mtree_destroy(&sim->fenced);
	xa_destroy(&sim->wlog);
	mutex_destroy(&sim->state_lock);
	mutex_destroy(&sim->pin_lock);
}

/* The longest unmap_delay_ms: a minute, so that a test cannot hang forever. */
#define SIM_UNMAP_DELAY_MAX_MS	60000

static ssize_t unmap_delay_ms_show(struct device *dev,
				   struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(dev_to_sim(dev)->unmap_delay_ms));
}

static ssize_t unmap_delay_ms_store(struct device *dev,
				    struct device_attribute *attr,
				    const char *buf, size_t count)
{
	unsigned int val;
	int ret;

	ret = kstrtouint(buf, 0, &val);
	if (ret)
		return ret;
	if (val > SIM_UNMAP_DELAY_MAX_MS)
		return -EINVAL;
	WRITE_ONCE(dev_to_sim(dev)->unmap_delay_ms, val);
	return count;
}
static DEVICE_ATTR_RW(unmap_delay_ms);

static ssize_t unmap_ignore_show(struct device *dev,
				 struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%d\n", READ_ONCE(dev_to_sim(dev)->unmap_ignore));
}

static ssize_t unmap_ignore_store(struct device *dev,
				  struct device_attribute *attr,
				  const char *buf, size_t count)
{
	bool val;
	int ret;

	ret = kstrtobool(buf, &val);
	if (ret)
		return ret;
	WRITE_ONCE(dev_to_sim(dev)->unmap_ignore, val);
	return count;
}
static DEVICE_ATTR_RW(unmap_ignore);

static ssize_t unmap_calls_show(struct device *dev,
				struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lld\n",
			  atomic64_read(&dev_to_sim(dev)->unmap_calls));
}
static DEVICE_ATTR_RO(unmap_calls);

static struct attribute *vfio_dirty_sim_dma_attrs[] = {
	&dev_attr_unmap_delay_ms.attr,
	&dev_attr_unmap_ignore.attr,
	&dev_attr_unmap_calls.attr,
	NULL,
};

const struct attribute_group vfio_dirty_sim_dma_group = {
	.attrs = vfio_dirty_sim_dma_attrs,
};

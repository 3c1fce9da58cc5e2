// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio_dirty: test hooks.
 *
 * Built only with CONFIG_VFIO_DIRTY_TEST=y, for the selftests and the
 * benchmarks; a production build has none of this, and its container
 * ioctl answers -ENOTTY where this file would be called.  The hooks reach
 * states a device cannot reach in a test VM: VFIO_DIRTY_TEST_SET_DIRTY marks
 * terabytes dirty through the same path as a device's write, without the
 * write; VFIO_DIRTY_TEST_FAIL_ALLOC makes the memory of dirty bits fail,
 * through vfio_dirty_should_fail(), which production builds define as
 * false.  The uAPI is in vfio_dirty_test.h.
 *
 * The write-only parameter "provoke" makes the module commit, on purpose,
 * one of the bugs the sanitizer kernel reports (a leak, a lock order
 * inversion, an out-of-bounds read, ...), so that a test can show that
 * kernel_health.sh notices each report; the kernel then carries on.
 */
#include <linux/atomic.h>
#include <linux/delay.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "private.h"
#include "vfio_dirty_test.h"

/* Bytes marked between two yields of the CPU: 32 GiB, 2^23 bits at 4 KiB. */
#define SET_DIRTY_STEP	(32ULL << 30)

static int set_dirty(struct vfio_dirty_iommu *iommu, unsigned long arg)
{
	unsigned long minsz = offsetofend(struct vfio_dirty_test_set_dirty, size);
	struct vfio_dirty_test_set_dirty set;
	struct vfio_dirty_dma *dma;
	u64 pgsize, last, offset, len;
	int ret = 0;

	if (copy_from_user(&set, (void __user *)arg, minsz))
		return -EFAULT;
	if (set.argsz < minsz || set.flags || !set.size ||
	    check_add_overflow(set.iova, set.size - 1, &last))
		return -EINVAL;

	mutex_lock(&iommu->lock);
	pgsize = 1ULL << vfio_dirty_pgshift(iommu);
	dma = vfio_dirty_dma_first(iommu, set.iova, set.iova);
	if (!iommu->tracking || (set.iova | set.size) & (pgsize - 1) || !dma ||
	    dma->iova > set.iova || last > dma->iova + (dma->size - 1)) {
		ret = -EINVAL;
		goto out_unlock;
	}
	for (offset = set.iova - dma->iova; offset <= last - dma->iova;
	     offset += len) {
		len = min(SET_DIRTY_STEP, last - dma->iova - offset + 1);
		vfio_dirty_mark(iommu, dma, offset, len);
		cond_resched();
	}
out_unlock:
	mutex_unlock(&iommu->lock);
	return ret;
}

/* Allocations of dirty bits left to fail. */
static atomic_t fail_allocs = ATOMIC_INIT(0);

/**
 * vfio_dirty_should_fail() - fail this allocation of dirty bits?
 *
 * Return: true while VFIO_DIRTY_TEST_FAIL_ALLOC's count lasts, using one.
 */
bool vfio_dirty_should_fail(void)
{
	return atomic_add_unless(&fail_allocs, -1, 0);
}

static int fail_alloc(unsigned long arg)
{
	unsigned long minsz = offsetofend(struct vfio_dirty_test_fail_alloc, count);
	struct vfio_dirty_test_fail_alloc fail;

	if (copy_from_user(&fail, (void __user *)arg, minsz))
		return -EFAULT;
	if (fail.argsz < sizeof(fail) || fail.flags || fail.count > INT_MAX)
		return -EINVAL;
	fail.left = atomic_xchg(&fail_allocs, fail.count);
	return copy_to_user((void __user *)arg, &fail, sizeof(fail)) ? -EFAULT : 0;
}

/**
 * vfio_dirty_test_ioctl() - the test-only container ioctls
 * @iommu: the container
 * @cmd: the ioctl, one the backend does not know otherwise
 * @arg: its argument
 *
 * Return: what the ioctl returns; -ENOTTY for an unknown one.
 */
long vfio_dirty_test_ioctl(struct vfio_dirty_iommu *iommu, unsigned int cmd,
			   unsigned long arg)
{
	switch (cmd) {
	case VFIO_DIRTY_TEST_SET_DIRTY:
		return set_dirty(iommu, arg);
	case VFIO_DIRTY_TEST_FAIL_ALLOC:
		return fail_alloc(arg);
	default:
		return -ENOTTY;
	}
}

/*
 * The bugs "provoke" commits.  Each takes the path its sanitizer watches,
 * with values the compiler cannot see, so that it happens at run time.
 */
static DEFINE_MUTEX(provoke_outer);
static DEFINE_MUTEX(provoke_inner);
static DEFINE_SPINLOCK(provoke_spinlock);
static int __rcu *provoke_rcu_ptr;

/* Twice the RCU stall timeout the test sets (3 s, the least). */
#define PROVOKE_STALL_MS	6000

static int provoke_leak(void)
{
	void *p = kmalloc(64, GFP_KERNEL);

	if (!p)
		return -ENOMEM;
	pr_info("vfio_dirty: provoke: leaked 64 bytes\n");
	return 0;
}

static int provoke_lock_inversion(void)
{
	mutex_lock(&provoke_outer);
	mutex_lock(&provoke_inner);
	mutex_unlock(&provoke_inner);
	mutex_unlock(&provoke_outer);

	mutex_lock(&provoke_inner);
	mutex_lock(&provoke_outer);
	mutex_unlock(&provoke_outer);
	mutex_unlock(&provoke_inner);
	return 0;
}

static int provoke_out_of_bounds(void)
{
	size_t size = 13;
	u8 *p = kmalloc(size, GFP_KERNEL);

	if (!p)
		return -ENOMEM;
	OPTIMIZER_HIDE_VAR(size);
	pr_info("vfio_dirty: provoke: byte past a %zu-byte object: %u\n",
		size, READ_ONCE(p[size]));
	kfree(p);
	return 0;
}

static int provoke_shift(void)
{
	unsigned int shift = 32;
	u32 one = 1;

	OPTIMIZER_HIDE_VAR(shift);
	pr_info("vfio_dirty: provoke: 1 << %u = %u\n", shift, one << shift);
	return 0;
}

static int provoke_sleep_in_atomic(void)
{
	spin_lock(&provoke_spinlock);
	might_sleep();
	spin_unlock(&provoke_spinlock);
	return 0;
}

static int provoke_rcu_outside_reader(void)
{
	pr_info("vfio_dirty: provoke: rcu pointer %p\n",
		rcu_dereference(provoke_rcu_ptr));
	return 0;
}

static int provoke_rcu_stall(void)
{
	/* A grace period in flight, which this CPU then holds up. */
	start_poll_synchronize_rcu();
	preempt_disable();
	mdelay(PROVOKE_STALL_MS);
	preempt_enable();
	return 0;
}

static const struct {
	const char *name;
	int (*provoke)(void);
} provokes[] = {
	{ "leak", provoke_leak },
	{ "lock_inversion", provoke_lock_inversion },
	{ "out_of_bounds", provoke_out_of_bounds },
	{ "shift_out_of_bounds", provoke_shift },
	{ "sleep_in_atomic", provoke_sleep_in_atomic },
	{ "rcu_outside_reader", provoke_rcu_outside_reader },
	{ "rcu_stall", provoke_rcu_stall },
};

static int provoke_set(const char *val, const struct kernel_param *kp)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(provokes); i++)
		if (sysfs_streq(val, provokes[i].name))
			return provokes[i].provoke();
	return -EINVAL;
}

static const struct kernel_param_ops provoke_ops = {
	.set = provoke_set,
};
module_param_cb(provoke, &provoke_ops, NULL, 0200);
MODULE_PARM_DESC(provoke,
		 "Test only: commit one bug for the sanitizers to report (leak, lock_inversion, out_of_bounds, shift_out_of_bounds, sleep_in_atomic, rcu_outside_reader, rcu_stall)");

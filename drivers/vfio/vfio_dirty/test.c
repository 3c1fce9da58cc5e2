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
 * The module parameter drop_reports reaches users that cannot issue those
 * ioctls, such as QEMU: while its count lasts, each bitmap request (in any
 * container) reports no page and clears the bits as if it had, through
 * vfio_dirty_should_drop(), so that a test of a whole migration can show
 * that it notices pages lost.
 */
#include <linux/atomic.h>
#include <linux/moduleparam.h>
#include <linux/sched.h>
#include <linux/sysfs.h>
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

/* Bitmap requests left to drop. */
static atomic_t drop_reports = ATOMIC_INIT(0);

/**
 * vfio_dirty_should_drop() - report no page in this bitmap request?
 *
 * Return: true while drop_reports' count lasts, using one.
 */
bool vfio_dirty_should_drop(void)
{
	return atomic_add_unless(&drop_reports, -1, 0);
}

static int drop_reports_set(const char *val, const struct kernel_param *kp)
{
	unsigned int n;
	int ret;

	ret = kstrtouint(val, 0, &n);
	if (ret)
		return ret;
	if (n > INT_MAX)
		return -EINVAL;
	atomic_set(&drop_reports, n);
	return 0;
}

static int drop_reports_get(char *buffer, const struct kernel_param *kp)
{
	return sysfs_emit(buffer, "%d\n", atomic_read(&drop_reports));
}

static const struct kernel_param_ops drop_reports_ops = {
	.set = drop_reports_set,
	.get = drop_reports_get,
};

module_param_cb(drop_reports, &drop_reports_ops, NULL, 0644);
MODULE_PARM_DESC(drop_reports,
		 "Test only: how many of the next bitmap requests report no page, clearing the bits all the same (default: 0)");

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

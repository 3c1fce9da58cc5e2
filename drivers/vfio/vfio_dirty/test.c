// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio_dirty: test hooks.
 *
 * Built only with CONFIG_VFIO_DIRTY_TEST=y, for the selftests and the
 * benchmarks; a production build has none of this, and its container
 * ioctl answers -ENOTTY where this file would be called.  The hooks reach
 * states a device cannot reach in a test VM: VFIO_DIRTY_TEST_SET_DIRTY marks
 * terabytes dirty through the same path as a device's write, without the
 * write; VFIO_DIRTY_TEST_FAIL_ALLOC makes the memory of dirty bits fail;
 * VFIO_DIRTY_TEST_SIZES says what tracking_bytes counts for each table and
 * each block, the sizes of structures a test cannot see.  The uAPI is in
 * vfio_dirty_test.h.
 *
 * Fault injection.  Every call of the backend that can fail (each
 * allocation, each copy to or from the user, each pin, each iommu_map(),
 * each IOMMU call of an attach: enum vfio_dirty_fault) is preceded by
 * vfio_dirty_should_fail() with its point, which production builds define
 * as false.  When it returns true the caller takes the error path with the
 * errno the real call would return.  It returns true:
 *
 * - at the Nth point the task that armed the fail_nth parameter (by writing
 *   N to it) hits, once: /proc/thread-self/fail-nth's contract, for the
 *   module's own points, on kernels built without fault injection.  The
 *   parameter reads back the hits left before the failure, 0 once it came;
 *   fail_point names the point that failed last;
 * - at the points of dirty bits, while VFIO_DIRTY_TEST_FAIL_ALLOC's count
 *   lasts, in any task;
 * - on a kernel with CONFIG_FAULT_INJECTION, wherever the fault attribute
 *   fail_vfio_dirty says so, which includes the Nth point, or real
 *   allocation, of a task that wrote N to /proc/thread-self/fail-nth.
 *
 * A sweep arms n = 1, 2, ... in turn around one call, until the call
 * completes without the fault coming, and checks after each that the error
 * path lost and leaked nothing (tools/testing/selftests/vfio/
 * vfio_dirty_fail_nth_test.c).
 *
 * Negative controls.  The module parameters whose names start with
 * "break_" break the module on purpose, each in one way a test must
 * notice, so that the test can show it does:
 *
 * - break_unwind breaks one error path (enum vfio_dirty_unwind,
 *   vfio_dirty_unwind_broken()): the fault injection sweep's control;
 * - break_unmap_size makes every unmap that removes something report one
 *   page too many: the differential fuzzer's control;
 * - break_reports, while its count lasts, makes each bitmap request (in
 *   any container) report no page and clear the bits as if it had
 *   (vfio_dirty_should_drop()): it reaches users that cannot issue the
 *   ioctls above, such as QEMU, for the migration test's control.
 *
 * The write-only parameter "provoke" makes the module commit, on purpose,
 * one of the bugs the sanitizer kernel reports (a leak, a lock order
 * inversion, an out-of-bounds read, ...), so that a test can show that
 * kernel_health.sh notices each report; the kernel then carries on.
 *
 * Locking: fail_lock protects the armed task and its count; the rest is
 * read and written whole.
 */
#include <linux/atomic.h>
#include <linux/capability.h>
#include <linux/delay.h>
#include <linux/fault-inject.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
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

static const char *const fault_names[VFIO_DIRTY_FAULT_NR] = {
	[VFIO_DIRTY_FAULT_OPEN_ALLOC] = "open_alloc",
	[VFIO_DIRTY_FAULT_INFO_COPY_IN] = "info_copy_in",
	[VFIO_DIRTY_FAULT_INFO_CAP_MIGRATION] = "info_cap_migration",
	[VFIO_DIRTY_FAULT_INFO_CAP_DMA_AVAIL] = "info_cap_dma_avail",
	[VFIO_DIRTY_FAULT_INFO_CAP_IOVA_RANGE] = "info_cap_iova_range",
	[VFIO_DIRTY_FAULT_INFO_COPY_CAPS] = "info_copy_caps",
	[VFIO_DIRTY_FAULT_INFO_COPY_OUT] = "info_copy_out",
	[VFIO_DIRTY_FAULT_MAP_COPY_IN] = "map_copy_in",
	[VFIO_DIRTY_FAULT_UNMAP_COPY_IN] = "unmap_copy_in",
	[VFIO_DIRTY_FAULT_UNMAP_COPY_BITMAP] = "unmap_copy_bitmap",
	[VFIO_DIRTY_FAULT_UNMAP_COPY_OUT] = "unmap_copy_out",
	[VFIO_DIRTY_FAULT_DIRTY_COPY_IN] = "dirty_copy_in",
	[VFIO_DIRTY_FAULT_DIRTY_COPY_RANGE] = "dirty_copy_range",
	[VFIO_DIRTY_FAULT_MAP_ALLOC] = "map_alloc",
	[VFIO_DIRTY_FAULT_PIN_BATCH_ALLOC] = "pin_batch_alloc",
	[VFIO_DIRTY_FAULT_PIN_USER] = "pin_user",
	[VFIO_DIRTY_FAULT_ACCOUNT] = "account",
	[VFIO_DIRTY_FAULT_IOMMU_MAP] = "iommu_map",
	[VFIO_DIRTY_FAULT_IOMMU_MAP_COPY] = "iommu_map_copy",
	[VFIO_DIRTY_FAULT_OWNER_ACCOUNT] = "owner_account",
	[VFIO_DIRTY_FAULT_GROUP_ALLOC] = "group_alloc",
	[VFIO_DIRTY_FAULT_DOMAIN_ALLOC] = "domain_alloc",
	[VFIO_DIRTY_FAULT_IOMMU_DOMAIN_ALLOC] = "iommu_domain_alloc",
	[VFIO_DIRTY_FAULT_IOMMU_ATTACH] = "iommu_attach",
	[VFIO_DIRTY_FAULT_RESV_REGIONS] = "resv_regions",
	[VFIO_DIRTY_FAULT_MSI_COOKIE] = "msi_cookie",
	[VFIO_DIRTY_FAULT_IOVA_ALLOC] = "iova_alloc",
	[VFIO_DIRTY_FAULT_REFRESH_RESV_REGIONS] = "refresh_resv_regions",
	[VFIO_DIRTY_FAULT_PIN_ALLOC] = "pin_alloc",
	[VFIO_DIRTY_FAULT_PIN_INSERT] = "pin_insert",
	[VFIO_DIRTY_FAULT_DMA_RW_COPY] = "dma_rw_copy",
	[VFIO_DIRTY_FAULT_BITS_STORE] = "bits_store",
	[VFIO_DIRTY_FAULT_BITS_TABLE_ALLOC] = "bits_table_alloc",
	[VFIO_DIRTY_FAULT_BITS_BLOCK_ALLOC] = "bits_block_alloc",
	[VFIO_DIRTY_FAULT_REPORT_ALLOC] = "report_alloc",
	[VFIO_DIRTY_FAULT_REPORT_COPY_OUT] = "report_copy_out",
};

static DEFINE_SPINLOCK(fail_lock);
/* The task that armed fail_nth, by its pid, and the hits it has left. */
static pid_t fail_pid;
static unsigned int fail_nth;
/* The point that failed last, VFIO_DIRTY_FAULT_NR for none. */
static int fail_point = VFIO_DIRTY_FAULT_NR;

#ifdef CONFIG_FAULT_INJECTION
static DECLARE_FAULT_ATTR(fail_vfio_dirty);

static bool should_fail_attr(void)
{
	return should_fail(&fail_vfio_dirty, 1);
}
#else
static bool should_fail_attr(void)
{
	return false;
}
#endif

static bool fail_armed(void)
{
	bool fail = false;

	spin_lock(&fail_lock);
	if (fail_nth && fail_pid == task_pid_nr(current))
		fail = !--fail_nth;
	spin_unlock(&fail_lock);
	return fail;
}

static bool fault_is_bits(enum vfio_dirty_fault point)
{
	return point == VFIO_DIRTY_FAULT_BITS_STORE ||
	       point == VFIO_DIRTY_FAULT_BITS_TABLE_ALLOC ||
	       point == VFIO_DIRTY_FAULT_BITS_BLOCK_ALLOC;
}

/**
 * vfio_dirty_should_fail() - make the call at a fault point fail?
 * @point: the fault point
 *
 * Return: true when the caller must fail as its call would (see the
 * top of this file), false to make the call.
 */
bool vfio_dirty_should_fail(enum vfio_dirty_fault point)
{
	bool fail;

	fail = fail_armed() ||
	       (fault_is_bits(point) && atomic_add_unless(&fail_allocs, -1, 0)) ||
	       should_fail_attr();
	if (fail)
		WRITE_ONCE(fail_point, point);
	return fail;
}

/*
 * fail_nth: writing N arms the writer (the thread) to fail at the Nth point
 * it hits, 0 disarms, and forgets the point that failed last; reading gives
 * the hits left, 0 once the failure came.
 */
static int fail_nth_set(const char *val, const struct kernel_param *kp)
{
	unsigned int n;
	int ret;

	ret = kstrtouint(val, 0, &n);
	if (ret)
		return ret;
	spin_lock(&fail_lock);
	fail_pid = n ? task_pid_nr(current) : 0;
	fail_nth = n;
	spin_unlock(&fail_lock);
	WRITE_ONCE(fail_point, VFIO_DIRTY_FAULT_NR);
	return 0;
}

static int fail_nth_get(char *buffer, const struct kernel_param *kp)
{
	unsigned int n;

	spin_lock(&fail_lock);
	n = fail_nth;
	spin_unlock(&fail_lock);
	return sysfs_emit(buffer, "%u\n", n);
}

static const struct kernel_param_ops fail_nth_ops = {
	.set = fail_nth_set,
	.get = fail_nth_get,
};

module_param_cb(fail_nth, &fail_nth_ops, NULL, 0600);
MODULE_PARM_DESC(fail_nth,
		 "Test only: the writing thread fails at the Nth fault point it hits; reads the hits left, 0 once failed (default: 0, none)");

static int fail_point_get(char *buffer, const struct kernel_param *kp)
{
	int point = READ_ONCE(fail_point);

	return sysfs_emit(buffer, "%s\n", point < VFIO_DIRTY_FAULT_NR ?
			  fault_names[point] : "none");
}

static const struct kernel_param_ops fail_point_ops = {
	.get = fail_point_get,
};

module_param_cb(fail_point, &fail_point_ops, NULL, 0400);
MODULE_PARM_DESC(fail_point,
		 "Test only: the fault point that failed last, since fail_nth was written (none)");

static const char *const unwind_names[] = {
	[VFIO_DIRTY_UNWIND_REPORT] = "report",
	[VFIO_DIRTY_UNWIND_PIN_ACCOUNT] = "pin_account",
};

/* The error path broken on purpose, -1 for none. */
static int break_unwind = -1;

/**
 * vfio_dirty_unwind_broken() - is this error path broken on purpose?
 * @path: the error path
 *
 * Return: true while the break_unwind parameter names @path.
 */
bool vfio_dirty_unwind_broken(enum vfio_dirty_unwind path)
{
	return READ_ONCE(break_unwind) == path;
}

static int break_unwind_set(const char *val, const struct kernel_param *kp)
{
	int path;

	if (sysfs_streq(val, "none")) {
		WRITE_ONCE(break_unwind, -1);
		return 0;
	}
	path = sysfs_match_string(unwind_names, val);
	if (path < 0)
		return path;
	WRITE_ONCE(break_unwind, path);
	return 0;
}

static int break_unwind_get(char *buffer, const struct kernel_param *kp)
{
	int path = READ_ONCE(break_unwind);

	return sysfs_emit(buffer, "%s\n", path < 0 ? "none" : unwind_names[path]);
}

static const struct kernel_param_ops break_unwind_ops = {
	.set = break_unwind_set,
	.get = break_unwind_get,
};

module_param_cb(break_unwind, &break_unwind_ops, NULL, 0600);
MODULE_PARM_DESC(break_unwind,
		 "Test only, breaks the module on purpose: break one error path, to show the fault injection sweep notices: report (a failed GET_BITMAP clears its bits), pin_account (a failed emulated pin stays in locked_vm), or none (default: none)");

/* Bitmap requests left to drop. */
static atomic_t break_reports = ATOMIC_INIT(0);

/**
 * vfio_dirty_should_drop() - report no page in this bitmap request?
 *
 * Return: true while break_reports' count lasts, using one.
 */
bool vfio_dirty_should_drop(void)
{
	return atomic_add_unless(&break_reports, -1, 0);
}

static int break_reports_set(const char *val, const struct kernel_param *kp)
{
	unsigned int n;
	int ret;

	ret = kstrtouint(val, 0, &n);
	if (ret)
		return ret;
	if (n > INT_MAX)
		return -EINVAL;
	atomic_set(&break_reports, n);
	return 0;
}

static int break_reports_get(char *buffer, const struct kernel_param *kp)
{
	return sysfs_emit(buffer, "%d\n", atomic_read(&break_reports));
}

static const struct kernel_param_ops break_reports_ops = {
	.set = break_reports_set,
	.get = break_reports_get,
};

module_param_cb(break_reports, &break_reports_ops, NULL, 0644);
MODULE_PARM_DESC(break_reports,
		 "Test only, breaks the module on purpose: how many of the next bitmap requests report no page, clearing the bits all the same (default: 0)");

static int fail_alloc(unsigned long arg)
{
	unsigned long minsz = offsetofend(struct vfio_dirty_test_fail_alloc, count);
	struct vfio_dirty_test_fail_alloc fail;

	/* Unlike the other hooks, it acts on every container. */
	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (copy_from_user(&fail, (void __user *)arg, minsz))
		return -EFAULT;
	if (fail.argsz < sizeof(fail) || fail.flags || fail.count > INT_MAX)
		return -EINVAL;
	fail.left = atomic_xchg(&fail_allocs, fail.count);
	return copy_to_user((void __user *)arg, &fail, sizeof(fail)) ? -EFAULT : 0;
}

static int storage_sizes(unsigned long arg)
{
	unsigned long minsz = offsetofend(struct vfio_dirty_test_sizes, flags);
	struct vfio_dirty_test_sizes sizes;

	if (copy_from_user(&sizes, (void __user *)arg, minsz))
		return -EFAULT;
	if (sizes.argsz < sizeof(sizes) || sizes.flags)
		return -EINVAL;
	vfio_dirty_storage_sizes(&sizes.table_bytes, &sizes.block_bytes);
	return copy_to_user((void __user *)arg, &sizes, sizeof(sizes)) ?
	       -EFAULT : 0;
}

static bool break_unmap_size;
module_param(break_unmap_size, bool, 0644);
MODULE_PARM_DESC(break_unmap_size,
		 "Test only, breaks the module on purpose: report one page too many in the size of every unmap that removes something (default: N)");

/**
 * vfio_dirty_test_unmapped() - the size an unmap reports
 * @unmapped: the bytes it unmapped (or whose vaddr it invalidated)
 *
 * Return: @unmapped, or one page more while break_unmap_size is set and
 * @unmapped is not 0.
 */
u64 vfio_dirty_test_unmapped(u64 unmapped)
{
	return unmapped && READ_ONCE(break_unmap_size) ? unmapped + PAGE_SIZE :
							unmapped;
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
	case VFIO_DIRTY_TEST_SIZES:
		return storage_sizes(arg);
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

/*
 * Twice the time the RCU stall detector waits with the timeout the test
 * sets: rcu_cpu_stall_timeout (3 s, the least) plus the 5 s that
 * PROVE_RCU adds to it.
 */
#define PROVOKE_STALL_MS	16000

/*
 * Past the largest kmalloc cache, so that it comes from the page allocator:
 * an object of a slab cache is handed out of a per-CPU array whose slot
 * keeps its address (SLUB's sheaves, 7.3), and kmemleak, which scans that
 * array, takes the stale address for a reference and never reports it.
 * Sixteen of them: a stale copy of an address anywhere in the memory
 * kmemleak scans (a stack, an object's unwritten bytes) is taken for a
 * reference, and whole-suite runs on 7.3 saw none of one object listed,
 * and two of four.
 */
#define PROVOKE_LEAK_SIZE	(2 * KMALLOC_MAX_CACHE_SIZE)
#define PROVOKE_LEAKS		16

static int provoke_leak(void)
{
	int i;

	for (i = 0; i < PROVOKE_LEAKS; i++)
		if (!kmalloc(PROVOKE_LEAK_SIZE, GFP_KERNEL))
			return -ENOMEM;
	pr_info("vfio_dirty: provoke: leaked %d objects of %lu bytes\n",
		PROVOKE_LEAKS, (unsigned long)PROVOKE_LEAK_SIZE);
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

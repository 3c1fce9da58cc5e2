/* SPDX-License-Identifier: GPL-2.0-only WITH Linux-syscall-note */
/*
 * vfio_dirty: the test-only uAPI of test.c, in modules built with
 * CONFIG_VFIO_DIRTY_TEST=y (the selftests' build), issued on a container
 * file descriptor that uses vfio_dirty.  A module built without it answers
 * -ENOTTY.  Not a stable interface: it moves with the selftests.
 */
#ifndef _VFIO_DIRTY_TEST_H
#define _VFIO_DIRTY_TEST_H

#include <linux/types.h>
#include <linux/vfio.h>

#define VFIO_DIRTY_TEST_BASE	0xe0

/**
 * struct vfio_dirty_test_set_dirty - mark pages dirty
 * @argsz: sizeof(struct vfio_dirty_test_set_dirty)
 * @flags: 0
 * @iova: first byte, aligned to the container's page size
 * @size: bytes, aligned to it, not zero, all inside one mapping
 *
 * Records every page of the range as written, as a write by an emulated
 * device would, without writing it: so that tests can dirty terabytes.
 * Dirty tracking must be started.  Errors: -EINVAL for bad arguments, a
 * range not inside one mapping or tracking not started; -EFAULT.  Where
 * memory for the bits cannot be had, the mapping is reported whole at the
 * next report, as for a device's write.
 */
struct vfio_dirty_test_set_dirty {
	__u32 argsz;
	__u32 flags;
	__u64 iova;
	__u64 size;
};

#define VFIO_DIRTY_TEST_SET_DIRTY	_IO(VFIO_TYPE, VFIO_DIRTY_TEST_BASE + 0)

/**
 * struct vfio_dirty_test_fail_alloc - make dirty tracking's memory fail
 * @argsz: sizeof(struct vfio_dirty_test_fail_alloc)
 * @flags: 0
 * @count: how many of the next allocations of dirty bits (entries, tables
 *	and blocks, in any container) fail as if memory were short; 0 stops
 *	failing them
 * @left: out: how many of the last count set were not used, so a test can
 *	tell that its call reached an allocation
 *
 * Errors: -EPERM without CAP_SYS_ADMIN (it acts on every container);
 * -EINVAL for bad arguments; -EFAULT.
 */
struct vfio_dirty_test_fail_alloc {
	__u32 argsz;
	__u32 flags;
	__u32 count;
	__u32 left;
};

#define VFIO_DIRTY_TEST_FAIL_ALLOC	_IO(VFIO_TYPE, VFIO_DIRTY_TEST_BASE + 1)

/**
 * struct vfio_dirty_test_sizes - what stats/tracking_bytes counts
 * @argsz: sizeof(struct vfio_dirty_test_sizes)
 * @flags: 0
 * @table_bytes: out: the bytes of a span's table (a generation number and
 *	the pointers to its blocks)
 * @block_bytes: out: the bytes of a block of dirty bits (its bits, and one
 *	bit per 64-bit word of them)
 *
 * The sizes of the module's internal structures, which tracking_bytes adds
 * up, as this build lays them out, so that a test need not hard-code them.
 * Errors: -EINVAL for bad arguments; -EFAULT.
 */
struct vfio_dirty_test_sizes {
	__u32 argsz;
	__u32 flags;
	__u32 table_bytes;
	__u32 block_bytes;
};

#define VFIO_DIRTY_TEST_SIZES		_IO(VFIO_TYPE, VFIO_DIRTY_TEST_BASE + 2)

#endif /* _VFIO_DIRTY_TEST_H */

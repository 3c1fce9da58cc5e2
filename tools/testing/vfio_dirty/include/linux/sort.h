/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace stand-in for the kernel's <linux/sort.h>, on top of qsort().
 * The kernel sorts with a heapsort and qsort() may not, so callers must
 * compare with a total order for both to give the same result.  Only the
 * generic swap (a NULL swap_func) is supported.
 */
#ifndef _VFIO_DIRTY_SHIM_LINUX_SORT_H
#define _VFIO_DIRTY_SHIM_LINUX_SORT_H

#include <assert.h>
#include <stdlib.h>
#include <linux/types.h>

typedef int (*cmp_func_t)(const void *a, const void *b);
typedef void (*swap_func_t)(void *a, void *b, int size);

static inline void sort(void *base, size_t num, size_t size,
			cmp_func_t cmp_func, swap_func_t swap_func)
{
	assert(!swap_func);
	qsort(base, num, size, cmp_func);
}

#endif /* _VFIO_DIRTY_SHIM_LINUX_SORT_H */

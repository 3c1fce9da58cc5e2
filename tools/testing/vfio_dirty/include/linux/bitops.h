/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace stand-in for the kernel's <linux/bitops.h>: what bits.c uses. */
#ifndef _VFIO_DIRTY_SHIM_LINUX_BITOPS_H
#define _VFIO_DIRTY_SHIM_LINUX_BITOPS_H

#include <linux/types.h>

/* The index of the lowest set bit of @word, which must not be zero. */
static inline unsigned int __ffs64(u64 word)
{
	return __builtin_ctzll(word);
}

#endif /* _VFIO_DIRTY_SHIM_LINUX_BITOPS_H */

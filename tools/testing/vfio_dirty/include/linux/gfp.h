/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace stand-in for the kernel's <linux/gfp.h>: the flags spans.c
 * passes, which the stand-in allocators take as an unsigned int, and ignore.
 */
#ifndef _VFIO_DIRTY_SHIM_LINUX_GFP_H
#define _VFIO_DIRTY_SHIM_LINUX_GFP_H

#define GFP_KERNEL_ACCOUNT	0x1u
#define __GFP_RETRY_MAYFAIL	0x2u
#define __GFP_NOWARN		0x4u

#endif /* _VFIO_DIRTY_SHIM_LINUX_GFP_H */

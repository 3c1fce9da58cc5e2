/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace stand-in for the kernel's <linux/bits.h>: what spans.c uses. */
#ifndef _VFIO_DIRTY_SHIM_LINUX_BITS_H
#define _VFIO_DIRTY_SHIM_LINUX_BITS_H

#define BITS_PER_LONG	(__SIZEOF_LONG__ * 8)

#endif /* _VFIO_DIRTY_SHIM_LINUX_BITS_H */

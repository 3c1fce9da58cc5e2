/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace stand-in for the kernel's <linux/overflow.h>. */
#ifndef _VFIO_DIRTY_SHIM_LINUX_OVERFLOW_H
#define _VFIO_DIRTY_SHIM_LINUX_OVERFLOW_H

/* True if a + b wraps in the type of *d; *d holds the wrapped sum. */
#define check_add_overflow(a, b, d) __builtin_add_overflow(a, b, d)

#endif /* _VFIO_DIRTY_SHIM_LINUX_OVERFLOW_H */

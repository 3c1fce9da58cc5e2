/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace stand-in for the kernel's <linux/limits.h>: the uAPI header of
 * that name, which the C library's own headers include, and the C library's
 * <limits.h>, where the kernel's ULONG_MAX and friends are.
 */
#ifndef _VFIO_DIRTY_SHIM_LINUX_LIMITS_H
#define _VFIO_DIRTY_SHIM_LINUX_LIMITS_H

#include_next <linux/limits.h>
#include <limits.h>

#endif /* _VFIO_DIRTY_SHIM_LINUX_LIMITS_H */

/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace stand-in for the kernel's <linux/build_bug.h>: C11's static_assert. */
#ifndef _VFIO_DIRTY_SHIM_LINUX_BUILD_BUG_H
#define _VFIO_DIRTY_SHIM_LINUX_BUILD_BUG_H

#include <assert.h>

#endif /* _VFIO_DIRTY_SHIM_LINUX_BUILD_BUG_H */

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace stand-in for the kernel's <linux/errno.h>.  The values are the
 * uAPI ones, which <errno.h> uses too.  glibc's <errno.h> itself includes
 * <linux/errno.h>, so this header must not include <errno.h>: it passes on
 * to the system's uAPI header instead.
 */
#ifndef _VFIO_DIRTY_SHIM_LINUX_ERRNO_H
#define _VFIO_DIRTY_SHIM_LINUX_ERRNO_H

#include_next <linux/errno.h>

#endif /* _VFIO_DIRTY_SHIM_LINUX_ERRNO_H */

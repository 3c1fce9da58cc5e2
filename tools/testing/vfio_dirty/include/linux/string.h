/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace stand-in for the kernel's <linux/string.h>. */
#ifndef _VFIO_DIRTY_SHIM_LINUX_STRING_H
#define _VFIO_DIRTY_SHIM_LINUX_STRING_H

#include <string.h>

#endif /* _VFIO_DIRTY_SHIM_LINUX_STRING_H */

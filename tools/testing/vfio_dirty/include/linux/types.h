/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace stand-in for the kernel's <linux/types.h>: only the types the
 * pure logic under drivers/vfio/vfio_dirty uses, with the kernel's
 * definitions (u64 is unsigned long long on every architecture).
 */
#ifndef _VFIO_DIRTY_SHIM_LINUX_TYPES_H
#define _VFIO_DIRTY_SHIM_LINUX_TYPES_H

#include <stdbool.h>
#include <stddef.h>

typedef unsigned int u32;
typedef unsigned long long u64;
typedef long long s64;

#endif /* _VFIO_DIRTY_SHIM_LINUX_TYPES_H */

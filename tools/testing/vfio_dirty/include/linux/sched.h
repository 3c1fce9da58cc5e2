/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace stand-in for the kernel's <linux/sched.h>: cond_resched(). */
#ifndef _VFIO_DIRTY_SHIM_LINUX_SCHED_H
#define _VFIO_DIRTY_SHIM_LINUX_SCHED_H

static inline void cond_resched(void)
{
}

#endif /* _VFIO_DIRTY_SHIM_LINUX_SCHED_H */

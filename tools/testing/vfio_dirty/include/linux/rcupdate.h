/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace stand-in for the kernel's <linux/rcupdate.h>.  The unit tests
 * run one thread, so a read-side critical section is empty.
 */
#ifndef _VFIO_DIRTY_SHIM_LINUX_RCUPDATE_H
#define _VFIO_DIRTY_SHIM_LINUX_RCUPDATE_H

static inline void rcu_read_lock(void)
{
}

static inline void rcu_read_unlock(void)
{
}

#endif /* _VFIO_DIRTY_SHIM_LINUX_RCUPDATE_H */

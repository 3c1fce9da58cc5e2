// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio_dirty: a VFIO IOMMU backend that speaks the type1 uAPI and whose
 * dirty page tracking scales past 2^31 pages.
 *
 * This file holds module init and exit only.  The backend registers itself
 * with the VFIO core here once it exists; until then the module loads and
 * unloads without side effects, which the selftests check on every kernel
 * the project supports.
 */
#include <linux/init.h>
#include <linux/module.h>

static int __init vfio_dirty_init(void)
{
	return 0;
}
module_init(vfio_dirty_init);

static void __exit vfio_dirty_exit(void)
{
}
module_exit(vfio_dirty_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("VFIO type1-compatible IOMMU backend with scalable dirty tracking");

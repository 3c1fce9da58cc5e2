// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio_dirty: a VFIO IOMMU backend that speaks the type1 uAPI and whose
 * dirty page tracking scales past 2^31 pages.
 *
 * This file registers the backend with the VFIO core and holds the module
 * parameters.  The core offers a new container to the registered backends,
 * the most recently registered first: loaded after vfio_iommu_type1, this
 * one takes every type1 container unless "claim" is off.  container.c has
 * the entry points.
 */
#include <linux/init.h>
#include <linux/module.h>
#include <linux/moduleparam.h>

#include "private.h"

bool vfio_dirty_claim = true;
module_param_named(claim, vfio_dirty_claim, bool, 0644);
MODULE_PARM_DESC(claim,
		 "Back new type1 containers; when off they fall through to vfio_iommu_type1, existing ones stay (default: true)");

unsigned int vfio_dirty_dma_entry_limit __read_mostly = U16_MAX;
module_param_named(dma_entry_limit, vfio_dirty_dma_entry_limit, uint, 0644);
MODULE_PARM_DESC(dma_entry_limit,
		 "Maximum number of mappings per container, read when a container is opened (default: 65535)");

static const struct vfio_iommu_driver_ops vfio_dirty_ops = {
	.name			= "vfio-dirty",
	.owner			= THIS_MODULE,
	.open			= vfio_dirty_open,
	.release		= vfio_dirty_release,
	.ioctl			= vfio_dirty_ioctl,
	.attach_group		= vfio_dirty_attach_group,
	.detach_group		= vfio_dirty_detach_group,
	.pin_pages		= vfio_dirty_pin_pages,
	.unpin_pages		= vfio_dirty_unpin_pages,
	.register_device	= vfio_dirty_register_device,
	.unregister_device	= vfio_dirty_unregister_device,
	.dma_rw			= vfio_dirty_dma_rw,
	.group_iommu_domain	= vfio_dirty_group_iommu_domain,
#ifdef VFIO_DIRTY_OPS_NOTIFY
	.notify			= vfio_dirty_notify,
#endif
};

static int __init vfio_dirty_init(void)
{
	return vfio_register_iommu_driver(&vfio_dirty_ops);
}
module_init(vfio_dirty_init);

static void __exit vfio_dirty_exit(void)
{
	vfio_unregister_iommu_driver(&vfio_dirty_ops);
}
module_exit(vfio_dirty_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("VFIO type1-compatible IOMMU backend with scalable dirty tracking");

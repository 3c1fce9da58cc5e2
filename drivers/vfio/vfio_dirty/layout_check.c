// SPDX-License-Identifier: GPL-2.0-only
/*
 * Build-time check of compat.h against the target kernel.
 *
 * Built when KERNEL_VFIO_H names the target kernel's drivers/vfio/vfio.h
 * (the build finds it with scripts/kernel-vfio-h.sh in the kernel's
 * source, or is given it); a build from a headers package alone has none,
 * and relies on the layouts checked here by "make check" (see Kbuild).
 * The file is included here with every name compat.h also declares moved
 * aside, and each member of the two struct vfio_iommu_driver_ops must sit
 * at the same offset with the same size and type; so must the whole, and
 * the enumerators must agree.  This object holds no code: it exists to
 * fail the build on a mismatch.
 */
#ifndef KERNEL_VFIO_H
#error "KERNEL_VFIO_H must name the target kernel's drivers/vfio/vfio.h"
#endif

#include <linux/build_bug.h>
#include <linux/stddef.h>

#define vfio_iommu_driver_ops		kernel_ops
#define vfio_group_type			kernel_vfio_group_type
#define VFIO_IOMMU			KERNEL_VFIO_IOMMU
#define VFIO_EMULATED_IOMMU		KERNEL_VFIO_EMULATED_IOMMU
#define VFIO_NO_IOMMU			KERNEL_VFIO_NO_IOMMU
#define vfio_iommu_notify_type		kernel_vfio_iommu_notify_type
#define VFIO_IOMMU_CONTAINER_CLOSE	KERNEL_VFIO_IOMMU_CONTAINER_CLOSE
#define vfio_register_iommu_driver	kernel_vfio_register_iommu_driver
#define vfio_unregister_iommu_driver	kernel_vfio_unregister_iommu_driver
#include KERNEL_VFIO_H
#undef vfio_iommu_driver_ops
#undef vfio_group_type
#undef VFIO_IOMMU
#undef VFIO_EMULATED_IOMMU
#undef VFIO_NO_IOMMU
#undef vfio_iommu_notify_type
#undef VFIO_IOMMU_CONTAINER_CLOSE
#undef vfio_register_iommu_driver
#undef vfio_unregister_iommu_driver

#include "compat.h"

static_assert(sizeof(struct vfio_iommu_driver_ops) == sizeof(struct kernel_ops));
static_assert(offsetof(struct vfio_iommu_driver_ops, name) ==
	      offsetof(struct kernel_ops, name));
static_assert(sizeof_field(struct vfio_iommu_driver_ops, name) ==
	      sizeof_field(struct kernel_ops, name));
static_assert(offsetof(struct vfio_iommu_driver_ops, owner) ==
	      offsetof(struct kernel_ops, owner));
static_assert(sizeof_field(struct vfio_iommu_driver_ops, owner) ==
	      sizeof_field(struct kernel_ops, owner));
static_assert(offsetof(struct vfio_iommu_driver_ops, open) ==
	      offsetof(struct kernel_ops, open));
static_assert(sizeof_field(struct vfio_iommu_driver_ops, open) ==
	      sizeof_field(struct kernel_ops, open));
static_assert(offsetof(struct vfio_iommu_driver_ops, release) ==
	      offsetof(struct kernel_ops, release));
static_assert(sizeof_field(struct vfio_iommu_driver_ops, release) ==
	      sizeof_field(struct kernel_ops, release));
static_assert(offsetof(struct vfio_iommu_driver_ops, ioctl) ==
	      offsetof(struct kernel_ops, ioctl));
static_assert(sizeof_field(struct vfio_iommu_driver_ops, ioctl) ==
	      sizeof_field(struct kernel_ops, ioctl));
static_assert(offsetof(struct vfio_iommu_driver_ops, attach_group) ==
	      offsetof(struct kernel_ops, attach_group));
static_assert(sizeof_field(struct vfio_iommu_driver_ops, attach_group) ==
	      sizeof_field(struct kernel_ops, attach_group));
static_assert(offsetof(struct vfio_iommu_driver_ops, detach_group) ==
	      offsetof(struct kernel_ops, detach_group));
static_assert(sizeof_field(struct vfio_iommu_driver_ops, detach_group) ==
	      sizeof_field(struct kernel_ops, detach_group));
static_assert(offsetof(struct vfio_iommu_driver_ops, pin_pages) ==
	      offsetof(struct kernel_ops, pin_pages));
static_assert(sizeof_field(struct vfio_iommu_driver_ops, pin_pages) ==
	      sizeof_field(struct kernel_ops, pin_pages));
static_assert(offsetof(struct vfio_iommu_driver_ops, unpin_pages) ==
	      offsetof(struct kernel_ops, unpin_pages));
static_assert(sizeof_field(struct vfio_iommu_driver_ops, unpin_pages) ==
	      sizeof_field(struct kernel_ops, unpin_pages));
static_assert(offsetof(struct vfio_iommu_driver_ops, register_device) ==
	      offsetof(struct kernel_ops, register_device));
static_assert(sizeof_field(struct vfio_iommu_driver_ops, register_device) ==
	      sizeof_field(struct kernel_ops, register_device));
static_assert(offsetof(struct vfio_iommu_driver_ops, unregister_device) ==
	      offsetof(struct kernel_ops, unregister_device));
static_assert(sizeof_field(struct vfio_iommu_driver_ops, unregister_device) ==
	      sizeof_field(struct kernel_ops, unregister_device));
static_assert(offsetof(struct vfio_iommu_driver_ops, dma_rw) ==
	      offsetof(struct kernel_ops, dma_rw));
static_assert(sizeof_field(struct vfio_iommu_driver_ops, dma_rw) ==
	      sizeof_field(struct kernel_ops, dma_rw));
static_assert(offsetof(struct vfio_iommu_driver_ops, group_iommu_domain) ==
	      offsetof(struct kernel_ops, group_iommu_domain));
static_assert(sizeof_field(struct vfio_iommu_driver_ops, group_iommu_domain) ==
	      sizeof_field(struct kernel_ops, group_iommu_domain));
/*
 * The types too, where they do not involve the enums renamed above
 * (attach_group, notify): those are covered by the enumerator checks.
 */
static_assert(__same_type(((struct vfio_iommu_driver_ops *)0)->name,
			  ((struct kernel_ops *)0)->name));
static_assert(__same_type(((struct vfio_iommu_driver_ops *)0)->owner,
			  ((struct kernel_ops *)0)->owner));
static_assert(__same_type(((struct vfio_iommu_driver_ops *)0)->open,
			  ((struct kernel_ops *)0)->open));
static_assert(__same_type(((struct vfio_iommu_driver_ops *)0)->release,
			  ((struct kernel_ops *)0)->release));
static_assert(__same_type(((struct vfio_iommu_driver_ops *)0)->ioctl,
			  ((struct kernel_ops *)0)->ioctl));
static_assert(__same_type(((struct vfio_iommu_driver_ops *)0)->detach_group,
			  ((struct kernel_ops *)0)->detach_group));
static_assert(__same_type(((struct vfio_iommu_driver_ops *)0)->pin_pages,
			  ((struct kernel_ops *)0)->pin_pages));
static_assert(__same_type(((struct vfio_iommu_driver_ops *)0)->unpin_pages,
			  ((struct kernel_ops *)0)->unpin_pages));
static_assert(__same_type(((struct vfio_iommu_driver_ops *)0)->register_device,
			  ((struct kernel_ops *)0)->register_device));
static_assert(__same_type(((struct vfio_iommu_driver_ops *)0)->unregister_device,
			  ((struct kernel_ops *)0)->unregister_device));
static_assert(__same_type(((struct vfio_iommu_driver_ops *)0)->dma_rw,
			  ((struct kernel_ops *)0)->dma_rw));
static_assert(__same_type(((struct vfio_iommu_driver_ops *)0)->group_iommu_domain,
			  ((struct kernel_ops *)0)->group_iommu_domain));
static_assert((int)VFIO_IOMMU == (int)KERNEL_VFIO_IOMMU);
static_assert((int)VFIO_EMULATED_IOMMU == (int)KERNEL_VFIO_EMULATED_IOMMU);
static_assert((int)VFIO_NO_IOMMU == (int)KERNEL_VFIO_NO_IOMMU);
#ifdef VFIO_DIRTY_OPS_NOTIFY
static_assert(offsetof(struct vfio_iommu_driver_ops, notify) ==
	      offsetof(struct kernel_ops, notify));
static_assert(sizeof_field(struct vfio_iommu_driver_ops, notify) ==
	      sizeof_field(struct kernel_ops, notify));
static_assert((int)VFIO_IOMMU_CONTAINER_CLOSE == (int)KERNEL_VFIO_IOMMU_CONTAINER_CLOSE);
#endif

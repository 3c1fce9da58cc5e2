/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The VFIO core's interface to IOMMU backends, declared for this module.
 *
 * struct vfio_iommu_driver_ops lives in drivers/vfio/vfio.h, a header
 * private to the VFIO core that no headers package ships: an out-of-tree
 * backend has to declare it itself.  A declaration that differs from the
 * kernel's would make the core call through the wrong pointers, so a build
 * that has the target kernel's own vfio.h compiles layout_check.c, which
 * holds this declaration against it and stops on any difference in a
 * member's offset or size, in the size of the whole, or in the
 * enumerators.
 *
 * Two layouts are known: 6.1 has a notify() callback (for the container's
 * close), which later kernels dropped.  The build tells which applies from
 * the target's vfio.h, or, with only a headers package, from the series
 * (see Kbuild), and defines VFIO_DIRTY_OPS_NOTIFY for the first.
 */
#ifndef VFIO_DIRTY_COMPAT_H
#define VFIO_DIRTY_COMPAT_H

#include <linux/types.h>

struct iommu_domain;
struct iommu_group;
struct module;
struct page;
struct vfio_device;

/* How a group reached the container: see enum vfio_group_type upstream. */
enum vfio_group_type {
	VFIO_IOMMU,
	VFIO_EMULATED_IOMMU,
	VFIO_NO_IOMMU,
};

#ifdef VFIO_DIRTY_OPS_NOTIFY
enum vfio_iommu_notify_type {
	VFIO_IOMMU_CONTAINER_CLOSE = 0,
};
#endif

struct vfio_iommu_driver_ops {
	char		*name;
	struct module	*owner;
	void		*(*open)(unsigned long arg);
	void		(*release)(void *iommu_data);
	long		(*ioctl)(void *iommu_data, unsigned int cmd,
				 unsigned long arg);
	int		(*attach_group)(void *iommu_data,
					struct iommu_group *group,
					enum vfio_group_type type);
	void		(*detach_group)(void *iommu_data,
					struct iommu_group *group);
	int		(*pin_pages)(void *iommu_data,
				     struct iommu_group *group,
				     dma_addr_t user_iova, int npage, int prot,
				     struct page **pages);
	void		(*unpin_pages)(void *iommu_data, dma_addr_t user_iova,
				       int npage);
	void		(*register_device)(void *iommu_data,
					   struct vfio_device *vdev);
	void		(*unregister_device)(void *iommu_data,
					     struct vfio_device *vdev);
	int		(*dma_rw)(void *iommu_data, dma_addr_t user_iova,
				  void *data, size_t count, bool write);
	struct iommu_domain *(*group_iommu_domain)(void *iommu_data,
						   struct iommu_group *group);
#ifdef VFIO_DIRTY_OPS_NOTIFY
	void		(*notify)(void *iommu_data,
				  enum vfio_iommu_notify_type event);
#endif
};

int vfio_register_iommu_driver(const struct vfio_iommu_driver_ops *ops);
void vfio_unregister_iommu_driver(const struct vfio_iommu_driver_ops *ops);

#endif /* VFIO_DIRTY_COMPAT_H */

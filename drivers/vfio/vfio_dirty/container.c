// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio_dirty: the container's entry points, open, release and the type1
 * ioctls.
 *
 * Theory of operation
 *
 * Each ioctl copies the part of its argument it requires (up to the last
 * field it needs, "minsz"), checks argsz against it, refuses unknown flags
 * and ranges that wrap past the top of the 64-bit space, and calls an
 * internal function that trusts what it gets.  What depends on the
 * container's state (alignment to its page size, the mappings, whether it
 * tracks) is checked by the internals, under the container's lock.
 *
 * Extensions.  TYPE1 and TYPE1v2 containers, UNMAP_ALL, DMA_CC_IOMMU and
 * UPDATE_VADDR are offered as the stock type1 driver offers them:
 * UPDATE_VADDR to a container without an emulated group only, since an
 * emulated device may pin through a vaddr at any time.  Nesting
 * (VFIO_TYPE1_NESTING_IOMMU) is not: the core gives a container that asks
 * for it to another backend.  When the "claim" parameter is off, TYPE1 and
 * TYPE1v2 are not offered to new containers either, so the core gives them
 * to vfio_iommu_type1; containers this backend already has keep it.
 *
 * VFIO_UPDATE_VADDR is two flags: UNMAP_DMA with VFIO_DMA_UNMAP_FLAG_VADDR
 * invalidates the vaddr of the mappings in its range (alone or with ALL,
 * never with a dirty bitmap), and MAP_DMA with VFIO_DMA_MAP_FLAG_VADDR, and
 * neither READ nor WRITE, gives one such mapping its new vaddr (dma.c).
 */
#include <linux/overflow.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vfio.h>

#include "private.h"

/**
 * vfio_dirty_open() - the open callback: a new container
 * @arg: the type VFIO_SET_IOMMU asked for, VFIO_TYPE1_IOMMU or
 *	VFIO_TYPE1v2_IOMMU
 *
 * Return: the container, ERR_PTR(-EINVAL) for another type or
 * ERR_PTR(-ENOMEM).
 */
void *vfio_dirty_open(unsigned long arg)
{
	struct vfio_dirty_iommu *iommu;

	if (arg != VFIO_TYPE1_IOMMU && arg != VFIO_TYPE1v2_IOMMU)
		return ERR_PTR(-EINVAL);
	iommu = kzalloc(sizeof(*iommu), GFP_KERNEL_ACCOUNT);
	if (!iommu)
		return ERR_PTR(-ENOMEM);
	mutex_init(&iommu->devices_lock);
	mutex_init(&iommu->lock);
	INIT_LIST_HEAD(&iommu->devices);
	iommu->dmas = RB_ROOT;
	INIT_LIST_HEAD(&iommu->domains);
	INIT_LIST_HEAD(&iommu->emulated_groups);
	INIT_LIST_HEAD(&iommu->iovas);
	iommu->pgsize_bitmap = PAGE_MASK;
	iommu->dma_avail = READ_ONCE(vfio_dirty_dma_entry_limit);
	iommu->v2 = arg == VFIO_TYPE1v2_IOMMU;
	return iommu;
}

/**
 * vfio_dirty_release() - the release callback: free a container
 * @iommu_data: the container; no device of it is open
 */
void vfio_dirty_release(void *iommu_data)
{
	struct vfio_dirty_iommu *iommu = iommu_data;

	mutex_lock(&iommu->lock);
	vfio_dirty_dma_remove_all(iommu);
	vfio_dirty_groups_release(iommu);
	mutex_unlock(&iommu->lock);
	mutex_destroy(&iommu->lock);
	mutex_destroy(&iommu->devices_lock);
	kfree(iommu);
}

#ifdef VFIO_DIRTY_OPS_NOTIFY
/**
 * vfio_dirty_notify() - the notify callback, on kernels that have one
 * @iommu_data: the container
 * @event: VFIO_IOMMU_CONTAINER_CLOSE, the container's file is closing
 *
 * The stock driver of 6.1 wakes here the users that wait for an invalid
 * vaddr to be updated, but none can be waiting: pinning and dma_rw() fail
 * while a vaddr is invalid, and a group cannot attach then.  Nothing waits
 * on a container of this backend either, and release() frees everything
 * (invalid mappings included), so there is nothing to do.
 */
void vfio_dirty_notify(void *iommu_data, enum vfio_iommu_notify_type event)
{
}
#endif

static bool has_emulated_groups(struct vfio_dirty_iommu *iommu)
{
	bool ret;

	mutex_lock(&iommu->lock);
	ret = !list_empty(&iommu->emulated_groups);
	mutex_unlock(&iommu->lock);
	return ret;
}

static int check_extension(struct vfio_dirty_iommu *iommu, unsigned long arg)
{
	switch (arg) {
	case VFIO_TYPE1_IOMMU:
	case VFIO_TYPE1v2_IOMMU:
		/* Without a container the core is choosing a backend. */
		return iommu || READ_ONCE(vfio_dirty_claim);
	case VFIO_UNMAP_ALL:
		return 1;
	case VFIO_UPDATE_VADDR:
		return iommu && !has_emulated_groups(iommu);
	case VFIO_DMA_CC_IOMMU:
		return iommu ? vfio_dirty_enforce_cc(iommu) : 0;
	default:
		return 0;
	}
}

static int add_iova_cap(struct vfio_dirty_iommu *iommu,
			struct vfio_info_cap *caps)
{
	struct vfio_iommu_type1_info_cap_iova_range *cap;
	struct vfio_info_cap_header *header;
	struct vfio_dirty_iova *iova;
	u32 n = 0;

	list_for_each_entry(iova, &iommu->iovas, next)
		n++;
	if (!n)
		return 0;
	header = vfio_info_cap_add(caps, struct_size(cap, iova_ranges, n),
				   VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, 1);
	if (IS_ERR(header))
		return PTR_ERR(header);
	cap = container_of(header, struct vfio_iommu_type1_info_cap_iova_range,
			   header);
	cap->nr_iovas = n;
	n = 0;
	list_for_each_entry(iova, &iommu->iovas, next) {
		cap->iova_ranges[n].start = iova->start;
		cap->iova_ranges[n].end = iova->last;
		n++;
	}
	return 0;
}

static int add_caps(struct vfio_dirty_iommu *iommu, struct vfio_info_cap *caps)
{
	struct vfio_iommu_type1_info_cap_migration mig = {
		.header.id = VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION,
		.header.version = 1,
		.pgsize_bitmap = 1ULL << vfio_dirty_pgshift(iommu),
		.max_dirty_bitmap_size = READ_ONCE(vfio_dirty_max_bitmap_size),
	};
	struct vfio_iommu_type1_info_dma_avail avail = {
		.header.id = VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL,
		.header.version = 1,
		.avail = iommu->dma_avail,
	};
	int ret;

	lockdep_assert_held(&iommu->lock);
	ret = vfio_info_add_capability(caps, &mig.header, sizeof(mig));
	if (!ret)
		ret = vfio_info_add_capability(caps, &avail.header, sizeof(avail));
	if (!ret)
		ret = add_iova_cap(iommu, caps);
	return ret;
}

static int get_info(struct vfio_dirty_iommu *iommu, unsigned long arg)
{
	unsigned long minsz = offsetofend(struct vfio_iommu_type1_info, iova_pgsizes);
	struct vfio_iommu_type1_info __user *uinfo = (void __user *)arg;
	struct vfio_iommu_type1_info info = {};
	struct vfio_info_cap caps = {};
	int ret;

	if (copy_from_user(&info, uinfo, minsz))
		return -EFAULT;
	if (info.argsz < minsz)
		return -EINVAL;
	/* Older users know nothing of capabilities. */
	minsz = vfio_dirty_info_outsz(info.argsz);

	mutex_lock(&iommu->lock);
	info.flags = VFIO_IOMMU_INFO_PGSIZES;
	info.iova_pgsizes = iommu->pgsize_bitmap;
	ret = add_caps(iommu, &caps);
	mutex_unlock(&iommu->lock);
	if (ret)
		goto out_free_caps;

	if (caps.size) {
		info.flags |= VFIO_IOMMU_INFO_CAPS;
		if (info.argsz < sizeof(info) + caps.size) {
			info.argsz = sizeof(info) + caps.size;
		} else {
			vfio_info_cap_shift(&caps, sizeof(info));
			if (copy_to_user(uinfo + 1, caps.buf, caps.size)) {
				ret = -EFAULT;
				goto out_free_caps;
			}
			info.cap_offset = sizeof(info);
		}
	}
	if (copy_to_user(uinfo, &info, minsz))
		ret = -EFAULT;
out_free_caps:
	kfree(caps.buf);
	return ret;
}

static int map_dma(struct vfio_dirty_iommu *iommu, unsigned long arg)
{
	unsigned long minsz = offsetofend(struct vfio_iommu_type1_dma_map, size);
	struct vfio_iommu_type1_dma_map map;
	int prot = 0, ret;
	bool set_vaddr;

	if (copy_from_user(&map, (void __user *)arg, minsz))
		return -EFAULT;
	if (map.argsz < minsz ||
	    map.flags & ~(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE |
			  VFIO_DMA_MAP_FLAG_VADDR))
		return -EINVAL;
	if (!map.size)
		return -EINVAL;
	ret = vfio_dirty_range_wraps(map.iova, map.size, false) ?:
	      vfio_dirty_range_wraps(map.vaddr, map.size, false);
	if (ret)
		return ret;
	set_vaddr = map.flags & VFIO_DMA_MAP_FLAG_VADDR;
	if (map.flags & VFIO_DMA_MAP_FLAG_READ)
		prot |= IOMMU_READ;
	if (map.flags & VFIO_DMA_MAP_FLAG_WRITE)
		prot |= IOMMU_WRITE;
	/* A new vaddr keeps the mapping's permissions: it takes none. */
	if (!prot == !set_vaddr)
		return -EINVAL;
	if (set_vaddr)
		return vfio_dirty_dma_update_vaddr(iommu, map.iova, map.vaddr,
						   map.size);
	return vfio_dirty_dma_map(iommu, map.iova, map.vaddr, map.size, prot);
}

static int unmap_dma(struct vfio_dirty_iommu *iommu, unsigned long arg)
{
	unsigned long minsz = offsetofend(struct vfio_iommu_type1_dma_unmap, size);
	struct vfio_iommu_type1_dma_unmap unmap;
	struct vfio_bitmap bitmap;
	bool all, get_bitmap, vaddr;
	u64 unmapped;
	int ret;

	if (copy_from_user(&unmap, (void __user *)arg, minsz))
		return -EFAULT;
	if (unmap.argsz < minsz ||
	    unmap.flags & ~(VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP |
			    VFIO_DMA_UNMAP_FLAG_ALL |
			    VFIO_DMA_UNMAP_FLAG_VADDR))
		return -EINVAL;
	all = unmap.flags & VFIO_DMA_UNMAP_FLAG_ALL;
	get_bitmap = unmap.flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP;
	vaddr = unmap.flags & VFIO_DMA_UNMAP_FLAG_VADDR;
	/* Invalidating a vaddr unmaps nothing, so has no bitmap to give. */
	if (get_bitmap && vaddr)
		return -EINVAL;
	/* Before any check of the range, as the stock driver. */
	if (vaddr && has_emulated_groups(iommu))
		return -EBUSY;
	if (get_bitmap) {
		if (all || unmap.argsz < minsz + sizeof(bitmap))
			return -EINVAL;
		if (copy_from_user(&bitmap, (void __user *)(arg + minsz),
				   sizeof(bitmap)))
			return -EFAULT;
		if (!access_ok(bitmap.data, bitmap.size))
			return -EINVAL;
		ret = vfio_dirty_check_bitmap(unmap.size, bitmap.pgsize,
					      bitmap.size);
		if (ret)
			return ret;
	}
	if (all) {
		if (unmap.iova || unmap.size)
			return -EINVAL;
	} else {
		/* Alignment to pages comes first, as in the stock driver. */
		if (!unmap.size || (unmap.iova | unmap.size) & ~PAGE_MASK)
			return -EINVAL;
		ret = vfio_dirty_range_wraps(unmap.iova, unmap.size, false);
		if (ret)
			return ret;
	}

	if (vaddr)
		ret = vfio_dirty_dma_invalidate_vaddr(iommu, unmap.iova,
						      unmap.size, all, &unmapped);
	else
		ret = vfio_dirty_dma_unmap(iommu, unmap.iova, unmap.size, all,
					   get_bitmap ? &bitmap : NULL,
					   &unmapped);
	if (ret)
		return ret;
	unmap.size = vfio_dirty_test_unmapped(unmapped);
	return copy_to_user((void __user *)arg, &unmap, minsz) ? -EFAULT : 0;
}

static int dirty_get_bitmap(struct vfio_dirty_iommu *iommu, unsigned long arg,
			    u32 argsz)
{
	unsigned long minsz = offsetofend(struct vfio_iommu_type1_dirty_bitmap, flags);
	struct vfio_iommu_type1_dirty_bitmap_get range;
	int ret;

	if (argsz < minsz + sizeof(range))
		return -EINVAL;
	if (copy_from_user(&range, (void __user *)(arg + minsz), sizeof(range)))
		return -EFAULT;
	if (!range.size)
		return -EINVAL;
	ret = vfio_dirty_range_wraps(range.iova, range.size, true);
	if (ret)
		return ret;
	if (!access_ok(range.bitmap.data, range.bitmap.size))
		return -EINVAL;
	ret = vfio_dirty_check_bitmap(range.size, range.bitmap.pgsize,
				      range.bitmap.size);
	if (ret)
		return ret;
	return vfio_dirty_get_bitmap(iommu, range.iova, range.size,
				     range.bitmap.pgsize, range.bitmap.data);
}

static int dirty_pages(struct vfio_dirty_iommu *iommu, unsigned long arg)
{
	unsigned long minsz = offsetofend(struct vfio_iommu_type1_dirty_bitmap, flags);
	struct vfio_iommu_type1_dirty_bitmap dirty;

	if (!iommu->v2)
		return -EACCES;
	if (copy_from_user(&dirty, (void __user *)arg, minsz))
		return -EFAULT;
	if (dirty.argsz < minsz)
		return -EINVAL;

	switch (dirty.flags) {
	case VFIO_IOMMU_DIRTY_PAGES_FLAG_START:
		return vfio_dirty_track_start(iommu);
	case VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP:
		vfio_dirty_track_stop(iommu);
		return 0;
	case VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP:
		return dirty_get_bitmap(iommu, arg, dirty.argsz);
	default:
		/* No flag, an unknown one, or more than one. */
		return -EINVAL;
	}
}

/**
 * vfio_dirty_ioctl() - the ioctl callback
 * @iommu_data: the container; NULL for VFIO_CHECK_EXTENSION from the core
 *	choosing a backend for a new container
 * @cmd: the ioctl
 * @arg: its argument
 *
 * Return: what the ioctl returns; -ENOTTY for an unknown one.
 */
long vfio_dirty_ioctl(void *iommu_data, unsigned int cmd, unsigned long arg)
{
	struct vfio_dirty_iommu *iommu = iommu_data;

	switch (cmd) {
	case VFIO_CHECK_EXTENSION:
		return check_extension(iommu, arg);
	case VFIO_IOMMU_GET_INFO:
		return get_info(iommu, arg);
	case VFIO_IOMMU_MAP_DMA:
		return map_dma(iommu, arg);
	case VFIO_IOMMU_UNMAP_DMA:
		return unmap_dma(iommu, arg);
	case VFIO_IOMMU_DIRTY_PAGES:
		return dirty_pages(iommu, arg);
	default:
		return vfio_dirty_test_ioctl(iommu, cmd, arg);
	}
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio_dirty: the groups of a container, their IOMMU domains and the IOVA
 * ranges mappings may use.
 *
 * Theory of operation
 *
 * An IOMMU-backed group gets a domain of its own, allocated for one of its
 * devices, unless a domain of the same IOMMU (the same domain ops) with the
 * same cache coherency enforcement already exists: then it joins that one.
 * A new domain is first in the container's list and gets every mapping
 * replayed into it (dma.c): as the first domain it pins them, else it maps
 * what the next domain maps.  When a domain's last group leaves it is freed
 * and its mappings go with it; when the last domain goes, the mappings are
 * unpinned, and forgotten unless emulated groups remain.  An emulated group
 * (an mdev) has no domain and touches nothing here but its list.
 *
 * No group attaches while a mapping's vaddr is invalid (VFIO_UPDATE_VADDR,
 * see dma.c): an IOMMU-backed one would have every mapping pinned through
 * its vaddr, an emulated one could pin through it at any time.
 *
 * The usable IOVA ranges are empty, meaning "anything", until the first
 * IOMMU-backed group attaches; from then on they are the intersection of
 * every domain's aperture minus every group's reserved regions (but the
 * relaxable direct-mapped ones), sorted and disjoint.  A group that would
 * leave none, or whose aperture or reserved regions would take away IOVA an
 * existing mapping uses, is refused.  So is one whose MSIs are not isolated
 * (no interrupt remapping), since its devices could raise any interrupt,
 * unless the allow_unsafe_interrupts parameter says otherwise.  When a
 * group leaves, the ranges are computed again from what remains; with no
 * domain left that is all of the 64-bit space.  Ranges are (start, last),
 * last inclusive.
 *
 * Everything here runs under the container's lock.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/iommu.h>
#include <linux/list.h>
#include <linux/slab.h>

#include "private.h"

static struct vfio_dirty_group *group_in(struct list_head *groups,
					 struct iommu_group *iommu_group)
{
	struct vfio_dirty_group *group;

	list_for_each_entry(group, groups, next)
		if (group->iommu_group == iommu_group)
			return group;
	return NULL;
}

/**
 * vfio_dirty_find_group() - an attached group
 * @iommu: the container, locked
 * @iommu_group: the group
 *
 * Return: its record, or NULL if it is not attached.
 */
struct vfio_dirty_group *vfio_dirty_find_group(struct vfio_dirty_iommu *iommu,
					       struct iommu_group *iommu_group)
{
	struct vfio_dirty_domain *domain;
	struct vfio_dirty_group *group;

	lockdep_assert_held(&iommu->lock);
	list_for_each_entry(domain, &iommu->domains, next) {
		group = group_in(&domain->groups, iommu_group);
		if (group)
			return group;
	}
	return group_in(&iommu->emulated_groups, iommu_group);
}

/* Insert [@start, @last] before @pos (at the tail when @pos is a list head). */
static int iova_insert(struct list_head *pos, dma_addr_t start, dma_addr_t last)
{
	struct vfio_dirty_iova *iova;

	iova = vfio_dirty_should_fail(VFIO_DIRTY_FAULT_IOVA_ALLOC) ? NULL :
	       kmalloc(sizeof(*iova), GFP_KERNEL_ACCOUNT);
	if (!iova)
		return -ENOMEM;
	iova->start = start;
	iova->last = last;
	list_add_tail(&iova->next, pos);
	return 0;
}

static void iova_free(struct list_head *iovas)
{
	struct vfio_dirty_iova *iova, *tmp;

	list_for_each_entry_safe(iova, tmp, iovas, next) {
		list_del(&iova->next);
		kfree(iova);
	}
}

static int iova_copy(struct list_head *to, struct list_head *from)
{
	struct vfio_dirty_iova *iova;
	int ret;

	list_for_each_entry(iova, from, next) {
		ret = iova_insert(to, iova->start, iova->last);
		if (ret) {
			iova_free(to);
			return ret;
		}
	}
	return 0;
}

/* Keep only what of @iovas lies in [@start, @last]. */
static void iova_clip(struct list_head *iovas, dma_addr_t start,
		      dma_addr_t last)
{
	struct vfio_dirty_iova *iova, *tmp;

	list_for_each_entry_safe(iova, tmp, iovas, next) {
		if (iova->last < start || iova->start > last) {
			list_del(&iova->next);
			kfree(iova);
			continue;
		}
		iova->start = max(iova->start, start);
		iova->last = min(iova->last, last);
	}
}

/* Take the reserved regions @resv out of @iovas; -EINVAL if none is left. */
static int iova_exclude(struct list_head *iovas, struct list_head *resv)
{
	struct vfio_dirty_iova *iova, *tmp;
	struct iommu_resv_region *region;
	dma_addr_t start, last;
	int ret;

	list_for_each_entry(region, resv, list) {
		if (region->type == IOMMU_RESV_DIRECT_RELAXABLE)
			continue;
		start = region->start;
		last = region->start + region->length - 1;
		list_for_each_entry_safe(iova, tmp, iovas, next) {
			if (last < iova->start || start > iova->last)
				continue;
			ret = 0;
			if (start > iova->start)
				ret = iova_insert(&iova->next, iova->start,
						  start - 1);
			if (!ret && last < iova->last)
				ret = iova_insert(&iova->next, last + 1,
						  iova->last);
			if (ret)
				return ret;
			list_del(&iova->next);
			kfree(iova);
		}
	}
	return list_empty(iovas) ? -EINVAL : 0;
}

static void resv_free(struct list_head *resv)
{
	struct iommu_resv_region *region, *tmp;

	list_for_each_entry_safe(region, tmp, resv, list) {
		list_del(&region->list);
		kfree(region);
	}
}

/**
 * vfio_dirty_iova_usable() - may a mapping use [@start, @last]?
 * @iommu: the container, locked
 * @start: first byte
 * @last: last byte, inclusive
 *
 * Return: true if the range lies in one usable range, or any range is.
 */
bool vfio_dirty_iova_usable(struct vfio_dirty_iommu *iommu, dma_addr_t start,
			    dma_addr_t last)
{
	struct vfio_dirty_iova *iova;

	lockdep_assert_held(&iommu->lock);
	if (list_empty(&iommu->iovas))
		return true;
	list_for_each_entry(iova, &iommu->iovas, next)
		if (start >= iova->start && last <= iova->last)
			return true;
	return false;
}

/* Would the aperture [@start, @last] leave no usable IOVA, or cut a mapping? */
static bool aperture_conflict(struct vfio_dirty_iommu *iommu, dma_addr_t start,
			      dma_addr_t last)
{
	struct vfio_dirty_iova *first, *final;

	if (!list_empty(&iommu->iovas)) {
		first = list_first_entry(&iommu->iovas, struct vfio_dirty_iova,
					 next);
		final = list_last_entry(&iommu->iovas, struct vfio_dirty_iova,
					next);
		if (start > final->last || last < first->start)
			return true;
	}
	return (start && vfio_dirty_dma_first(iommu, 0, start - 1)) ||
	       (last != (dma_addr_t)~0 &&
		vfio_dirty_dma_first(iommu, last + 1, (dma_addr_t)~0));
}

/* Does a reserved region of @resv overlap a mapping? */
static bool resv_conflict(struct vfio_dirty_iommu *iommu, struct list_head *resv)
{
	struct iommu_resv_region *region;

	list_for_each_entry(region, resv, list)
		if (region->type != IOMMU_RESV_DIRECT_RELAXABLE &&
		    vfio_dirty_dma_first(iommu, region->start,
					 region->start + region->length - 1))
			return true;
	return false;
}

/* The software-managed MSI window of @resv, unless the IOMMU has a real one. */
static bool resv_sw_msi(struct list_head *resv, phys_addr_t *base)
{
	struct iommu_resv_region *region;
	bool found = false;

	list_for_each_entry(region, resv, list) {
		if (region->type == IOMMU_RESV_MSI)
			return false;
		if (region->type == IOMMU_RESV_SW_MSI) {
			*base = region->start;
			found = true;
		}
	}
	return found;
}

/* @bitmap with the sizes below PAGE_SIZE hidden behind PAGE_SIZE. */
static u64 pgsize_fit(u64 bitmap)
{
	if (bitmap & ~PAGE_MASK) {
		bitmap &= PAGE_MASK;
		bitmap |= PAGE_SIZE;
	}
	return bitmap;
}

/*
 * The page sizes every domain supports; sizes below PAGE_SIZE are hidden
 * behind PAGE_SIZE, since pinning works in pages.  Should the smallest
 * change while tracking, the bits kept are of the old size: every mapping
 * is reported whole instead.
 */
static void update_pgsize(struct vfio_dirty_iommu *iommu)
{
	unsigned int old = vfio_dirty_pgshift(iommu);
	struct vfio_dirty_domain *domain;
	u64 bitmap = U64_MAX;

	list_for_each_entry(domain, &iommu->domains, next)
		bitmap &= domain->domain->pgsize_bitmap;
	iommu->pgsize_bitmap = pgsize_fit(bitmap);
	if (vfio_dirty_pgshift(iommu) != old)
		vfio_dirty_mark_all(iommu);
}

/* Compute the usable IOVA ranges again after a group left; keep them on error. */
static void iova_refresh(struct vfio_dirty_iommu *iommu)
{
	dma_addr_t start = 0, last = (dma_addr_t)~0;
	struct vfio_dirty_domain *domain;
	struct vfio_dirty_group *group;
	LIST_HEAD(iovas);
	LIST_HEAD(resv);

	if (list_empty(&iommu->iovas))
		return;
	list_for_each_entry(domain, &iommu->domains, next) {
		start = max(start, domain->domain->geometry.aperture_start);
		last = min(last, domain->domain->geometry.aperture_end);
		list_for_each_entry(group, &domain->groups, next)
			if (vfio_dirty_should_fail(VFIO_DIRTY_FAULT_REFRESH_RESV_REGIONS) ||
			    iommu_get_group_resv_regions(group->iommu_group,
							 &resv))
				goto out_free;
	}
	if (iova_insert(&iovas, start, last) || iova_exclude(&iovas, &resv))
		goto out_free;
	iova_free(&iommu->iovas);
	list_splice_tail_init(&iovas, &iommu->iovas);
out_free:
	iova_free(&iovas);
	resv_free(&resv);
}

static int domain_alloc_dev(struct device *dev, void *data)
{
	struct iommu_domain **domain = data;

	*domain = vfio_dirty_should_fail(VFIO_DIRTY_FAULT_IOMMU_DOMAIN_ALLOC) ?
		  ERR_PTR(-ENOMEM) : vfio_dirty_domain_alloc(dev);
	return 1;	/* one device is enough */
}

static int attach_iommu_group(struct vfio_dirty_iommu *iommu,
			      struct vfio_dirty_group *group)
{
	struct iommu_group *iommu_group = group->iommu_group;
	struct vfio_dirty_domain *domain, *d;
	struct iommu_domain_geometry *geo;
	phys_addr_t msi_base = 0;
	LIST_HEAD(iovas);
	LIST_HEAD(resv);
	int ret;

	domain = vfio_dirty_should_fail(VFIO_DIRTY_FAULT_DOMAIN_ALLOC) ? NULL :
		 kzalloc(sizeof(*domain), GFP_KERNEL_ACCOUNT);
	if (!domain)
		return -ENOMEM;
	INIT_LIST_HEAD(&domain->groups);
	domain->domain = ERR_PTR(-EIO);
	iommu_group_for_each_dev(iommu_group, &domain->domain, domain_alloc_dev);
	if (IS_ERR(domain->domain)) {
		ret = PTR_ERR(domain->domain);
		goto err_free_domain;
	}
	ret = vfio_dirty_should_fail(VFIO_DIRTY_FAULT_IOMMU_ATTACH) ? -ENOMEM :
	      iommu_attach_group(domain->domain, iommu_group);
	if (ret)
		goto err_free_iommu_domain;

	geo = &domain->domain->geometry;
	ret = vfio_dirty_should_fail(VFIO_DIRTY_FAULT_RESV_REGIONS) ? -ENOMEM :
	      iommu_get_group_resv_regions(iommu_group, &resv);
	if (ret)
		goto err_detach;
	if (aperture_conflict(iommu, geo->aperture_start, geo->aperture_end) ||
	    resv_conflict(iommu, &resv)) {
		ret = -EINVAL;
		goto err_detach;
	}
	if (list_empty(&iommu->iovas))
		ret = iova_insert(&iovas, geo->aperture_start, geo->aperture_end);
	else
		ret = iova_copy(&iovas, &iommu->iovas);
	if (ret)
		goto err_detach;
	iova_clip(&iovas, geo->aperture_start, geo->aperture_end);
	ret = iova_exclude(&iovas, &resv);
	if (ret)
		goto err_detach;

	/* A group that would change the page size of the bits kept waits. */
	if (iommu->tracking &&
	    __ffs64(pgsize_fit(iommu->pgsize_bitmap &
			       domain->domain->pgsize_bitmap)) !=
	    vfio_dirty_pgshift(iommu)) {
		ret = -EBUSY;
		goto err_detach;
	}
	if (!READ_ONCE(vfio_dirty_allow_unsafe_interrupts) &&
	    !vfio_dirty_msi_isolated(iommu_group)) {
		pr_warn("IOMMU group %d: no interrupt remapping, refused; the module parameter allow_unsafe_interrupts accepts it\n",
			iommu_group_id(iommu_group));
		ret = -EPERM;
		goto err_detach;
	}
	domain->enforce_cc = domain->domain->ops->enforce_cache_coherency &&
		domain->domain->ops->enforce_cache_coherency(domain->domain);

	list_for_each_entry(d, &iommu->domains, next) {
		if (d->domain->ops != domain->domain->ops ||
		    d->enforce_cc != domain->enforce_cc)
			continue;
		iommu_detach_group(domain->domain, iommu_group);
		if (!iommu_attach_group(d->domain, iommu_group)) {
			list_add(&group->next, &d->groups);
			iommu_domain_free(domain->domain);
			kfree(domain);
			goto done;
		}
		ret = iommu_attach_group(domain->domain, iommu_group);
		if (ret)
			goto err_free_lists;
	}

	if (resv_sw_msi(&resv, &msi_base)) {
		ret = vfio_dirty_should_fail(VFIO_DIRTY_FAULT_MSI_COOKIE) ?
		      -ENOMEM : iommu_get_msi_cookie(domain->domain, msi_base);
		if (ret && ret != -ENODEV)
			goto err_detach;
	}
	list_add(&group->next, &domain->groups);
	list_add(&domain->next, &iommu->domains);
	ret = vfio_dirty_dma_replay(iommu, domain);
	if (ret)
		goto err_unlink;
	update_pgsize(iommu);
done:
	iova_free(&iommu->iovas);
	list_splice_tail(&iovas, &iommu->iovas);
	resv_free(&resv);
	iommu->unscoped_groups++;
	return 0;

err_unlink:
	list_del(&domain->next);
	list_del(&group->next);
err_detach:
	iommu_detach_group(domain->domain, iommu_group);
err_free_lists:
	iova_free(&iovas);
	resv_free(&resv);
err_free_iommu_domain:
	iommu_domain_free(domain->domain);
err_free_domain:
	kfree(domain);
	return ret;
}

/**
 * vfio_dirty_attach_group() - the attach_group callback
 * @iommu_data: the container
 * @iommu_group: the group
 * @type: VFIO_IOMMU or VFIO_EMULATED_IOMMU
 *
 * Return: 0; -EINVAL if the group is attached already or would leave no
 * usable IOVA or cut a mapping; -EBUSY if it would change the page size
 * while tracking; -EPERM without interrupt remapping, unless
 * allow_unsafe_interrupts is set; or what the IOMMU layer (-EIO for no
 * domain where its allocator does not say why) or the replay of the
 * mappings returned.
 */
int vfio_dirty_attach_group(void *iommu_data, struct iommu_group *iommu_group,
			    enum vfio_group_type type)
{
	struct vfio_dirty_iommu *iommu = iommu_data;
	struct vfio_dirty_group *group;
	int ret = 0;

	mutex_lock(&iommu->lock);
	/* A new domain pins every mapping, an emulated group through vaddrs. */
	if (iommu->vaddr_invalid) {
		ret = -EBUSY;
		goto out_unlock;
	}
	if (vfio_dirty_find_group(iommu, iommu_group)) {
		ret = -EINVAL;
		goto out_unlock;
	}
	group = vfio_dirty_should_fail(VFIO_DIRTY_FAULT_GROUP_ALLOC) ? NULL :
		kzalloc(sizeof(*group), GFP_KERNEL_ACCOUNT);
	if (!group) {
		ret = -ENOMEM;
		goto out_unlock;
	}
	group->iommu_group = iommu_group;
	if (type == VFIO_EMULATED_IOMMU) {
		/* It can only write through pins and dma_rw(), which report. */
		group->dirty_scope = true;
		list_add(&group->next, &iommu->emulated_groups);
		goto out_unlock;
	}
	ret = attach_iommu_group(iommu, group);
	if (ret)
		kfree(group);
out_unlock:
	mutex_unlock(&iommu->lock);
	return ret;
}

static void detach_iommu_group(struct vfio_dirty_iommu *iommu,
			       struct vfio_dirty_domain *domain,
			       struct vfio_dirty_group *group)
{
	iommu_detach_group(domain->domain, group->iommu_group);
	list_del(&group->next);
	if (list_empty(&domain->groups)) {
		if (list_is_singular(&iommu->domains)) {
			if (list_empty(&iommu->emulated_groups)) {
				WARN_ON(!list_empty(&iommu->devices));
				vfio_dirty_dma_remove_all(iommu);
			} else {
				vfio_dirty_dma_unpin_all(iommu);
			}
		}
		list_del(&domain->next);
		iommu_domain_free(domain->domain);
		kfree(domain);
		update_pgsize(iommu);
	}
	if (!group->dirty_scope) {
		iommu->unscoped_groups--;
		vfio_dirty_mark_all(iommu);
	}
	kfree(group);
	iova_refresh(iommu);
}

/**
 * vfio_dirty_detach_group() - the detach_group callback
 * @iommu_data: the container
 * @iommu_group: an attached group
 */
void vfio_dirty_detach_group(void *iommu_data, struct iommu_group *iommu_group)
{
	struct vfio_dirty_iommu *iommu = iommu_data;
	struct vfio_dirty_domain *domain;
	struct vfio_dirty_group *group;

	mutex_lock(&iommu->lock);
	group = group_in(&iommu->emulated_groups, iommu_group);
	if (group) {
		list_del(&group->next);
		kfree(group);
		if (list_empty(&iommu->emulated_groups) &&
		    list_empty(&iommu->domains)) {
			WARN_ON(!list_empty(&iommu->devices));
			vfio_dirty_dma_remove_all(iommu);
		}
		goto out_unlock;
	}
	list_for_each_entry(domain, &iommu->domains, next) {
		group = group_in(&domain->groups, iommu_group);
		if (group) {
			detach_iommu_group(iommu, domain, group);
			break;
		}
	}
out_unlock:
	mutex_unlock(&iommu->lock);
}

/**
 * vfio_dirty_groups_release() - detach every group and free every domain
 * @iommu: the container, being released, with no mapping left
 */
void vfio_dirty_groups_release(struct vfio_dirty_iommu *iommu)
{
	struct vfio_dirty_domain *domain, *dtmp;
	struct vfio_dirty_group *group, *gtmp;

	list_for_each_entry_safe(group, gtmp, &iommu->emulated_groups, next) {
		list_del(&group->next);
		kfree(group);
	}
	list_for_each_entry_safe(domain, dtmp, &iommu->domains, next) {
		list_for_each_entry_safe(group, gtmp, &domain->groups, next) {
			iommu_detach_group(domain->domain, group->iommu_group);
			list_del(&group->next);
			kfree(group);
		}
		list_del(&domain->next);
		iommu_domain_free(domain->domain);
		kfree(domain);
	}
	iova_free(&iommu->iovas);
}

/**
 * vfio_dirty_group_iommu_domain() - the group_iommu_domain callback
 * @iommu_data: the container
 * @iommu_group: a group
 *
 * Return: the group's domain, or ERR_PTR(-ENODEV) if it has none here.
 */
struct iommu_domain *vfio_dirty_group_iommu_domain(void *iommu_data,
						   struct iommu_group *iommu_group)
{
	struct iommu_domain *found = ERR_PTR(-ENODEV);
	struct vfio_dirty_iommu *iommu = iommu_data;
	struct vfio_dirty_domain *domain;

	mutex_lock(&iommu->lock);
	list_for_each_entry(domain, &iommu->domains, next) {
		if (group_in(&domain->groups, iommu_group)) {
			found = domain->domain;
			break;
		}
	}
	mutex_unlock(&iommu->lock);
	return found;
}

/**
 * vfio_dirty_enforce_cc() - the VFIO_DMA_CC_IOMMU extension
 * @iommu: the container
 *
 * Return: 1 if every domain keeps DMA coherent with CPU caches, else 0.
 */
int vfio_dirty_enforce_cc(struct vfio_dirty_iommu *iommu)
{
	struct vfio_dirty_domain *domain;
	int ret = 1;

	mutex_lock(&iommu->lock);
	list_for_each_entry(domain, &iommu->domains, next) {
		if (!domain->enforce_cc) {
			ret = 0;
			break;
		}
	}
	mutex_unlock(&iommu->lock);
	return ret;
}

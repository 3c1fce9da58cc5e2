// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio_dirty: counters of dirty bitmap reporting, in sysfs.
 *
 * Theory of operation
 *
 * The counters are module-wide, over every container, and live in
 * /sys/module/vfio_dirty/stats/, one read-only file each: a kobject under
 * the module's own kobject with one attribute group, created at module init
 * and removed at exit.  Each counter is an atomic64_t: they change once per
 * request, per chunk of a request or per page of dirty bits, so contention
 * is not a concern, and a reader sees each one exact (not the set of them
 * at one instant).  "tracking_bytes" goes up and down; the others only
 * grow.
 */
#include <linux/atomic.h>
#include <linux/kobject.h>
#include <linux/module.h>
#include <linux/sysfs.h>

#include "private.h"

static atomic64_t stats[VFIO_DIRTY_STAT_NR];
static struct kobject *stats_kobj;

/**
 * vfio_dirty_stat_add() - add to a counter
 * @stat: the counter
 * @delta: what to add, negative to take away (tracking_bytes only)
 */
void vfio_dirty_stat_add(enum vfio_dirty_stat stat, s64 delta)
{
	atomic64_add(delta, &stats[stat]);
}

static ssize_t stat_show(enum vfio_dirty_stat stat, char *buf)
{
	return sysfs_emit(buf, "%lld\n", atomic64_read(&stats[stat]));
}

#define VFIO_DIRTY_STAT_ATTR(_name, _stat)				\
static ssize_t _name##_show(struct kobject *kobj,			\
			    struct kobj_attribute *attr, char *buf)	\
{									\
	return stat_show(_stat, buf);					\
}									\
static struct kobj_attribute _name##_attr = __ATTR_RO(_name)

VFIO_DIRTY_STAT_ATTR(requests, VFIO_DIRTY_STAT_REQUESTS);
VFIO_DIRTY_STAT_ATTR(chunks, VFIO_DIRTY_STAT_CHUNKS);
VFIO_DIRTY_STAT_ATTR(bitmap_bytes, VFIO_DIRTY_STAT_BITMAP_BYTES);
VFIO_DIRTY_STAT_ATTR(refused, VFIO_DIRTY_STAT_REFUSED);
VFIO_DIRTY_STAT_ATTR(tracking_bytes, VFIO_DIRTY_STAT_TRACKING_BYTES);

static struct attribute *stats_attrs[] = {
	&requests_attr.attr,
	&chunks_attr.attr,
	&bitmap_bytes_attr.attr,
	&refused_attr.attr,
	&tracking_bytes_attr.attr,
	NULL
};

static const struct attribute_group stats_group = {
	.attrs = stats_attrs,
};

/*
 * The module's kobject, /sys/module/vfio_dirty.  Built in, the module has
 * no struct module; its parameters made the directory, found by name.
 */
static struct kobject *module_kobj_get(void)
{
#ifdef MODULE
	return kobject_get(&THIS_MODULE->mkobj.kobj);
#else
	return kset_find_obj(module_kset, KBUILD_MODNAME);
#endif
}

/**
 * vfio_dirty_stats_init() - create /sys/module/vfio_dirty/stats/
 *
 * Return: 0, -ENODEV without a module directory, -ENOMEM, or what sysfs
 * returned.
 */
int vfio_dirty_stats_init(void)
{
	struct kobject *parent;
	int ret;

	parent = module_kobj_get();
	if (!parent)
		return -ENODEV;
	stats_kobj = kobject_create_and_add("stats", parent);
	kobject_put(parent);
	if (!stats_kobj)
		return -ENOMEM;
	ret = sysfs_create_group(stats_kobj, &stats_group);
	if (ret)
		goto err_put_kobj;
	return 0;

err_put_kobj:
	kobject_put(stats_kobj);
	stats_kobj = NULL;
	return ret;
}

/**
 * vfio_dirty_stats_exit() - remove /sys/module/vfio_dirty/stats/
 */
void vfio_dirty_stats_exit(void)
{
	sysfs_remove_group(stats_kobj, &stats_group);
	kobject_put(stats_kobj);
	stats_kobj = NULL;
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio_dirty_sim: a simulated mdev device for testing dirty page tracking.
 *
 * Theory of operation
 *
 * Terms.  The module registers one mdev *parent*, a virtual device named
 * "vfio_dirty_sim" in a class of the same name, and offers one mdev *type*
 * on it, "vfio_dirty_sim-1".  User space creates an *instance* of the type by
 * writing a UUID to the type's "create" attribute; the mdev core then creates
 * an mdev device and binds it to this module's mdev driver.  Each instance is
 * a VFIO device with an emulated IOMMU: its group holds that one device, and
 * the IOMMU backend of the container the group joins sees only what the
 * device itself pins or reads and writes through the VFIO core.  The device
 * is a PCI function to userspace (pci.c), so that QEMU's vfio-pci can
 * assign it, and it migrates (migration.c).  Its DMA engine (dma.c) and
 * its DMA logging (log.c) are driven through device ioctls, defined in
 * include/uapi/linux/vfio_dirty_sim.h, through BAR0's registers, and through
 * sysfs files on the instance (control.c).
 *
 * Lifetime.  Module init creates the class and the parent device, registers
 * the mdev driver and then the parent; exit undoes this in reverse.
 * Unregistering the parent removes every instance first.  Probe allocates an
 * instance's state, which embeds its struct vfio_device, and registers it
 * with the VFIO core.  Remove unregisters it, which waits until user space
 * has closed every file descriptor of the device, and then drops the
 * driver's reference; the VFIO core frees the state when the last reference
 * goes.
 *
 * Opening the device resets it (pci.c).  Closing it stops its DMA engine
 * and its logging, so an instance is never removed, nor the module
 * unloaded, while either runs.
 *
 * Locking.  This file keeps no mutable state of its own; an instance's
 * locks are described with struct vfio_dirty_sim.  The number of instances
 * is bounded by the max_devices module parameter through the mdev core's
 * available_instances counter, which that core updates under its own lock
 * when an instance is created or released.  The VFIO core serializes open
 * and close of a device.
 */
#include <linux/device.h>
#include <linux/err.h>
#include <linux/init.h>
#include <linux/mdev.h>
#include <linux/module.h>
#include <linux/stringify.h>
#include <linux/uaccess.h>
#include <linux/vfio.h>
#include <linux/vfio_dirty_sim.h>

#include "sim.h"

#define VFIO_DIRTY_SIM_NAME		"vfio_dirty_sim"
#define VFIO_DIRTY_SIM_MAX_DEVICES	16

static unsigned int vfio_dirty_sim_max_devices = VFIO_DIRTY_SIM_MAX_DEVICES;
module_param_named(max_devices, vfio_dirty_sim_max_devices, uint, 0444);
MODULE_PARM_DESC(max_devices, "Maximum number of device instances (default: "
		 __stringify(VFIO_DIRTY_SIM_MAX_DEVICES) ")");

static struct class vfio_dirty_sim_class = {
	.name = VFIO_DIRTY_SIM_NAME,
};

static struct device *vfio_dirty_sim_dev;
static struct mdev_parent vfio_dirty_sim_parent;

static struct mdev_type vfio_dirty_sim_type = {
	.sysfs_name = "1",
	.pretty_name = "sim",
};

static struct mdev_type *vfio_dirty_sim_types[] = {
	&vfio_dirty_sim_type,
};

static long vfio_dirty_sim_ioctl(struct vfio_device *vdev, unsigned int cmd,
				 unsigned long arg)
{
	struct vfio_dirty_sim *sim = to_sim(vdev);
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case VFIO_DIRTY_SIM_DMA_WRITE:
		return vfio_dirty_sim_ioctl_dma(sim, uarg, true);
	case VFIO_DIRTY_SIM_DMA_READ:
		return vfio_dirty_sim_ioctl_dma(sim, uarg, false);
	case VFIO_DIRTY_SIM_WRITER_START:
		return vfio_dirty_sim_ioctl_writer_start(sim, uarg);
	case VFIO_DIRTY_SIM_WRITER_STOP:
		return vfio_dirty_sim_ioctl_writer_stop(sim);
	case VFIO_DIRTY_SIM_LOG_READ:
		return vfio_dirty_sim_ioctl_log_read(sim, uarg);
	default:
		return vfio_dirty_sim_pci_ioctl(sim, cmd, uarg);
	}
}

static ssize_t vfio_dirty_sim_read(struct vfio_device *vdev, char __user *buf,
				   size_t count, loff_t *ppos)
{
	return vfio_dirty_sim_pci_rw(to_sim(vdev), buf, count, ppos, false);
}

static ssize_t vfio_dirty_sim_write(struct vfio_device *vdev,
				    const char __user *buf, size_t count,
				    loff_t *ppos)
{
	return vfio_dirty_sim_pci_rw(to_sim(vdev), (char __user *)buf, count,
				     ppos, true);
}

#ifdef VFIO_DIRTY_SIM_REGION_INFO_OP
static int vfio_dirty_sim_get_region_info_caps(struct vfio_device *vdev,
					       struct vfio_region_info *info,
					       struct vfio_info_cap *caps)
{
	return vfio_dirty_sim_region_info(info);
}
#endif

static int vfio_dirty_sim_init_dev(struct vfio_device *vdev)
{
	struct vfio_dirty_sim *sim = to_sim(vdev);

	vfio_dirty_sim_dma_init(sim);
	vfio_dirty_sim_log_init(sim);
	vdev->log_ops = &vfio_dirty_sim_log_ops;
	vdev->mig_ops = &vfio_dirty_sim_mig_ops;
	vdev->migration_flags = VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P;
	/* What sysfs shows before the first open. */
	mutex_lock(&sim->state_lock);
	vfio_dirty_sim_pci_reset(sim);
	mutex_unlock(&sim->state_lock);
	return 0;
}

static int vfio_dirty_sim_open(struct vfio_device *vdev)
{
	struct vfio_dirty_sim *sim = to_sim(vdev);

	mutex_lock(&sim->state_lock);
	vfio_dirty_sim_pci_reset(sim);
	sim->open = true;
	mutex_unlock(&sim->state_lock);
	return 0;
}

static void vfio_dirty_sim_release(struct vfio_device *vdev)
{
	struct vfio_dirty_sim *sim = to_sim(vdev);

	vfio_dirty_sim_log_release(sim);
	vfio_dirty_sim_dma_release(sim);
#ifdef HAVE_VFIO_FREE_DEVICE
	/* Before 6.2 the VFIO core leaves freeing the device to ->release. */
	vfio_free_device(vdev);
#endif
}

static void vfio_dirty_sim_close(struct vfio_device *vdev)
{
	struct vfio_dirty_sim *sim = to_sim(vdev);

	mutex_lock(&sim->state_lock);
	vfio_dirty_sim_mig_reset(sim);
	mutex_unlock(&sim->state_lock);
	vfio_dirty_sim_dma_close(sim);
	vfio_dirty_sim_log_close(sim);
}

/*
 * The iommufd callbacks are the VFIO core's own for emulated devices: a
 * kernel that builds iommufd (the sanitizer kernel, most distributions')
 * refuses to register a device without them, and one that does not has
 * them as NULL.  6.1's core has no such callbacks.
 */
static const struct vfio_device_ops vfio_dirty_sim_dev_ops = {
	.init = vfio_dirty_sim_init_dev,
	.release = vfio_dirty_sim_release,
	.open_device = vfio_dirty_sim_open,
	.close_device = vfio_dirty_sim_close,
	.read = vfio_dirty_sim_read,
	.write = vfio_dirty_sim_write,
	.ioctl = vfio_dirty_sim_ioctl,
#ifdef VFIO_DIRTY_SIM_REGION_INFO_OP
	.get_region_info_caps = vfio_dirty_sim_get_region_info_caps,
#endif
	.dma_unmap = vfio_dirty_sim_dma_unmap,
#ifdef VFIO_DIRTY_SIM_IOMMUFD_OPS
	.bind_iommufd = vfio_iommufd_emulated_bind,
	.unbind_iommufd = vfio_iommufd_emulated_unbind,
	.attach_ioas = vfio_iommufd_emulated_attach_ioas,
	.detach_ioas = vfio_iommufd_emulated_detach_ioas,
#endif
};

static int vfio_dirty_sim_probe(struct mdev_device *mdev)
{
	struct vfio_dirty_sim *sim;
	int ret;

	sim = vfio_alloc_device(vfio_dirty_sim, vdev, &mdev->dev,
				&vfio_dirty_sim_dev_ops);
	if (IS_ERR(sim))
		return PTR_ERR(sim);

	dev_set_drvdata(&mdev->dev, sim);

	ret = vfio_register_emulated_iommu_dev(&sim->vdev);
	if (ret)
		goto err_put_device;

	return 0;

err_put_device:
	vfio_put_device(&sim->vdev);
	return ret;
}

static void vfio_dirty_sim_remove(struct mdev_device *mdev)
{
	struct vfio_dirty_sim *sim = dev_get_drvdata(&mdev->dev);

	vfio_unregister_group_dev(&sim->vdev);
	vfio_put_device(&sim->vdev);
}

static const struct attribute_group *vfio_dirty_sim_groups[] = {
	&vfio_dirty_sim_dma_group,
	&vfio_dirty_sim_log_group,
	&vfio_dirty_sim_control_group,
	NULL,
};

static struct mdev_driver vfio_dirty_sim_driver = {
	.device_api = VFIO_DEVICE_API_PCI_STRING,
	.probe = vfio_dirty_sim_probe,
	.remove = vfio_dirty_sim_remove,
	.driver = {
		.name = VFIO_DIRTY_SIM_NAME,
		.owner = THIS_MODULE,
		.dev_groups = vfio_dirty_sim_groups,
	},
};

static int __init vfio_dirty_sim_init(void)
{
	int ret;

	/* The mdev core counts instances down from this in available_instances. */
	vfio_dirty_sim_driver.max_instances = vfio_dirty_sim_max_devices;

	ret = class_register(&vfio_dirty_sim_class);
	if (ret)
		return ret;

	vfio_dirty_sim_dev = device_create(&vfio_dirty_sim_class, NULL, 0, NULL,
					   VFIO_DIRTY_SIM_NAME);
	if (IS_ERR(vfio_dirty_sim_dev)) {
		ret = PTR_ERR(vfio_dirty_sim_dev);
		goto err_unregister_class;
	}

	ret = mdev_register_driver(&vfio_dirty_sim_driver);
	if (ret)
		goto err_unregister_device;

	ret = mdev_register_parent(&vfio_dirty_sim_parent, vfio_dirty_sim_dev,
				   &vfio_dirty_sim_driver, vfio_dirty_sim_types,
				   ARRAY_SIZE(vfio_dirty_sim_types));
	if (ret)
		goto err_unregister_driver;

	return 0;

err_unregister_driver:
	mdev_unregister_driver(&vfio_dirty_sim_driver);
err_unregister_device:
	device_unregister(vfio_dirty_sim_dev);
err_unregister_class:
	class_unregister(&vfio_dirty_sim_class);
	return ret;
}
module_init(vfio_dirty_sim_init);

static void __exit vfio_dirty_sim_exit(void)
{
	mdev_unregister_parent(&vfio_dirty_sim_parent);
	mdev_unregister_driver(&vfio_dirty_sim_driver);
	device_unregister(vfio_dirty_sim_dev);
	class_unregister(&vfio_dirty_sim_class);
}
module_exit(vfio_dirty_sim_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Simulated mdev device for VFIO dirty page tracking tests");
/*
 * log.c's iova_bitmap_set() is iommufd's where the kernel has its driver
 * library (CONFIG_IOMMUFD_DRIVER, which 6.12 knows and 6.1 does not),
 * exported in the IOMMUFD namespace; in 6.1, the VFIO core's, in none.
 * MODULE_IMPORT_NS() took the name as a token before 6.13 and as a string
 * since; both expand to this line.
 */
#if IS_ENABLED(CONFIG_IOMMUFD_DRIVER)
MODULE_INFO(import_ns, "IOMMUFD");
#endif

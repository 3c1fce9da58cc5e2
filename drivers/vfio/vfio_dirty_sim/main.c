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
 * has no regions and no interrupts, and today it does no DMA.
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
 * Locking.  The driver keeps no mutable state of its own.  The number of
 * instances is bounded by the max_devices module parameter through the mdev
 * core's available_instances counter, which that core updates under its own
 * lock when an instance is created or released.  The VFIO core serializes
 * open and close of a device; the ioctl handler touches only its arguments.
 */
#include <linux/device.h>
#include <linux/err.h>
#include <linux/init.h>
#include <linux/mdev.h>
#include <linux/module.h>
#include <linux/stringify.h>
#include <linux/uaccess.h>
#include <linux/vfio.h>

#define VFIO_DIRTY_SIM_NAME		"vfio_dirty_sim"
#define VFIO_DIRTY_SIM_MAX_DEVICES	16

static unsigned int vfio_dirty_sim_max_devices = VFIO_DIRTY_SIM_MAX_DEVICES;
module_param_named(max_devices, vfio_dirty_sim_max_devices, uint, 0444);
MODULE_PARM_DESC(max_devices, "Maximum number of device instances (default: "
		 __stringify(VFIO_DIRTY_SIM_MAX_DEVICES) ")");

/**
 * struct vfio_dirty_sim_state - one instance of the simulated device
 * @vdev: the VFIO device; the VFIO core allocates and frees the whole state
 */
struct vfio_dirty_sim_state {
	struct vfio_device vdev;
};

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

static long vfio_dirty_sim_get_info(struct vfio_device_info __user *uinfo)
{
	unsigned long minsz = offsetofend(struct vfio_device_info, num_irqs);
	struct vfio_device_info info;

	if (copy_from_user(&info, uinfo, minsz))
		return -EFAULT;
	if (info.argsz < minsz)
		return -EINVAL;

	info.flags = 0;
	info.num_regions = 0;
	info.num_irqs = 0;

	return copy_to_user(uinfo, &info, minsz) ? -EFAULT : 0;
}

static long vfio_dirty_sim_ioctl(struct vfio_device *vdev, unsigned int cmd,
				 unsigned long arg)
{
	switch (cmd) {
	case VFIO_DEVICE_GET_INFO:
		return vfio_dirty_sim_get_info((void __user *)arg);
	default:
		return -ENOTTY;
	}
}

/*
 * No dma_unmap callback: the device never pins pages, and the IOMMU
 * backends only call it for devices that may.  No iommufd callbacks either:
 * neither supported kernel builds iommufd, and the VFIO core asks for them
 * only when it does.
 */
static const struct vfio_device_ops vfio_dirty_sim_dev_ops = {
#ifdef HAVE_VFIO_FREE_DEVICE
	/* Before 6.2 the VFIO core leaves freeing the device to ->release. */
	.release = vfio_free_device,
#endif
	.ioctl = vfio_dirty_sim_ioctl,
};

static int vfio_dirty_sim_probe(struct mdev_device *mdev)
{
	struct vfio_dirty_sim_state *sim;
	int ret;

	sim = vfio_alloc_device(vfio_dirty_sim_state, vdev, &mdev->dev,
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
	struct vfio_dirty_sim_state *sim = dev_get_drvdata(&mdev->dev);

	vfio_unregister_group_dev(&sim->vdev);
	vfio_put_device(&sim->vdev);
}

static struct mdev_driver vfio_dirty_sim_driver = {
	/* Not a PCI, platform, ... device: no bus API fits, so its own name. */
	.device_api = "vfio-dirty-sim",
	.probe = vfio_dirty_sim_probe,
	.remove = vfio_dirty_sim_remove,
	.driver = {
		.name = VFIO_DIRTY_SIM_NAME,
		.owner = THIS_MODULE,
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

// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio_dirty_sim PCI function: config space, BAR0 and the vfio-pci answers.
 *
 * Theory of operation
 *
 * An instance presents itself to userspace as vfio-pci presents a PCI
 * function (device_api "vfio-pci", VFIO_DEVICE_FLAGS_PCI), so that QEMU's
 * vfio-pci device can assign it: the standard region indexes, each region
 * at offset (index << SIM_REGION_SHIFT) of the device file, as vfio-pci
 * lays them out, and the standard interrupt indexes.
 *
 * Regions.  BAR0 holds the writer's registers (see the uAPI header for
 * the layout); it is read and written through the device file, never
 * mapped.  The config region is a conventional 256-byte header: fixed
 * IDs, class and revision, no capability list, no interrupt pin, BAR0 a
 * 32-bit memory BAR.  Of it only the command register's memory and bus
 * master enables, BAR0's address bits and the interrupt line are
 * writable, as in hardware; a write elsewhere is accepted and ignored.
 * The enables are recorded, not enforced: the engine is driven by its
 * registers alone.  Every other region (BAR1 to BAR5, the ROM, VGA) has
 * size 0.  The device has no interrupts: every index answers count 0.
 *
 * Reset.  VFIO_DEVICE_RESET, and each open of the device, put config
 * space and the registers back to their power-on values, which stops the
 * writer, and the migration state back to RUNNING.
 *
 * All of it is under @state_lock; see struct vfio_dirty_sim.
 */
#include <linux/minmax.h>
#include <linux/uaccess.h>

#include "sim.h"

/* Where vfio-pci puts each region in the device file: index << 40. */
#define SIM_REGION_SHIFT	40
#define SIM_REGION_MASK		(BIT_ULL(SIM_REGION_SHIFT) - 1)

/* The writable bits of config byte @off. */
static u8 sim_config_wmask(unsigned int off)
{
	switch (off) {
	case PCI_COMMAND:
		return PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	case PCI_BASE_ADDRESS_0 + 1:
		/* BAR0 is 8 KiB: address bits 13 and up. */
		return (u8)~((VFIO_DIRTY_SIM_BAR0_SIZE - 1) >> 8);
	case PCI_BASE_ADDRESS_0 + 2:
	case PCI_BASE_ADDRESS_0 + 3:
	case PCI_INTERRUPT_LINE:
		return 0xff;
	default:
		return 0;
	}
}

/* Store the @len low bytes of @val at @cfg, little endian. */
static void sim_config_put(u8 *cfg, u32 val, unsigned int len)
{
	for (; len; len--, val >>= 8)
		*cfg++ = val;
}

/**
 * vfio_dirty_sim_pci_reset() - the PCI function's power-on state
 * @sim: the device, with @state_lock held
 *
 * Config space and the registers take their power-on values, the writer
 * stops and the migration state goes back to RUNNING.
 */
void vfio_dirty_sim_pci_reset(struct vfio_dirty_sim *sim)
{
	u8 *cfg = sim->config;

	lockdep_assert_held(&sim->state_lock);

	memset(cfg, 0, sizeof(sim->config));
	sim_config_put(cfg + PCI_VENDOR_ID, VFIO_DIRTY_SIM_PCI_VENDOR_ID, 2);
	sim_config_put(cfg + PCI_DEVICE_ID, VFIO_DIRTY_SIM_PCI_DEVICE_ID, 2);
	cfg[PCI_REVISION_ID] = VFIO_DIRTY_SIM_PCI_REVISION;
	/* Programming interface, sub-class and base class: PCI_CLASS_PROG on. */
	sim_config_put(cfg + PCI_CLASS_PROG, VFIO_DIRTY_SIM_PCI_CLASS, 3);
	cfg[PCI_HEADER_TYPE] = PCI_HEADER_TYPE_NORMAL;
	sim_config_put(cfg + PCI_BASE_ADDRESS_0, PCI_BASE_ADDRESS_SPACE_MEMORY |
		       PCI_BASE_ADDRESS_MEM_TYPE_32, 4);
	sim_config_put(cfg + PCI_SUBSYSTEM_VENDOR_ID,
		       VFIO_DIRTY_SIM_PCI_VENDOR_ID, 2);
	sim_config_put(cfg + PCI_SUBSYSTEM_ID, VFIO_DIRTY_SIM_PCI_DEVICE_ID, 2);

	vfio_dirty_sim_mig_reset(sim);
	memset(&sim->regs, 0, sizeof(sim->regs));
	vfio_dirty_sim_writer_sync(sim);
}

/* Write @len bytes of @val into config space at @off, through the masks. */
static void sim_config_write(struct vfio_dirty_sim *sim, unsigned int off,
			     const u8 *val, size_t len)
{
	u8 mask;

	for (; len; len--, off++, val++) {
		mask = sim_config_wmask(off);
		sim->config[off] = (sim->config[off] & ~mask) | (*val & mask);
	}
}

/**
 * vfio_dirty_sim_config_load() - take the writable bits of a config space
 * @sim: the device, with @state_lock held
 * @config: PCI_CFG_SPACE_SIZE bytes, as saved from another instance
 */
void vfio_dirty_sim_config_load(struct vfio_dirty_sim *sim, const u8 *config)
{
	lockdep_assert_held(&sim->state_lock);
	sim_config_write(sim, 0, config, PCI_CFG_SPACE_SIZE);
}

static u64 sim_reg_read(struct vfio_dirty_sim *sim, unsigned int off)
{
	const struct vfio_dirty_sim_regs *regs = &sim->regs;
	unsigned int i;

	switch (off) {
	case VFIO_DIRTY_SIM_REG_CTRL:
		return regs->ctrl;
	case VFIO_DIRTY_SIM_REG_STATUS:
		return regs->status;
	case VFIO_DIRTY_SIM_REG_NR_RANGES:
		return regs->nr_ranges;
	case VFIO_DIRTY_SIM_REG_PATTERN:
		return regs->pattern;
	case VFIO_DIRTY_SIM_REG_SEQ:
		return atomic64_read(&sim->seq);
	case VFIO_DIRTY_SIM_REG_FAILED:
		return atomic64_read(&sim->failed);
	}
	if (off < VFIO_DIRTY_SIM_REG_RANGE_IOVA(0))
		return 0;
	i = (off - VFIO_DIRTY_SIM_REG_RANGE_IOVA(0)) / 16;
	if (off == VFIO_DIRTY_SIM_REG_RANGE_IOVA(i))
		return regs->ranges[i].iova;
	return regs->ranges[i].length;
}

static void sim_reg_write(struct vfio_dirty_sim *sim, unsigned int off,
			  u64 val)
{
	struct vfio_dirty_sim_regs *regs = &sim->regs;
	unsigned int i;

	if (off == VFIO_DIRTY_SIM_REG_CTRL) {
		vfio_dirty_sim_writer_ctrl(sim, val);
		return;
	}
	/* The writer's programming is latched while it runs. */
	if (regs->ctrl & VFIO_DIRTY_SIM_CTRL_RUN)
		return;
	switch (off) {
	case VFIO_DIRTY_SIM_REG_NR_RANGES:
		regs->nr_ranges = val;
		return;
	case VFIO_DIRTY_SIM_REG_PATTERN:
		regs->pattern = val;
		return;
	}
	if (off < VFIO_DIRTY_SIM_REG_RANGE_IOVA(0))
		return;
	i = (off - VFIO_DIRTY_SIM_REG_RANGE_IOVA(0)) / 16;
	if (off == VFIO_DIRTY_SIM_REG_RANGE_IOVA(i))
		regs->ranges[i].iova = val;
	else
		regs->ranges[i].length = val;
}

/*
 * A 4- or 8-byte access of BAR0 at @off, naturally aligned: the register's
 * 64-bit word is read, and for a write merged with @val and written back.
 */
static int sim_bar0_rw(struct vfio_dirty_sim *sim, unsigned int off,
		       size_t len, u64 *val, bool write)
{
	unsigned int word = round_down(off, sizeof(u64));
	unsigned int shift = (off - word) * BITS_PER_BYTE;
	u64 mask = len == sizeof(u64) ? ~0ULL : GENMASK_ULL(len * 8 - 1, 0);
	u64 old;

	if ((len != sizeof(u32) && len != sizeof(u64)) || !IS_ALIGNED(off, len) ||
	    off >= VFIO_DIRTY_SIM_BAR0_SIZE)
		return -EINVAL;
	old = sim_reg_read(sim, word);
	if (!write) {
		*val = (old >> shift) & mask;
		return 0;
	}
	sim_reg_write(sim, word, (old & ~(mask << shift)) |
				 ((*val & mask) << shift));
	return 0;
}

/**
 * vfio_dirty_sim_pci_rw() - the vfio_device_ops read and write callbacks
 * @sim: the device
 * @buf: user buffer
 * @count: bytes
 * @ppos: offset in the device file: region index << 40 | offset in it
 * @write: a write, else a read
 *
 * Config space is read and written byte for byte, at any offset and
 * length inside it; BAR0 4 or 8 bytes at a time, naturally aligned.
 *
 * Return: @count, -EINVAL or -EFAULT.
 */
ssize_t vfio_dirty_sim_pci_rw(struct vfio_dirty_sim *sim, char __user *buf,
			      size_t count, loff_t *ppos, bool write)
{
	unsigned int index = *ppos >> SIM_REGION_SHIFT;
	u64 off = *ppos & SIM_REGION_MASK;
	u8 data[PCI_CFG_SPACE_SIZE];
	__le64 le;
	u64 val;
	int ret = 0;

	switch (index) {
	case VFIO_PCI_CONFIG_REGION_INDEX:
		if (off >= PCI_CFG_SPACE_SIZE ||
		    count > PCI_CFG_SPACE_SIZE - off)
			return -EINVAL;
		if (write && copy_from_user(data, buf, count))
			return -EFAULT;
		mutex_lock(&sim->state_lock);
		if (write)
			sim_config_write(sim, off, data, count);
		else
			memcpy(data, sim->config + off, count);
		mutex_unlock(&sim->state_lock);
		if (!write && copy_to_user(buf, data, count))
			return -EFAULT;
		break;
	case VFIO_PCI_BAR0_REGION_INDEX:
		if (count > sizeof(le) || off >= VFIO_DIRTY_SIM_BAR0_SIZE)
			return -EINVAL;
		le = 0;
		if (write && copy_from_user(&le, buf, count))
			return -EFAULT;
		val = le64_to_cpu(le);
		mutex_lock(&sim->state_lock);
		ret = sim_bar0_rw(sim, off, count, &val, write);
		mutex_unlock(&sim->state_lock);
		if (ret)
			return ret;
		le = cpu_to_le64(val);
		if (!write && copy_to_user(buf, &le, count))
			return -EFAULT;
		break;
	default:
		return -EINVAL;
	}
	*ppos += count;
	return count;
}

/**
 * vfio_dirty_sim_region_info() - the answer of VFIO_DEVICE_GET_REGION_INFO
 * @info: in: @index; out: @flags, @size and @offset
 *
 * Return: 0, or -EINVAL for an index past the standard ones.
 */
int vfio_dirty_sim_region_info(struct vfio_region_info *info)
{
	if (info->index >= VFIO_PCI_NUM_REGIONS)
		return -EINVAL;
	info->offset = (u64)info->index << SIM_REGION_SHIFT;
	info->cap_offset = 0;
	switch (info->index) {
	case VFIO_PCI_BAR0_REGION_INDEX:
		info->size = VFIO_DIRTY_SIM_BAR0_SIZE;
		break;
	case VFIO_PCI_CONFIG_REGION_INDEX:
		info->size = PCI_CFG_SPACE_SIZE;
		break;
	default:
		info->size = 0;
		info->flags = 0;
		return 0;
	}
	info->flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
	return 0;
}

static long sim_ioctl_get_info(void __user *arg)
{
	unsigned long minsz = offsetofend(struct vfio_device_info, num_irqs);
	struct vfio_device_info info;

	if (copy_from_user(&info, arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz)
		return -EINVAL;

	info.flags = VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET;
	info.num_regions = VFIO_PCI_NUM_REGIONS;
	info.num_irqs = VFIO_PCI_NUM_IRQS;

	return copy_to_user(arg, &info, minsz) ? -EFAULT : 0;
}

static long sim_ioctl_get_region_info(void __user *arg)
{
	unsigned long minsz = offsetofend(struct vfio_region_info, offset);
	struct vfio_region_info info;
	int ret;

	if (copy_from_user(&info, arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz)
		return -EINVAL;
	ret = vfio_dirty_sim_region_info(&info);
	if (ret)
		return ret;
	return copy_to_user(arg, &info, minsz) ? -EFAULT : 0;
}

static long sim_ioctl_get_irq_info(void __user *arg)
{
	unsigned long minsz = offsetofend(struct vfio_irq_info, count);
	struct vfio_irq_info info;

	if (copy_from_user(&info, arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz || info.index >= VFIO_PCI_NUM_IRQS)
		return -EINVAL;

	/* No interrupt of any kind. */
	info.flags = 0;
	info.count = 0;
	return copy_to_user(arg, &info, minsz) ? -EFAULT : 0;
}

/**
 * vfio_dirty_sim_pci_ioctl() - the vfio-pci device ioctls
 * @sim: the device
 * @cmd: VFIO_DEVICE_GET_INFO, _GET_REGION_INFO, _GET_IRQ_INFO, _SET_IRQS
 *       or _RESET
 * @arg: user pointer to the ioctl's argument
 *
 * Return: the ioctl's result, -ENOTTY for another @cmd.
 */
long vfio_dirty_sim_pci_ioctl(struct vfio_dirty_sim *sim, unsigned int cmd,
			      void __user *arg)
{
	switch (cmd) {
	case VFIO_DEVICE_GET_INFO:
		return sim_ioctl_get_info(arg);
	case VFIO_DEVICE_GET_REGION_INFO:
		return sim_ioctl_get_region_info(arg);
	case VFIO_DEVICE_GET_IRQ_INFO:
		return sim_ioctl_get_irq_info(arg);
	case VFIO_DEVICE_SET_IRQS:
		/* Every index has count 0: nothing can be set. */
		return -EINVAL;
	case VFIO_DEVICE_RESET:
		mutex_lock(&sim->state_lock);
		vfio_dirty_sim_pci_reset(sim);
		mutex_unlock(&sim->state_lock);
		return 0;
	default:
		return -ENOTTY;
	}
}

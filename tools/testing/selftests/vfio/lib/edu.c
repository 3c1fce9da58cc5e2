// SPDX-License-Identifier: GPL-2.0
/*
 * QEMU's edu device through vfio-pci: BAR0 and its DMA engine.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "edu.h"
#include "vfio_util.h"

/* A sysfs attribute holding a number ("0x1234\n"), or -1. */
static long sysfs_number(const char *name, const char *attr)
{
	char path[PATH_MAX], buf[32];
	long val = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", name, attr);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		val = strtol(buf, NULL, 0);
	fclose(f);
	return val;
}

const char *edu_unsupported(const char *name)
{
	static char why[128];
	char path[PATH_MAX];
	long vendor, device;

	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s", name);
	if (!access(path, F_OK))
		return "the device is an mdev, not an edu PCI device";
	vendor = sysfs_number(name, "vendor");
	device = sysfs_number(name, "device");
	if (vendor < 0 || device < 0) {
		snprintf(why, sizeof(why), "%s is not a PCI device", name);
		return why;
	}
	if (vendor != EDU_VENDOR || device != EDU_DEVICE) {
		snprintf(why, sizeof(why), "%s is %04lx:%04lx, not an edu (%04x:%04x)",
			 name, vendor, device, EDU_VENDOR, EDU_DEVICE);
		return why;
	}
	return NULL;
}

static int region_info(int device_fd, uint32_t index,
		       struct vfio_region_info *info)
{
	memset(info, 0, sizeof(*info));
	info->argsz = sizeof(*info);
	info->index = index;
	return ioctl(device_fd, VFIO_DEVICE_GET_REGION_INFO, info) ? -errno : 0;
}

/* Set @bits in the command register, through the config region. */
static int enable_command_bits(int device_fd, uint16_t bits)
{
	struct vfio_region_info config;
	off_t off;
	uint16_t cmd;
	int ret;

	ret = region_info(device_fd, VFIO_PCI_CONFIG_REGION_INDEX, &config);
	if (ret)
		return ret;
	off = config.offset + PCI_COMMAND;
	if (pread(device_fd, &cmd, sizeof(cmd), off) != sizeof(cmd))
		return -EIO;
	cmd |= bits;
	if (pwrite(device_fd, &cmd, sizeof(cmd), off) != sizeof(cmd))
		return -EIO;
	if (pread(device_fd, &cmd, sizeof(cmd), off) != sizeof(cmd))
		return -EIO;
	return (cmd & bits) == bits ? 0 : -EIO;
}

int __edu_open(struct edu *edu, int device_fd)
{
	struct vfio_region_info bar;
	void *addr;
	int ret;

	edu->device_fd = device_fd;
	edu->bar = NULL;
	edu->bar_size = 0;

	ret = region_info(device_fd, VFIO_PCI_BAR0_REGION_INDEX, &bar);
	if (ret)
		return ret;
	if (!(bar.flags & VFIO_REGION_INFO_FLAG_MMAP) ||
	    bar.size < EDU_REG_DMA_CMD + sizeof(uint32_t))
		return -ENODEV;
	ret = enable_command_bits(device_fd,
				  PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	if (ret)
		return ret;
	addr = mmap(NULL, bar.size, PROT_READ | PROT_WRITE, MAP_SHARED,
		    device_fd, bar.offset);
	if (addr == MAP_FAILED)
		return -errno;
	edu->bar = addr;
	edu->bar_size = bar.size;
	return 0;
}

void edu_close(struct edu *edu)
{
	if (edu->bar)
		munmap(edu->bar, edu->bar_size);
	edu->bar = NULL;
}

/* One 32-bit access each, never merged, split or left out by the compiler. */
uint32_t edu_read(struct edu *edu, uint32_t reg)
{
	return __atomic_load_n(&edu->bar[reg / sizeof(uint32_t)],
			       __ATOMIC_SEQ_CST);
}

void edu_write(struct edu *edu, uint32_t reg, uint32_t val)
{
	__atomic_store_n(&edu->bar[reg / sizeof(uint32_t)], val,
			 __ATOMIC_SEQ_CST);
}

int __edu_dma(struct edu *edu, bool to_ram, uint64_t iova, uint32_t offset,
	      uint32_t count)
{
	uint32_t cmd = EDU_DMA_CMD_START | (to_ram ? EDU_DMA_CMD_TO_RAM : 0);
	double deadline;

	if (!count || offset > EDU_DMA_MAX || count > EDU_DMA_MAX - offset ||
	    iova >= EDU_DMA_LIMIT || count > EDU_DMA_LIMIT - iova)
		return -EINVAL;
	if (edu_read(edu, EDU_REG_DMA_CMD) & EDU_DMA_CMD_START)
		return -EBUSY;

	/*
	 * 32-bit writes: the engine takes them at 0x80, 0x88 and 0x90 as the
	 * whole value, and every address here fits.
	 */
	edu_write(edu, EDU_REG_DMA_SRC, to_ram ? EDU_BUF_ADDR + offset : iova);
	edu_write(edu, EDU_REG_DMA_DST, to_ram ? iova : EDU_BUF_ADDR + offset);
	edu_write(edu, EDU_REG_DMA_CNT, count);
	edu_write(edu, EDU_REG_DMA_CMD, cmd);

	deadline = now_ms() + EDU_DMA_TIMEOUT_MS;
	while (edu_read(edu, EDU_REG_DMA_CMD) & EDU_DMA_CMD_START) {
		if (now_ms() > deadline)
			return -ETIMEDOUT;
		usleep(1000);
	}
	return 0;
}

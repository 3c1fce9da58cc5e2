/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Driving QEMU's edu device (docs/specs/edu.rst in QEMU) through vfio-pci:
 * a PCI device with a real DMA engine, so that a test sees the IOMMU
 * mappings a container made from the device's side.
 *
 * The engine copies up to EDU_BUF_SIZE bytes between memory at a DMA
 * address and the device's own buffer, which sits at device address
 * EDU_BUF_ADDR.  The DMA address goes through the (emulated) IOMMU, so it
 * is an IOVA of the container; QEMU masks it with the device's dma_mask,
 * 28 bits unless the "dma_mask" property says otherwise, so every IOVA
 * handed to the engine must lie below EDU_DMA_LIMIT.  The buffer side must
 * lie inside [EDU_BUF_ADDR, EDU_BUF_ADDR + EDU_BUF_SIZE), and QEMU up to
 * 7.2 (Debian 12's) also refuses a transfer that ends at its last byte, an
 * off-by-one QEMU fixed later: so one transfer moves at most EDU_DMA_MAX
 * bytes.  QEMU stops the whole machine on a transfer it refuses, so
 * __edu_dma() refuses them first.
 *
 * Helpers come in pairs as in vfio_util.h: __x() returns 0 or a negative
 * errno and asserts nothing; the tests assert.
 */
#ifndef EDU_H
#define EDU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EDU_VENDOR		0x1234
#define EDU_DEVICE		0x11e8

/* BAR0 registers; all are 32 bits wide for our purposes. */
#define EDU_REG_ID		0x00	/* 0xRRrr00ed: major RR, minor rr */
#define EDU_REG_LIVENESS	0x04	/* reads back the inverse of a write */
#define EDU_REG_DMA_SRC		0x80
#define EDU_REG_DMA_DST		0x88
#define EDU_REG_DMA_CNT		0x90
#define EDU_REG_DMA_CMD		0x98

#define EDU_ID			0x010000ed	/* version 1.0 */
#define EDU_DMA_CMD_START	0x1	/* set to start; cleared when done */
#define EDU_DMA_CMD_TO_RAM	0x2	/* device buffer to RAM; else RAM to it */
#define EDU_DMA_CMD_IRQ		0x4	/* raise an interrupt when done */

#define EDU_BUF_ADDR		0x40000
#define EDU_BUF_SIZE		4096
#define EDU_DMA_LIMIT		0x10000000ULL	/* 28 bits */
/* offset + count must stay below EDU_BUF_SIZE, see above. */
#define EDU_DMA_MAX		(EDU_BUF_SIZE - 1)

/* QEMU runs a transfer 100 ms of virtual time after it starts. */
#define EDU_DMA_TIMEOUT_MS	5000

/**
 * struct edu - an edu device opened through vfio-pci
 * @device_fd: the VFIO device
 * @bar: BAR0, mapped; accessed through edu_read() and edu_write() only
 * @bar_size: its size
 */
struct edu {
	int device_fd;
	uint32_t *bar;
	size_t bar_size;
};

/**
 * edu_unsupported() - why @name cannot be driven as an edu, or NULL
 * @name: BDF or mdev UUID
 *
 * Return: NULL for a PCI device with the edu's vendor and device IDs;
 * otherwise a reason, in a static buffer.
 */
const char *edu_unsupported(const char *name);

/**
 * __edu_open() - map BAR0 and enable memory decoding and bus mastering
 * @edu: filled in; released with edu_close()
 * @device_fd: a vfio-pci device fd of an edu
 *
 * Return: 0 or a negative errno.
 */
int __edu_open(struct edu *edu, int device_fd);

/**
 * edu_close() - unmap BAR0
 * @edu: from __edu_open(); safe on one that failed to open
 */
void edu_close(struct edu *edu);

/**
 * edu_read() - read a BAR0 register
 * @edu: the device
 * @reg: EDU_REG_*
 */
uint32_t edu_read(struct edu *edu, uint32_t reg);

/**
 * edu_write() - write a BAR0 register
 * @edu: the device
 * @reg: EDU_REG_*
 * @val: the value
 */
void edu_write(struct edu *edu, uint32_t reg, uint32_t val);

/**
 * __edu_dma() - one transfer, waited for
 * @edu: the device
 * @to_ram: true from the device buffer to @iova, false from @iova to it
 * @iova: the RAM side, below EDU_DMA_LIMIT
 * @offset: byte offset into the device buffer
 * @count: bytes; @offset + @count at most EDU_DMA_MAX
 *
 * The engine reports no error: a transfer the IOMMU refuses completes as
 * any other.
 *
 * Return: 0 when the engine finished; -EINVAL for arguments the engine
 * cannot take, -EBUSY when it was running already, -ETIMEDOUT when it did
 * not finish within EDU_DMA_TIMEOUT_MS.
 */
int __edu_dma(struct edu *edu, bool to_ram, uint64_t iova, uint32_t offset,
	      uint32_t count);

#endif /* EDU_H */

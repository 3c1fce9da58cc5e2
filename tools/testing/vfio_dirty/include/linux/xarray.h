/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace stand-in for the kernel's <linux/xarray.h>: the calls spans.c
 * makes, with the kernel's semantics (storing NULL erases; a value entry
 * has bit 0 set; an error comes back as an entry that xa_err() decodes;
 * xas_for_each() visits the present entries in index order), over a sorted
 * array.  Implemented in kernel.c.
 */
#ifndef _VFIO_DIRTY_SHIM_LINUX_XARRAY_H
#define _VFIO_DIRTY_SHIM_LINUX_XARRAY_H

#include <linux/types.h>

/**
 * struct xarray - entries by index
 * @index: the indexes of the present entries, increasing
 * @entry: the entries, none NULL
 * @n: how many there are
 * @cap: how many @index and @entry have room for
 */
struct xarray {
	unsigned long *index;
	void **entry;
	unsigned long n;
	unsigned long cap;
};

/**
 * struct xa_state - a walk of an xarray
 * @xa: the array
 * @xa_index: where the walk is
 * @xa_found: an entry was found at @xa_index, so the walk goes on after it
 */
struct xa_state {
	struct xarray *xa;
	unsigned long xa_index;
	bool xa_found;
};

#define XA_STATE(name, array, index) \
	struct xa_state name = { .xa = (array), .xa_index = (index) }

/* xas_find() goes on after the entry found last: one call walks. */
#define xas_for_each(xas, entry, max) \
	for (; ((entry) = xas_find(xas, max));)

static inline void *xa_mk_value(unsigned long v)
{
	return (void *)(v << 1 | 1);
}

static inline unsigned long xa_to_value(const void *entry)
{
	return (unsigned long)entry >> 1;
}

static inline bool xa_is_value(const void *entry)
{
	return (unsigned long)entry & 1;
}

/* An error, as the kernel encodes it: an internal entry (bits 1-0 are 10). */
static inline bool xa_is_err(const void *entry)
{
	return ((unsigned long)entry & 3) == 2 &&
	       (long)entry >> 2 >= -4095 && (long)entry < 0;
}

static inline int xa_err(void *entry)
{
	return xa_is_err(entry) ? (long)entry >> 2 : 0;
}

void xa_init(struct xarray *xa);
void *xa_load(struct xarray *xa, unsigned long index);
void *xa_store(struct xarray *xa, unsigned long index, void *entry,
	       unsigned int gfp);
void *xa_erase(struct xarray *xa, unsigned long index);
void xa_destroy(struct xarray *xa);
void *xas_find(struct xa_state *xas, unsigned long max);

#endif /* _VFIO_DIRTY_SHIM_LINUX_XARRAY_H */

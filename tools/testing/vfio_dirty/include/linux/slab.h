/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace stand-in for the kernel's <linux/slab.h>: kzalloc() and slab
 * caches over malloc(), which count what is live (slab_live), so that a
 * test can hold the code's own accounting against it.  Implemented in
 * kernel.c.
 */
#ifndef _VFIO_DIRTY_SHIM_LINUX_SLAB_H
#define _VFIO_DIRTY_SHIM_LINUX_SLAB_H

#include <linux/gfp.h>
#include <linux/types.h>

#define SLAB_ACCOUNT	0x1u

struct kmem_cache;

/**
 * struct slab_live - what the stand-in allocators have handed out and not
 *	had back
 * @kmalloc_objects: objects of kzalloc()
 * @cache_objects: objects of every cache
 * @bytes: the bytes of both, as asked for
 */
struct slab_live {
	long kmalloc_objects;
	long cache_objects;
	long long bytes;
};

extern struct slab_live slab_live;

void *kzalloc(size_t size, unsigned int gfp);
void kfree(const void *p);
struct kmem_cache *kmem_cache_create(const char *name, unsigned int size,
				     unsigned int align, unsigned int flags,
				     void (*ctor)(void *));
void kmem_cache_destroy(struct kmem_cache *cache);
void *kmem_cache_zalloc(struct kmem_cache *cache, unsigned int gfp);
void kmem_cache_free(struct kmem_cache *cache, void *p);

#endif /* _VFIO_DIRTY_SHIM_LINUX_SLAB_H */

// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel services that spans.c calls, in userspace: an xarray over a
 * sorted array, and kzalloc() and slab caches over calloc() that count what
 * is live, so that the tests can hold the code's own accounting against
 * them.  Misuse the kernel would warn about (an internal entry stored, a
 * cache destroyed with objects live, a double free) aborts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/errno.h>
#include <linux/slab.h>
#include <linux/xarray.h>

struct slab_live slab_live;

/* What precedes each object: its size, and where it comes from. */
struct obj_head {
	size_t size;
	struct kmem_cache *cache;
	unsigned long magic;
};

#define OBJ_LIVE	0x6c697665UL

struct kmem_cache {
	unsigned int size;
	long objects;
};

static void die(const char *what)
{
	fprintf(stderr, "kernel.c: %s\n", what);
	abort();
}

static void *obj_alloc(size_t size, struct kmem_cache *cache)
{
	struct obj_head *h = calloc(1, sizeof(*h) + size);

	if (!h)
		return NULL;
	h->size = size;
	h->cache = cache;
	h->magic = OBJ_LIVE;
	slab_live.bytes += size;
	if (cache) {
		cache->objects++;
		slab_live.cache_objects++;
	} else {
		slab_live.kmalloc_objects++;
	}
	return h + 1;
}

static void obj_free(const void *p, struct kmem_cache *cache)
{
	struct obj_head *h = (struct obj_head *)p - 1;

	if (h->magic != OBJ_LIVE || h->cache != cache)
		die("free of an object not live, or to the wrong cache");
	h->magic = 0;
	slab_live.bytes -= h->size;
	if (cache) {
		cache->objects--;
		slab_live.cache_objects--;
	} else {
		slab_live.kmalloc_objects--;
	}
	free(h);
}

void *kzalloc(size_t size, unsigned int gfp)
{
	return obj_alloc(size, NULL);
}

void kfree(const void *p)
{
	if (p)
		obj_free(p, NULL);
}

struct kmem_cache *kmem_cache_create(const char *name, unsigned int size,
				     unsigned int align, unsigned int flags,
				     void (*ctor)(void *))
{
	struct kmem_cache *cache = calloc(1, sizeof(*cache));

	if (cache)
		cache->size = size;
	return cache;
}

void kmem_cache_destroy(struct kmem_cache *cache)
{
	if (cache && cache->objects)
		die("a cache destroyed with objects live");
	free(cache);
}

void *kmem_cache_zalloc(struct kmem_cache *cache, unsigned int gfp)
{
	return obj_alloc(cache->size, cache);
}

void kmem_cache_free(struct kmem_cache *cache, void *p)
{
	obj_free(p, cache);
}

void xa_init(struct xarray *xa)
{
	memset(xa, 0, sizeof(*xa));
}

/* The position of the first entry at or after @index. */
static unsigned long xa_pos(const struct xarray *xa, unsigned long index)
{
	unsigned long lo = 0, hi = xa->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (xa->index[mid] < index)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void *xa_load(struct xarray *xa, unsigned long index)
{
	unsigned long pos = xa_pos(xa, index);

	return pos < xa->n && xa->index[pos] == index ? xa->entry[pos] : NULL;
}

void *xa_erase(struct xarray *xa, unsigned long index)
{
	unsigned long pos = xa_pos(xa, index);
	void *old;

	if (pos == xa->n || xa->index[pos] != index)
		return NULL;
	old = xa->entry[pos];
	xa->n--;
	memmove(&xa->index[pos], &xa->index[pos + 1],
		(xa->n - pos) * sizeof(*xa->index));
	memmove(&xa->entry[pos], &xa->entry[pos + 1],
		(xa->n - pos) * sizeof(*xa->entry));
	return old;
}

void *xa_store(struct xarray *xa, unsigned long index, void *entry,
	       unsigned int gfp)
{
	unsigned long pos, cap, *indexes;
	void *old, **entries;

	if (((unsigned long)entry & 3) == 2)
		die("an internal entry stored");
	if (!entry)
		return xa_erase(xa, index);
	pos = xa_pos(xa, index);
	if (pos < xa->n && xa->index[pos] == index) {
		old = xa->entry[pos];
		xa->entry[pos] = entry;
		return old;
	}
	if (xa->n == xa->cap) {
		cap = xa->cap ? xa->cap * 2 : 8;
		indexes = realloc(xa->index, cap * sizeof(*xa->index));
		if (indexes)
			xa->index = indexes;
		entries = realloc(xa->entry, cap * sizeof(*xa->entry));
		if (entries)
			xa->entry = entries;
		if (!indexes || !entries)
			return (void *)((unsigned long)-ENOMEM << 2 | 2);
		xa->cap = cap;
	}
	memmove(&xa->index[pos + 1], &xa->index[pos],
		(xa->n - pos) * sizeof(*xa->index));
	memmove(&xa->entry[pos + 1], &xa->entry[pos],
		(xa->n - pos) * sizeof(*xa->entry));
	xa->index[pos] = index;
	xa->entry[pos] = entry;
	xa->n++;
	return NULL;
}

void xa_destroy(struct xarray *xa)
{
	free(xa->index);
	free(xa->entry);
	xa_init(xa);
}

void *xas_find(struct xa_state *xas, unsigned long max)
{
	unsigned long index = xas->xa_index, pos;

	if (xas->xa_found) {
		if (index == ~0UL)
			return NULL;
		index++;
	}
	pos = xa_pos(xas->xa, index);
	if (pos == xas->xa->n || xas->xa->index[pos] > max)
		return NULL;
	xas->xa_index = xas->xa->index[pos];
	xas->xa_found = true;
	return xas->xa->entry[pos];
}

/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vfio_dirty: the dirty bits of a mapping, kept by spans.  See spans.c for
 * the theory of operation.
 */
#ifndef __VFIO_DIRTY_SPANS_H
#define __VFIO_DIRTY_SPANS_H

#include <linux/types.h>
#include <linux/xarray.h>

#include "bits.h"

/**
 * struct vfio_dirty_spans - the dirty bits of a mapping
 * @xa: a run or a table per span, by span index
 * @tables: tables in @xa
 * @gen: reports that cleared the bits
 */
struct vfio_dirty_spans {
	struct xarray xa;
	unsigned long tables;
	u64 gen;
};

int vfio_dirty_bits_cache_init(void);
void vfio_dirty_bits_cache_exit(void);
void vfio_dirty_spans_init(struct vfio_dirty_spans *spans);
int vfio_dirty_spans_set(struct vfio_dirty_spans *spans, u64 bit, u64 last);
int vfio_dirty_spans_report(struct vfio_dirty_spans *spans,
			    struct vfio_dirty_writer *w, u64 base);
void vfio_dirty_spans_new_gen(struct vfio_dirty_spans *spans);
void vfio_dirty_spans_clear(struct vfio_dirty_spans *spans);

#endif /* __VFIO_DIRTY_SPANS_H */

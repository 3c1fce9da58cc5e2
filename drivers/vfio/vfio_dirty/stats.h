/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vfio_dirty: the counters of stats.c, in /sys/module/vfio_dirty/stats/.
 */
#ifndef __VFIO_DIRTY_STATS_H
#define __VFIO_DIRTY_STATS_H

#include <linux/types.h>

/**
 * enum vfio_dirty_stat - the counters in /sys/module/vfio_dirty/stats/
 * @VFIO_DIRTY_STAT_REQUESTS: bitmap requests (GET_BITMAP, unmap with a
 *	bitmap) that succeeded
 * @VFIO_DIRTY_STAT_CHUNKS: chunks of user bitmap filled and written out
 * @VFIO_DIRTY_STAT_BITMAP_BYTES: bytes of bitmap copied to users
 * @VFIO_DIRTY_STAT_REFUSED: bitmap requests refused with -E2BIG, past
 *	max_bitmap_size
 * @VFIO_DIRTY_STAT_TRACKING_BYTES: bytes of dirty-bit tables held now
 * @VFIO_DIRTY_STAT_NR: how many there are
 */
enum vfio_dirty_stat {
	VFIO_DIRTY_STAT_REQUESTS,
	VFIO_DIRTY_STAT_CHUNKS,
	VFIO_DIRTY_STAT_BITMAP_BYTES,
	VFIO_DIRTY_STAT_REFUSED,
	VFIO_DIRTY_STAT_TRACKING_BYTES,
	VFIO_DIRTY_STAT_NR
};

void vfio_dirty_stat_add(enum vfio_dirty_stat stat, s64 delta);
int vfio_dirty_stats_init(void);
void vfio_dirty_stats_exit(void);

#endif /* __VFIO_DIRTY_STATS_H */

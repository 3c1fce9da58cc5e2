/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace stand-in for the kernel's <linux/minmax.h>: what bits.c uses. */
#ifndef _VFIO_DIRTY_SHIM_LINUX_MINMAX_H
#define _VFIO_DIRTY_SHIM_LINUX_MINMAX_H

/* The smaller of two values of the same type, each evaluated once. */
#define min(x, y) ({				\
	__typeof__(x) _x = (x);			\
	__typeof__(y) _y = (y);			\
	(void)(&_x == &_y);			\
	_x < _y ? _x : _y; })

/* The larger of two values of the same type, each evaluated once. */
#define max(x, y) ({				\
	__typeof__(x) _x = (x);			\
	__typeof__(y) _y = (y);			\
	(void)(&_x == &_y);			\
	_x > _y ? _x : _y; })

/* The smaller of two values, each converted to @type first. */
#define min_t(type, x, y)	min((type)(x), (type)(y))

#endif /* _VFIO_DIRTY_SHIM_LINUX_MINMAX_H */

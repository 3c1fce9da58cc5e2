#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# kernel-vfio-h.sh KDIR: print the path of drivers/vfio/vfio.h of the kernel
# whose headers tree is KDIR, so that the build can check compat.h against
# it (drivers/vfio/vfio_dirty/layout_check.c).  Looked up, in order:
#
#   $KERNEL_VFIO_H          a path given by the user
#   the provisioned cache   scripts/provision.sh's kernel of the same release
#   linux-source-X.Y        Debian's package (/usr/src/linux-source-X.Y.tar.xz):
#                           the file is extracted once into the cache
#
# Prints nothing and exits 1 when none is found: the build then takes the
# layout "make check" verified for the kernel's series, if it knows it
# (drivers/vfio/vfio_dirty/Kbuild).

set -euo pipefail

kdir=${1:?usage: $0 KDIR}
cache=${VFIO_DIRTY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vfio-dirty}

if [ -n "${KERNEL_VFIO_H:-}" ]; then
	[ -f "$KERNEL_VFIO_H" ] && echo "$KERNEL_VFIO_H" && exit 0
	echo "kernel-vfio-h: KERNEL_VFIO_H=$KERNEL_VFIO_H does not exist" >&2
	exit 1
fi

release=$(sed -n 's/^#define UTS_RELEASE "\(.*\)"$/\1/p' \
	"$kdir/include/generated/utsrelease.h" 2>/dev/null)
if [ -z "$release" ]; then
	echo "kernel-vfio-h: $kdir is not a configured kernel tree" >&2
	exit 1
fi

for version in "$cache"/*/version; do
	[ -f "$version" ] && [ "$(cat "$version")" = "$release" ] || continue
	echo "$(dirname "$version")/src/drivers/vfio/vfio.h"
	exit 0
done

series=$(echo "$release" | cut -d. -f1,2)
tarball=/usr/src/linux-source-$series.tar.xz
out=$cache/vfio-h/$release/vfio.h
if [ ! -f "$out" ] && [ -f "$tarball" ]; then
	mkdir -p "$(dirname "$out")"
	tar -xJOf "$tarball" "linux-source-$series/drivers/vfio/vfio.h" >"$out.tmp" &&
		mv "$out.tmp" "$out"
fi
if [ -f "$out" ]; then
	echo "$out"
	exit 0
fi
echo "kernel-vfio-h: no drivers/vfio/vfio.h for $release: the build takes the layout checked for $series, if any (set KERNEL_VFIO_H to check against this kernel's own)" >&2
exit 1

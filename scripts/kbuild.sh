#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# kbuild.sh SERIES OUTDIR [MAKE ARGS...]
#
# Build the modules against a provisioned kernel (see provision.sh) in a copy
# of the tree at OUTDIR, so that builds for several kernels never share
# objects.  Extra arguments go to kbuild (W=1, C=2, ...).  Any compiler or
# checker warning fails the build: the project keeps zero.

set -euo pipefail

[ $# -ge 2 ] || { echo "usage: $0 SERIES OUTDIR [MAKE ARGS...]" >&2; exit 2; }
series=$1
out=$2
shift 2
top=$(cd "$(dirname "$0")/.." && pwd)
kdir=$("$top/scripts/provision.sh" --path "$series" build)
vfio_h=$("$top/scripts/kernel-vfio-h.sh" "$kdir")

rm -rf "$out"
mkdir -p "$out"
cp -a "$top/Kbuild" "$top/drivers" "$top/include" "$out/"

echo "kbuild: $series ($("$top/scripts/provision.sh" --path "$series" version)): $* modules"
status=0
make -C "$kdir" M="$out" CONFIG_VFIO_DIRTY=m CONFIG_VFIO_DIRTY_SIM=m \
	KERNEL_VFIO_H="$vfio_h" "$@" \
	modules >"$out/build.log" 2>&1 || status=$?
sed "s|$out/|$top/|g" "$out/build.log" | grep -v '^make\[' || true
if [ $status -ne 0 ]; then
	echo "kbuild: $series: build failed (exit $status)" >&2
	exit 1
fi
if grep -qE '(warning|error):' "$out/build.log"; then
	echo "kbuild: $series: $(grep -cE '(warning|error):' "$out/build.log") warning(s)" >&2
	exit 1
fi
echo "kbuild: $series: $(cd "$out" && find . -name '*.ko' | sort | tr '\n' ' ')"

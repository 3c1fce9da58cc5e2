#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# kbuild.sh SERIES OUTDIR [MAKE ARGS...]
#
# Build the modules against a provisioned kernel (see provision.sh) in a copy
# of the tree at OUTDIR, so that builds for several kernels never share
# objects; in the kernel's build root when it has one (in-buildroot.sh).
# Extra arguments go to kbuild (W=1, C=2, ...).  Any compiler or checker
# warning fails the build: the project keeps zero.

set -euo pipefail

[ $# -ge 2 ] || { echo "usage: $0 SERIES OUTDIR [MAKE ARGS...]" >&2; exit 2; }
series=$1
out=$2
shift 2
top=$(cd "$(dirname "$0")/.." && pwd)
provision=$top/scripts/provision.sh
kver=$("$provision" --path "$series" version)
kdir=$("$provision" --path "$series" build)
vfio_h=$("$top/scripts/kernel-vfio-h.sh" "$kdir")
# A kernel the host's compiler cannot build for is built in its build root,
# where its headers are installed; the tree is reached at the same path.
run=()
if buildroot=$("$provision" --path "$series" buildroot 2>/dev/null); then
	kdir=/usr/src/linux-headers-$kver
	run=("$top/scripts/in-buildroot.sh" "$buildroot" "$out")
fi

rm -rf "$out"
mkdir -p "$out"
cp -a "$top/Kbuild" "$top/drivers" "$top/include" "$out/"
cp "$vfio_h" "$out/kernel-vfio.h"

echo "kbuild: $series ($kver): $* modules"
status=0
"${run[@]}" make -C "$kdir" M="$out" CONFIG_VFIO_DIRTY=m CONFIG_VFIO_DIRTY_SIM=m \
	KERNEL_VFIO_H="$out/kernel-vfio.h" "$@" \
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

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# headers-only.sh SERIES: build the modules as a test host would, with
# nothing but the kernel's headers tree: a clean copy of the tracked files,
# no kernel source and no project cache, with "make", "make install" (into
# a staging directory) and "dkms build" (its trees in a scratch directory).
# Prints TAP, a line per way.

set -uo pipefail

[ $# -eq 1 ] || { echo "usage: $0 SERIES" >&2; exit 2; }
series=$1
top=$(cd "$(dirname "$0")/.." && pwd)
kdir=$("$top/scripts/provision.sh" --path "$series" build) || exit 1
kver=$("$top/scripts/provision.sh" --path "$series" version) || exit 1
version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$top/dkms.conf")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# A kernel the host's compiler cannot build for: in its build root, where
# its headers are installed (and dkms), the scratch directory at its path.
run=()
if buildroot=$("$top/scripts/provision.sh" --path "$series" buildroot 2>/dev/null); then
	kdir=/usr/src/linux-headers-$kver
	run=("$top/scripts/in-buildroot.sh" "$buildroot" "$tmp")
fi

# copy DEST: the tracked files of the tree, as a clean clone has them
copy() {
	mkdir -p "$1"
	(cd "$top" && git ls-files -z | xargs -0 cp --parents -t "$1")
}

# Nothing but the headers: no cache to find a vfio.h in, no KERNEL_VFIO_H;
# and not the output directory of "make check", which a clean would empty.
export VFIO_DIRTY_CACHE=$tmp/no-cache
unset KERNEL_VFIO_H OUT

echo "1..3"
copy "$tmp/make"
if "${run[@]}" make -C "$tmp/make" KDIR="$kdir" modules >"$tmp/make.log" 2>&1 &&
   [ -f "$tmp/make/drivers/vfio/vfio_dirty/vfio_dirty.ko" ] &&
   [ ! -f "$tmp/make/drivers/vfio/vfio_dirty/layout_check.o" ]; then
	echo "ok 1 headers-$series: make modules against $kver's headers alone"
else
	echo "not ok 1 headers-$series: make modules against $kver's headers alone"
	sed 's/^/# /' "$tmp/make.log" | tail -20
fi

# Installed where the kernel's modules would be, and known to depmod.
inst=$tmp/install/lib/modules/$kver
if "${run[@]}" make -C "$tmp/make" KDIR="$kdir" KVER="$kver" \
	INSTALL_MOD_PATH="$tmp/install" install >"$tmp/install.log" 2>&1 &&
   grep -q '/vfio_dirty\.ko' "$inst/modules.dep" &&
   grep -q '/vfio_dirty_sim\.ko' "$inst/modules.dep"; then
	echo "ok 2 headers-$series: make install against $kver's headers alone"
else
	echo "not ok 2 headers-$series: make install against $kver's headers alone"
	sed 's/^/# /' "$tmp/install.log" | tail -20
fi

copy "$tmp/src/vfio-dirty-$version"
mkdir -p "$tmp/dkms"
trees=(--sourcetree "$tmp/src" --dkmstree "$tmp/dkms")
if "${run[@]}" dkms add -m vfio-dirty -v "$version" "${trees[@]}" >"$tmp/dkms.log" 2>&1 &&
   "${run[@]}" dkms build -m vfio-dirty -v "$version" -k "$kver" \
	--kernelsourcedir "$kdir" "${trees[@]}" >>"$tmp/dkms.log" 2>&1 &&
   ls "$tmp/dkms/vfio-dirty/$version/$kver"/*/module/vfio_dirty.ko* >/dev/null 2>&1; then
	echo "ok 3 headers-$series: dkms build against $kver's headers alone"
else
	echo "not ok 3 headers-$series: dkms build against $kver's headers alone"
	sed 's/^/# /' "$tmp/dkms.log" | tail -20
fi

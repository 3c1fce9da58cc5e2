#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# sanitizer-kernel.sh ROOT SOURCE_DEB FRAGMENT OUT
#
# Build the test guest's sanitizer kernel from Debian's linux-source package
# SOURCE_DEB in the build root ROOT (made by provision.sh, with the suite's
# compiler and kbuild's tools), and leave in OUT what a provisioned series
# holds (see provision.sh):
#
#   OUT/version      the release, <upstream version>-sanitizer
#   OUT/vmlinuz      arch/x86/boot/bzImage
#   OUT/config       the resolved .config
#   OUT/root/lib/modules/<release>/   the installed modules, depmod run
#
# The configuration is "make tinyconfig", FRAGMENT merged over it, then
# "make olddefconfig".  Every line of FRAGMENT must survive: a symbol that
# lost its value (a dependency missing, a name that changed) stops the build
# with its name.  The tree stays in ROOT at /usr/src/linux-headers-<release>,
# cleaned of its objects ("make clean" keeps what external modules need),
# so that kbuild.sh builds modules against it as against a headers package.
#
# The build runs at nice 10 with two jobs: CI machines have two cores.

set -euo pipefail

[ $# -eq 4 ] || { echo "usage: $0 ROOT SOURCE_DEB FRAGMENT OUT" >&2; exit 2; }
root=$1
deb=$2
fragment=$3
out=$4
top=$(cd "$(dirname "$0")/.." && pwd)

die() {
	echo "sanitizer-kernel: error: $*" >&2
	exit 1
}

log() {
	echo "sanitizer-kernel: $*" >&2
}

# inroot COMMAND...: COMMAND in ROOT, with OUT reachable at its own path
inroot() {
	"$top/scripts/in-buildroot.sh" "$root" "$out" "$@"
}

start=$(date +%s)
rm -rf "$out"
mkdir -p "$out/root"
tmp=$root/usr/src/vfio-dirty-sanitizer.tmp
rm -rf "$tmp"
mkdir -p "$tmp"
tarball=$(dpkg-deb -c "$deb" | awk '$6 ~ /linux-source-.*\.tar\.xz$/ { print $6; exit }')
[ -n "$tarball" ] || die "no source tarball in $deb"
dpkg-deb --fsys-tarfile "$deb" | tar -xO "$tarball" |
	tar -xJ -C "$tmp" --strip-components=1 || die "cannot unpack $deb"
kver=$(make -s -C "$tmp" kernelversion)-sanitizer
tree=/usr/src/linux-headers-$kver
rm -rf "${root:?}$tree"
mv "$tmp" "$root$tree"
log "$kver: unpacked in $(( $(date +%s) - start ))s"

cp "$fragment" "$out/config.fragment"
inroot sh -c "cd $tree && make -s tinyconfig >/dev/null &&
	scripts/kconfig/merge_config.sh -m .config $out/config.fragment >/dev/null &&
	make -s olddefconfig" >"$out/build.log" 2>&1 ||
	die "configuration failed, see $out/build.log"
cp "$root$tree/.config" "$out/config"

# Each line of the fragment, as olddefconfig left it.
lost=$(grep -E '^(CONFIG_|# CONFIG_.* is not set$)' "$fragment" | while read -r line; do
	case $line in
	"# "*)
		sym=${line#\# }
		sym=${sym%% *}
		! grep -q "^$sym=" "$out/config" || echo "$line"
		;;
	*)
		grep -qxF "$line" "$out/config" || echo "$line"
		;;
	esac
done)
[ -z "$lost" ] || die "$(basename "$fragment"): olddefconfig did not keep: $(echo "$lost" | tr '\n' ' ')"

log "$kver: building (nice 10, -j2)"
inroot sh -c "cd $tree && nice -n 10 make -j2 bzImage modules &&
	make -s INSTALL_MOD_PATH=$out/root modules_install &&
	cp arch/x86/boot/bzImage $out/vmlinuz &&
	make -s clean" >>"$out/build.log" 2>&1 ||
	die "build failed, see $out/build.log"
[ "$(cat "$root$tree/include/config/kernel.release")" = "$kver" ] ||
	die "built $(cat "$root$tree/include/config/kernel.release"), not $kver"
# modules_install points these at the tree, by its path in ROOT.
rm -f "$out/root/lib/modules/$kver/build" "$out/root/lib/modules/$kver/source"
echo "$kver" >"$out/version"
log "$kver: built in $(( $(date +%s) - start ))s"

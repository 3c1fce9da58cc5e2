#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# provision.sh - fetch what building and testing vfio_dirty needs.
#
# Host tools come from the machine's own apt sources (installed only when
# missing).  Kernels come from Debian's archive through a private sources
# list and lists directory, so the machine's apt configuration is never
# touched, and are unpacked with dpkg-deb into a cache:
#
#   $VFIO_DIRTY_CACHE/<series>/
#       version       the resolved kernel release, e.g. 6.1.0-56-amd64
#       root/         image (or its binary, modules and base packages) +
#                     headers + kbuild, unpacked; depmod has been run
#       build         -> the headers tree to use as KDIR
#       buildroot     -> for a kernel the host's compiler cannot build for:
#                        the root (made with debootstrap) to build in, where
#                        the headers are installed, KDIR being their path
#                        there
#       vmlinuz       -> the kernel image
#       modules       -> root/lib/modules/<release>
#       src/          the few files the build takes from linux-source:
#                     checkpatch, coccinelle rules, kselftest harness and
#                     lib.mk, and drivers/vfio/vfio.h
#   $VFIO_DIRTY_CACHE/root-<suite>/
#       a minimal Debian <suite> made with debootstrap, with that suite's
#       compiler, make, sparse and dkms: the build root of its kernels
#   $VFIO_DIRTY_CACHE/<series>-sanitizer/
#       the same files for the test guest's sanitizer kernel, built from
#       <series>'s linux-source with tools/testing/selftests/vfio/
#       config.sanitizer (scripts/sanitizer-kernel.sh); "build" is its
#       tree in the build root; "stamp" is the hash of the fragment, the
#       source's version and the build script: the kernel is rebuilt when
#       it changes
#   $VFIO_DIRTY_CACHE/root-trixie/ also holds the QEMU of trixie-backports
#       (qemu-system-x86, 11.1 and later), which the test guests run as
#       a nested guest from a read-only share of this root
#
# Every apt-get run inside a root holds the lock root-<suite>.lock.
#
# Series are named by their upstream version: 6.1 (bookworm, with security
# updates), 6.12 (bookworm-backports) and 7.3 (trixie-backports, built with
# trixie's gcc-14 in root-trixie).  Versions are resolved through the
# metapackages every time, never hard-coded: when Debian publishes a new ABI
# the cache is refreshed.  A new series is a case in series_sources() and,
# if the host cannot build for it, series_suite().
#
# Usage: provision.sh [--no-host-tools] [SERIES...]   (default: 6.1 6.12 7.3)
#        (SERIES may also be 7.3-sanitizer)
#        provision.sh --path SERIES NAME               print a cached path

set -euo pipefail

CACHE=${VFIO_DIRTY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vfio-dirty}
top=$(cd "$(dirname "$0")/.." && pwd)

# apt_uri SUFFIX: the first archive URI of the machine's own apt sources
# (deb822 .sources files, then one-line .list files) whose path ends in
# /SUFFIX; nothing if none does.
apt_uri() {
	{
		awk '$1 == "URIs:" { for (i = 2; i <= NF; i++) print $i }' \
			/etc/apt/sources.list.d/*.sources 2>/dev/null
		awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z+]+:\/\//) { print $i; break } }' \
			/etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null
	} | sed 's|/*$||' | grep -m 1 -E "/$1\$" || true
}

# The archive is the one the machine's apt already uses; the environment
# may name another.
MIRROR=${VFIO_DIRTY_MIRROR:-$(apt_uri debian)}
SECURITY_MIRROR=${VFIO_DIRTY_SECURITY_MIRROR:-$(apt_uri debian-security)}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

HOST_PACKAGES="gcc make libc6-dev libelf-dev bc flex bison kmod cpio xz-utils \
	busybox-static qemu-system-x86 sparse coccinelle ocaml-nox dwarves perl python3 rsync \
	debian-archive-keyring dkms git debootstrap"
# make plots draws the benchmarks' data files with gnuplot.
HOST_PACKAGES="$HOST_PACKAGES gnuplot-nox"

die() {
	echo "provision: error: $*" >&2
	exit 1
}

log() {
	echo "provision: $*" >&2
}

series_sources() {
	[ -n "$MIRROR" ] ||
		die "no archive URI ending in /debian in the machine's apt sources: set VFIO_DIRTY_MIRROR"
	case $1 in
	6.1)
		[ -n "$SECURITY_MIRROR" ] ||
			die "no archive URI ending in /debian-security in the machine's apt sources: set VFIO_DIRTY_SECURITY_MIRROR"
		echo "deb [signed-by=$KEYRING] $MIRROR bookworm main"
		echo "deb [signed-by=$KEYRING] $MIRROR bookworm-updates main"
		echo "deb [signed-by=$KEYRING] $SECURITY_MIRROR bookworm-security main"
		;;
	6.12)
		echo "deb [signed-by=$KEYRING] $MIRROR bookworm-backports main"
		;;
	7.3 | 7.3-sanitizer)
		echo "deb [signed-by=$KEYRING] $MIRROR trixie main"
		echo "deb [signed-by=$KEYRING] $MIRROR trixie-backports main"
		;;
	*)
		die "unknown kernel series '$1' (known: 6.1 6.12 7.3 7.3-sanitizer)"
		;;
	esac
}

install_host_tools() {
	local missing=() pkg

	for pkg in $HOST_PACKAGES; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null |
			grep -q 'install ok installed' || missing+=("$pkg")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" -eq 0 ] || die "missing packages (${missing[*]}); run as root or install them"
	log "installing host packages: ${missing[*]}"
	apt-get update -qq || die "apt-get update failed"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
}

# Private apt state for one series: nothing under /etc/apt or /var/lib/apt.
# series_suite SERIES: the Debian suite whose compiler builds for SERIES,
# when the host's cannot (its kernels were built with another gcc); nothing
# for the host's own.
series_suite() {
	case $1 in
	7.3) echo trixie ;;
	esac
}

# series_release SERIES: the suite whose packages win, when not the default.
series_release() {
	case $1 in
	7.3) echo trixie-backports ;;
	esac
}

apt_opts() {
	local dir=$CACHE/apt/$1 release

	release=$(series_release "$1")
	[ -z "$release" ] || echo "-o APT::Default-Release=$release"
	echo "-o Dir::Etc::sourcelist=$dir/sources.list" \
	     "-o Dir::Etc::sourceparts=/dev/null" \
	     "-o Dir::State::Lists=$dir/lists" \
	     "-o Dir::Cache=$dir/cache" \
	     "-o Debug::NoLocking=1 -o APT::Sandbox::User=root"
}

apt_update() {
	local dir=$CACHE/apt/$1

	mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
	series_sources "$1" >"$dir/sources.list"
	# shellcheck disable=SC2046
	apt-get $(apt_opts "$1") -qq update ||
		die "cannot update the package lists for $1 from $MIRROR"
}

# depends_on SERIES PACKAGE REGEX: the dependency of PACKAGE matching REGEX.
depends_on() {
	local dep

	# shellcheck disable=SC2046
	dep=$(apt-cache $(apt_opts "$1") depends "$2" 2>/dev/null |
		awk -v re="$3" '$1 == "Depends:" && $2 ~ re { print $2; exit }')
	[ -n "$dep" ] || die "$1: cannot resolve '$3' from $2"
	echo "$dep"
}

# depends_all SERIES PACKAGE REGEX: every dependency of PACKAGE matching REGEX.
depends_all() {
	# shellcheck disable=SC2046
	apt-cache $(apt_opts "$1") depends "$2" 2>/dev/null |
		awk -v re="$3" '$1 == "Depends:" && $2 ~ re { print $2 }'
}

pkg_version() {
	local v

	# shellcheck disable=SC2046
	v=$(apt-cache $(apt_opts "$1") show --no-all-versions "$2" 2>/dev/null |
		awk '$1 == "Version:" { print $2; exit }')
	[ -n "$v" ] || die "$1: package $2 not found"
	echo "$v"
}

# Pull the files the build needs out of linux-source without unpacking the
# whole 1.5 GB tree: the .deb holds one .tar.xz that is streamed through tar.
extract_source() {
	local deb=$1 dest=$2 tarball top

	tarball=$(dpkg-deb -c "$deb" | awk '$6 ~ /linux-source-.*\.tar\.xz$/ { print $6; exit }')
	[ -n "$tarball" ] || die "no source tarball in $deb"
	top=$(basename "$tarball" .tar.xz)
	rm -rf "$dest.tmp"
	mkdir -p "$dest.tmp"
	dpkg-deb --fsys-tarfile "$deb" | tar -xO "$tarball" |
		tar -xJ -C "$dest.tmp" --strip-components=1 --wildcards \
			"$top/scripts/checkpatch.pl" \
			"$top/scripts/spelling.txt" \
			"$top/scripts/const_structs.checkpatch" \
			"$top/scripts/coccinelle/*" \
			"$top/drivers/vfio/vfio.h" \
			"$top/tools/testing/selftests/lib.mk" \
			"$top/tools/testing/selftests/kselftest.h" \
			"$top/tools/testing/selftests/kselftest_harness.h" \
			"$top/tools/testing/selftests/kselftest/*" ||
		die "cannot extract the needed files from $deb"
	rm -rf "$dest"
	mv "$dest.tmp" "$dest"
}

# provision_buildroot SUITE SERIES KVER: a minimal SUITE in the cache with
# its compiler, make, sparse and dkms, and SERIES's headers for KVER installed
# from SERIES's sources, so that kbuild's own tools, built for SUITE, run.
provision_buildroot() {
	local suite=$1 series=$2 kver=$3 root=$CACHE/root-$1 release

	release=$(series_release "$series")
	make_root "$suite"
	cp /etc/resolv.conf "$root/etc/resolv.conf"
	series_sources "$series" >"$root/etc/apt/sources.list.d/vfio-dirty.list"
	dpkg-query --root="$root" -W -f='${Status}' "linux-headers-$kver" 2>/dev/null |
		grep -q 'install ok installed' && return 0
	log "root-$suite: installing the compiler and linux-headers-$kver"
	{ flock 9 && chroot "$root" apt-get -qq update &&
	  DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y -qq \
		--no-install-recommends ${release:+-t "$release"} make sparse dkms \
		"linux-headers-$kver"; } 9>"$CACHE/root-$suite.lock" >>"$CACHE/root-$suite.log" 2>&1 ||
		die "root-$suite: cannot install linux-headers-$kver, see $CACHE/root-$suite.log"
}

# make_root SUITE: a minimal SUITE in the cache, made once with debootstrap.
make_root() {
	local suite=$1 root=$CACHE/root-$1

	if [ ! -f "$root/.ready" ]; then
		log "root-$suite: debootstrap"
		rm -rf "$root"
		debootstrap --variant=minbase "$suite" "$root" "$MIRROR" \
			>"$CACHE/root-$suite.log" 2>&1 ||
			die "root-$suite: debootstrap failed, see $CACHE/root-$suite.log"
		rm -f "$root/etc/apt/sources.list"
		touch "$root/.ready"
	fi
}

# provision_qemu: trixie-backports' QEMU in root-trixie, for the test
# guests; its version is checked by the tests that run it.
provision_qemu() {
	local root=$CACHE/root-trixie

	make_root trixie
	[ -x "$root/usr/bin/qemu-system-x86_64" ] && return 0
	log "root-trixie: installing QEMU from trixie-backports"
	cp /etc/resolv.conf "$root/etc/resolv.conf"
	series_sources 7.3 >"$root/etc/apt/sources.list.d/vfio-dirty.list"
	{ flock 9 && chroot "$root" apt-get -qq update &&
	  DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y -qq \
		--no-install-recommends -t trixie-backports qemu-system-x86; } \
		9>"$CACHE/root-trixie.lock" >>"$CACHE/root-trixie.log" 2>&1 ||
		die "root-trixie: cannot install qemu-system-x86, see $CACHE/root-trixie.log"
}

# What building a kernel needs in a build root, besides what it has.
KERNEL_BUILD_PACKAGES="gcc bc flex bison libelf-dev"

# provision_sanitizer SERIES: SERIES is BASE-sanitizer; built from BASE's
# linux-source in BASE's build root, unless the cache holds the build of
# the same fragment, source and script.
provision_sanitizer() {
	local s=$1 base=${1%-sanitizer} dir=$CACHE/$1 fragment suite root srcver
	local key pkg missing=() lock kver

	fragment=$top/tools/testing/selftests/vfio/config.sanitizer
	provision_series "$base"
	suite=$(series_suite "$base")
	root=$CACHE/root-$suite
	srcver=$(awk '{ print $2 }' "$CACHE/$base/stamp")
	key=$({ cat "$fragment" "$top/scripts/sanitizer-kernel.sh"; echo "$srcver"; } |
		sha256sum | cut -c1-16)

	exec {lock}>"$CACHE/$s.lock"
	flock "$lock"
	for pkg in $KERNEL_BUILD_PACKAGES; do
		dpkg-query --root="$root" -W -f='${Status}' "$pkg" 2>/dev/null |
			grep -q 'install ok installed' || missing+=("$pkg")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		log "root-$suite: installing ${missing[*]}"
		# shellcheck disable=SC2016
		flock "$root.lock" sh -c 'root=$1 release=$2; shift 2
			chroot "$root" apt-get -qq update &&
			DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y -qq \
			--no-install-recommends ${release:+-t "$release"} "$@"' sh "$root" \
			"$(series_release "$base")" "${missing[@]}" >>"$CACHE/root-$suite.log" 2>&1 ||
			die "root-$suite: cannot install ${missing[*]}, see $CACHE/root-$suite.log"
	fi
	# The tree lives in the build root, which may have been made anew.
	if [ -f "$dir/stamp" ] && [ "$(cat "$dir/stamp")" = "$key" ] &&
	   [ -f "$dir/build/Makefile" ]; then
		log "$s: $(cat "$dir/version") ($key) is up to date"
		return 0
	fi

	log "$s: building from linux-source-$base $srcver (key $key)"
	rm -rf "$CACHE/$s.debs"
	mkdir -p "$CACHE/$s.debs"
	# shellcheck disable=SC2046
	(cd "$CACHE/$s.debs" && apt-get $(apt_opts "$base") -qq download \
		"linux-source-$base=$srcver") || die "$s: cannot download linux-source-$base"
	"$top/scripts/sanitizer-kernel.sh" "$root" "$CACHE/$s.debs"/linux-source-*.deb \
		"$fragment" "$dir.tmp" || die "$s: the build failed"
	rm -rf "$CACHE/$s.debs" "$dir"
	mv "$dir.tmp" "$dir"
	kver=$(cat "$dir/version")
	ln -sfn "root/lib/modules/$kver" "$dir/modules"
	ln -sfn "../root-$suite" "$dir/buildroot"
	ln -sfn "../root-$suite/usr/src/linux-headers-$kver" "$dir/build"
	ln -sfn "../$base/src" "$dir/src"
	echo "$key" >"$dir/stamp"
	log "$s: ready in $dir"
}

provision_series() {
	local s=$1 dir=$CACHE/$1 image headers common kbuild kver source srcver deb
	local suite
	local pkgs

	case $s in
	*-sanitizer)
		provision_sanitizer "$s"
		return
		;;
	esac
	apt_update "$s"
	image=$(depends_on "$s" linux-image-amd64 '^linux-image-[0-9]')
	kver=${image#linux-image-}
	headers=linux-headers-$kver
	common=$(depends_on "$s" "$headers" '^linux-headers-.*-common$')
	kbuild=$(depends_on "$s" "$headers" '^linux-kbuild-')
	srcver=$(pkg_version "$s" "$image")
	source=linux-source-$s
	suite=$(series_suite "$s")

	if [ -f "$dir/stamp" ] && [ "$(cat "$dir/stamp")" = "$kver $srcver" ]; then
		log "$s: $kver ($srcver) is up to date"
		[ -z "$suite" ] || provision_buildroot "$suite" "$s" "$kver"
		return 0
	fi

	log "$s: fetching $kver ($srcver)"
	rm -rf "$dir"
	mkdir -p "$dir/debs"
	# Since 7.x the image package is a metapackage over these.
	pkgs="$image $(depends_all "$s" "$image" '^linux-(binary|modules|base)-' | tr '\n' ' ')"
	pkgs="$pkgs $headers $common $kbuild $source=$srcver"
	# shellcheck disable=SC2046,SC2086
	(cd "$dir/debs" && apt-get $(apt_opts "$s") -qq download $pkgs) ||
		die "$s: cannot download $pkgs"

	mkdir -p "$dir/root"
	for deb in "$dir"/debs/*.deb; do
		case $deb in
		*/linux-source-*) ;;
		*) dpkg-deb -x "$deb" "$dir/root" || die "cannot unpack $deb" ;;
		esac
	done
	extract_source "$(ls "$dir"/debs/linux-source-*.deb)" "$dir/src"

	# The headers' top Makefile includes the common tree by absolute path.
	sed -i "s|^include /usr/src/|include $dir/root/usr/src/|" \
		"$dir/root/usr/src/linux-headers-$kver/Makefile"
	# Packages of a merged-/usr suite put the modules in /usr/lib only.
	[ -e "$dir/root/lib" ] || ln -s usr/lib "$dir/root/lib"
	depmod -b "$dir/root" "$kver" || die "$s: depmod failed"

	ln -sfn "root/usr/src/linux-headers-$kver" "$dir/build"
	if [ -e "$dir/root/boot/vmlinuz-$kver" ]; then
		ln -sfn "root/boot/vmlinuz-$kver" "$dir/vmlinuz"
	else
		ln -sfn "root/lib/modules/$kver/vmlinuz" "$dir/vmlinuz"
	fi
	ln -sfn "root/lib/modules/$kver" "$dir/modules"
	if [ -n "$suite" ]; then
		provision_buildroot "$suite" "$s" "$kver"
		ln -sfn "../root-$suite" "$dir/buildroot"
	fi
	echo "$kver" >"$dir/version"
	rm -rf "$dir/debs"
	echo "$kver $srcver" >"$dir/stamp"
	log "$s: ready in $dir"
}

main() {
	local host_tools=1 series=()

	if [ "${1:-}" = --path ]; then
		[ $# -eq 3 ] || die "usage: $0 --path SERIES build|buildroot|vmlinuz|modules|src|version"
		[ -e "$CACHE/$2/$3" ] || die "$CACHE/$2/$3 does not exist; run $0 $2"
		if [ "$3" = version ]; then
			cat "$CACHE/$2/version"
		else
			readlink -f "$CACHE/$2/$3"
		fi
		return 0
	fi
	while [ $# -gt 0 ]; do
		case $1 in
		--no-host-tools) host_tools=0 ;;
		-h | --help)
			sed -n '3,42p' "$0" | sed 's/^# \{0,1\}//'
			return 0
			;;
		-*) die "unknown option $1" ;;
		*) series+=("$1") ;;
		esac
		shift
	done
	[ ${#series[@]} -gt 0 ] || series=(6.1 6.12 7.3)

	[ $host_tools -eq 0 ] || install_host_tools
	mkdir -p "$CACHE"
	for s in "${series[@]}"; do
		series_sources "$s" >/dev/null
		provision_series "$s"
	done
	provision_qemu
}

main "$@"

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# in-buildroot.sh ROOT DIR COMMAND...: run COMMAND in the build root ROOT
# (scripts/provision.sh makes one for a kernel the host's compiler cannot
# build for), with DIR, a host directory, at the same path inside and /proc
# mounted (objtool reads it).  Both mounts go when COMMAND ends.

set -euo pipefail

[ $# -ge 3 ] || { echo "usage: $0 ROOT DIR COMMAND..." >&2; exit 2; }
root=$1
dir=$2
shift 2

mkdir -p "$root$dir" "$root/proc"
mount --bind "$dir" "$root$dir"
trap 'umount -l "$root$dir"' EXIT
mount -t proc proc "$root/proc"
trap 'umount -l "$root/proc"; umount -l "$root$dir"' EXIT
chroot "$root" "$@"

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# checkpatch.sh [FILE...]: the kernel's checkpatch.pl --strict on every C
# source, header, Kbuild and Kconfig file of the project (or on FILE...).
# checkpatch.pl comes from linux-source, unpacked by provision.sh.
# Prints TAP, one line per file; exits 1 if any file has a finding.

set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
series=${CHECKPATCH_KERNEL:-6.12}
src=$("$top/scripts/provision.sh" --path "$series" src) || exit 1
checkpatch=$src/scripts/checkpatch.pl

cd "$top" || exit 1
if [ $# -eq 0 ]; then
	mapfile -t files < <(git ls-files -- '*.c' '*.h' '*Kbuild' '*Kconfig')
else
	files=("$@")
fi

n=0
status=0
echo "1..${#files[@]}"
for f in "${files[@]}"; do
	n=$((n + 1))
	ignore=()
	# FIXTURE_VARIANT_ADD_ALL_BACKENDS() expands to declarations, as the
	# harness's own FIXTURE_*() do, which checkpatch takes for statements.
	[ "$f" = tools/testing/selftests/vfio/lib/include/vfio_util.h ] &&
		ignore=(--ignore MULTISTATEMENT_MACRO_USE_DO_WHILE)
	if out=$(perl "$checkpatch" --strict --no-tree --show-types --quiet \
			--no-summary "${ignore[@]}" -f "$f" 2>&1) && [ -z "$out" ]; then
		echo "ok $n checkpatch: $f"
	else
		echo "not ok $n checkpatch: $f"
		echo "$out" | sed 's/^/# /'
		status=1
	fi
done
exit $status

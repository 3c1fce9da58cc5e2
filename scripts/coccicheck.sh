#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# coccicheck.sh: the kernel's coccinelle rules that apply to a driver (api/,
# free/, null/, locks/, misc/) run one by one over the project's kernel
# sources.  "make coccicheck" needs a full kernel tree; this runs spatch the
# way it does, in the first mode each rule offers of report, context and
# patch.  The rules come from linux-source, unpacked by provision.sh.
#
# Prints TAP, one line per rule; any output is a finding.  A rule that
# spatch cannot run is reported as skipped, with spatch's reason.  Exits 1
# on any finding.

set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
series=${COCCI_KERNEL:-6.12}
src=$("$top/scripts/provision.sh" --path "$series" src) || exit 1
command -v spatch >/dev/null || { echo "coccicheck: spatch not found: run scripts/provision.sh" >&2; exit 1; }

cd "$top" || exit 1
mapfile -t files < <(git ls-files -- 'drivers/*.c' 'drivers/*.h' 'include/*.h')
mapfile -t rules < <(cd "$src/scripts/coccinelle" && find api free null locks misc -name '*.cocci' | sort)

err=$(mktemp)
n=0
status=0
echo "1..${#rules[@]}"
for rule in "${rules[@]}"; do
	n=$((n + 1))
	path=$src/scripts/coccinelle/$rule
	mode=
	for m in report context patch; do
		if grep -q "^virtual $m\b" "$path"; then
			mode=$m
			break
		fi
	done
	if [ -z "$mode" ]; then
		echo "ok $n coccinelle: $rule # SKIP rule has no report, context or patch mode"
		continue
	fi
	if ! out=$(spatch --very-quiet --no-includes --include-headers -D "$mode" \
			--sp-file "$path" "${files[@]}" 2>"$err"); then
		echo "ok $n coccinelle: $rule # SKIP spatch cannot run it: $(grep -m1 -v "^$" "$err")"
		continue
	fi
	if [ -z "$out" ]; then
		echo "ok $n coccinelle: $rule ($mode)"
	else
		echo "not ok $n coccinelle: $rule ($mode)"
		echo "$out" | sed 's/^/# /'
		status=1
	fi
done
rm -f "$err"
exit $status

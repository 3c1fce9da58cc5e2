#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Run last: fails if the kernel warned or oopsed while the selftests ran.
# Taint flags W (warning, bit 9) and D (died, bit 7) and the kernel log's
# "WARNING:", "BUG:" and "Oops" lines are checked; the log lines are printed.

ksft_skip=4
taint=$(cat /proc/sys/kernel/tainted) || exit $ksft_skip

log=$(dmesg 2>/dev/null | grep -E 'WARNING:|BUG:|Oops|general protection fault')
[ -z "$log" ] || echo "$log"
echo "tainted=$taint"
if [ $((taint & (1 << 9))) -ne 0 ] || [ $((taint & (1 << 7))) -ne 0 ] || [ -n "$log" ]; then
	echo "the kernel warned or oopsed"
	exit 1
fi

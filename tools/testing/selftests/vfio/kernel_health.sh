#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Run last: fails if the kernel warned, oopsed or reported a bug while the
# selftests ran.  Checked:
#
# - taint flags W (warning, bit 9), D (died, bit 7) and B (bad page, bit 5,
#   which a KASAN report sets);
# - the kernel log's lines of warnings and oopses ("WARNING:", "BUG:",
#   "Oops", "general protection fault"), which include KASAN's reports
#   ("BUG: KASAN: ..."), lockdep's ("WARNING: possible circular locking
#   dependency detected", "WARNING: inconsistent lock state", "WARNING:
#   suspicious RCU usage", ...) and sleeping in atomic context ("BUG:
#   sleeping function called from invalid context"); UBSAN's reports
#   ("UBSAN: ...") and RCU stalls ("INFO: rcu_preempt detected stalls ...");
# - on a kernel with kmemleak (the sanitizer kernel, config.sanitizer):
#   two scans, then every unreferenced object whose allocation went
#   through VFIO or the project's modules (a frame of vfio*, mdev) is a
#   leak, printed with its backtrace.  The kernel's other unreferenced
#   objects are counted in one line and do not fail the run: kmemleak has
#   false positives of its own there (objects reached only through
#   physical addresses, or pointers it cannot see), and they are not the
#   project's to fix.  vmtest's /init clears what kmemleak suspected
#   during boot, before the modules load.
#
# The lines that made it fail are printed.

ksft_skip=4
taint=$(cat /proc/sys/kernel/tainted) || exit $ksft_skip

log=$(dmesg 2>/dev/null |
	grep -E 'WARNING:|BUG:|Oops|general protection fault|UBSAN:|INFO: rcu.* stall')
[ -z "$log" ] || echo "$log"
echo "tainted=$taint"
status=0
if [ $((taint & (1 << 9))) -ne 0 ] || [ $((taint & (1 << 7))) -ne 0 ] ||
   [ $((taint & (1 << 5))) -ne 0 ] || [ -n "$log" ]; then
	echo "the kernel warned, oopsed or reported a bug"
	status=1
fi

kmemleak=/sys/kernel/debug/kmemleak
grep -q ' /sys/kernel/debug debugfs ' /proc/mounts ||
	mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
if [ -e $kmemleak ]; then
	# An object is reported once it has been unreferenced for 5 s; a
	# second scan catches one whose last pointer a scan still saw.
	sleep 6
	echo scan >$kmemleak && echo scan >$kmemleak ||
		{ echo "kmemleak: cannot scan"; exit 1; }
	leaks=$(awk '
		function record() {
			if (rec ~ /\[(vfio[a-z_]*|mdev)\]/) { ours++; print rec }
			else if (rec != "") other++
			rec = ""
		}
		/^unreferenced object / { record(); rec = $0; next }
		rec != "" { rec = rec "\n" $0 }
		END {
			record()
			if (other) printf "kmemleak: %d unreferenced object(s) of the kernel, not from VFIO: not counted\n", other
			if (ours) printf "kmemleak: %d leak(s) from VFIO or the modules under test\n", ours
		}' $kmemleak)
	[ -z "$leaks" ] || echo "$leaks"
	case $leaks in
	*"leak(s) from VFIO"*) status=1 ;;
	esac
fi
exit $status

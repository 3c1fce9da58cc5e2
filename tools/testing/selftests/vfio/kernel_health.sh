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
#
# --stock: the sanitizer kernel's "stock" boot (scripts/vmtest-init.sh),
# which runs the tests that put a pinning device behind the stock type1
# driver.  One report is accepted there, the stock driver's own lock order
# (vfio_iommu_type1_register_device() and vfio_notify_dma_unmap() take
# device_list_lock under iommu->lock, and a device's dma_unmap, called
# with device_list_lock held, unpins through vfio_iommu_type1_unpin_pages(),
# which takes iommu->lock): lockdep's circular dependency report whose
# chain has exactly those two locks, each taken in vfio_iommu_type1, as
# are the two locks of its header.  It is printed whole, as a known defect
# of the stock driver; any other report, or a second one, still fails.
# --log FILE: check the kernel log FILE instead of this kernel's, and
# nothing else (no taint, no kmemleak): kernel_health_control.sh --stock
# checks the rule above with it.

ksft_skip=4
stock='' logfile=''
while [ $# -gt 0 ]; do
	case $1 in
	--stock) stock=1 ;;
	--log) logfile=$2; shift ;;
	*) echo "usage: $0 [--stock] [--log FILE]"; exit 1 ;;
	esac
	shift
done
if [ -n "$logfile" ]; then
	taint=0
	klog=$(cat "$logfile") || exit 1
else
	taint=$(cat /proc/sys/kernel/tainted) || exit $ksft_skip
	klog=$(dmesg 2>/dev/null)
fi

# stock_type1_cycle: print the stock driver's lock order report of the
# kernel log on stdin and succeed, if that is the one circular dependency
# report there; fail otherwise.
stock_type1_cycle() {
	awk '
	function type1_lock(class) {
		return class ~ /^&iommu->(lock|device_list_lock)(#[0-9]+)?$/
	}
	# The class of a "(CLASS){...}" lock description in $0.
	function class_of(s) {
		s = substr($0, index($0, "(") + 1)
		return substr(s, 1, index(s, "){") - 1)
	}
	{ sub(/^(\[[^]]*\])+ ?/, "") }
	/WARNING: possible circular locking dependency detected$/ {
		reports++
		inside = 1
		part = "header"
	}
	!inside { next }
	{ report = report $0 "\n" }
	/ is trying to acquire lock:$/ || /^but task is already holding lock:$/ {
		want_lock = 1
		next
	}
	want_lock && /\(.*\)\{/ {
		want_lock = 0
		if (!type1_lock(class_of()) || $0 !~ /, at: .*\[vfio_iommu_type1\]$/)
			bad = bad " header lock " class_of()
		next
	}
	/^-> #[0-9]+ \(/ {
		part = "chain"
		chain++
		class = class_of()
		if (!type1_lock(class) || seen[class]++)
			bad = bad " chain lock " class
		sub(/#[0-9]+$/, "", class)
		kinds[class]++
		acquirer = ""
		next
	}
	part == "chain" && /^ +[A-Za-z_.0-9]+\+0x/ && acquirer == "" {
		fn = $1
		if (fn ~ /^(check_prev_add|validate_chain|__lock_acquire|lock_acquire|__mutex_lock|mutex_lock|_raw_|down_)/)
			next
		acquirer = fn
		if ($0 !~ /\[vfio_iommu_type1\]$/)
			bad = bad " chain frame " fn
		next
	}
	/^other info that might help us debug this:$/ { part = "end" }
	/<\/TASK>$/ && part == "end" { inside = 0 }
	END {
		if (reports != 1 || chain != 2 || kinds["&iommu->lock"] != 1 ||
		    kinds["&iommu->device_list_lock"] != 1 || bad != "")
			exit 1
		printf "%s", report
	}'
}

log=$(echo "$klog" |
	grep -E 'WARNING:|BUG:|Oops|general protection fault|UBSAN:|INFO: rcu.* stall')
if [ -n "$stock" ] && known=$(echo "$klog" | stock_type1_cycle); then
	echo "known defect of the stock vfio_iommu_type1, not counted:"
	echo "$known" | sed 's/^/  /'
	log=$(echo "$log" | grep -v 'WARNING: possible circular locking dependency detected$')
fi
[ -z "$log" ] || echo "$log"
echo "tainted=$taint"
status=0
if [ $((taint & (1 << 9))) -ne 0 ] || [ $((taint & (1 << 7))) -ne 0 ] ||
   [ $((taint & (1 << 5))) -ne 0 ] || [ -n "$log" ]; then
	echo "the kernel warned, oopsed or reported a bug"
	status=1
fi
[ -z "$logfile" ] || exit $status

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

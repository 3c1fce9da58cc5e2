# SPDX-License-Identifier: GPL-2.0-only
#
# vfio_dirty: top-level build.
#
#   make [KVER=...]        build the modules against one installed kernel
#                          (default: the running one; or KDIR=headers tree),
#                          in place, like any external module
#   make install           install them (modules_install, then depmod);
#                          INSTALL_MOD_PATH stages them elsewhere
#   make demo              everything below, then the demo: the 8 TiB dirty
#                          tracking boundary, then QEMU 11.1 migrating a VM
#                          and a 9 TiB VM on each backend, in a 6.1 guest
#   make provision         fetch Debian's 6.1, 6.12 and 7.3 kernels into the cache
#   make kernels           W=1 builds against every provisioned kernel
#   make sparse            sparse (C=2) against every provisioned kernel
#   make checkpatch        checkpatch.pl --strict on every source file
#   make coccicheck        the kernel's coccinelle rules, one by one
#   make unit              userspace unit tests of the pure logic
#   make bench-ranges      benchmark of the range splitter (a table)
#   make bench-backend     MAP/UNMAP_DMA cost, vfio_dirty against the stock
#                          type1, on edu in a 6.1 guest (a table)
#   make bench-dirty       dirty tracking cost of 1 GiB to 64 TiB of mappings,
#                          vfio_dirty against the stock type1, on the
#                          simulated device in a 6.1 guest (a table)
#   make bench-qemu        QEMU's dirty bitmap syncs for 1 to 16 TiB VMs,
#                          vfio_dirty against the stock type1, QEMU 11.1
#                          nested in a 6.1 guest (a table)
#   make plots             draw the benchmarks' data files (gnuplot) into
#                          $(OUT)/plots: those of the run the benchmark
#                          document reports, or BENCH_DATA=$(OUT)/bench
#   make selftests         build the kselftests (static)
#   make vmtest            boot each kernel in QEMU and run the selftests
#   make fuzz              the differential fuzzer (vfio_dirty against the stock
#                          type1) in each kernel, on the simulated device and
#                          on edu, FUZZ_SECONDS each (default 300), from seed
#                          FUZZ_SEED on (default: the time)
#   make check             all of the above, on Debian's kernels and the
#                          sanitizer kernel (KERNELS default "6.1 6.12 7.3
#                          7.3-sanitizer"); ends with "N passed, N failed,
#                          N skipped"
#
# KERNELS selects the provisioned kernels (default "6.1 6.12 7.3"; add
# 7.3-sanitizer for the sanitizer kernel, built here); VFIO_DIRTY_CACHE
# moves the cache (default ~/.cache/vfio-dirty); OUT moves the build output
# (default ./out; not O, which kbuild would take for its own).

KVER ?= $(shell uname -r)
KDIR ?= /lib/modules/$(KVER)/build
KERNELS ?= 6.1 6.12 7.3
OUT ?= $(CURDIR)/out
export OUT
VFIO_DIRTY_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/vfio-dirty
export VFIO_DIRTY_CACHE

MODULE_CONFIG = CONFIG_VFIO_DIRTY=m CONFIG_VFIO_DIRTY_SIM=m \
	KERNEL_VFIO_H=$(shell $(CURDIR)/scripts/kernel-vfio-h.sh $(KDIR))
PROVISION := $(CURDIR)/scripts/provision.sh
SELFTESTS := $(CURDIR)/tools/testing/selftests/vfio

# The kernel source the kselftest harness and the checkers come from,
# whatever KERNELS says: 6.1's harness runs a test's body after its
# FIXTURE_SETUP skipped.
SRC_KERNEL := 6.12

.PHONY: all modules install clean provision kernels sparse checkpatch \
	coccicheck unit bench-ranges bench-backend bench-dirty selftests vmtest demo \
	check fuzz bench-qemu

all: modules

modules:
	$(MAKE) -C $(KDIR) M=$(CURDIR) $(MODULE_CONFIG) modules

install:
	$(MAKE) -C $(KDIR) M=$(CURDIR) $(MODULE_CONFIG) modules_install
	depmod $(if $(INSTALL_MOD_PATH),-b $(INSTALL_MOD_PATH)) $(KVER)

clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR) clean 2>/dev/null || true
	$(MAKE) -C $(SELFTESTS) clean 2>/dev/null || true
	$(MAKE) -C tools/testing/vfio_dirty clean
	rm -rf $(OUT)

provision:
	$(PROVISION) $(KERNELS) $(SRC_KERNEL)

# Kbuild writes objects next to the sources, so each kernel builds in its own
# copy of the tree under $(OUT)/<series>/.  The modules the VM tests boot
# have the test hooks (CONFIG_VFIO_DIRTY_TEST); sparse checks the build
# without them, the one "make modules" makes.
kernels:
	@for k in $(KERNELS); do \
		scripts/kbuild.sh $$k $(OUT)/$$k W=1 CONFIG_VFIO_DIRTY_TEST=y || exit 1; \
	done

sparse:
	@for k in $(KERNELS); do \
		scripts/kbuild.sh $$k $(OUT)/sparse-$$k C=2 || exit 1; \
	done

checkpatch:
	scripts/checkpatch.sh

coccicheck:
	scripts/coccicheck.sh

unit:
	$(MAKE) -C tools/testing/vfio_dirty run_tests

bench-ranges:
	$(MAKE) -C tools/testing/vfio_dirty bench

selftests:
	$(PROVISION) --no-host-tools $(SRC_KERNEL)
	mkdir -p $(OUT)/selftests
	$(MAKE) -C $(SELFTESTS) OUTPUT=$(OUT)/selftests \
		KSFT_SRC=$$($(PROVISION) --path $(SRC_KERNEL) src)

vmtest: selftests kernels
	$(SELFTESTS)/vmtest.sh -k "$(KERNELS)" -o $(OUT) $(VMTEST_FLAGS)

demo: provision
	$(MAKE) kernels KERNELS=6.1
	$(MAKE) selftests
	$(SELFTESTS)/vmtest.sh -d -k 6.1 -o $(OUT) $(VMTEST_FLAGS)

bench-backend: provision
	$(MAKE) kernels KERNELS=6.1
	$(MAKE) selftests
	$(SELFTESTS)/vmtest.sh -b -k 6.1 -o $(OUT) $(VMTEST_FLAGS)

# The device writes 0.1% of every mapping twice per repetition, up to 8 GiB
# of DMA at 16 TiB: under TCG that takes longer than the default timeout.
bench-dirty: provision
	$(MAKE) kernels KERNELS=6.1
	$(MAKE) selftests
	$(SELFTESTS)/vmtest.sh -r -k 6.1 -m 6G -t 3600 -o $(OUT) $(VMTEST_FLAGS)

# QEMU's bitmaps for a 16 TiB VM take about 3 GiB of the guest.
bench-qemu: provision
	$(MAKE) kernels KERNELS=6.1
	$(MAKE) selftests
	$(SELFTESTS)/vmtest.sh -k 6.1 -m 6G -t 3600 -o $(OUT) $(VMTEST_FLAGS) \
		-- ./vfio_dirty_qemu_bench

# The data files of the run Documentation/driver-api/vfio-dirty-benchmarks.rst
# reports; make bench-* writes a new run's to $(OUT)/bench.
BENCH_DATA ?= $(CURDIR)/Documentation/driver-api/vfio-dirty-benchmarks
PLOTS := track-get-bitmap track-unmap track-memory qemu-sync
.PHONY: plots
plots:
	mkdir -p $(OUT)/plots
	cd $(OUT)/plots && rm -f $(PLOTS:=.svg)
	gnuplot -e "data='$(BENCH_DATA)'; out='$(OUT)/plots'" scripts/plots.gp
	cd $(OUT)/plots && ls -l $(PLOTS:=.svg)

check:
	scripts/check.sh

# Each device runs its sequences for FUZZ_SECONDS; a guest gets twice that,
# and its boot.  A failing seed prints its minimal calls and a replay command.
FUZZ_SECONDS ?= 300
FUZZ_SEED ?= $(shell date +%s)
fuzz: selftests kernels
	$(SELFTESTS)/vmtest.sh -k "$(KERNELS)" -o $(OUT) -t $$((2 * $(FUZZ_SECONDS) + 600)) \
		$(VMTEST_FLAGS) -- sh -c 'ret=0; \
		for dev in $$MDEV $$EDU; do \
			./vfio_dirty_fuzz_test --seed $(FUZZ_SEED) --seconds $(FUZZ_SECONDS) $$dev || ret=1; \
		done; exit $$ret'

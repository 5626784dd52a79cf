# SPDX-License-Identifier: GPL-2.0
#
# Project targets of timerring. The modules themselves are described by
# the root Kbuild (kbuild reads Kbuild, not this file, for M= builds).
#
#   make check        the full test run (static checks, builds against
#                     three kernels, DKMS, userspace, three VM boots);
#                     last line "N passed, N failed"
#   make modules      build timerring.ko (+ timerring_kunit.ko) at the
#                     repo root against KDIR (default: the test kernel)
#   make run          boot a VM and run the showcase program
#   make vm-shell     boot a VM with the module loaded, interactive shell
#   make install      build for the running kernel and install, with the
#                     udev rule and group of /dev/timerring (real hosts)
#   make dkms-install install as a DKMS package, the same (real hosts)
#   make deb          Debian packages (debian/) into out/deb: timerring-dkms,
#                     libtimerring1, libtimerring-dev, timerring-tools
#   make soak DURATION=30m  the races, the hotplug loop (and SOAK_PROGS)
#                     at once in the debug VM, then slabinfo, kmemleak and
#                     one verdict line (not part of check)
#   make fuzz-vm      boot the debug kernel with only the differential
#                     fuzzer (tools/fuzz) for DURATION seconds (default 600)
# See doc/TESTBENCH.md.

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
VM := tools/vm
OUT ?= out
# KDIR: kernel build tree for `make modules`; empty = the cached test
# kernel of $(VM)/build-kernel.sh (built on first use, ~30 min).
KDIR ?=
# Kernel for run / vm-shell: test (debug kernel) or deb6.1 / deb6.12
# (Debian's stock kernels, modules built against their headers). make run
# boots Debian's 6.12: its side-by-side times the systems as users run
# them, and a fresh machine needs no kernel build for it.
RUN_KERNEL ?= deb6.12
SHELL_KERNEL ?= test
KVER ?= $(shell uname -r)
INSTALL_KDIR ?= /lib/modules/$(KVER)/build
DESTDIR ?=

kdir = $${KDIR:-$$($(VM)/test-kernel.sh)}

.PHONY: all deps kernel modules clean check check-static check-build \
	check-vm run vm-shell install dkms-install dkms-uninstall help

all: modules

help:
	@sed -n '3,/^# See doc/p' Makefile | sed 's/^# \{0,1\}//'

deps:
	@$(VM)/deps.sh

kernel: deps
	@$(VM)/test-kernel.sh

modules:
	@k=$(kdir) && $(MAKE) -C "$$k" M=$(CURDIR) W=1 modules

# What an M= build leaves behind (no kernel tree needed to remove it).
clean:
	rm -rf $(OUT)
	find . -path ./.git -prune -o -path ./tools -prune -o -path ./selftests -prune -o \
		\( -name '*.o' -o -name '*.ko' -o -name '*.mod' -o -name '*.mod.c' \
		-o -name '.*.cmd' -o -name '*.a' -o -name modules.order \
		-o -name Module.symvers -o -name '*.d' \) -type f -print0 | xargs -0r rm -f
	[ ! -f selftests/Makefile ] || $(MAKE) -C selftests clean
	[ ! -f tools/Makefile ] || $(MAKE) -C tools clean

# The full test run: every leg, then the totals as the last line.
check:
	@$(VM)/check.sh all

check-static:
	@$(VM)/check.sh static

check-build:
	@$(VM)/check.sh build

check-vm:
	@$(VM)/check.sh vm

# Seconds, or Ns, Nm, Nh (tools/vm/soak.sh).
DURATION ?= 600
.PHONY: soak
soak: deps
	@$(VM)/soak.sh $(DURATION)

# Build what a VM of kernel $(1) needs into $(OUT)/build/$(1); print the
# image path.
vm_prep = set -e; \
	case "$(1)" in \
	test) k=$(kdir); img=$$k/arch/x86/boot/bzImage ;; \
	deb6.1|deb6.12) k=$$($(VM)/stock-kernels.sh kdir $(subst deb,,$(1))); \
		img=$$($(VM)/stock-kernels.sh vmlinuz $(subst deb,,$(1))) ;; \
	*) echo "unknown kernel $(1) (test, deb6.1, deb6.12)" >&2; exit 2 ;; \
	esac; \
	$(VM)/build-module.sh -o $(OUT)/build/$(1) -k "$$k" >$(OUT)/build-$(1).log 2>&1 || \
		{ cat $(OUT)/build-$(1).log; exit 1; }; \
	if [ -f selftests/Makefile ]; then $(MAKE) -s -C selftests KDIR="$$k" >/dev/null; fi; \
	if [ -f tools/Makefile ]; then $(MAKE) -s -C tools >/dev/null; fi; \
	if [ -f tools/demo/Makefile ]; then $(MAKE) -s -C tools/demo >/dev/null; fi; \
	mods="$(OUT)/build/$(1)/timerring.ko"; \
	[ "$(1)" = test ] && [ -f $(OUT)/build/$(1)/timerring_kunit.ko ] && \
		mods="$$mods $(OUT)/build/$(1)/timerring_kunit.ko"; \
	demo=$$(find tools -name timerring-demo -type f -perm -u+x 2>/dev/null | head -n1); \
	$(VM)/mkinitramfs.sh -o $(OUT)/vm-$(2)/initramfs.cpio.gz \
		$${demo:+-b $$demo} $(3) $$mods

# Boot a VM and run the showcase (tools/**/timerring-demo) in it, then the
# side-by-side with io_uring timeouts and timerfd (timerring-bench).
RUN_BENCH	:= -x tools/bench/timerring-bench:/opt/timerring/bench/timerring-bench

run: deps bench-build
	@mkdir -p $(OUT)/vm-run
	@$(call vm_prep,$(RUN_KERNEL),run,$(RUN_BENCH)); \
	$(VM)/run-vm.sh -k "$$img" -i $(OUT)/vm-run/initramfs.cpio.gz -m run \
		-o $(OUT)/vm-run -T 900 || true; \
	sed -n '/^##### BEGIN run showcase/,/^##### END run showcase/p' \
		$(OUT)/vm-run/results.log | sed '1d;$$d'; \
	grep -q '^##### TIMERRING-DONE' $(OUT)/vm-run/results.log || \
		{ echo "run: the VM did not finish, see $(OUT)/vm-run/console.log"; exit 1; }; \
	! grep -q '^# exit status [1-9]' $(OUT)/vm-run/results.log || \
		{ echo "run: the showcase failed"; exit 1; }

# Interactive: console on this terminal, Ctrl-A X quits.
vm-shell: deps
	@mkdir -p $(OUT)/vm-shell
	@$(call vm_prep,$(SHELL_KERNEL),shell); \
	exec $(VM)/run-vm.sh -k "$$img" -i $(OUT)/vm-shell/initramfs.cpio.gz \
		-m shell -o $(OUT)/vm-shell

# What the DKMS package ships (paths kept, rsync -R): the build files and
# the access rule that its POST_INSTALL script installs.
DKMS_FILES := dkms.conf Kbuild module uapi VERSION tools/dkms/post-install.sh \
	tools/udev/60-timerring.rules

# Real hosts only: build against the running kernel and install. The
# access rule (tools/dkms/post-install.sh): the udev rule to
# $(DESTDIR)/usr/lib/udev/rules.d; without DESTDIR also the system group
# timerring and a udev reload. Then the man pages (install-man).
install:
	$(MAKE) -C $(INSTALL_KDIR) M=$(CURDIR) modules
	$(MAKE) -C $(INSTALL_KDIR) M=$(CURDIR) INSTALL_MOD_PATH=$(DESTDIR) modules_install
	[ -n "$(DESTDIR)" ] || depmod -a $(KVER)
	install -D -m 644 uapi/linux/timerring.h $(DESTDIR)/usr/include/linux/timerring.h
	DESTDIR="$(DESTDIR)" tools/dkms/post-install.sh
	$(MAKE) --no-print-directory install-man

# The man pages: timerring(4) and libtimerring(3) (doc/man/, .so links
# included) and timerringctl(8). `make -C tools install` installs
# timerringctl.8 too, next to the binary under its PREFIX.
MAN_DIR ?= /usr/share/man
.PHONY: install-man
install-man:
	install -d $(DESTDIR)$(MAN_DIR)/man3 $(DESTDIR)$(MAN_DIR)/man4 $(DESTDIR)$(MAN_DIR)/man8
	install -m 644 doc/man/*.3 $(DESTDIR)$(MAN_DIR)/man3/
	install -m 644 doc/man/*.4 $(DESTDIR)$(MAN_DIR)/man4/
	install -m 644 tools/timerringctl/timerringctl.8 $(DESTDIR)$(MAN_DIR)/man8/

# dkms install runs the package's POST_INSTALL: the same access rule.
dkms-install:
	-dkms remove -m timerring -v $(VERSION) --all 2>/dev/null
	rm -rf /usr/src/timerring-$(VERSION)
	mkdir -p /usr/src/timerring-$(VERSION)
	rsync -aR --exclude='*.o' --exclude='*.ko' --exclude='.*.cmd' --exclude='*.mod*' \
		$(DKMS_FILES) /usr/src/timerring-$(VERSION)/
	dkms add -m timerring -v $(VERSION)
	dkms build -m timerring -v $(VERSION)
	dkms install -m timerring -v $(VERSION)
	install -D -m 644 uapi/linux/timerring.h /usr/include/linux/timerring.h

dkms-uninstall:
	dkms remove -m timerring -v $(VERSION) --all
	rm -rf /usr/src/timerring-$(VERSION)

# Debian packages (debian/, see debian/README.source), built by
# dpkg-buildpackage in a copy of the tree (without out/ and what
# .gitignore ignores) in $(DEB_OUT)/timerring-$(VERSION)/, so that the
# source package, the .debs and the .changes land in $(DEB_OUT) and not
# in the parent of the tree. No -dbgsym packages unless DEB_BUILD_OPTIONS
# says otherwise, so that `apt install ./out/deb/*.deb` takes the four.
DEB_OUT ?= $(OUT)/deb
DEB_BUILD_OPTIONS ?= noautodbgsym
.PHONY: deb
deb: deps
	@v=$$(dpkg-parsechangelog -S Version) && [ "$$v" = "$(VERSION)" ] || \
		{ echo "deb: debian/changelog is at $$v, VERSION at $(VERSION): dch -v $(VERSION)" >&2; \
		exit 1; }
	rm -rf $(DEB_OUT)
	mkdir -p $(DEB_OUT)/timerring-$(VERSION)
	rsync -a --exclude=/.git --exclude=/out --exclude=/$(OUT) --filter=':- .gitignore' \
		./ $(DEB_OUT)/timerring-$(VERSION)/
	cd $(DEB_OUT)/timerring-$(VERSION) && \
		DEB_BUILD_OPTIONS="$(DEB_BUILD_OPTIONS)" dpkg-buildpackage -us -uc
	@ls -1 $(DEB_OUT)/*.deb

# The differential fuzzer alone in a VM (check mode: the module loaded,
# the fuzzer for DURATION seconds, rmmod, kmemleak, the kernel log), on the
# debug kernel by default (FUZZ_KERNEL=deb6.1|deb6.12 for the stock ones);
# FUZZ_SEED fixes the seed. Results in $(OUT)/vm-fuzz/, the per-phase
# lines and the totals printed at the end.
DURATION ?= 600
FUZZ_KERNEL ?= test
FUZZ_SEED ?=
.PHONY: fuzz-vm
fuzz-vm: deps
	@set -e; mkdir -p $(OUT)/vm-fuzz; \
	case "$(FUZZ_KERNEL)" in \
	test) k=$(kdir); img=$$k/arch/x86/boot/bzImage ;; \
	deb6.1|deb6.12) v=$(subst deb,,$(FUZZ_KERNEL)); \
		k=$$($(VM)/stock-kernels.sh kdir $$v); img=$$($(VM)/stock-kernels.sh vmlinuz $$v) ;; \
	*) echo "unknown kernel $(FUZZ_KERNEL) (test, deb6.1, deb6.12)" >&2; exit 2 ;; \
	esac; \
	$(VM)/build-module.sh -o $(OUT)/build/$(FUZZ_KERNEL) -k "$$k" >$(OUT)/vm-fuzz/build.log 2>&1 || \
		{ cat $(OUT)/vm-fuzz/build.log; exit 1; }; \
	$(MAKE) -s -C tools/fuzz >/dev/null; \
	$(VM)/mkinitramfs.sh -o $(OUT)/vm-fuzz/initramfs.cpio.gz -S -U \
		-t tools/fuzz/timerring-fuzz $(OUT)/build/$(FUZZ_KERNEL)/timerring.ko; \
	$(VM)/run-vm.sh -k "$$img" -i $(OUT)/vm-fuzz/initramfs.cpio.gz -m check \
		-o $(OUT)/vm-fuzz -T $$(( $(DURATION) + 900 )) \
		-a "trfuzz=$(DURATION) $(if $(FUZZ_SEED),trfuzzseed=$(FUZZ_SEED)) trtimeout=$$(( $(DURATION) + 300 ))" || true; \
	grep -E '^(not )?ok [0-9]+ - |^# (FAIL|fuzz:|replay|shortened)' $(OUT)/vm-fuzz/results.log || true; \
	rc=0; python3 $(VM)/parse-results.py --vm $(OUT)/vm-fuzz >$(OUT)/vm-fuzz/summary.txt || rc=$$?; \
	tail -n 1 $(OUT)/vm-fuzz/summary.txt; exit $$rc

# bench, bench-vm, bench-check: tools/bench/bench.mk
include tools/bench/bench.mk

# SPDX-License-Identifier: GPL-2.0
#
# Benchmark targets, for the top-level Makefile (`include tools/bench/bench.mk`).
#
#   make bench         build tools/bench/timerring-bench and run it on this
#                      host: io_uring and timerfd (timerring too where
#                      /dev/timerring exists) -> out/bench/host.json + tables
#   make bench-vm      run it in the VM (QEMU TCG, module loaded): report
#                      in tools/bench/RESULTS.md (section "VM comparison"),
#                      tools/bench/results/vm-latest.{json,png}; then the
#                      regression check
#   make bench-check   ratios of tools/bench/results/vm-latest.json against
#                      tools/bench/baseline.json (BENCH_TOLERANCE=0.4 to
#                      override the stored tolerance)
# Knobs: BENCH_ARGS (host run), BENCH_VM_ARGS (guest run, see
# tools/bench/vm-bench.sh), BENCH_VM_KERNEL (deb6.12, deb6.1 or test).

BENCH_DIR	:= tools/bench
BENCH_OUT	?= $(or $(OUT),out)
BENCH_ARGS	?= --live 1048576 --sample 32 --spread-s 10 --conn-s 2
BENCH_VM_KERNEL	?= deb6.12
BENCH_RESULT	?= $(BENCH_DIR)/results/vm-latest.json
BENCH_TOLERANCE	?=
BENCH_REPORT	:= python3 $(BENCH_DIR)/report.py

.PHONY: bench bench-build bench-vm bench-check

bench-build:
	@$(MAKE) -s -C $(BENCH_DIR) timerring-bench

bench: bench-build
	@mkdir -p $(BENCH_OUT)/bench
	$(BENCH_DIR)/timerring-bench $(BENCH_ARGS) --label "host" \
		--json $(BENCH_OUT)/bench/host.json
	@$(BENCH_REPORT) summary $(BENCH_OUT)/bench/host.json

bench-vm: deps bench-build
	@mkdir -p $(BENCH_OUT)/vm-bench
	@BENCH_VM_ARGS="$(BENCH_VM_ARGS)" $(BENCH_DIR)/vm-bench.sh \
		-k $(BENCH_VM_KERNEL) -o $(BENCH_OUT)/vm-bench
	@host=$(BENCH_OUT)/bench/host.json; \
	$(BENCH_REPORT) report --vm $(BENCH_OUT)/vm-bench/bench.json \
		$$([ -f $$host ] && echo --host $$host) \
		--dmesg $(BENCH_OUT)/vm-bench/dmesg.txt \
		--results $(BENCH_DIR)/RESULTS.md --out-json $(BENCH_RESULT) \
		--plot $(BENCH_DIR)/results/vm-latest.png
	@sed -n '/^\*\*Targets of issue 6/,/^!\[/p' $(BENCH_DIR)/RESULTS.md | sed '$$d'
	@$(MAKE) -s bench-check || true

bench-check:
	@$(BENCH_REPORT) check $(if $(BENCH_TOLERANCE),--tolerance $(BENCH_TOLERANCE)) \
		$(BENCH_RESULT)

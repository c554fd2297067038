# gmpos: build, boot and test. Plain GNU make, no prompts, works without a tty.
#
#   make run    [SMP=4] [MEM=1G] [ACCEL=auto|kvm|tcg] [ICOUNT=1] [CPU=max] [UEFI=1]
#               [ARGS="kernel command line"] [TIMEOUT=secs] [RELEASE=1]
#               [EXAMPLE=name]  boot kernel/examples/<name>.rs instead of the demo
#   make debug  same, QEMU paused with a gdb server on :1234
#   make test   QEMU suite, host unit tests, loom models, clippy + rustfmt
#   make stress [SECS=60] [SEED=7] [STRESS_SMP="2 4"] [STORM=1] [STRESS_ARGS=...]
#               the seeded stress run (kernel/src/stress/) at each -smp, slice=1ms,
#               plus a 10 kHz interrupt storm at slice=100us; SECS=600: the soak
#   make stress-regress [STRESS_RUNS=20]  the scheduler regression kernels, repeatedly
#   make stress SCALE=1  a million goroutines at once and skynet, once
#   make trace  DEMO=name [SMP=2]  trace an example (or a test kernel with trace=1):
#               target/trace/name.json (Perfetto) and name.png
#   make prof   DEMO=name [HZ=1000]  CPU profile: target/trace/name.top.txt, name.folded
#   make bench  [BENCH=name,...] [ICOUNT=0]  shared/BENCH.md's suite, one boot per workload
#   make bench-compare [BENCH=...] [ICOUNT=0]  the same against Go in a Linux guest
#   make list-demos  the demos (kernel/src/demos/); make run ARGS="demo=NAME exit" runs one
#   make fmt | make clean | make deps | make runner | make kernel
#
# The runner (target/host/.../gmpos-boot) is always built with the same flags
# as scripts/runner.sh uses, so neither rebuilds it needlessly.

SMP     ?= 4
MEM     ?= 1G
ACCEL   ?= $(or $(GMPOS_ACCEL),auto)
ICOUNT  ?=
CPU     ?=
ARGS    ?=
UEFI    ?=
TIMEOUT ?=
RELEASE ?=

CARGO      ?= cargo
HOST       := x86_64-unknown-linux-gnu
HOST_FLAGS := --release --target $(HOST) --target-dir target/host
RUNNER     := target/host/$(HOST)/release/gmpos-boot
TRACE_TOOL := target/host/$(HOST)/release/gmpos-trace
PROFILE    := $(if $(filter 1 yes true,$(RELEASE)),release,debug)
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
EXAMPLE    ?=
EXAMPLES   := $(sort $(basename $(notdir $(wildcard kernel/examples/*.rs))))
KERNEL_ELF := $(TARGET_DIR)/x86_64-unknown-none/$(PROFILE)/$(if $(EXAMPLE),examples/$(EXAMPLE),gmpos-kernel)

# Single-quote for the shell.
shquote = '$(subst ','\'',$(1))'
is_on   = $(filter 1 yes true on,$(1))

RUN_FLAGS = --smp $(SMP) --mem $(MEM) --accel $(ACCEL) \
	$(if $(CPU),--cpu $(call shquote,$(CPU))) \
	$(if $(call is_on,$(ICOUNT)),--icount) \
	$(if $(call is_on,$(UEFI)),--uefi) \
	$(if $(TIMEOUT),--timeout $(TIMEOUT)) \
	--args $(call shquote,$(ARGS))

.PHONY: all run debug bench bench-compare stress stress-regress test test-qemu test-examples test-host test-host-kernel test-host-runner \
	trace prof trace-tool test-trace test-host-trace lint-clippy-trace \
	test-loom test-lint \
	lint-clippy-kernel lint-clippy-host lint-fmt lint-test-imports \
	test-demos list-demos kernel runner deps fmt clean clean-images help

all: kernel runner

help:
	@sed -n '1,19p' Makefile | sed 's/^# \{0,1\}//'

deps:
	@./scripts/install-deps.sh

kernel: deps
ifneq ($(EXAMPLE),)
	@if [ ! -f kernel/examples/$(EXAMPLE).rs ]; then \
		echo "make: no example \`$(EXAMPLE)' (kernel/examples/$(EXAMPLE).rs); examples: $(EXAMPLES)" >&2; \
		exit 2; \
	fi
	$(CARGO) build -p gmpos --example $(EXAMPLE) $(if $(filter release,$(PROFILE)),--release)
else
	$(CARGO) build -p gmpos --bin gmpos-kernel $(if $(filter release,$(PROFILE)),--release)
endif

runner: deps
	@if [ ! -x $(RUNNER) ]; then \
		echo "==> building the runner (first time: ~4 min, bootloader stages)"; \
	fi
	@$(CARGO) build -q -p gmpos-boot $(HOST_FLAGS)

run: deps kernel runner
	$(RUNNER) $(RUN_FLAGS) $(KERNEL_ELF)

debug: deps kernel runner
	$(RUNNER) --gdb $(RUN_FLAGS) $(KERNEL_ELF)

# --- the execution tracer and the CPU profiler (tools/trace) ---------------
# DEMO: an example in kernel/examples/ (booted with trace=1 / prof=HZ), or a
# test kernel in qemu-tests/tests/ whose own config turns them on. The
# runner sends the debug console (the kernel's stream) to
# target/trace/DEMO.bin ($$GMPOS_TRACE_OUT).
DEMO ?=
HZ   ?= 1000

trace-tool:
	@$(CARGO) build -q -p gmpos-trace $(HOST_FLAGS)

# $(1): trace or prof; $(2): the kernel words for an example.
define boot_demo
	@if [ -z "$(DEMO)" ]; then echo "make $(1): DEMO=<name> (examples: $(EXAMPLES), or a test kernel)" >&2; exit 2; fi
	@mkdir -p target/trace; rm -f target/trace/$(DEMO).bin
	@if [ -f kernel/examples/$(DEMO).rs ]; then \
		GMPOS_TRACE_OUT=$(CURDIR)/target/trace/$(DEMO).bin $(MAKE) --no-print-directory run EXAMPLE=$(DEMO) SMP=$(SMP) ARGS=$(call shquote,$(2) exit $(ARGS)); \
	elif [ -f qemu-tests/tests/$(DEMO).rs ]; then \
		GMPOS_TRACE_OUT=$(CURDIR)/target/trace/$(DEMO).bin $(CARGO) test --test $(DEMO); \
	else echo "make $(1): no example or test kernel named $(DEMO)" >&2; exit 2; fi
endef

trace: deps runner trace-tool
	$(call boot_demo,trace,trace=1)
	$(TRACE_TOOL) trace target/trace/$(DEMO).bin target/trace/$(DEMO)

prof: deps runner trace-tool
	$(call boot_demo,prof,prof=$(HZ))
	$(TRACE_TOOL) prof target/trace/$(DEMO).bin --top 25 --folded target/trace/$(DEMO).folded | tee target/trace/$(DEMO).top.txt

# shared/BENCH.md's suite (kernel/src/bench/, booted by
# qemu-tests/benches/suite.rs, release build) at -smp 2, one boot per
# workload (fresh boots per repetition for spawn_cold and park_memory),
# progress on stderr, `bench=` lines on stdout and in target/bench/last.txt.
# ICOUNT=1 (default): -icount shift=0, 1 virtual ns = 1 guest instruction;
# ICOUNT=0: plain TCG. BENCH=pingpong[,...] runs only those.
BENCH ?=
bench: deps runner
	@BENCH='$(BENCH)' ICOUNT='$(or $(ICOUNT),1)' CARGO='$(CARGO)' ./scripts/bench.sh -o target/bench/last.txt

# The suite against the Go peer program (bench/go/) in a Linux guest of
# Debian packages under the same QEMU, -smp and icount setting; prints the
# comparison table (target/bench-compare/table.md). Never part of `make test`.
bench-compare: deps runner
	@BENCH='$(BENCH)' ICOUNT='$(or $(ICOUNT),1)' SMP=2 CARGO='$(CARGO)' ./scripts/bench-compare.sh

# The seeded stress run (kernel/src/stress/, `stress seed=S secs=T` on the
# kernel command line): at every -smp in STRESS_SMP for SECS seconds at
# slice=1ms, then (STORM=1) at -smp 2 under a 10 kHz storm (tick=100us,
# IPI and cross-call floods from every CPU) at slice=100us. Each run prints
# its `stress:` line (logs in target/stress/); any failed check fails the
# target. STRESS_ARGS adds kernel words to every run (e.g. watchdog=1).
# `make test` runs the short version (qemu-tests/tests/stress.rs).
SECS        ?= 60
SEED        ?= 7
STRESS_SMP  ?= 2 4
STORM       ?= 1
STRESS_ARGS ?=
# The guest clock is the host's under TCG: a loaded host stretches a run;
# the timeout allows three times SECS plus the boot.
STRESS_TIMEOUT = $$(( $(SECS) * 3 + 120 ))

# The regression kernels of the scheduler's concurrency bugs (issue 10),
# STRESS_RUNS times in a row (`make stress-regress`); any failure fails the
# target (logs kept in target/stress/). `make test` runs each once.
# `make stress SCALE=1`: the scale kernels instead (qemu-tests/scale/: a
# million goroutines parked at once, skynet; -smp 2 and 4, mem=8G), once.
SCALE_TESTS := scale_park scale_skynet
ifneq ($(filter 1 yes true on,$(SCALE)),)
STRESS_TESTS ?= $(SCALE_TESTS)
STRESS_RUNS  ?= 1
endif
STRESS_TESTS ?= preempt_hogs sched_ring_fairness sched_wakep gomaxprocs_stw \
	stack_shrink_tlb preempt_stack_room
STRESS_RUNS  ?= 20

# $(1): log name, $(2): -smp, $(3): kernel words after the seed and length.
define stress_run
	log=target/stress/$(1).log; \
	if $(RUNNER) --smp $(2) --mem $(MEM) --accel $(ACCEL) --timeout $(STRESS_TIMEOUT) \
		--args $(call shquote,stress seed=$(SEED) secs=$(SECS) $(3) $(STRESS_ARGS) exit) \
		$(KERNEL_ELF) >$$log 2>&1; then st=ok; else st=FAILED; failed=$$((failed + 1)); fi; \
	line=$$(grep -a '^stress: seed=' $$log | tail -1); \
	echo "==> stress $(1) (-smp $(2) $(3)): $$st: $${line:-no stress line, see $$log}"; \
	[ $$st = ok ] || grep -a -m1 -E '^(panic|fatal error)' $$log || true;
endef

ifneq ($(filter 1 yes true on,$(SCALE)),)
stress: stress-regress
else
stress: deps kernel runner
	@mkdir -p target/stress; failed=0; \
	$(foreach n,$(STRESS_SMP),$(call stress_run,smp$(n)-1ms,$(n),slice=1ms)) \
	$(if $(call is_on,$(STORM)),$(call stress_run,smp2-storm10k-100us,2,storm=1 tick=100us slice=100us)) \
	echo "==> stress: $$failed run(s) failed"; \
	[ $$failed -eq 0 ]
endif

stress-regress: deps runner
	@mkdir -p target/stress; failed=0; \
	for i in $$(seq 1 $(STRESS_RUNS)); do \
		log=target/stress/run-$$i.log; \
		if $(CARGO) test $(foreach t,$(STRESS_TESTS),--test $(t)) >$$log 2>&1; then st=ok; else st=FAILED; failed=$$((failed + 1)); fi; \
		echo "==> stress run $$i/$(STRESS_RUNS): $$st, $$(grep -c '\.\.\. ok' $$log) cases ok, $$(grep -c '\.\.\. FAILED' $$log) failed ($$log)"; \
	done; \
	echo "==> stress: $$failed of $(STRESS_RUNS) runs failed"; \
	[ $$failed -eq 0 ]

# --- tests -----------------------------------------------------------------
# Every group runs even when an earlier one failed; the summary says which
# failed and `make test` fails if any did.

TEST_GROUPS := test-qemu test-examples test-demos test-trace test-host test-loom test-lint

test: deps runner
	@failed=""; summary=""; \
	for g in $(TEST_GROUPS); do \
		echo; echo "==> $$g"; \
		t0=$$(date +%s.%N); \
		if $(MAKE) --no-print-directory -k $$g; then st=ok; else st=FAILED; failed="$$failed $$g"; fi; \
		t=$$(awk -v a=$$t0 -v b=$$(date +%s.%N) 'BEGIN { printf "%.1f", b - a }'); \
		echo "==> $$g: $$t s ($$st)"; \
		summary="$$summary$$(printf '\n    %-18s %-7s %8s s' $$g $$st $$t)"; \
	done; \
	echo; echo "==> summary:$$summary"; \
	if [ -n "$$failed" ]; then echo "==> FAILED:$$failed"; exit 1; fi; \
	echo "==> all test groups passed"

# (1) The QEMU suite: qemu-tests/tests/*.rs, each a kernel booted by the runner.
test-qemu: deps runner
	$(CARGO) test --no-fail-fast

# (1b) Every example in kernel/examples/ boots at -smp 2 and its main returns
# (exit status 0) within a minute.
test-examples: deps runner
	@for e in $(EXAMPLES); do \
		echo "==> example $$e"; \
		$(MAKE) --no-print-directory run EXAMPLE=$$e SMP=2 TIMEOUT=60 ARGS=exit > target/example-$$e.log 2>&1 \
			&& echo "test example $$e ... ok" \
			|| { echo "test example $$e ... FAILED (output: target/example-$$e.log)"; tail -20 target/example-$$e.log; exit 1; }; \
	done

# (1b') Every demo of kernel/src/demos/ (the `name:` lines of its table, the
# one list; `make list-demos` prints it) boots the kernel binary with
# `demo=NAME exit` at -smp 2: exit status 0 and its `demo NAME:` summary
# line; deadlock: status 2 with Go's report and the demo's goroutines in it.
DEMOS := $(shell sed -n 's/^ *name: "\([a-z0-9_]*\)",$$/\1/p' kernel/src/demos/mod.rs)

list-demos:
	@echo $(DEMOS)

test-demos: deps kernel runner
	@[ -n "$(DEMOS)" ] || { echo "test-demos: no demo names found in kernel/src/demos/mod.rs" >&2; exit 1; }
	@for d in $(DEMOS); do \
		log=target/demo-$$d.log; t0=$$(date +%s.%N); \
		$(RUNNER) --smp 2 --mem $(MEM) --accel $(ACCEL) --timeout 60 --args "demo=$$d exit" $(KERNEL_ELF) > $$log 2>&1; st=$$?; \
		if [ $$d = deadlock ]; then \
			ok=$$([ $$st -eq 2 ] && grep -q 'fatal error: all goroutines are asleep - deadlock!' $$log \
				&& grep -q 'gmpos::demos::deadlock::wait' $$log && echo y); want="status 2 and Go's deadlock report"; \
		else \
			ok=$$([ $$st -eq 0 ] && grep -q "^demo $$d: " $$log && echo y); want="status 0 and a \`demo $$d:' line"; \
		fi; \
		t=$$(awk -v a=$$t0 -v b=$$(date +%s.%N) 'BEGIN { printf "%.1f", b - a }'); \
		if [ "$$ok" = y ]; then echo "test demo $$d ... ok <$${t}s>"; \
		else echo "test demo $$d ... FAILED (status $$st, wanted $$want; output: $$log)"; tail -20 $$log; exit 1; fi; \
	done

# (1c) The tracer and the profiler end to end: a traced boot's stream passes
# `gmpos-trace check`, and the profile of a spinning kernel has the spin
# loop on top.
test-trace: deps runner trace-tool
	@mkdir -p target/trace; rm -f target/trace/trace_boot.bin target/trace/prof_spin.bin
	GMPOS_TRACE_OUT=$(CURDIR)/target/trace/trace_boot.bin $(CARGO) test -q --test trace_boot
	$(TRACE_TOOL) check target/trace/trace_boot.bin --unblocks 1 --steals 1 --preempts 1
	GMPOS_TRACE_OUT=$(CURDIR)/target/trace/prof_spin.bin $(CARGO) test -q --test prof_spin
	$(TRACE_TOOL) prof target/trace/prof_spin.bin --top 5 --expect-top prof_spin_loop

# (2) Host unit tests: the kernel's portable logic, the runner's, the trace tool's.
test-host: test-host-kernel test-host-runner test-host-trace

test-host-kernel:
	$(CARGO) test -p gmpos --lib --target $(HOST) --target-dir target/hosttest

test-host-runner:
	$(CARGO) test -p gmpos-boot $(HOST_FLAGS)

test-host-trace:
	$(CARGO) test -p gmpos-trace $(HOST_FLAGS)

# (3) loom models (own target dir: RUSTFLAGS replaces the config's rustflags).
test-loom:
	RUSTFLAGS="--cfg loom" $(CARGO) test -p gmpos --lib --release --target $(HOST) --target-dir target/loom -- loom

# (4) Lints: clippy (-D warnings) for the kernel target and the host, rustfmt,
# and the fence around the kernel's internals in tests.
test-lint: lint-clippy-kernel lint-clippy-host lint-fmt lint-test-imports

# The kernel target has no `test` crate, so neither --all-targets nor
# --tests (both would build the kernel library's #[test]s for it): the
# library, the binaries, the QEMU test kernels (--test '*') and the bench
# kernels (--benches), so that none of them rots.
lint-clippy-kernel:
	$(CARGO) clippy --workspace --exclude gmpos-boot --exclude gmpos-trace --lib --bins --examples --test '*' --benches -- -D warnings

# gmpos-boot is linted in target/host (where its bootloader stages are
# already built) and the kernel crate's host build in target/hosttest.
lint-clippy-host:
	$(CARGO) clippy -p gmpos --lib --tests --target $(HOST) --target-dir target/hosttest -- -D warnings
	$(CARGO) clippy -p gmpos-boot --all-targets $(HOST_FLAGS) -- -D warnings
	$(CARGO) clippy -p gmpos-trace --all-targets $(HOST_FLAGS) -- -D warnings

lint-fmt:
	$(CARGO) fmt --all -- --check

# Tests, benchmarks and examples (qemu-tests/) reach the kernel only through
# its public API and `gmpos::testing` (kernel/src/testing.rs re-exports the
# internals they need, so a module move is fixed there once). Any other
# `gmpos::<name>` path, in a `use` or inline, in a `{...}` group or not,
# fails here with its file and line. Comments are ignored.
TEST_IMPORT_DIRS := qemu-tests kernel/examples
TEST_IMPORT_OK   := kernel_main go gosched sleep Instant Duration gomaxprocs set_gomaxprocs \
	num_goroutine num_cpu WaitGroup Mutex MutexGuard MutexStats RawMutex RWMutex \
	RWMutexReadGuard RWMutexWriteGuard Once Cond Semaphore SemaphorePermit \
	chan Chan chan_from_interrupts TrySendError TryRecvError select \
	after tick Timer Ticker AfterFunc after_func \
	Context CancelFunc ContextError Pool PoolConfig PoolError PoolStats Task \
	read_mem_stats MemStats print_stack exit config tracing bench stress demos \
	println print test qemu_test test_note testing VERSION

lint-test-imports:
	@perl scripts/lint-test-imports.pl $(TEST_IMPORT_OK) -- $$(find $(TEST_IMPORT_DIRS) -name '*.rs' | sort)
	@echo "lint-test-imports: qemu-tests/ and kernel/examples/ use only gmpos::{public API, testing}"

# --- housekeeping ------------------------------------------------------------

fmt:
	$(CARGO) fmt --all

clean-images:
	rm -rf target/gmpos-images

clean: clean-images
	$(CARGO) clean

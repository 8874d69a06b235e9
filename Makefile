# mailplan — make targets. `make test` is what CI runs (see .ci/run).
GO      ?= go
PKGS    := ./...
BIN     := bin/mailplan
STATICCHECK_VERSION := v0.8.2

.PHONY: all build test deps lint unit race bench demo demo-aliases clean crash-matrix fleet

all: build

build:
	$(GO) build -o $(BIN) ./cmd/mailplan

# deps installs what the tests need on a Debian machine: openssh-server
# for the real sshd the test bed starts. Needs root (CI runs as root).
deps:
	bash scripts/install-deps.sh

lint:
	@test -z "$$(gofmt -l cmd engine resources)" || { gofmt -l cmd engine resources; echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet $(PKGS)
	@command -v staticcheck >/dev/null 2>&1 || GOFLAGS= $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	PATH="$$PATH:$$($(GO) env GOPATH)/bin" staticcheck $(PKGS)

unit:
	$(GO) test -count=1 $(PKGS)

race:
	$(GO) test -count=1 -race ./engine/...

# test runs every test, real-server ones included (MAILPLAN_E2E=1 makes a
# missing server a failure, not a skip). cmd/mailplan runs the end-to-end
# migrations (zero-loss, dead server, outage matrix) one after another on
# the test bed: more than go test's default 10 minutes. The crash matrix
# (21 SIGKILLs in the full migration, about 11 minutes, mostly waiting for
# Postfix and TTLs) runs beside them on a test bed of its own (free ports),
# its output shown once both are done.
CRASH_LOG := $(or $(TMPDIR),/tmp)/mailplan-crash-matrix.$(shell echo $$$$).log
test: deps lint
	@MAILPLAN_E2E=1 MAILPLAN_CRASH_MATRIX=1 $(GO) test -count=1 -timeout 60m -run '^TestCrashMatrix$$' -v ./cmd/mailplan/ >$(CRASH_LOG) 2>&1 & crash=$$!; \
	echo "crash matrix: running beside the tests (pid $$crash), output in $(CRASH_LOG)"; \
	MAILPLAN_E2E=1 $(GO) test -count=1 -timeout 40m $(PKGS); rc=$$?; \
	wait $$crash; crc=$$?; \
	grep -E '^(CRASH-MATRIX|--- |FAIL|ok|PASS|panic)' $(CRASH_LOG); \
	if [ $$crc -ne 0 ]; then echo "crash matrix FAILED (exit $$crc); its whole output:"; cat $(CRASH_LOG); fi; \
	rm -f $(CRASH_LOG); \
	[ $$rc -eq 0 ] && [ $$crc -eq 0 ]
	MAILPLAN_E2E=1 $(GO) test -count=1 -race ./engine/...

# crash-matrix runs only the crash matrix, with its full log.
crash-matrix: deps
	MAILPLAN_E2E=1 MAILPLAN_CRASH_MATRIX=1 $(GO) test -count=1 -timeout 40m -run '^TestCrashMatrix$$' -v ./cmd/mailplan/

# fleet measures 50 workspaces of the shadow-copy module on the pg
# backend, applied 8 at a time against one test-bed Postfix pair
# (docs/fleets.md); MAILPLAN_FLEET_N and MAILPLAN_FLEET_K change the size.
fleet: deps
	MAILPLAN_E2E=1 MAILPLAN_FLEET=1 $(GO) test -count=1 -timeout 60m -run '^TestFleetShadowCopy$$' -v ./cmd/mailplan/

# bench measures mailplan's performance goals in one run, each next to
# rsync, cp -a or Terraform in the same run, and prints one table of
# ratios and targets (docs/benchmarks.md). The default sizes take about an
# hour; BENCH_QUICK=1 make bench tries it in a few minutes. Needs root,
# rsync and terraform.
bench: deps
	bash scripts/bench.sh

# demo migrates example.com from an old to a new server on a loopback test
# bed (plans/examples/full-migration): installs the Debian packages it
# needs, starts the test bed, seeds mail, plans, applies, shows the mail on
# the new server over IMAP, tears down. Needs root.
demo: deps build testbed
	bash scripts/demo.sh

# demo-aliases runs the aliases-sync example against sandbox directories,
# no root or servers needed: plan, apply, re-plan, rollback, destroy.
demo-aliases: build
	bash scripts/demo-aliases.sh

# testbed builds bin/mailplan-testbed: `sudo bin/mailplan-testbed up -dir
# /tmp/tb` starts sshd and Postfix "old" and "new" on loopback (see
# cmd/mailplan-testbed).
.PHONY: testbed
testbed:
	$(GO) build -o bin/mailplan-testbed ./cmd/mailplan-testbed

clean:
	rm -rf bin

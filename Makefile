# Plug-and-play load balancer. `make` builds the three daemons; `make demo`
# runs a cluster on loopback; `make test` is what CI runs.

GO       ?= go
BINARIES := master slave monitoring
# A count of executions, not a duration: Go 1.26's fuzz coordinator can fail a
# duration-bounded run with a spurious "context deadline exceeded" when a
# busy worker misses the deadline (golang/go#75804, fixed in Go 1.27).
FUZZTIME ?= 200000x
# Targets that go through HTTP, pipes or a whole Sync per input run a
# thousand or two inputs a second: they get a tenth of the count.
FUZZTIME_SLOW ?= 20000x
SLOW_FUZZ     := FuzzStatusQuery FuzzAccept FuzzMonitorLink FuzzGrafanaAnswers FuzzSlaveTaskLink FuzzSlaveLoadLink

.PHONY: all build demo test lint unit fuzz bench bench_lab clean

all: build

build: $(BINARIES)

# Always rebuild: go's own cache makes this cheap and never stale.
.PHONY: $(BINARIES)
$(BINARIES):
	$(GO) build -o $@ ./cmd/$@

# A master and three slaves on loopback, a few requests, everything stopped.
demo: build
	./scripts/demo.sh

# Formatting, vet, every test with the race detector (the namespace
# end-to-end test included: it needs root and iproute2), then a short run of
# every fuzz target.
test: lint unit fuzz

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# One package at a time (-p 1): the end-to-end and cluster tests are about
# timing, and on two cores they should not compete with each other.
unit:
	$(GO) test -race -count=1 -p 1 -timeout 20m ./...

# Each fuzz target for FUZZTIME, the slow ones for FUZZTIME_SLOW (make fuzz
# FUZZTIME=2000000x FUZZTIME_SLOW=200000x for a longer campaign).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  for target in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/^func //'); do \
	    count=$(FUZZTIME); case " $(SLOW_FUZZ) " in *" $$target "*) count=$(FUZZTIME_SLOW);; esac; \
	    echo "fuzz $$pkg $$target ($$count)"; \
	    $(GO) test $$pkg -run '^$$' -fuzz "^$$target\$$" -fuzztime $$count; \
	  done; \
	done

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# The algorithm lab (./bench, from cmd/bench; `./bench -h`): every algorithm
# in turn on its own master with a heterogeneous pool of three slaves, all on
# loopback, a short mixed workload; the table on stdout, JSON and chart in
# LAB_DIR. `make bench_lab LAB_ARGS='-duration 10s -rate 300'` to vary it.
# (./bench is built here, not in BINARIES: `bench` already names the Go
# benchmarks target.)
LAB_DIR    ?= $(CURDIR)/.lb/lab
LAB_SLAVES ?= max-load=1e11,workers=2;max-load=5e10,workers=1;max-load=2e10,workers=1
LAB_ARGS   ?= -workload mixed -duration 3s

bench_lab: master slave
	$(GO) build -o bench ./cmd/bench
	mkdir -p '$(LAB_DIR)'
	./bench -local -slaves '$(LAB_SLAVES)' -out '$(LAB_DIR)/lab.json' -chart '$(LAB_DIR)/lab.png' $(LAB_ARGS)
	@echo "results: $(LAB_DIR)/lab.json, chart: $(LAB_DIR)/lab.png"

clean:
	rm -f $(BINARIES)

# Prometheus and node_exporter on a slave host (scripts/slave-host.sh), Grafana
# on the monitor host (scripts/monitor-host.sh): background processes whose
# config, data, logs (LB_STATE/log) and pid files (LB_STATE/run) live under
# LB_STATE. Slaves run from this directory publish themselves into
# LB_STATE/prometheus/targets, their default -sd-dir. Empty binaries mean
# "find it in PATH". `make slave_preproc` twice starts nothing twice.
LB_STATE       ?= $(CURDIR)/.lb
PROMETHEUS     ?=
NODE_EXPORTER  ?=
PROM_LISTEN    ?= :9090
NODE_LISTEN    ?= :9100
GRAFANA        ?=
GRAFANA_LISTEN ?= :3000
SLAVE_HOST_ENV := LB_STATE='$(LB_STATE)' PROMETHEUS='$(PROMETHEUS)' NODE_EXPORTER='$(NODE_EXPORTER)' \
	PROM_LISTEN='$(PROM_LISTEN)' NODE_LISTEN='$(NODE_LISTEN)'
MONITOR_HOST_ENV := LB_STATE='$(LB_STATE)' GRAFANA='$(GRAFANA)' GRAFANA_LISTEN='$(GRAFANA_LISTEN)'

.PHONY: slave_preproc slave_postproc slave_status monitor_preproc monitor_postproc monitor_status

slave_preproc:
	$(SLAVE_HOST_ENV) ./scripts/slave-host.sh start

slave_postproc:
	$(SLAVE_HOST_ENV) ./scripts/slave-host.sh stop

slave_status:
	$(SLAVE_HOST_ENV) ./scripts/slave-host.sh status

monitor_preproc:
	$(MONITOR_HOST_ENV) ./scripts/monitor-host.sh start

monitor_postproc:
	$(MONITOR_HOST_ENV) ./scripts/monitor-host.sh stop

monitor_status:
	$(MONITOR_HOST_ENV) ./scripts/monitor-host.sh status

# Plug-and-play load balancer. `make` builds the three daemons; `make demo`
# runs a cluster on loopback; `make test` is what CI runs.

GO       ?= go
BINARIES := master slave monitoring
# A count of executions, not a duration: Go 1.26's fuzz coordinator can fail a
# duration-bounded run with a spurious "context deadline exceeded" when a
# busy worker misses the deadline (golang/go#75804, fixed in Go 1.27).
FUZZTIME ?= 200000x

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

# Each fuzz target for FUZZTIME (make fuzz FUZZTIME=2000000x for a longer campaign).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  for target in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/^func //'); do \
	    echo "fuzz $$pkg $$target ($(FUZZTIME))"; \
	    $(GO) test $$pkg -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME); \
	  done; \
	done

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# The algorithm lab (./bench, from cmd/bench; `./bench -h`): a heterogeneous
# pool of emulated-work slaves (speeds 4:2:1:1, one worker each, on
# loopback), every algorithm under open-loop Poisson load at ρ = 0.5, 0.8 and
# 0.95, LAB_ROUNDS rounds of their own seed with the algorithm order rotated;
# the table on stdout, JSON and chart (p99 against load, share per slave) in
# LAB_DIR. Then the simulator at 1,000 slaves with stale reports.
# (./bench is built here, not in BINARIES: `bench` already names the Go
# benchmarks target.)
LAB_DIR        ?= $(CURDIR)/.lb/lab
LAB_SLAVES     ?= 2*workers=1,speed=4;2*workers=1,speed=2;4*workers=1,speed=1
LAB_ALGORITHMS ?= random,round_robin,weighted_round_robin,least_load,power_of_two,least_latency,prequal,join_idle_queue
LAB_ROUNDS     ?= 2
LAB_ARGS       ?= -emulate exp:50ms -loads 0.5,0.8,0.95 -duration 5s
SIM_ARGS       ?= -slaves 1000 -speeds 4,2,1,1 -load 0.9 -service exp:50ms -report-every 500ms -tasks 1000000

bench_lab: master slave
	$(GO) build -o bench ./cmd/bench
	mkdir -p '$(LAB_DIR)'
	./bench -local -quiet -slaves '$(LAB_SLAVES)' -algorithms '$(LAB_ALGORITHMS)' -rounds $(LAB_ROUNDS) \
		-out '$(LAB_DIR)/lab.json' -chart '$(LAB_DIR)/lab.png' $(LAB_ARGS)
	./bench -sim $(SIM_ARGS) -out '$(LAB_DIR)/sim.json'
	@echo "results: $(LAB_DIR)/lab.json, $(LAB_DIR)/sim.json, chart: $(LAB_DIR)/lab.png"

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

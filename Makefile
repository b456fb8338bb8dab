# Plug-and-play load balancer. `make` builds the four binaries (./master,
# ./slave, ./monitoring, ./bench); `make demo` runs a cluster on loopback;
# `make install PREFIX=...` installs binaries, units and configs; `make dist`
# writes release archives; `make test` is what CI runs.

GO       ?= go
BINARIES := master slave monitoring bench
# A count of executions, not a duration: Go 1.26's fuzz coordinator can fail a
# duration-bounded run with a spurious "context deadline exceeded" when a
# busy worker misses the deadline (golang/go#75804, fixed in Go 1.27).
FUZZTIME ?= 200000x
# Targets that go through HTTP, pipes or a whole Sync per input run a
# thousand or two inputs a second: they get a tenth of the count.
FUZZTIME_SLOW ?= 20000x
SLOW_FUZZ     := FuzzStatusQuery FuzzAccept FuzzMonitorLink FuzzGrafanaAnswers FuzzSlaveTaskLink FuzzSlaveLoadLink

# What -version prints. The toolchain stamps the VCS revision itself only
# from a .git directory (not a worktree's) and with -buildvcs on; git is
# asked here instead, and outside a checkout (a source archive) nothing is
# stamped.
BUILDINFO := github.com/lbproject/loadbalancer/common/buildinfo
GIT_VERSION  := $(shell git describe --tags --always --dirty 2>/dev/null)
GIT_REVISION := $(shell git rev-parse HEAD 2>/dev/null)
GIT_MODIFIED := $(shell test -z "$$(git status --porcelain 2>/dev/null)" && echo false || echo true)
LDFLAGS := $(if $(GIT_REVISION),-X $(BUILDINFO).version=$(GIT_VERSION) -X $(BUILDINFO).revision=$(GIT_REVISION) -X $(BUILDINFO).modified=$(GIT_MODIFIED))
GOBUILD := $(GO) build -trimpath -ldflags '$(LDFLAGS)'

.PHONY: all build demo test lint unit fuzz cross bench bench_lab clean install dist grafana_double monitor_demo

all: build

# One go build for the four: it compiles shared packages once.
build:
	$(GOBUILD) -o . $(addprefix ./cmd/,$(BINARIES))

# Always rebuild: go's own cache makes this cheap and never stale. (./bench
# has no target of its own: `bench` names the Go benchmarks.)
.PHONY: master slave monitoring
master slave monitoring:
	$(GOBUILD) -o $@ ./cmd/$@

# The Grafana double as a binary, to try the monitor without Grafana
# (README, "Trying the monitor without Grafana").
grafana_double:
	$(GOBUILD) -o grafana-double ./testutil/grafanadouble/cmd/grafana-double

# A master and three slaves on loopback, a few requests, everything stopped.
demo: build
	./scripts/demo.sh

# The monitor following a loopback cluster, with the Grafana double in place
# of Grafana; MONITOR_DEMO_SECONDS=N to keep it up longer.
monitor_demo: build grafana_double
	./scripts/monitor-demo.sh

# Formatting, vet, every test with the race detector (the namespace
# end-to-end test included: it needs root and iproute2), then a short run of
# every fuzz target.
test: lint cross unit fuzz

# Every platform a release is built for, plus freebsd/amd64: it must compile.
CROSS_PLATFORMS := linux/amd64 linux/arm64 linux/arm windows/amd64 freebsd/amd64
cross:
	@set -e; for p in $(CROSS_PLATFORMS); do \
	  echo "GOOS=$${p%/*} GOARCH=$${p#*/} go build ./..."; \
	  GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) build ./...; \
	done

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

# The algorithm lab (./bench, from cmd/bench; `./bench -h`): a heterogeneous
# pool of emulated-work slaves (speeds 4:2:1:1, one worker each, on
# loopback), every algorithm under open-loop Poisson load at ρ = 0.5, 0.8 and
# 0.95, LAB_ROUNDS rounds of their own seed with the algorithm order rotated;
# the table on stdout, JSON and chart (p99 against load, share per slave) in
# LAB_DIR. Then the simulator at 1,000 slaves with stale reports, twice: the
# textbook rules (sim.json), and with every algorithm preferring a slave
# with a free worker as the real master does by default
# (sim-free-workers.json).
# (./bench is built here, not in BINARIES: `bench` already names the Go
# benchmarks target.)
LAB_DIR        ?= $(CURDIR)/.lb/lab
LAB_SLAVES     ?= 2*workers=1,speed=4;2*workers=1,speed=2;4*workers=1,speed=1
LAB_ALGORITHMS ?= random,round_robin,weighted_round_robin,least_load,power_of_two,least_latency,prequal,join_idle_queue,shortest_queue
LAB_ROUNDS     ?= 2
LAB_ARGS       ?= -emulate exp:50ms -loads 0.5,0.8,0.95 -duration 5s
SIM_ARGS       ?= -slaves 1000 -speeds 4,2,1,1 -load 0.9 -service exp:50ms -report-every 500ms -tasks 1000000

bench_lab: master slave
	$(GOBUILD) -o bench ./cmd/bench
	mkdir -p '$(LAB_DIR)'
	./bench -local -quiet -slaves '$(LAB_SLAVES)' -algorithms '$(LAB_ALGORITHMS)' -rounds $(LAB_ROUNDS) \
		-out '$(LAB_DIR)/lab.json' -chart '$(LAB_DIR)/lab.png' $(LAB_ARGS)
	./bench -sim $(SIM_ARGS) -out '$(LAB_DIR)/sim.json'
	./bench -sim $(SIM_ARGS) -free-workers -out '$(LAB_DIR)/sim-free-workers.json'
	@echo "results: $(LAB_DIR)/lab.json, $(LAB_DIR)/sim.json, $(LAB_DIR)/sim-free-workers.json, chart: $(LAB_DIR)/lab.png"

clean:
	rm -f $(BINARIES) grafana-double
	rm -rf dist

# make install [PREFIX=/usr/local] [DESTDIR=] [SYSCONFDIR=...]: binaries in
# PREFIX/bin; systemd units in PREFIX/lib/systemd/system (systemd reads
# /usr/local/lib/systemd/system), with their paths rewritten for PREFIX and
# SYSCONFDIR; the environment files and the slave host's Prometheus config
# in SYSCONFDIR/loadbalancer (existing environment files are kept); the
# Prometheus drop-in, the sysusers file and the Grafana dashboard in
# PREFIX/share/loadbalancer. SYSCONFDIR is /etc for PREFIX /usr/local or
# /usr, else PREFIX/etc, so that an install into a scratch PREFIX needs no root.
PREFIX ?= /usr/local
DESTDIR ?=
ifneq ($(filter /usr /usr/local,$(PREFIX)),)
SYSCONFDIR ?= /etc
else
SYSCONFDIR ?= $(PREFIX)/etc
endif
UNITDIR  ?= $(PREFIX)/lib/systemd/system
SHAREDIR ?= $(PREFIX)/share/loadbalancer
UNITS := loadbalancer-master.service loadbalancer-slave@.service loadbalancer-monitor.service
# The units name /usr/local/bin and /etc/loadbalancer; an install elsewhere
# rewrites them.
UNIT_PATHS := sed -e 's|/usr/local/bin/|$(PREFIX)/bin/|g' -e 's|/etc/loadbalancer/|$(SYSCONFDIR)/loadbalancer/|g'

install: build
	install -d '$(DESTDIR)$(PREFIX)/bin' '$(DESTDIR)$(UNITDIR)' '$(DESTDIR)$(SYSCONFDIR)/loadbalancer' \
	  '$(DESTDIR)$(SHAREDIR)/prometheus.service.d' '$(DESTDIR)$(SHAREDIR)/grafana'
	install -m 0755 $(BINARIES) '$(DESTDIR)$(PREFIX)/bin/'
	@set -e; for u in $(UNITS); do \
	  $(UNIT_PATHS) deploy/systemd/$$u >'$(DESTDIR)$(UNITDIR)/'$$u; chmod 0644 '$(DESTDIR)$(UNITDIR)/'$$u; \
	done
	$(UNIT_PATHS) deploy/systemd/prometheus.service.d/loadbalancer.conf >'$(DESTDIR)$(SHAREDIR)/prometheus.service.d/loadbalancer.conf'
	install -m 0644 deploy/systemd/loadbalancer.sysusers '$(DESTDIR)$(SHAREDIR)/'
	install -m 0644 deploy/grafana/dashboard.json '$(DESTDIR)$(SHAREDIR)/grafana/'
	sed -e 's|@TARGET_DIR@|/var/lib/loadbalancer/targets|' -e 's|@NODE_EXPORTER@|localhost:9100|' \
	  deploy/prometheus/slave-host.yml >'$(DESTDIR)$(SYSCONFDIR)/loadbalancer/prometheus-slave-host.yml'
	@set -e; for f in master slave monitor; do \
	  dst='$(DESTDIR)$(SYSCONFDIR)/loadbalancer/'$$f.env; \
	  if [ -e "$$dst" ]; then echo "kept $$dst"; else install -m 0640 deploy/env/$$f.env "$$dst"; fi; \
	done

# Release archives in dist/: per platform the four binaries, deploy/, README
# and the README, as .tar.gz (.zip for Windows), and SHA256SUMS.
DIST_PLATFORMS := linux/amd64 linux/arm64 linux/arm windows/amd64
DIST_NAME := loadbalancer-$(or $(GIT_VERSION),devel)
dist:
	rm -rf dist && mkdir -p dist
	@set -e; for p in $(DIST_PLATFORMS); do \
	  os=$${p%/*} arch=$${p#*/} ext=; [ $$os = windows ] && ext=.exe; \
	  dir=dist/$(DIST_NAME)-$$os-$$arch; mkdir -p $$dir; \
	  echo "$$os/$$arch: $$dir"; \
	  for b in $(BINARIES); do CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags '-s -w $(LDFLAGS)' -o $$dir/$$b$$ext ./cmd/$$b; done; \
	  cp -R deploy README.md $$dir/; \
	  if [ $$os = windows ]; then (cd dist && zip -qr $$(basename $$dir).zip $$(basename $$dir)); \
	  else tar -C dist -czf $$dir.tar.gz $$(basename $$dir); fi; \
	  rm -rf $$dir; \
	done
	cd dist && sha256sum *.tar.gz *.zip >SHA256SUMS && cat SHA256SUMS

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

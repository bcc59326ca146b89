# kubectl-pgo: build, unit tests, the local cluster and the end-to-end tests.
MODULE   := github.com/kubectl-pgo/kubectl-pgo
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
DATE     ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS  := -s -w -X $(MODULE)/pkg/version.Version=$(VERSION) -X $(MODULE)/pkg/version.GitCommit=$(COMMIT) -X $(MODULE)/pkg/version.BuildDate=$(DATE)
BIN      := bin/kubectl-pgo

# Release archives: a v-prefixed semantic version (krew needs one).
DIST_VERSION ?= v0.0.0-dev

.PHONY: build test test-full drills unit lint e2e soak cluster-up cluster-down demo clean docs dist bench

build: ## Build the plugin into bin/
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/kubectl-pgo

test: ## Everything: lint, unit tests, then a local cluster and the end-to-end tests (needs root)
	hack/test.sh

test-full: ## make test, then the node-loss drills and the 200-step soak on the same cluster (needs root; hours)
	KPGO_FULL=1 hack/test.sh

drills: build ## The node-loss drills alone, on the running local cluster (they stop nodes: nothing else may run)
	KPGO_DRILLS=1 hack/e2e.sh

unit: ## Unit tests; no cluster needed
	go test ./...

lint: ## go vet, gofmt and staticcheck
	hack/lint.sh

e2e: build ## End-to-end tests against the running local cluster (make cluster-up first)
	hack/e2e.sh

soak: build ## The restore chain, long, on the running local cluster; not in CI (KPGO_CHAIN_STEPS=200, KPGO_CHAIN_SEED=N replays, SOAK_RUN='TestChain$$/local')
	hack/soak.sh

bench: build ## Benchmarks against the baselines on the running local cluster (BENCH_ARGS='--scale 50 --rounds 3')
	hack/bench.sh $(BENCH_ARGS)

cluster-up: ## Build (cached) and start the local cluster
	hack/cluster/install-deps.sh
	hack/cluster/up.sh

cluster-down: ## Stop the local cluster and remove what it made
	hack/cluster/down.sh

demo: ## A local cluster and a demo of the plugin
	hack/demo.sh

docs: ## Regenerate docs/ (one markdown page per command) from the commands' help
	go run ./hack/gendocs docs

dist: ## Release archives for the six platforms and their krew manifest (dist/pgo.yaml), with go and tar
	hack/dist.sh $(DIST_VERSION) dist
	hack/krew-manifest.sh $(DIST_VERSION) dist > dist/pgo.yaml

clean:
	rm -rf bin dist

# meshgym — see README.md. Every target needs only Go.
GO      ?= go
BIN     := bin
RUN_ARGS ?= --duration 20s

# testcontainers-go (Docker platform, later) must never guess a gateway
# address or pull a reaper image on these machines.
export TESTCONTAINERS_HOST_OVERRIDE = 127.0.0.1
export TESTCONTAINERS_RYUK_DISABLED = true

.PHONY: all build run test test-short test-soak test-docker test-kind kind-node-image doctor cross bench lint fuzz clean

all: build

## build: meshgym and its lean component executables into ./bin
build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/ ./cmd/...

## run: the retry exercise on the embedded local platform, 20 s per phase
run: build
	./$(BIN)/meshgym run retries $(RUN_ARGS)

## test: vet, unit and end-to-end tests, and the macOS/Windows cross-builds
## (the Docker tests run too when a daemon answers, else they skip; GOTESTFLAGS
## adds go test flags, e.g. GOTESTFLAGS=-v)
test: build cross
	$(GO) vet ./...
	$(GO) test -timeout 15m $(GOTESTFLAGS) ./...

## test-soak: long tests behind the soak build tag (every built-in scenario
## on local and on Docker, about 4 minutes; they skip without a daemon)
test-soak:
	$(GO) test -count=1 -timeout 30m -tags soak -run 'AllScenarios' -v ./sandbox/docker/

## test-kind: the kind end-to-end test: for each real mesh, meshgym up →
## run retries → down (about 10 minutes a mesh). Needs Docker, the kind node
## image ('make kind-node-image') and internet for the mesh charts and
## images; MESHGYM_KIND_MESHES=istio narrows it. 'make test' skips it.
test-kind:
	CGO_ENABLED=0 MESHGYM_KIND_E2E=1 $(GO) test -count=1 -timeout 90m -run '^TestKindEndToEnd$$' -v ./cmd/meshgym/

## kind-node-image: pull the pinned kind node image (internet needed; tests never pull)
kind-node-image:
	docker pull $$(grep -o 'kindest/node:[^"]*' sandbox/kind/contract.go | head -1)

## test-docker: only the Docker tests (named TestDocker*), verbose, then one
## line saying how many ran and how many skipped (and why)
test-docker:
	@log=$$(mktemp); status=0; \
	$(GO) test -count=1 -timeout 15m -run '^TestDocker' -v ./... >$$log 2>&1 || status=$$?; \
	grep -E '^(=== RUN|[[:space:]]*--- (PASS|FAIL|SKIP)|ok|FAIL|panic:|#)' $$log | grep -vE 'no test files|no tests to run'; \
	grep -B1 -E '^--- SKIP: TestDocker' $$log | grep -E '_test\.go:[0-9]+:' | sed 's/^ */  skipped: /' | sort -u; \
	ran=$$(grep -cE '^--- (PASS|FAIL): TestDocker' $$log); \
	skipped=$$(grep -cE '^--- SKIP: TestDocker' $$log); \
	[ $$status -eq 0 ] || grep -E -B2 -A20 '^(--- FAIL|FAIL|panic:)' $$log | head -200; \
	echo "Docker tests: $$ran ran, $$skipped skipped"; \
	rm -f $$log; exit $$status

## doctor: build, then check which platforms can run here (meshgym doctor)
doctor: build
	./$(BIN)/meshgym doctor

test-short:
	$(GO) test -short ./...

## cross: the local platform must build for macOS and Windows
cross:
	GOOS=darwin  GOARCH=arm64 $(GO) build -o /dev/null ./cmd/meshgym
	GOOS=darwin  GOARCH=arm64 $(GO) build -o /dev/null ./cmd/meshgym-sidecar
	GOOS=darwin  GOARCH=arm64 $(GO) build -o /dev/null ./cmd/meshgym-app
	GOOS=windows GOARCH=amd64 $(GO) build -o /dev/null ./cmd/meshgym
	GOOS=windows GOARCH=amd64 $(GO) build -o /dev/null ./cmd/meshgym-sidecar
	GOOS=windows GOARCH=amd64 $(GO) build -o /dev/null ./cmd/meshgym-app

## bench: sidecar vs bare ReverseProxy vs direct, and tracing off vs on (10%, 100%), side by side
bench:
	$(GO) run ./bench/proxybench
	$(GO) run ./bench/tracebench

## lint: formatting and vet
lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...

## fuzz: a short fuzzing pass over the scenario loader and condition parser
fuzz:
	$(GO) test ./scenarios -run '^$$' -fuzz FuzzLoadBytes -fuzztime 60s
	$(GO) test ./scenarios -run '^$$' -fuzz FuzzParseCondition -fuzztime 60s

clean:
	rm -rf $(BIN) .meshgym

## proto: regenerate plugins/proto/v1 Go code (needs protoc, protoc-gen-go and
## protoc-gen-go-grpc; build and tests use the committed generated files)
.PHONY: proto
proto:
	PATH="$$PATH:$$($(GO) env GOPATH)/bin" protoc --proto_path=. \
		--go_out=. --go_opt=module=meshgym \
		--go-grpc_out=. --go-grpc_opt=module=meshgym \
		plugins/proto/v1/plugin.proto

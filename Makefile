# Delayed Push. `make local` and `make test` are all a fresh machine needs (see README).
# Three Go modules: the product (here), the local tooling (local/) and the consumer test
# (test/consumer/, a Go CDK app that uses the construct as a dependency).
SHELL := /bin/bash
.DEFAULT_GOAL := help

export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
# Node 20 is past its end of life for jsii; the banner it prints for that needs the major named.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_VERSION_CHECK := 1
CDK := npx --no-install cdk
VENV := .venv
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
LOCAL_SCRIPTS := local/scripts

.PHONY: help deps synth synth-full test unit cfn-lint asl-validate checkov security lint fuzz bench deploy diff destroy clean local local-up local-down local-synth qemu emulator-test e2e e2e-if-available load

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

deps: node_modules/.installed $(VENV)/.installed ## Install the pinned CDK CLI, cfn-lint and Go modules
	go mod download
	cd local && go mod download

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

$(VENV)/.installed: requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.txt
	touch $@

synth: deps ## Synthesize the stack into cdk.out (builds the Go Lambdas)
	$(CDK) synth --quiet

test: synth unit lint e2e-if-available ## Run every test: unit, CDK assertion, lint (with cfn-lint, checkov, cdk-nag), end-to-end

# The unit tests run the state machine's JSONata with the reference JSONata library (npm).
unit: node_modules/.installed ## Go unit, CDK assertion and consumer tests, and the local tooling's tests
	go test ./...
	cd test/consumer && go test ./...
	cd local && go test ./...

# Every option on (Shopify, the customer managed key, an alarm e-mail): the checks see every
# resource the construct can create, not only the defaults'.
FULL_CONFIG := {"shopify":true,"shopifyShopOwners":{"shop.myshopify.com":"owner"},"customerManagedKey":true,"alarmEmail":"oncall@example.com"}
synth-full: deps
	$(CDK) synth --quiet -o .lint/cdk.out -c 'delayedPush=$(FULL_CONFIG)'

cfn-lint: $(VENV)/.installed ## Lint every synthesized template, defaults and every option on (errors and warnings fail)
	$(VENV)/bin/cfn-lint cdk.out/*.template.json $(wildcard .lint/cdk.out/*.template.json)

asl-validate: node_modules/.installed ## asl-validator (pinned, npm) on every synthesized state machine definition
	rm -rf .lint/asl
	node statemachines/extract-definitions.js .lint/asl cdk.out/*.template.json $(wildcard .lint/cdk.out/*.template.json)
	@set -e; for f in .lint/asl/*.asl.json; do npx --no-install asl-validator --json-path "$$f"; done

.venv-checkov/.installed: requirements-checkov.txt
	python3 -m venv .venv-checkov
	.venv-checkov/bin/pip install --quiet --disable-pip-version-check --require-hashes -r requirements-checkov.txt
	touch $@

checkov: .venv-checkov/.installed ## checkov on every synthesized template, offline: no failed check (skips are on the resources, with reasons)
	.venv-checkov/bin/checkov --skip-download --quiet --compact --framework cloudformation -d cdk.out
	@if [ -d .lint/cdk.out ]; then .venv-checkov/bin/checkov --skip-download --quiet --compact --framework cloudformation -d .lint/cdk.out; fi

security: ## cdk-nag (AwsSolutions, NIST 800-53 rev 5): no unsuppressed error or warning
	go test -count=1 -run 'TestNoUnsuppressedSecurityFindings' ./test/

lint: synth synth-full cfn-lint asl-validate checkov security ## gofmt, go vet, staticcheck (every module), cfn-lint, asl-validator, checkov and cdk-nag on the synthesized app
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: the files above need formatting"; exit 1; }
	go vet ./... && go run $(STATICCHECK) ./...
	cd test/consumer && go vet ./... && go run $(STATICCHECK) ./...
	cd local && go vet -tags e2e,load,emulator ./... && go run $(STATICCHECK) -tags e2e,load,emulator ./...

FUZZTIME ?= 15s
# Every fuzz target of the product's module as package:Function, read from the source so that
# none is left out (local/ and test/consumer are modules of their own, without any).
FUZZ_TARGETS = $(shell git grep -o '^func Fuzz[A-Za-z0-9_]*' -- '*_test.go' ':!local' ':!test/consumer' | sed -E 's|^(.*)/[^/]*:func |\1:|')
fuzz: ## Run every fuzz target for FUZZTIME each (15s); their seed corpora run in make unit
	@set -e; for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; echo "fuzz $$fn ($$pkg, $(FUZZTIME))"; \
	  go test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) ./$$pkg/; done

# BENCHMARKS.md (bench/, bench/cmd/benchmd): the batch, calls per push, the sender's CPU per push,
# every function's cold start, a warm synth; and throughput and lateness on the emulator when
# `make local-up` has a stack running (BENCH_EMULATOR=off leaves it out). About 10 minutes.
bench: deps ## Reproducible benchmarks, written into BENCHMARKS.md
	@start=$$(date +%s); $(MAKE) --no-print-directory synth synth-full && \
	  go run ./bench/cmd/benchmd -o BENCHMARKS.md -since $$start

deploy: deps ## Deploy to the AWS account of your current credentials
	$(CDK) deploy

diff: deps ## Compare the deployed stack with the code
	$(CDK) diff

destroy: deps ## Delete the deployed stack
	$(CDK) destroy

clean: ## Stop the local stack and remove build output
	$(LOCAL_SCRIPTS)/local-down.sh
	rm -rf cdk.out .local .lint

# Local runs (README, "Try it locally"). The local assembly is synthesized with a 15 s visibility
# timeout and two receives before the DLQ, so retries and redrive happen in seconds, and with
# a sender concurrency the emulator can serve: it handles about 130 writes a second, so more
# invocations in flight would only make every call wait longer. An economy push due more than
# 180 s ahead (the least allowed, not 900 s) goes through an EventBridge Scheduler schedule, so
# that path is shown and tested in minutes (local/README.md, "shortened time"). The default
# time zone is half an hour off UTC, and the one frequency cap is of a category only the
# recipient tests use, so nothing else is capped (local/README.md, "Deploy").
LOCAL_CONFIG := {"senderTimeoutSeconds":10,"economyScheduleAfterSeconds":180,"defaultTimeZone":"America/St_Johns","caps":"; e2ecap=3/24h","visibilityTimeoutSeconds":15,"maxReceiveCount":2,"senderMaxConcurrency":4,"removalPolicy":"destroy","logRetentionDays":1,"shopify":true,"shopifyShopOwners":{"local-shop.myshopify.com":"local-shop-owner","other-shop.myshopify.com":"other-shop-owner"}}
LOCAL_PORT ?= 4566
export LOCAL_PORT
QEMU := $(shell command -v qemu-aarch64-static || command -v qemu-aarch64)

local-synth: deps ## Synthesize the local assembly into .local/cdk.out
	$(CDK) synth --quiet -o .local/cdk.out -c 'delayedPush=$(LOCAL_CONFIG)'

qemu: ## Install qemu-user (runs the arm64 bootstraps on other hosts) if it is missing
	@if [ "$$(uname -m)" = aarch64 ] || command -v qemu-aarch64-static >/dev/null || command -v qemu-aarch64 >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update && apt-get install -y --no-install-recommends qemu-user-static; \
	else echo "qemu: run 'sudo apt-get install qemu-user-static' (needed to run the arm64 Lambda locally)"; exit 1; fi

local-up: local-synth qemu ## Start the emulator, deploy, run the Lambdas (background)
	$(LOCAL_SCRIPTS)/local-down.sh
	$(LOCAL_SCRIPTS)/local-up.sh

local: local-up ## Run everything locally, show a scheduled push arrive, leave it running
	.local/bin/local demo -endpoint http://127.0.0.1:$(LOCAL_PORT) -state .local
	@echo
	@echo "The stack is still running on http://127.0.0.1:$(LOCAL_PORT). Try the README's examples with"
	@echo "  source local/scripts/local-env.sh    # AWS_ENDPOINT_URL, test credentials, the stack's outputs"
	@echo "Function logs: .local/runner.log. Stop it with: make local-down"

local-down: ## Stop the local emulator and Lambdas
	$(LOCAL_SCRIPTS)/local-down.sh

# The local tooling's tests that need the emulator itself (build tag emulator, so that make unit
# has none to skip): the deploy through moto's CloudFormation, which resets moto first, and the
# Lambda host's SQS poller. They get a moto of their own, before make e2e starts the stack.
emulator-test: local-synth qemu ## The local tooling's tests on a moto of their own (deploy, SQS poller)
	$(LOCAL_SCRIPTS)/local-down.sh
	url=$$($(LOCAL_SCRIPTS)/moto-up.sh $(LOCAL_PORT)) && (cd local && MOTO_ENDPOINT=$$url go test -count=1 -tags emulator \
	  -run '^(TestDeployIntoMoto|TestPollAgainstEmulator)$$' ./localdeploy/ ./lambdahost/); rc=$$?; $(LOCAL_SCRIPTS)/moto-down.sh; exit $$rc

# The emulator tests first, on a moto of their own; then local-up starts the stack.
e2e: emulator-test local-up ## The emulator tests, then end-to-end tests against the local stack (restarts it, stops it after)
	set -o pipefail; cd local && go test -count=1 -v -tags e2e -timeout 20m -parallel 8 ./e2e/ | grep -v -e "^=== " -e "^    --- PASS" ; rc=$$?; cd .. && $(LOCAL_SCRIPTS)/local-down.sh; exit $$rc

load: local-up ## Load and fault suite on the local stack (10,000-push burst, each fault; ~20 min)
	rm -f .local/load-report.txt
	set -o pipefail; cd local && go test -count=1 -v -tags load -timeout 60m ./load/ | grep -v -e "^=== " ; rc=$$?; cd .. && $(LOCAL_SCRIPTS)/local-down.sh; \
	echo "Report: .local/load-report.txt"; exit $$rc

e2e-if-available:
	@if [ "$$(uname -m)" = aarch64 ] || [ -n "$(QEMU)" ]; then $(MAKE) --no-print-directory e2e; \
	elif [ "$(E2E)" = required ]; then echo "make test: E2E=required but qemu-user-static is not installed (make qemu installs it)"; exit 1; \
	else echo "make test: end-to-end tests skipped: qemu-user-static is not installed (make qemu installs it; CI always runs them)"; fi

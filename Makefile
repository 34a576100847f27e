# Delayed Push. `make synth` and `make test` are all a fresh machine needs (see README).
SHELL := /bin/bash
.DEFAULT_GOAL := help

export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
# Node 20 is past its end of life for jsii; the banner it prints for that needs the major named.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_VERSION_CHECK := 1
CDK := npx --no-install cdk
VENV := .venv
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.7.0

.PHONY: help deps synth test unit cfn-lint lint bench deploy diff destroy clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

deps: node_modules/.installed $(VENV)/.installed ## Install the pinned CDK CLI, cfn-lint and Go modules
	go mod download

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

$(VENV)/.installed: requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

synth: deps ## Synthesize the stack into cdk.out (builds the Go Lambdas)
	$(CDK) synth --quiet

test: synth unit cfn-lint ## Run every test: unit, CDK assertion, cfn-lint

unit: ## Go unit and CDK assertion tests
	go test ./...

cfn-lint: $(VENV)/.installed ## Lint every synthesized template (errors and warnings fail)
	$(VENV)/bin/cfn-lint cdk.out/*.template.json

lint: ## gofmt, go vet, staticcheck
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: the files above need formatting"; exit 1; }
	go vet ./...
	go run $(STATICCHECK) ./...

bench: ## Benchmarks of the hot paths
	go test -run '^$$' -bench . -benchmem ./internal/...

deploy: deps ## Deploy to the AWS account of your current credentials
	$(CDK) deploy

diff: deps ## Compare the deployed stack with the code
	$(CDK) diff

destroy: deps ## Delete the deployed stack
	$(CDK) destroy

clean: ## Remove build output
	rm -rf cdk.out

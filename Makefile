# mqttkit: `make test` installs what the suites need (where it can), then builds and runs
# every test suite and example: Rust, Python, Node and C. It says loudly what it skipped.

CARGO ?= cargo
BINDINGS := python node c

.PHONY: test deps lint examples test-bindings test-rust bench fuzz

# Output ends with the Rust test runner's summary lines and their total.
test: deps lint examples test-bindings test-rust

deps:
	sh scripts/install-test-deps.sh

lint:
	@if $(CARGO) fmt --version >/dev/null 2>&1; then $(CARGO) fmt --all --check; \
	else echo "!! SKIPPED rustfmt check: rustfmt is not installed"; fi
	@if $(CARGO) clippy --version >/dev/null 2>&1; then \
		$(CARGO) clippy --workspace --all-targets --all-features -- -D warnings; \
	else echo "!! SKIPPED clippy: clippy is not installed"; fi

examples:
	CARGO="$(CARGO)" scripts/run-examples.sh

test-bindings:
	@for binding in $(BINDINGS); do \
		if [ -f bindings-$$binding/test.sh ]; then \
			echo "== bindings-$$binding"; bash bindings-$$binding/test.sh || exit 1; \
		else echo "!! SKIPPED bindings-$$binding: no test suite yet"; fi; \
	done

test-rust:
	CARGO="$(CARGO)" scripts/test-rust.sh

bench:
	$(CARGO) bench -p mqttkit --bench codec
	$(CARGO) bench -p mqttkit --bench client
	bash bindings-c/bench/run.sh
	cd bindings-node && npm install --no-audit --no-fund && npm run build:release && node bench/bench.js

fuzz:
	scripts/fuzz.sh 60

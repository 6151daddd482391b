# mqttkit: `make test` builds and runs every test suite and example.
# It installs what it needs where it can, and says loudly what it skipped.

CARGO ?= cargo
.PHONY: test lint test-rust examples bench fuzz

# Examples first, so that the output ends with the test runners' own summary lines.
test: lint examples test-rust

lint:
	@if $(CARGO) fmt --version >/dev/null 2>&1; then $(CARGO) fmt --all --check; \
	else echo "!! SKIPPED rustfmt check: rustfmt is not installed"; fi
	@if $(CARGO) clippy --version >/dev/null 2>&1; then \
		$(CARGO) clippy --workspace --all-targets --all-features -- -D warnings; \
	else echo "!! SKIPPED clippy: clippy is not installed"; fi

test-rust:
	$(CARGO) test --workspace --all-features

examples:
	CARGO="$(CARGO)" scripts/run-examples.sh

bench:
	$(CARGO) bench -p mqttkit --bench codec

fuzz:
	scripts/fuzz.sh 60

# Thin wrapper over CMake. `make test` and `make run` are the two commands the README opens with.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
SIEVE_DATA_DIR ?= $(HOME)/.cache/sieve
export SIEVE_DATA_DIR

.PHONY: all deps configure build data test test-all run clean

all: build

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DSIEVE_DATA_DIR=$(SIEVE_DATA_DIR) $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

data:
	@bash scripts/fetch-tokenizers.sh

# Everything that runs without a GPU (CTest label `gpu` excluded).
test: build data
	@cd $(BUILD) && ctest --output-on-failure -LE gpu -j $(JOBS)

# On a machine with a GPU: everything, GPU tests included.
test-all: build data
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The main job. For now: tokenize a sentence with the real Llama-3 tokenizer.
run: build data
	@$(BUILD)/sieve tokenize --tokenizer $(SIEVE_DATA_DIR)/tokenizers/llama3 \
	  "sieve turns a JSON Schema into a pushdown automaton, then masks 128,256 tokens in microseconds."

clean:
	rm -rf $(BUILD)

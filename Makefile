# The two commands of the quick start:
#   make demo   set up, build and run the main job
#   make test   set up, build and run the test suite
# Variables: BUILD_DIR (build), BUILD_TYPE (Release), CMAKE_ARGS (extra -D options, e.g. -DRECKON_CUDA=OFF), JOBS.

BUILD_DIR ?= build
BUILD_TYPE ?= Release
CMAKE_ARGS ?=
JOBS ?= $(shell nproc)
CTEST_ARGS ?=

.PHONY: all deps configure build test demo bench compare clean format python

all: build

deps:
	@scripts/install_deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_ARGS)

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	@ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS) $(CTEST_ARGS)

demo: build
	@$(BUILD_DIR)/bin/reckon info
	@echo
	@$(BUILD_DIR)/bin/reckon ctr demo --out $(BUILD_DIR)/ctr_demo
	@echo
	@$(BUILD_DIR)/bin/reckon item2vec demo --out $(BUILD_DIR)/item2vec_demo
	@echo
	@$(BUILD_DIR)/bin/reckon session demo --out $(BUILD_DIR)/session_demo
	@echo
	@$(BUILD_DIR)/bin/reckon content demo
	@echo
	@$(BUILD_DIR)/bin/reckon ensemble demo --train-sessions 2000 --save $(BUILD_DIR)/ensemble_demo

# The PyTorch operators and package (python/, docs/PYTHON.md): Debian's torch, its CMake package and pytest, then
# libreckon_torch.so in $(BUILD_DIR)/python, which `import reckon` finds with PYTHONPATH=python.
python:
	@scripts/install_deps.sh python3-torch libtorch-dev python3-pytest
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DRECKON_PYTHON=ON $(CMAKE_ARGS)
	@cmake --build $(BUILD_DIR) -j $(JOBS) --target reckon_torch reckon_torch_overhead
	@echo "reckon for PyTorch: PYTHONPATH=$(CURDIR)/python /usr/bin/python3 -c 'import reckon'"

bench: build
	@for b in $(BUILD_DIR)/bench/*_bench; do echo "== $$b"; $$b --benchmark_min_time=0.2; done

# reckon beside PyTorch and gensim on the same data and settings (bench/peers; minutes, not part of test or CI).
compare: build
	@BUILD_DIR=$(BUILD_DIR) bench/peers/compare.sh

format:
	@git ls-files '*.h' '*.cpp' '*.cu' '*.cuh' | xargs clang-format -i

clean:
	@rm -rf $(BUILD_DIR)

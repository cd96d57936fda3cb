# Two commands on a fresh machine: `make demo` (set up and open the app on the demo database)
# and `make test` (the whole test suite; CI runs the same).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test fuzz setup system-deps screenshot package clean

$(STAMP): pyproject.toml
	@EXTRA_APT_PACKAGES="postgresql redis-server redis-tools" bash .ci/system-deps.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $(STAMP)

setup: $(STAMP)

system-deps:
	@bash .ci/system-deps.sh

demo: $(STAMP)
	$(BIN)/trace-inspector --demo

# Starts a throwaway Postgres and Redis on loopback ports for the run (unless their URLs are set).
test: $(STAMP)
	PYTHON=$(BIN)/python bash .ci/test

# A longer fuzzing campaign of the command line than `make test`'s, with a random seed (printed;
# replay one with FUZZ_ARGS='--seed N'; see tests/fuzz/campaign.py for the other options).
fuzz: $(STAMP)
	$(BIN)/python -m tests.fuzz.campaign $(FUZZ_ARGS)

# README screenshots of the demo database (needs xvfb-run).
# (With settings of their own: a window opens at its default size and columns, not as you left yours.)
screenshot: export XDG_CONFIG_HOME := /tmp/aos-screenshot-config
screenshot: $(STAMP)
	rm -rf /tmp/aos-screenshot-config
	$(BIN)/trace-inspector demo --out /tmp/aos-demo.db --force
	TRACE_INSPECTOR_SCREENSHOT=$(CURDIR)/resources/screenshot-main.png TRACE_INSPECTOR_STEP=2 \
	  xvfb-run -a -s "-screen 0 1500x900x24" $(BIN)/trace-inspector /tmp/aos-demo.db
	TRACE_INSPECTOR_SCREENSHOT=$(CURDIR)/resources/screenshot-main-dark.png TRACE_INSPECTOR_STEP=2 \
	  TRACE_INSPECTOR_COLOR_SCHEME=dark xvfb-run -a -s "-screen 0 1500x900x24" $(BIN)/trace-inspector /tmp/aos-demo.db
	TRACE_INSPECTOR_SCREENSHOT=$(CURDIR)/resources/screenshot-start.png \
	  xvfb-run -a -s "-screen 0 1280x800x24" $(BIN)/trace-inspector /tmp/aos-demo-missing.db
	TRACE_INSPECTOR_SCREENSHOT=$(CURDIR)/resources/screenshot-evidence.png TRACE_INSPECTOR_EVIDENCE=1 \
	  TRACE_INSPECTOR_RUN=run_44170bdce193357c \
	  xvfb-run -a -s "-screen 0 1500x900x24" $(BIN)/trace-inspector /tmp/aos-demo.db
	xvfb-run -a -s "-screen 0 1280x800x24" $(BIN)/python benchmarks/shoot_bundle.py /tmp/aos-demo.db \
	  run_44170bdce193357c /tmp/aos-bundle-shots
	cp /tmp/aos-bundle-shots/screenshot-bundle.png /tmp/aos-bundle-shots/screenshot-bundle-untrusted.png \
	  /tmp/aos-bundle-shots/screenshot-export.png $(CURDIR)/resources/
	xvfb-run -a -s "-screen 0 1280x800x24" $(BIN)/python benchmarks/shoot_windows.py /tmp/aos-demo.db /tmp/aos-window-shots
	cp /tmp/aos-window-shots/compare.png $(CURDIR)/resources/screenshot-compare.png
	cp /tmp/aos-window-shots/replay-check.png $(CURDIR)/resources/screenshot-replay-check.png
	xvfb-run -a -s "-screen 0 1280x800x24" $(BIN)/python benchmarks/shoot_charts.py /tmp/aos-demo.db /tmp/aos-chart-shots
	xvfb-run -a -s "-screen 0 1280x800x24" $(BIN)/python benchmarks/shoot_charts.py /tmp/aos-demo.db /tmp/aos-chart-shots --dark
	cp /tmp/aos-chart-shots/screenshot-timeline.png /tmp/aos-chart-shots/screenshot-timeline-100k.png \
	  /tmp/aos-chart-shots/screenshot-timeline-100k-zoomed.png /tmp/aos-chart-shots/screenshot-activity.png \
	  /tmp/aos-chart-shots/screenshot-timeline-100k-dark.png $(CURDIR)/resources/

# The desktop app as a standalone folder, dist/trace-inspector/ (PyInstaller, installed into the venv
# here only), then checked by running it: CLI, bundles, Postgres, Redis, the window under Xvfb
# (docs/packaging.md). Prints the build time, sizes and start time; fails when a check does.
package: $(STAMP)
	$(BIN)/python -m pip install -q 'pyinstaller>=6.10,<7'
	$(BIN)/python packaging/build.py

clean:
	rm -rf $(VENV) build dist *.egg-info

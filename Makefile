# Two entry points: `make demo` and `make test`. Each sets up .venv on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo

.PHONY: demo test install browser clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch is pinned: on these machines 2.13.0 is a CPU wheel on disk.
	$(BIN)/pip install --quiet "torch==2.13.0"
	$(BIN)/pip install --quiet -e ".[test,batch,prepare]"
	# mediapipe 0.10.21 (offline person masks and keypoints for `recmv prepare`) declares numpy<2,
	# which clashes with the rest; its real needs come with the `prepare` extra above.
	$(BIN)/pip install --quiet --no-deps "mediapipe==0.10.21"
	touch $(STAMP)

install: $(STAMP)

# The report's browser test drives headless Chromium; install Debian's package where we may.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
		(apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || \
		echo "chromium is not installed and could not be: the report's browser test will skip"

test: $(STAMP) browser
	$(BIN)/python -m pytest -q

demo: $(STAMP)
	$(BIN)/recmv demo --out $(DEMO_DIR)

clean:
	rm -rf $(VENV) $(DEMO_DIR)

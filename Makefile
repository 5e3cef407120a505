# pasv — two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages the tests drive as real clients and servers (vsftpd: client tests and the bench);
# tcpdump records the loopback sessions that the `pasv pcap` tests read back.
TEST_DEBS  := curl lftp vsftpd tcpdump
BENCH_DEBS := curl vsftpd

.PHONY: run test lint bench soak fuzz debs-test debs-bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,dev]'
	touch $@

define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
endef

debs-test:
	$(call apt_install,$(TEST_DEBS))

debs-bench:
	$(call apt_install,$(BENCH_DEBS))

## run: start the server on embedded defaults (./pasv-data, port 2121, passive 50000-50100)
run: $(STAMP)
	$(BIN)/pasv serve

## test: the whole suite (unit, loopback server, interop with curl/lftp/aioftp, tcpdump captures)
test: $(STAMP) debs-test
	$(BIN)/pytest -n 2 -q

## lint: ruff, mypy --strict and the layer contract
lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src
	$(BIN)/lint-imports

## bench: pasv vs pyftpdlib (and vsftpd) on loopback, with ratios; then the upload modes' cost
bench: $(STAMP) debs-bench
	$(BIN)/python -m bench
	$(BIN)/python -m bench.uploads

## soak: slow, long-running tests (marked slow): 500 sessions for 60 s (SOAK_SECONDS, SOAK_SESSIONS);
## 2,000 verified uploads through four real clients and a hostile one (UPLOAD_SOAK_COUNT)
soak: $(STAMP) debs-test
	$(BIN)/pytest -q -m slow -p no:cacheprovider || [ $$? -eq 5 ]

## fuzz: each atheris target for FUZZ_SECONDS (default 60); hypothesis with a large budget
## when atheris has no wheel for this Python (see docs/reliability.md)
FUZZ_SECONDS ?= 60
fuzz: $(STAMP)
	$(BIN)/pip install -q --only-binary=atheris -e '.[fuzz]' || \
	  echo "atheris cannot be installed here: falling back to hypothesis"
	$(BIN)/python -m tests.fuzz.run --seconds $(FUZZ_SECONDS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache

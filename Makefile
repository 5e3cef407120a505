# pasv — two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages the tests drive as real clients and servers (vsftpd: client tests, the bench and
# `pasv doctor`); tcpdump records the loopback sessions that the `pasv pcap` tests read back; iproute2 (ss) shows listen queues;
# chromium + chromium-driver click through the admin console (fonts-wqy-zenhei: its Chinese).
# Pure-FTPd and ProFTPD conflict with vsftpd as Debian packages (all are "ftp-server"), so their
# packages are only unpacked into the venv (UNPACK_DEBS -> .venv/debs/root) and run from there;
# the libraries they need are installed. The tests start every server themselves on loopback
# ports; installing must not start one as a system service on port 21, so apt_install runs with
# a policy-rc.d that forbids it. PostgreSQL: the tests run throwaway clusters (initdb, pg_ctl) as
# the unprivileged "postgres" user the package creates; its own cluster is never started.
# the libraries the unpacked Pure-FTPd and ProFTPD need
UNPACK_LIBS := libsodium23 libcap2 libpam0g libhiredis0.14 libmemcached11 libmemcachedutil2 \
               libpcre2-posix3 libidn2-0 libacl1
TEST_DEBS   := curl lftp tnftp wget vsftpd tcpdump iproute2 postgresql chromium chromium-driver \
               fonts-wqy-zenhei libc-l10n $(UNPACK_LIBS)
UNPACK_DEBS := pure-ftpd proftpd-core
UNPACKED    := $(VENV)/debs/.unpacked
# the bench compares pasv with pyftpdlib, vsftpd, ProFTPD and Pure-FTPd (the last two unpacked)
BENCH_DEBS  := curl vsftpd $(UNPACK_LIBS)

.PHONY: run test lint bench soak fuzz debs-test debs-bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,dev,postgres]'
	touch $@

define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  made=""; if [ ! -e /usr/sbin/policy-rc.d ]; then \
	    printf '#!/bin/sh\nexit 101\n' | $(SUDO) tee /usr/sbin/policy-rc.d >/dev/null && \
	    $(SUDO) chmod 755 /usr/sbin/policy-rc.d && made=1; \
	  fi; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  status=$$?; [ -z "$$made" ] || $(SUDO) rm -f /usr/sbin/policy-rc.d; \
	  [ $$status = 0 ]; \
	fi
endef

define unpack_debs
	@[ -e $(UNPACKED) ] || { \
	  rm -rf $(VENV)/debs && mkdir -p $(VENV)/debs && cd $(VENV)/debs && \
	  { apt-get download $(UNPACK_DEBS) 2>/dev/null || \
	    { $(SUDO) apt-get update -qq && apt-get download $(UNPACK_DEBS) 2>/dev/null; }; } && \
	  for deb in *.deb; do dpkg-deb -x $$deb root; done && rm -f *.deb && touch .unpacked; }
endef

debs-test:
	$(call apt_install,$(TEST_DEBS))
	$(call unpack_debs)

debs-bench:
	$(call apt_install,$(BENCH_DEBS))
	$(call unpack_debs)

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

## bench: pasv vs pyftpdlib, vsftpd, ProFTPD and Pure-FTPd on loopback, each row a ratio to the
## best of them; then the upload modes' cost, MODE Z, event hooks' cost, S3 against the local
## disk, and the scale curves (idle sessions, first LIST, logins with 100k accounts, 1,000 downloads)
bench: $(STAMP) debs-bench
	$(BIN)/python -m bench
	$(BIN)/python -m bench.uploads
	$(BIN)/python -m bench.modes
	$(BIN)/python -m bench.hooks
	$(BIN)/python -m bench.s3transfers
	$(BIN)/python -m bench.scale

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

# radiusd: `make run` starts the server on the embedded defaults; `make test` runs every test.
# Both work on a fresh Debian machine: the venv, the Python packages and the Debian packages the
# tests talk to (radclient, pam_radius_auth, pamtester, slapd, sshd, FreeRADIUS) are installed here.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CONFIG ?= conf/radiusd.yaml
PYTEST_ARGS ?=

DEBIAN_PACKAGES := freeradius-utils libpam-radius-auth pamtester slapd ldap-utils openssh-server \
	freeradius libpam-modules postgresql-client faketime gcc libc6-dev libpam0g-dev passwd

.PHONY: run test lint venv debian-packages clean migration

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# Installs only what is missing; needs root (or sudo) the first time.
debian-packages:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null \
		| grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:" $$missing; \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing \
			>/dev/null; \
	fi

run: venv
	$(BIN)/radiusd -c $(CONFIG) init --quiet
	$(BIN)/radiusd -c $(CONFIG) serve --address 127.0.0.1

test: venv debian-packages
	$(BIN)/pytest -ra $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Regenerates the single migration 0001 from radiusd/store/models.py (until a first release).
migration: venv
	$(BIN)/python -m radiusd.store.migrations.regenerate

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache

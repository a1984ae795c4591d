# The two commands a person needs (see README.md):
#   make demo   set up everything, then start the platform with its demo models
#   make test   set up everything, then run every check and test
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: demo test setup lint bench-quick

$(STAMP): pyproject.toml scripts/setup.sh src/twinsight/ui/package-lock.json
	bash scripts/setup.sh
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/twinsight demo

test: $(STAMP)
	bash scripts/test.sh

lint: $(STAMP)
	bash scripts/test.sh --lint-only

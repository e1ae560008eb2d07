# The two commands of the README contract.
.PHONY: run test lint

run:  ## create .venv, install, migrate, create the first admin, serve on :$${PORT:-3000}
	./scripts/run.sh

test:  ## create .venv if needed and run the whole test suite
	./scripts/test.sh

lint:
	./scripts/bootstrap.sh dev && .venv/bin/ruff check . && .venv/bin/lint-imports

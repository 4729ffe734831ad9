# governed.change — the two commands a user needs are `make demo` and `make test` (see README.md).
.PHONY: setup demo test unit functional integration molecule sanity lint importer lab-up lab-down lab-status bench

setup:
	@scripts/setup.sh

demo: setup
	@scripts/demo.sh

test: setup
	@scripts/test.sh

unit: setup
	@.venv/bin/pytest tests/unit -q

functional: setup
	@.venv/bin/pytest tests/functional -q

integration: setup
	@.venv/bin/pytest tests/integration -q

molecule: setup
	@scripts/molecule.sh

sanity: setup
	@scripts/sanity.sh

lint: setup
	@scripts/lint.sh

importer: setup
	@scripts/importer.sh --strict

lab-up:
	@python3 lab/lab.py up && python3 lab/lab.py wait

lab-down:
	@python3 lab/lab.py down

lab-status:
	@python3 lab/lab.py status

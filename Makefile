# The two commands of the README. Both set up what is missing first (scripts/bootstrap: .venv, Kafka jars,
# the Prism runner; cached in ~/.cache/nkru), so they work on a fresh machine and are quick when warm.
.PHONY: run test bootstrap lint

bootstrap:
	@scripts/bootstrap

# The main job on the embedded default: local Kafka, the connectors polling the bundled sample feeds,
# the streaming job on Prism; alerts printed as they arrive. Ctrl-C stops it cleanly.
run: bootstrap
	.venv/bin/nkru run --sample

# The test suite against the real Kafka broker and the real Prism runner (both started by the tests
# unless NKRU_TEST_BOOTSTRAP names a running broker). Extra pytest arguments: make test ARGS="-k replay".
test: bootstrap
	.venv/bin/python -m pytest $(ARGS)

lint:
	.venv/bin/python -m ruff check .

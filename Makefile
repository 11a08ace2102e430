# The two commands a newcomer needs:   make demo   and   make test
VENV ?= .venv
export VENV

.PHONY: demo test install es-start es-stop bench clean

install:
	@bash scripts/bootstrap.sh

demo: install
	$(VENV)/bin/newswatch demo

test: install
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider -n 2 --durations=10

es-start: install
	$(VENV)/bin/newswatch es start

es-stop:
	$(VENV)/bin/newswatch es stop

clean:
	-$(VENV)/bin/newswatch es stop
	rm -rf $(VENV) .cache

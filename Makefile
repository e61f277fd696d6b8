# The two commands a newcomer needs: `make run` (start everything) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint format bench soak clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

# NATS, the IB simulator (accelerated time) and the four services, logs prefixed; Ctrl-C stops all.
run: $(STAMP)
	$(BIN)/v6 up

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python -m bench

# 20 trading days at 600x market speed, up to 200 open strategies (~15-20 min); not a test
soak: $(STAMP)
	$(BIN)/python -m soak --days 20 --max-open 200

clean:
	rm -rf $(VENV) data .pytest_cache

# Observatoire : toutes les étapes d'installation sont ici ; voir README.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MIROIR ?= ../shared/reference
ANNEE ?= 2023
DEPARTEMENTS ?= 78 92 95
JOBS ?= 2

.PHONY: installer referentiel demo rapports test lint lab benchmarks nettoyer

$(VENV)/.installe: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

installer: $(VENV)/.installe

# Miroir local s'il existe (../shared/reference), sinon sources officielles (internet).
data/reference/manifest.json: | $(VENV)/.installe
	@if [ -d "$(MIROIR)" ]; then \
		$(BIN)/observatoire referentiel installer --depuis "$(MIROIR)"; \
	else \
		echo "Pas de miroir $(MIROIR) : téléchargement depuis les sources officielles."; \
		$(BIN)/observatoire referentiel telecharger; \
	fi

referentiel: data/reference/manifest.json

demo: referentiel
	$(BIN)/observatoire demo --sortie data/demo

rapports: demo
	$(BIN)/observatoire rapports --annee $(ANNEE) --departements $(DEPARTEMENTS) \
		--donnees data/demo --sortie reports --jobs $(JOBS)

test: referentiel
	$(BIN)/python -m pytest --nbval-lax tests notebooks

lint: installer
	$(BIN)/ruff check src tests benchmarks

lab: referentiel
	$(BIN)/jupyter lab notebooks/

benchmarks: referentiel
	@for script in benchmarks/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

nettoyer:
	rm -rf $(VENV) data/reference reports/20*

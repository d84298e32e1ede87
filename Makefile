# Observatoire : toutes les étapes d'installation sont ici ; voir README.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MIROIR ?= ../shared/reference
ANNEE ?= 2023
DEPARTEMENTS ?= 78 92 95
JOBS ?= 2
NOYAU := observatoire
# Versions exactes de toutes les bibliothèques (make verrou les recalcule) : mêmes entrées, mêmes octets.
VERROU := constraints.txt
# Tests sur JOBS_TESTS processus (pytest-xdist, --dist loadfile) : un fichier de tests, ou un
# notebook (ses cellules, dans l'ordre), reste dans un processus ; le lot partagé par plusieurs
# fichiers est produit une fois (tests/conftest.py). JOBS_TESTS=0 : un seul processus.
# --no-loadscope-reorder : les fichiers partent dans l'ordre de la collecte, du plus long au plus
# court (tests/conftest.py, DUREES), et non du plus grand nombre de tests au plus petit, qui
# laissait le paquet installé et JupyterLab pour la fin d'un seul processus (418 s → 339 s).
# (--dist loadgroup ne groupe plus rien avec pytest 9.2 : xdist 3.8 réécrit item._nodeid, que
# pytest n'utilise plus.) Quatre processus pour deux cœurs : la suite attend souvent (pip, Chromium,
# JupyterLab, LibreOffice, noyaux qui démarrent) ; les processus de plus occupent ces attentes
# (mesuré sur la même machine : 7 min 40 s à trois contre 8 min 36 s à deux ; puis, l'ordre des
# fichiers réglé, 339 à 366 s à trois contre 318 s à quatre).
JOBS_TESTS ?= 4
# -p tests.sans_imports_inutiles : chargé avant nbval, 1,6 s de calcul de moins par processus de la
# suite (voir le module).
PYTEST := $(BIN)/python -m pytest -p tests.sans_imports_inutiles --nbval-lax --nbval-kernel-name $(NOYAU) \
	$(if $(filter-out 0,$(JOBS_TESTS)),-n $(JOBS_TESTS) --dist loadfile --no-loadscope-reorder)

.DEFAULT_GOAL := help
.PHONY: help installer verrou referentiel demo rapports test test-rapide documentation lint format types verifier lab benchmarks nettoyer

help: ## cette aide
	@echo "Observatoire : cibles make (README.md pour le détail)"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## (.*)/  make \1\t\2/' | expand -t 24

$(VENV)/.installe: pyproject.toml $(VERROU)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c $(VERROU) pip
	$(BIN)/python -m pip install --quiet -c $(VERROU) -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name $(NOYAU) --display-name "Observatoire" >/dev/null
	touch $@

installer: $(VENV)/.installe ## environnement .venv (versions de constraints.txt), paquet et noyau Jupyter

# Résout pyproject.toml à neuf (versions les plus récentes permises) dans une venv jetable et fige
# le résultat : à lancer pour monter de version, puis make installer et make test avant de valider.
verrou: ## recalcule constraints.txt depuis pyproject.toml (montée de versions)
	rm -rf .venv-verrou
	$(PYTHON) -m venv .venv-verrou
	.venv-verrou/bin/python -m pip install --quiet --upgrade pip
	.venv-verrou/bin/python -m pip install --quiet '.[dev]'
	{ echo "# Versions exactes installées par make installer, la CI et environment.yml (pip -c)."; \
	  echo "# Produit par make verrou (Python $$(.venv-verrou/bin/python -c 'import platform; print(platform.python_version())')) ; ne pas éditer à la main."; \
	  .venv-verrou/bin/python -m pip freeze --all --exclude observatoire; } > $(VERROU)
	rm -rf .venv-verrou build

# Miroir local s'il existe (../shared/reference), sinon sources officielles (internet).
data/reference/manifest.json: | $(VENV)/.installe
	@if [ -d "$(MIROIR)" ]; then \
		$(BIN)/observatoire referentiel installer --depuis "$(MIROIR)" --departements $(DEPARTEMENTS); \
	else \
		echo "Pas de miroir $(MIROIR) : téléchargement depuis les sources officielles."; \
		$(BIN)/observatoire referentiel telecharger --departements $(DEPARTEMENTS); \
	fi

referentiel: data/reference/manifest.json ## référentiel géographique dans data/reference

demo: referentiel ## régénère le jeu de démonstration data/demo
	$(BIN)/observatoire demo --sortie data/demo

rapports: demo ## rapports HTML et PDF de l'année dans reports/<annee>
	$(BIN)/observatoire rapports --annee $(ANNEE) --donnees data/demo --sortie reports --jobs $(JOBS) \
		$(if $(filter command line,$(origin DEPARTEMENTS)),--departements $(DEPARTEMENTS))

test: referentiel ## toute la suite (notebooks, navigateur, lots complets)
	$(PYTEST) tests notebooks

test-rapide: referentiel ## la suite sans les tests de bout en bout (-m "not lent")
	$(PYTEST) -m "not lent and not navigateur" tests notebooks

documentation: installer ## tableau des indicateurs de data/README.md, tiré du catalogue
	$(BIN)/python -c "from pathlib import Path; from observatoire.indicateurs.catalogue import readme_a_jour; \
	p = Path('data/README.md'); p.write_text(readme_a_jour(p.read_text(encoding='utf-8')), encoding='utf-8')"

lint: installer ## ruff (règles et format) et contrat des couches (import-linter)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports

format: installer ## met en forme le code (ruff format)
	$(BIN)/ruff format src tests benchmarks

types: installer ## vérification des types (mypy sur src/)
	$(BIN)/mypy src

verifier: lint types test ## ce que fait la CI : lint, types, tests

lab: referentiel ## JupyterLab sur notebooks/ avec le noyau du projet
	$(BIN)/jupyter lab notebooks/ $$([ "$$(id -u)" = 0 ] && echo --allow-root)

benchmarks: referentiel ## mesures de performance (benchmarks/)
	@for script in benchmarks/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

nettoyer: ## efface .venv, le référentiel installé et les rapports
	rm -rf $(VENV) data/reference reports/20*

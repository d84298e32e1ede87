"""L'architecture du paquet : couches, imports, notebooks du lot et leurs paramètres."""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import papermill
import pytest

from observatoire.commun.parametres import Parametres
from observatoire.fiches import SECTIONS_FICHE
from observatoire.publication.noyaux import notebook_du_lot
from observatoire.rapport import SECTIONS_DEPARTEMENT, SECTIONS_SYNTHESE

from .conftest import RACINE

PAQUET = RACINE / "src" / "observatoire"
MODULES = sorted(PAQUET.rglob("*.py"))
IMPORTS_DIFFERES_PERMIS = {"__init__.py", "cli.py"}


def _arbre(chemin: Path) -> ast.Module:
    return ast.parse(chemin.read_text(encoding="utf-8"), filename=str(chemin))


def test_contrat_des_couches_import_linter():
    """Les couches le long du traitement et l'absence de cycle (pyproject.toml, make lint)."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    resultat = subprocess.run([str(lint_imports)], cwd=RACINE, capture_output=True, text=True)
    assert resultat.returncode == 0, resultat.stdout[-3000:]
    assert "2 kept, 0 broken" in resultat.stdout


@pytest.mark.parametrize("chemin", MODULES, ids=lambda p: p.relative_to(PAQUET).as_posix())
def test_aucun_import_dans_une_fonction(chemin):
    """Un import dans une fonction cache un cycle : seuls ``cli`` (``--help`` reste rapide) et les
    ``__init__`` paresseux en ont, chacun avec sa raison en commentaire."""
    lignes = chemin.read_text(encoding="utf-8").splitlines()
    for noeud in ast.walk(_arbre(chemin)):
        if not isinstance(noeud, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        imports = [n for n in ast.walk(noeud) if isinstance(n, ast.Import | ast.ImportFrom)]
        if not imports:
            continue
        assert chemin.name in IMPORTS_DIFFERES_PERMIS, (
            f"{chemin.name}:{imports[0].lineno} import dans {noeud.name}"
        )
        premiere = lignes[imports[0].lineno - 1]
        assert "import différé" in premiere, (
            f"{chemin.name}:{imports[0].lineno} : raison de l'import différé ?"
        )


@pytest.mark.parametrize("chemin", MODULES, ids=lambda p: p.relative_to(PAQUET).as_posix())
def test_aucun_nom_prive_importe_d_un_autre_module(chemin):
    for noeud in ast.walk(_arbre(chemin)):
        if isinstance(noeud, ast.ImportFrom) and (
            noeud.level or (noeud.module or "").startswith("observatoire")
        ):
            prives = [alias.name for alias in noeud.names if alias.name.startswith("_")]
            assert not prives, f"{chemin.name}:{noeud.lineno} importe {prives} de {noeud.module}"


@pytest.mark.parametrize("nom", ["rapport_departement.ipynb", "synthese.ipynb"])
def test_notebooks_du_lot_identiques_aux_copies_de_l_analyste(nom):
    """Le lot exécute les notebooks du paquet ; notebooks/ garde les copies qu'on ouvre dans
    JupyterLab : les deux sont les mêmes octets."""
    territoire = "synthese" if nom == "synthese.ipynb" else "95"
    assert notebook_du_lot(territoire).name == nom
    assert notebook_du_lot(territoire).read_bytes() == (RACINE / "notebooks" / nom).read_bytes(), (
        f"copier notebooks/{nom} dans src/observatoire/publication/notebooks/"
    )


@pytest.mark.parametrize("carnet", sorted((RACINE / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_valeurs_par_defaut_des_notebooks_celles_de_parametres(carnet):
    """Les défauts de la cellule ``parameters`` (lus comme papermill les lit) sont ceux de
    ``Parametres`` : un notebook ouvert seul calcule ce que le lot calculerait."""
    lus = papermill.inspect_notebook(str(carnet))
    defauts = Parametres()
    attendus = {
        "annee": (str(defauts.annee), "int"),
        "donnees": (f'"{defauts.donnees.as_posix()}"', "str"),
        "referentiel": ('""', "str"),
        "tolerant": (str(defauts.tolerant), "bool"),
        "distance_proximite_m": (repr(defauts.distance_proximite_m), "float"),
    }
    for nom, (valeur, type_) in attendus.items():
        if nom in lus:
            assert (lus[nom]["default"], lus[nom]["inferred_type_name"]) == (valeur, type_), (
                f"{carnet.name} : {nom}"
            )
    for nom in ("departement", "code_qp", "territoire", "qpv"):
        if nom in lus:
            assert lus[nom]["inferred_type_name"] == "str", f"{carnet.name} : {nom} reste une chaîne"


@pytest.mark.parametrize(
    ("nom", "objet", "sections"),
    [
        ("rapport_departement.ipynb", "rapport", SECTIONS_DEPARTEMENT),
        ("synthese.ipynb", "rapport", SECTIONS_SYNTHESE),
        ("fiche_qpv.ipynb", "fiche", SECTIONS_FICHE),
    ],
)
def test_notebooks_appellent_les_sections_dans_l_ordre_du_paquet(nom, objet, sections):
    """Un appel par section, dans l'ordre de ``SECTIONS_*`` (l'ordre du HTML publié)."""
    carnet = nbformat.read(RACINE / "notebooks" / nom, as_version=4)
    appels = [
        appel
        for cellule in carnet.cells
        if cellule.cell_type == "code"
        for appel in re.findall(rf"^{objet}\.(\w+)\(\)", cellule.source, flags=re.MULTILINE)
    ]
    assert tuple(appels) == sections


def test_licence_du_depot_celle_de_pyproject():
    pyproject = tomllib.loads((RACINE / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["license"] == "MIT"
    assert (RACINE / "LICENSE").read_text(encoding="utf-8").startswith("MIT License\n")


@pytest.mark.parametrize("script", sorted((RACINE / "benchmarks").glob("*.py")), ids=lambda p: p.name)
def test_les_mesures_importent_ce_qui_existe(script):
    """Les bancs d'essai ne tournent pas dans la suite (ils mesurent) : au moins, tout ce qu'ils
    importent d'``observatoire`` existe encore, où qu'ils l'importent."""
    for noeud in ast.walk(_arbre(script)):
        if isinstance(noeud, ast.ImportFrom) and (noeud.module or "").startswith("observatoire"):
            module = importlib.import_module(noeud.module)
            for alias in noeud.names:
                assert hasattr(module, alias.name), (
                    f"{script.name}:{noeud.lineno} : {noeud.module}.{alias.name}"
                )

"""Le README, tel qu'il est écrit : chaque commande de ses blocs ``sh`` est lancée mot pour mot,
depuis la racine du projet, et doit réussir."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from .conftest import DEMO, RACINE

# Commandes qui ne se lancent pas ici, et pourquoi.
NON_LANCEES = {
    "make test": "c'est cette suite elle-même (la CI la lance)",
}


def _commandes() -> list[str]:
    texte = (RACINE / "README.md").read_text(encoding="utf-8")
    commandes = []
    for bloc in re.findall(r"```sh\n(.*?)```", texte, re.S):
        for ligne in bloc.splitlines():
            ligne = ligne.split("  #", 1)[0].strip()
            if ligne and not ligne.startswith("#"):
                commandes.append(ligne)
    # Une commande écrite deux fois (« rapports … --donnees data/centre », avant et après le
    # géocodage) est lancée une fois : le même lot complet, 25 s de plus, ne vérifie rien de neuf.
    return list(dict.fromkeys(commandes))


def test_le_readme_a_des_commandes():
    commandes = _commandes()
    assert "make rapports" in commandes and "make test" in commandes
    assert any(c.startswith(".venv/bin/papermill") for c in commandes)


@pytest.fixture(scope="module")
def rapports_deja_publies():
    """Les commandes du README publient dans ``reports/`` : des années déjà publiées là (celles
    d'un centre) sont mises de côté pendant le test, puis remises telles quelles."""
    rapports, de_cote = RACINE / "reports", RACINE / ".reports-pendant-les-tests"
    if de_cote.exists():
        pytest.fail(f"{de_cote} existe (un test interrompu) : remettez-le à la place de reports/ d'abord.")
    if rapports.exists():
        rapports.rename(de_cote)
    yield
    if de_cote.exists():
        shutil.rmtree(rapports, ignore_errors=True)
        de_cote.rename(rapports)


@pytest.fixture(scope="module")
def donnees_du_centre():
    """``data/centre`` du README : ici, une copie de la démonstration (effacée ensuite), et un
    géocodeur BAN sur la boucle locale (``OBSERVATOIRE_URL_BAN``) : jamais le vrai service."""
    from .test_geocodage import _Geocodeur

    centre = RACINE / "data" / "centre"
    cree = not centre.exists()
    if cree:
        shutil.copytree(DEMO, centre)
    geocodeur = _Geocodeur()
    yield centre, geocodeur.url
    geocodeur.arreter()
    if cree:
        shutil.rmtree(centre)


@pytest.mark.lent
@pytest.mark.parametrize("commande", [c for c in _commandes() if c not in NON_LANCEES])
def test_commande_du_readme(commande, donnees_du_centre, rapports_deja_publies):
    environnement = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "COV_"))}
    environnement["OBSERVATOIRE_URL_BAN"] = donnees_du_centre[1]
    resultat = subprocess.run(
        ["bash", "-c", commande], cwd=RACINE, capture_output=True, text=True, timeout=900, env=environnement
    )
    assert resultat.returncode == 0, f"{commande}\n{resultat.stdout[-2000:]}\n{resultat.stderr[-3000:]}"
    assert "Traceback" not in resultat.stderr
    (RACINE / "sortie.ipynb").unlink(missing_ok=True)

"""Fixtures partagées : référentiel installé, miroir, petit jeu d'activité écrit à la main."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from pathlib import Path

import pytest
from filelock import FileLock

# Le paquet et non ses fonctions : le processus qui distribue les tests (pytest-xdist) n'en
# exécute aucun et n'a pas à importer geopandas et le lot (1,3 s avant le départ des autres).
import observatoire

RACINE = Path(__file__).resolve().parents[1]
MIROIR = RACINE.parent / "shared" / "reference"
DEMO = RACINE / "data" / "demo"


@pytest.fixture(scope="session")
def miroir() -> Path:
    if not MIROIR.is_dir():
        pytest.skip("miroir ../shared/reference absent")
    return MIROIR


@pytest.fixture(scope="session")
def referentiel():
    """Référentiel installé par `make test` (data/reference)."""
    return observatoire.charger_referentiel()


# Petit jeu valide : chaque cas d'erreur des tests en modifie une ligne.
TABLES_VALIDES = {
    "actions": (
        "id_action;intitule;axe;thematique;format\n"
        "A1;Rencontre santé;developpement_social;sante;rencontre\n"
        "A2;Atelier jeunesse;Écouter et accompagner la parole habitante;prevention_jeunesse;atelier\n"
    ),
    "seances": (
        "id_seance;id_action;date;demi_journees;code_commune;lieu;latitude;longitude;distanciel\n"
        "S1;A1;14/03/2023;2;95018;Salle Jean Vilar;48,94718;2,24802;non\n"
        "S2;A2;2023-05-10;1;78361;;;;non\n"
        "S3;A1;2023-06-01;1;;Visio;;;oui\n"
    ),
    "participations": (
        "id_seance;public;code_commune_origine;departement_origine;nombre\n"
        "S1;professionnel_collectivite;95018;95;12\n"
        "S1;Habitant·es;;autre;3\n"
        "S2;association;78361;;5\n"
        "S3;elu;92050;;4\n"
    ),
    "demandes": (
        "id_demande;date;type_demandeur;code_commune;siren_epci;departement;thematique;objet\n"
        "D1;02/02/2023;ville;95127;;;sante;question confidentielle\n"
        "D2;03/03/2023;institution;;249500109;;egalite;\n"
        "D3;04/04/2023;association;;;autre;education;\n"
    ),
}


@pytest.fixture
def ecrire_jeu(tmp_path):
    """Écrit le petit jeu dans un dossier, avec des tables remplacées ; renvoie le dossier."""

    def ecrire(encodage: str = "utf-8", **remplacements: str) -> Path:
        dossier = tmp_path / "jeu"
        dossier.mkdir(exist_ok=True)
        for table, texte in {**TABLES_VALIDES, **remplacements}.items():
            (dossier / f"{table}.csv").write_bytes(texte.encode(encodage))
        return dossier

    return ecrire


CHARGE = "<img src=x onerror=alert(1)>"


def copier_demo_piegee(dossier):
    """Copie de la démonstration avec un intitulé et un lieu piégés (XSS)."""
    shutil.copytree(DEMO, dossier)
    actions = dossier / "2023" / "actions.csv"
    texte = actions.read_text(encoding="utf-8")
    actions.write_text(
        texte.replace("Accompagnement des CTG – réseau de la CAF du Val d'Oise", CHARGE, 1), encoding="utf-8"
    )
    seances = dossier / "2023" / "seances.csv"
    seances.write_text(
        seances.read_text(encoding="utf-8").replace("Salle municipale", CHARGE, 1), encoding="utf-8"
    )
    return dossier


@pytest.fixture(scope="session")
def lot(tmp_path_factory):
    """Le lot 78, 92, 95 et synthèse sur la démonstration piégée, produit une fois pour toute la
    suite : sous pytest-xdist, le premier processus qui le demande le produit (verrou de fichier),
    les autres relisent son bilan."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None:
        return _produire_lot(tmp_path_factory.mktemp("lot"))
    commun = tmp_path_factory.getbasetemp().parent
    with FileLock(str(commun / "lot.verrou")):
        bilan_json = commun / "lot" / "bilan.json"
        if bilan_json.is_file():
            bilan = json.loads(bilan_json.read_text(encoding="utf-8"))
            bilan["dossier"] = Path(bilan["dossier"])
            return bilan, Path(bilan.pop("donnees"))
        (commun / "lot").mkdir()
        bilan, donnees = _produire_lot(commun / "lot")
        contenu = json.dumps({**bilan, "donnees": str(donnees)}, default=str, ensure_ascii=False)
        bilan_json.write_text(contenu, encoding="utf-8")
        return bilan, donnees


def _produire_lot(racine: Path):
    donnees = copier_demo_piegee(racine / "donnees")
    bilan = observatoire.produire_rapports(
        annee=2023, departements=["78", "92", "095"], donnees=donnees, sortie=racine / "reports", jobs=2
    )
    return bilan, donnees


def lisible(texte: str) -> str:
    """Un texte typographié (espaces fines, apostrophes courbes) ramené à des caractères de clavier,
    pour comparer un message à ce qu'un test attend."""
    return str(texte).replace("\u202f", " ").replace("\u00a0", " ").replace("’", "'").replace("−", "-")


@contextlib.contextmanager
def leve(type_erreur, motif: str):
    """Comme ``pytest.raises(type_erreur, match=motif)``, le message lu comme au clavier
    (``lisible``) : les messages sont en typographie française."""
    with pytest.raises(type_erreur) as excinfo:
        yield excinfo
    assert re.search(motif, lisible(excinfo.value)), lisible(excinfo.value)


def nom_canonique(nom: str) -> str:
    return re.sub(r"[-_.]+", "-", nom).lower()


def versions_du_verrou() -> dict[str, str]:
    """Les versions exactes de constraints.txt, par nom canonique (minuscules, tirets)."""
    lignes = (RACINE / "constraints.txt").read_text(encoding="utf-8").splitlines()
    paires = (ligne.split("==") for ligne in lignes if ligne and not ligne.startswith("#"))
    return {nom_canonique(nom): version for nom, version in paires}


# Les fichiers du plus long au plus court (secondes mesurées sur 2 cœurs, JOBS_TESTS=3,
# `make test PYTEST_ADDOPTS=--durations=0`) : pytest-xdist (--dist loadfile --no-loadscope-reorder)
# distribue les fichiers dans l'ordre de la collecte, à qui se libère ; le plus long parti le
# dernier laissait un processus finir seul (80 s). Les fichiers absents de la liste (nouveaux)
# viennent ensuite. L'ordre des tests dans un fichier ne change pas.
DUREES = {
    "test_readme.py": 182, "test_rapports.py": 160, "test_entrees.py": 104, "test_publication.py": 88,
    "test_rien_ne_se_perd.py": 61, "test_installation.py": 57, "test_autre_territoire.py": 49,
    "test_jupyterlab.py": 30, "test_referentiel.py": 30, "test_figures.py": 25, "test_navigateur.py": 24,
    "test_oracle.py": 19, "test_geocodage.py": 19, "test_pages.py": 16, "synthese.ipynb": 12,
    "test_activite.py": 10, "test_demo.py": 9, "test_fiches.py": 7,
}  # fmt: skip


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: -DUREES.get(item.path.name, 0))

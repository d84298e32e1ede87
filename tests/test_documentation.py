"""Formats français des nombres, et documentation des interfaces publiques (vocabulaires, clés)."""

from __future__ import annotations

import re

import pytest

import observatoire
from observatoire import calculer_indicateurs, lire_activite, situer_activite
from observatoire.graphiques import format_nombre, format_part
from observatoire.vocabulaires import VOCABULAIRES, normaliser_vocabulaire, suggerer

from .conftest import DEMO, RACINE

FINE = "\u202f"


@pytest.mark.parametrize(
    ("valeur", "attendu"), [(4693, f"4{FINE}693"), (192, "192"), (1234567, f"1{FINE}234{FINE}567")]
)
def test_format_nombre(valeur, attendu):
    assert format_nombre(valeur) == attendu


def test_format_part():
    assert format_part(0.46) == f"46{FINE}%"
    assert format_part(0.0810811, 1) == f"8,1{FINE}%"
    assert format_part(float("nan")) == "–"


def test_vocabulaire_code_ou_libelle_sans_casse_ni_accents():
    import pandas as pd

    valeurs = pd.Series(["SANTE", "Santé", "santé ", "Promotion de l'egalite", "inconnu"])
    codes = normaliser_vocabulaire(valeurs, "thematique")
    assert codes.iloc[:4].tolist() == ["sante", "sante", "sante", "egalite"]
    assert pd.isna(codes.iloc[4])
    assert suggerer("educaton", "thematique") == "education"


def test_data_readme_documente_vocabulaires_et_indicateurs(referentiel):
    texte = (RACINE / "data" / "README.md").read_text(encoding="utf-8")
    for nom, codes in VOCABULAIRES.items():
        assert f"`{nom}`" in texte
        for code in codes:
            assert f"`{code}`" in texte, f"code {code} du vocabulaire {nom} non documenté"
    activite = lire_activite(DEMO / "2023", annee=2023, referentiel=referentiel)
    precedente = lire_activite(DEMO / "2022", annee=2022, referentiel=referentiel)
    indicateurs = calculer_indicateurs(
        situer_activite(activite, referentiel),
        referentiel,
        "synthese",
        situer_activite(precedente, referentiel),
    )
    documentees = set(re.findall(r"^\| `([a-z_{},]+)`", texte, re.M))
    developpees = set()
    for cle in documentees:
        groupe = re.fullmatch(r"(\w+)_\{([\w,]+)\}", cle)
        developpees |= {f"{groupe[1]}_{s}" for s in groupe[2].split(",")} if groupe else {cle}
    manquantes = set(indicateurs["indicateur"]) - developpees
    assert not manquantes, f"indicateurs non documentés dans data/README.md : {manquantes}"


def test_api_publique_explicite():
    assert sorted(observatoire.__all__) == observatoire.__all__
    for nom in observatoire.__all__:
        assert getattr(observatoire, nom).__doc__, f"{nom} sans docstring"

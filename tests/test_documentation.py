"""Formats français des nombres, et documentation des interfaces publiques (vocabulaires, clés)."""

from __future__ import annotations

import re

import pytest

import observatoire
from observatoire import calculer_indicateurs, lire_activite, situer_activite
from observatoire.activite.vocabulaires import VOCABULAIRES, normaliser_vocabulaire, suggerer
from observatoire.commun.typographie import format_nombre, format_part

from .conftest import DEMO, RACINE

FINE = "\u202f"
INSECABLE = "\u00a0"


@pytest.mark.parametrize(
    ("valeur", "attendu"), [(4693, f"4{FINE}693"), (192, "192"), (1234567, f"1{FINE}234{FINE}567")]
)
def test_format_nombre(valeur, attendu):
    assert format_nombre(valeur) == attendu


def test_format_part():
    assert format_part(0.46) == f"46{INSECABLE}%"
    assert format_part(0.0810811, 1) == f"8,1{INSECABLE}%"
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
    documentees = set(re.findall(r"^\| `([a-z0-9_{},]+)`", texte, re.M))
    developpees = set()
    for cle in documentees:
        groupe = re.fullmatch(r"(\w+)_\{([\w,]+)\}", cle)
        developpees |= {f"{groupe[1]}_{s}" for s in groupe[2].split(",")} if groupe else {cle}
    manquantes = set(indicateurs["indicateur"]) - developpees
    assert not manquantes, f"indicateurs non documentés dans data/README.md : {manquantes}"


def test_data_readme_tire_du_catalogue():
    """Le tableau des indicateurs de data/README.md est celui du catalogue (make documentation)."""
    from observatoire.indicateurs.catalogue import readme_a_jour

    texte = (RACINE / "data" / "README.md").read_text(encoding="utf-8")
    assert readme_a_jour(texte) == texte, "tableau des indicateurs à régénérer : make documentation"


def test_api_publique_explicite():
    assert sorted(observatoire.__all__) == observatoire.__all__
    for nom in observatoire.__all__:
        assert getattr(observatoire, nom).__doc__, f"{nom} sans docstring"


def test_api_publique_complete():
    """Chaque nom annoncé existe (import paresseux) et l'import ne charge rien de lourd."""
    import subprocess
    import sys

    for nom in observatoire.__all__:
        assert getattr(observatoire, nom) is not None, nom
    code = (
        "import sys, observatoire; lourds = [m for m in ('geopandas', 'matplotlib', 'folium', 'pandera', "
        "'pandas') if m in sys.modules]; print(','.join(lourds))"
    )
    resultat = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert resultat.stdout.strip() == ""


@pytest.mark.parametrize("carnet", sorted((RACINE / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_notebooks_versionnes_sans_sortie_avec_le_noyau_du_projet(carnet):
    """Aucune sortie dans git (nbstripout) ; le noyau « observatoire » de la venv ; une cellule
    ``parameters`` typée et commentée dont les codes sont des chaînes."""
    import nbformat

    contenu = nbformat.read(carnet, as_version=4)
    for cellule in contenu.cells:
        if cellule.cell_type == "code":
            assert cellule.outputs == [] and cellule.execution_count is None, f"sortie dans {carnet.name}"
    assert contenu.metadata["kernelspec"]["name"] == "observatoire"
    parametres = [c for c in contenu.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(parametres) == 1
    for ligne in parametres[0].source.splitlines()[1:]:
        assert re.match(r"^\w+: (int|str|bool|float) = .+  # .+", ligne), ligne
    assert "../" not in parametres[0].source, "les chemins se résolvent depuis le projet"


@pytest.mark.parametrize(
    ("part", "attendu"),
    [(0.125, "13"), (0.135, "14"), (0.145, "15"), (0.005, "1"), (0.0049, "0"), (29 / 111, "26"), (0.5, "50")],
)
def test_parts_arrondies_au_demi_superieur(part, attendu):
    """Usage français : 12,5 % → 13 % (l'arrondi de Python, au pair, donnerait 12 %)."""
    assert format_part(part) == f"{attendu}{INSECABLE}%"


@pytest.mark.parametrize("maximum", [3, 7, 20, 23, 1173, 4693])
def test_axes_de_comptage_a_graduations_entieres(maximum):
    import pandas as pd

    from observatoire.presentation.graphiques import graphique_barres

    valeurs = pd.Series([maximum, maximum // 2, 1], index=["a", "b", "c"])
    for horizontal in (True, False):
        figure = graphique_barres(valeurs, "Titre " * 30, horizontal=horizontal)
        axe = figure.axes[0]
        figure.canvas.draw()
        graduations = axe.get_xticks() if horizontal else axe.get_yticks()
        limites = axe.get_xlim() if horizontal else axe.get_ylim()
        visibles = [g for g in graduations if limites[0] <= g <= limites[1]]
        assert visibles and all(float(g).is_integer() for g in visibles), visibles
        etiquettes = [t.get_text() for t in (axe.get_xticklabels() if horizontal else axe.get_yticklabels())]
        for g, texte in zip(graduations, etiquettes, strict=True):
            if limites[0] <= g <= limites[1]:
                assert texte.replace(FINE, "") == str(int(g)), (g, texte)
        titre = figure.texts[0].get_text()
        assert "\n" in titre and titre.replace("\n", " ").strip() == ("Titre " * 30).strip(), (
            "titre replié, jamais coupé"
        )

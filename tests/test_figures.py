"""Les figures ne coupent ni ne superposent jamais leur texte (issue 20).

Chaque figure que le paquet dessine — les graphiques et la carte statique de chaque rapport de
la démonstration (78, 92, 95, synthèse) et d'un jeu tiré au sort aux libellés longs, la figure
du panneau d'exploration — est rendue par matplotlib ; chaque texte visible est mesuré
(``get_window_extent``) : il tient dans la figure et ne chevauche aucun autre texte.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.text import Text

import observatoire.rapport as module_rapport
from observatoire import Ensemble, preparer_rapport
from observatoire.commun.parametres import Parametres
from observatoire.presentation.graphiques import graphique_barres
from observatoire.rapport import SECTIONS_DEPARTEMENT, SECTIONS_SYNTHESE

TOLERANCE_PX = 1.0


def defauts_de_texte(figure) -> list[str]:
    """Les textes hors de la figure ou qui se chevauchent, décrits."""
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    moteur = canvas.get_renderer()
    cadre = figure.bbox
    textes = _textes_dessines(figure)
    boites = [(t, t.get_window_extent(moteur)) for t in textes]
    defauts = []
    for texte, boite in boites:
        if (
            boite.x0 < cadre.x0 - TOLERANCE_PX
            or boite.y0 < cadre.y0 - TOLERANCE_PX
            or boite.x1 > cadre.x1 + TOLERANCE_PX
            or boite.y1 > cadre.y1 + TOLERANCE_PX
        ):
            defauts.append(f"hors de la figure : {texte.get_text()!r} {boite.bounds}")
    for (a, boite_a), (b, boite_b) in itertools.combinations(boites, 2):
        largeur = min(boite_a.x1, boite_b.x1) - max(boite_a.x0, boite_b.x0)
        hauteur = min(boite_a.y1, boite_b.y1) - max(boite_a.y0, boite_b.y0)
        if largeur > TOLERANCE_PX and hauteur > TOLERANCE_PX:
            defauts.append(f"chevauchement : {a.get_text()!r} et {b.get_text()!r}")
    return defauts


def _textes_dessines(figure) -> list[Text]:
    """Les textes que matplotlib dessine vraiment : il crée des étiquettes de graduation hors des
    limites de l'axe, qu'il ne dessine pas ; elles ne comptent pas."""
    graduations, dessinees = set(), []
    for axe in figure.axes:
        if not axe.axison:  # axe masqué : ni ses titres d'axe ni ses graduations ne sont dessinés
            graduations.update({id(axe.xaxis.label), id(axe.yaxis.label)})
        for axis in (axe.xaxis, axe.yaxis):
            bas, haut = sorted(axis.get_view_interval())
            marge = 1e-9 * max(abs(bas), abs(haut), 1)
            for graduation in axis.get_major_ticks() + axis.get_minor_ticks():
                for etiquette in (graduation.label1, graduation.label2):
                    graduations.add(id(etiquette))
                    dans_l_axe = bas - marge <= graduation.get_loc() <= haut + marge
                    if axe.axison and dans_l_axe and etiquette.get_visible():
                        dessinees.append(etiquette)
    autres = [t for t in figure.findobj(Text) if id(t) not in graduations]
    return [t for t in autres + dessinees if t.get_visible() and t.get_text().strip()]


@pytest.fixture(scope="module")
def ensemble():
    return Ensemble.preparer(Parametres(departements=("78", "92", "95")))


def _figures_des_rapports(ensemble, monkeypatch, territoires, sortie) -> list:
    """Toutes les figures que les sections des rapports dessinent, capturées au passage."""
    figures = []
    vraie = module_rapport.figure_html

    def capturer(figure, *args, **options):
        figures.append(figure)
        return vraie(figure, *args, **options)

    monkeypatch.setattr(module_rapport, "figure_html", capturer)
    for territoire in territoires:
        # Avec une sortie : la carte statique (PNG, PDF) est dessinée aussi.
        rapport = preparer_rapport(territoire, ensemble=ensemble, sortie=sortie / territoire)
        for section in SECTIONS_SYNTHESE if territoire == "synthese" else SECTIONS_DEPARTEMENT:
            str(getattr(rapport, section)())
    return figures


@pytest.mark.parametrize("territoire", ["78", "92", "95", "synthese"])
def test_chaque_figure_des_rapports_garde_ses_textes(ensemble, monkeypatch, territoire, tmp_path):
    figures = _figures_des_rapports(ensemble, monkeypatch, [territoire], tmp_path)
    assert len(figures) >= 6, "graphiques et carte statique"
    assert any(f.texts and "Sources" in f.texts[-1].get_text() for f in figures), "la carte statique est vue"
    defauts = [f"figure {rang} : {d}" for rang, f in enumerate(figures) for d in defauts_de_texte(f)]
    assert not defauts, "\n".join(defauts[:30])


LIBELLES_LONGS = [
    "Institutions et organismes (CAF, ARS, bailleurs, préfecture, délégués du préfet)",
    "Professionnel des collectivités territoriales et de leurs groupements",
    "Autres",
    "Non renseigné",
    "Hors du territoire",
    "Habitant·es",
]


@pytest.mark.parametrize("graine", [1, 2, 3])
def test_graphiques_tires_au_sort_gardent_leurs_textes(graine):
    """Libellés longs, valeurs de 0 à 100 000, titres très longs, douze mois dont des zéros."""
    hasard = np.random.default_rng(graine)
    n = int(hasard.integers(1, len(LIBELLES_LONGS) + 1))
    valeurs = pd.Series(hasard.integers(0, 100_000, n), index=LIBELLES_LONGS[:n]).sort_values(ascending=False)
    titre = "Participations par public et par origine (sur " + f"{int(valeurs.sum()):,} participations)" * 2
    barres = graphique_barres(valeurs, titre, parts=valeurs / max(valeurs.sum(), 1), horizontal=True)
    assert not defauts_de_texte(barres), defauts_de_texte(barres)
    mois = pd.Series(
        hasard.integers(0, 5_000, 12) * (hasard.random(12) > 0.3),
        index=[f"{m} 2023" for m in ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
                                      "septembre", "octobre", "novembre", "décembre")],
    )  # fmt: skip
    verticales = graphique_barres(
        mois, "Participations par mois (sur 12 345 participations)", horizontal=False
    )
    assert not defauts_de_texte(verticales), defauts_de_texte(verticales)


def test_le_test_voit_un_titre_coupe():
    """Le contrôle lui-même : un texte posé hors de la figure est signalé."""
    figure = graphique_barres(pd.Series([3, 1], index=["a", "b"]), "Titre")
    figure.text(0.9, 0.5, "un texte qui déborde largement à droite de la figure")
    assert any("hors de la figure" in d for d in defauts_de_texte(figure))

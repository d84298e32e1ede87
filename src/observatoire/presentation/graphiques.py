"""Graphiques matplotlib en français : nombres « 4 693 », parts « 46 % », palette sûre pour
les daltoniens, valeurs écrites sur les barres (la couleur ne porte jamais seule l'information),
texte alternatif et tableau de données à côté de chaque image."""

from __future__ import annotations

import base64
import html
import io
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator
from PIL import Image  # Pillow : dépendance de matplotlib

from ..commun.typographie import format_nombre, format_part, typographier
from . import couleurs

__all__ = [
    "figure_html",
    "graphique_barres",
]

LARGEUR_TITRE = 70  # caractères par ligne de titre : un titre long passe à la ligne, jamais coupé


def _figure_sur_agg(**options) -> Figure:
    """Figure hors de pyplot, posée sur le canevas Agg qui l'enregistrera en PNG.

    Sans canevas, chaque mesure d'un texte (titre replié, étiquettes, ``tight_layout``) refait un
    rendu PNG pour obtenir un moteur de rendu neuf, et perd le cache des métriques du texte qui
    lui est attaché : 273 moteurs pour 24 graphiques d'un rapport. Le canevas Agg garde le sien
    (mêmes dimensions, même résolution) : mêmes mesures, mêmes pixels. La carte statique n'en
    veut pas : geopandas appelle ``canvas.draw_idle()`` après chaque ``.plot()``, sans effet sur
    un canevas nu mais un rendu complet sur Agg (sept de trop par carte).
    """
    figure = Figure(**options)
    FigureCanvasAgg(figure)
    return figure


def graphique_barres(
    valeurs: pd.Series,
    titre: str,
    *,
    parts: pd.Series | None = None,
    horizontal: bool = True,
    unite: str = "participations",
) -> Figure:
    """Diagramme en barres avec la valeur (et la part) écrite au bout de chaque barre.

    Aucun texte n'est coupé ni ne chevauche un autre : le titre est replié à la place réellement
    disponible, l'axe des valeurs s'allonge jusqu'à ce que chaque étiquette de barre tienne dans
    la figure, les libellés longs passent à la ligne ; en barres verticales (mois), les mois et
    les valeurs sont écrits à la verticale, les parts restant dans le tableau voisin.

    Parameters
    ----------
    valeurs : pandas.Series
        Valeurs indexées par libellé (dans l'ordre d'affichage).
    titre : str
        Titre du graphique.
    parts : pandas.Series, optional
        Parts (0 à 1) de même index, écrites après la valeur (barres horizontales).
    horizontal : bool
        Barres horizontales (catégories) ou verticales (mois).
    unite : str
        Unité pour l'axe des valeurs.

    Returns
    -------
    matplotlib.figure.Figure
        Figure autonome (sans pyplot : aucun état global, rien n'est changé pour l'analyste).
        Les axes de comptage n'ont que des graduations entières.
    """
    lignes_titre = textwrap.wrap(typographier(titre), LARGEUR_TITRE) or [""]
    libelles = [_couper(typographier(str(i))) for i in valeurs.index]
    lignes_libelles = sum(lib.count("\n") + 1 for lib in libelles)
    hauteur = max(2.4, 0.3 * lignes_libelles + 0.16 * len(valeurs) + 1.3) if horizontal else 4.2
    figure = _figure_sur_agg(figsize=(7.5, hauteur + 0.22 * (len(lignes_titre) - 1)), dpi=110)
    axe = figure.subplots()
    entiers = MaxNLocator(nbins=6, integer=True, steps=[1, 2, 5, 10], min_n_ticks=2)
    format_entier = FuncFormatter(lambda x, _: format_nombre(x))
    positions = np.arange(len(valeurs))
    maximum = max(float(valeurs.max()), 1.0)
    if horizontal:
        etiquettes = [
            format_nombre(v) + (f" ({format_part(parts.iloc[i])})" if parts is not None else "")
            for i, v in enumerate(valeurs)
        ]
        barres = axe.barh(positions, valeurs.to_numpy(), color=couleurs.BARRES, height=0.65)
        axe.set_yticks(positions, libelles, fontsize=8.5)
        axe.invert_yaxis()
        axe.set_xlabel(unite.capitalize())
        axe.set_xlim(0, maximum * 1.25)
        axe.xaxis.set_major_locator(entiers)
        axe.xaxis.set_major_formatter(format_entier)
        textes = axe.bar_label(barres, labels=etiquettes, padding=3, fontsize=8.5)
    else:
        etiquettes = [format_nombre(v) for v in valeurs]
        barres = axe.bar(positions, valeurs.to_numpy(), color=couleurs.BARRES, width=0.7)
        axe.set_xticks(positions, libelles, rotation=90, fontsize=8)
        axe.set_ylabel(unite.capitalize())
        axe.set_ylim(0, maximum * 1.25)
        axe.yaxis.set_major_locator(entiers)
        axe.yaxis.set_major_formatter(format_entier)
        textes = axe.bar_label(barres, labels=etiquettes, padding=2, fontsize=7.5, rotation=90)
    for bord in ("top", "right"):
        axe.spines[bord].set_visible(False)
    _titre_dans_la_figure(figure, axe, typographier(titre))
    _etiquettes_dans_la_figure(figure, axe, textes, horizontal, maximum)
    return figure


def _titre_dans_la_figure(figure: Figure, axe, titre: str) -> None:
    """Titre en haut à gauche de la figure, replié pour tenir dans sa largeur, puis mise en page
    des axes sous lui (le titre ne dépend pas de la largeur des libellés des barres)."""
    largeur = LARGEUR_TITRE
    while True:
        texte = figure.text(
            0.012, 0.985, "\n".join(textwrap.wrap(titre, largeur) or [""]), ha="left", va="top",
            fontsize=11, fontweight="bold",
        )  # fmt: skip
        cadre = texte.get_window_extent()  # mesuré sans dessiner la figure
        if cadre.x1 <= figure.bbox.x1 - 4 or largeur <= 16:
            break
        texte.remove()
        largeur = max(16, int(largeur * (figure.bbox.width - 12) / cadre.width) - 1)
    hauteur = (cadre.height + 10) / figure.bbox.height
    figure.tight_layout(rect=(0, 0, 1, 1 - hauteur))


def _couper(texte: str, largeur: int = 34) -> str:
    """Un libellé de barre replié en lignes d'au plus ``largeur`` caractères (mots entiers)."""
    return "\n".join(textwrap.wrap(texte, largeur, break_long_words=True) or [""])


def _etiquettes_dans_la_figure(figure: Figure, axe, textes, horizontal: bool, maximum: float) -> None:
    """Allonge l'axe des valeurs jusqu'à ce que chaque étiquette de barre tienne dans l'axe."""
    for _ in range(6):
        cadre = axe.get_window_extent()
        depasse = [
            t
            for t in textes
            if t.get_text()
            and (t.get_window_extent().x1 > cadre.x1 if horizontal else t.get_window_extent().y1 > cadre.y1)
        ]
        if not depasse:
            return
        if horizontal:
            fin = axe.get_xlim()[1]
            axe.set_xlim(0, fin * 1.15)
        else:
            fin = axe.get_ylim()[1]
            axe.set_ylim(0, fin * 1.15)


def figure_html(
    figure: Figure,
    alternative: str,
    chemin_png: Path | None = None,
    palette: bool = False,
    classe: str = "graphique",
) -> str:
    """Image PNG intégrée (``data:``) avec texte alternatif ; copie dans ``chemin_png`` si donné.

    Les figures sont des ``matplotlib.figure.Figure`` hors de pyplot : rien ne s'accumule.
    ``palette`` réduit l'image à 256 couleurs (PNG indexé, sans tramage) : une carte aux
    milliers de cercles translucides pèse quatre fois moins, sans différence visible.
    """
    tampon = io.BytesIO()
    figure.savefig(tampon, format="png", metadata={"Software": None})
    octets = tampon.getvalue()
    if palette:
        octets = _en_palette(octets)
    if chemin_png is not None:
        chemin_png.parent.mkdir(parents=True, exist_ok=True)
        chemin_png.write_bytes(octets)
    code = base64.b64encode(octets).decode("ascii")
    return f'<img class="{classe}" src="data:image/png;base64,{code}" alt="{html.escape(typographier(alternative))}">'


def _en_palette(octets: bytes) -> bytes:
    image = Image.open(io.BytesIO(octets)).convert("RGB")
    indexee = image.quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    tampon = io.BytesIO()
    indexee.save(tampon, format="png", optimize=True)
    return tampon.getvalue()

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
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from .formats import format_nombre, format_part

__all__ = [
    "PALETTE",
    "figure_html",
    "graphique_barres",
    "tableau_html",
]

# Okabe & Ito : palette distinguable par les personnes daltoniennes.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
LARGEUR_TITRE = 70  # caractères par ligne de titre : un titre long passe à la ligne, jamais coupé


def graphique_barres(
    valeurs: pd.Series,
    titre: str,
    *,
    parts: pd.Series | None = None,
    horizontal: bool = True,
    unite: str = "participations",
) -> Figure:
    """Diagramme en barres avec la valeur (et la part) écrite au bout de chaque barre.

    Parameters
    ----------
    valeurs : pandas.Series
        Valeurs indexées par libellé (dans l'ordre d'affichage).
    titre : str
        Titre du graphique.
    parts : pandas.Series, optional
        Parts (0 à 1) de même index, écrites après la valeur.
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
    lignes_titre = textwrap.wrap(titre, LARGEUR_TITRE) or [""]  # hauteur prévue ; repli réglé plus bas
    hauteur = (max(2.2, 0.42 * len(valeurs) + 1.2) if horizontal else 3.6) + 0.22 * (len(lignes_titre) - 1)
    figure = Figure(figsize=(7.5, hauteur), dpi=110)
    axe = figure.subplots()
    entiers = MaxNLocator(nbins=6, integer=True, steps=[1, 2, 5, 10], min_n_ticks=2)
    format_entier = FuncFormatter(lambda x, _: format_nombre(x))
    positions = np.arange(len(valeurs))
    etiquettes = [
        format_nombre(v) + (f" ({format_part(parts.iloc[i])})" if parts is not None else "")
        for i, v in enumerate(valeurs)
    ]
    if horizontal:
        barres = axe.barh(positions, valeurs.to_numpy(), color=PALETTE[0], height=0.65)
        axe.set_yticks(positions, [_couper(str(i)) for i in valeurs.index])
        axe.invert_yaxis()
        axe.set_xlabel(unite.capitalize())
        axe.set_xlim(0, max(valeurs.max(), 1) * 1.3)
        axe.xaxis.set_major_locator(entiers)
        axe.xaxis.set_major_formatter(format_entier)
    else:
        barres = axe.bar(positions, valeurs.to_numpy(), color=PALETTE[0], width=0.7)
        axe.set_xticks(positions, [str(i) for i in valeurs.index], rotation=45, ha="right")
        axe.set_ylabel(unite.capitalize())
        axe.set_ylim(0, max(valeurs.max(), 1) * 1.2)
        axe.yaxis.set_major_locator(entiers)
        axe.yaxis.set_major_formatter(format_entier)
    axe.bar_label(barres, labels=etiquettes, padding=3, fontsize=8.5)
    for bord in ("top", "right"):
        axe.spines[bord].set_visible(False)
    _titre_dans_la_figure(figure, axe, titre)
    return figure


def _titre_dans_la_figure(figure: Figure, axe, titre: str) -> None:
    """Titre aligné sur l'axe, replié assez court pour ne pas dépasser le bord droit.

    L'axe commence après les libellés des barres, plus ou moins longs : la largeur de repli
    se règle sur la place réellement disponible une fois la mise en page faite.
    """
    largeur = LARGEUR_TITRE
    for _ in range(3):
        texte = axe.set_title(
            "\n".join(textwrap.wrap(titre, largeur) or [""]), loc="left", fontsize=11, fontweight="bold"
        )
        figure.tight_layout()
        cadre = texte.get_window_extent()
        disponible = figure.bbox.x1 - 2 - cadre.x0
        if cadre.x1 <= figure.bbox.x1 - 2 or largeur <= 20:
            return
        largeur = max(20, int(largeur * disponible / cadre.width))


def _couper(texte: str, largeur: int = 38) -> str:
    if len(texte) <= largeur:
        return texte
    coupure = texte.rfind(" ", 0, largeur)
    coupure = coupure if coupure > 0 else largeur
    return texte[:coupure] + "\n" + _couper(texte[coupure:].strip(), largeur)


def figure_html(
    figure: Figure, alternative: str, chemin_png: Path | None = None, palette: bool = False
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
    return f'<img class="graphique" src="data:image/png;base64,{code}" alt="{html.escape(alternative)}">'


def _en_palette(octets: bytes) -> bytes:
    from PIL import Image  # Pillow : dépendance de matplotlib

    image = Image.open(io.BytesIO(octets)).convert("RGB")
    indexee = image.quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    tampon = io.BytesIO()
    indexee.save(tampon, format="png", optimize=True)
    return tampon.getvalue()


def tableau_html(tableau: pd.DataFrame, legende: str | None = None, classe: str = "donnees") -> str:
    """Tableau HTML (gabarit ``tableau.html.j2``, échappement automatique).

    Les valeurs sont déjà mises en forme en texte ; seule une valeur ``markupsafe.Markup`` (un
    lien construit avec échappement) passe telle quelle.
    """
    from .gabarits import rendre

    lignes = [list(ligne) for ligne in tableau.itertuples(index=False)]
    return str(
        rendre(
            "tableau.html.j2", colonnes=list(tableau.columns), lignes=lignes, legende=legende, classe=classe
        )
    )

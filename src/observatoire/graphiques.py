"""Graphiques matplotlib en français : nombres « 4 693 », parts « 46 % », palette sûre pour
les daltoniens, valeurs écrites sur les barres (la couleur ne porte jamais seule l'information),
texte alternatif et tableau de données à côté de chaque image."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

__all__ = [
    "ESPACE_FINE",
    "PALETTE",
    "figure_html",
    "format_nombre",
    "format_part",
    "graphique_barres",
    "tableau_html",
]

ESPACE_FINE = "\u202f"  # espace fine insécable (typographie française)
# Okabe & Ito : palette distinguable par les personnes daltoniennes.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
_MOIS = ["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."]


def format_nombre(valeur: float, decimales: int = 0) -> str:
    """Nombre à la française : ``4693`` → ``4 693`` (espace fine), ``8.1`` → ``8,1``."""
    if valeur is None or (isinstance(valeur, float) and np.isnan(valeur)):
        return "–"
    texte = f"{valeur:,.{decimales}f}"
    return texte.replace(",", ESPACE_FINE).replace(".", ",")


def format_part(part: float, decimales: int = 0) -> str:
    """Part en pourcentage à la française : ``0.46`` → ``46 %`` ; ``0.081`` → ``8,1 %`` (1 décimale)."""
    if part is None or (isinstance(part, float) and np.isnan(part)):
        return "–"
    return f"{format_nombre(100 * part, decimales)}{ESPACE_FINE}%"


def libelle_mois(cle: str) -> str:
    """``2023-03`` → ``mars 2023``."""
    annee, mois = cle.split("-")
    return f"{_MOIS[int(mois) - 1]} {annee}"


def graphique_barres(
    valeurs: pd.Series,
    titre: str,
    *,
    parts: pd.Series | None = None,
    horizontal: bool = True,
    unite: str = "participations",
) -> plt.Figure:
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
    """
    hauteur = max(2.2, 0.42 * len(valeurs) + 1.2) if horizontal else 3.6
    figure, axe = plt.subplots(figsize=(7.5, hauteur), dpi=110)
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
        axe.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: format_nombre(x)))
    else:
        barres = axe.bar(positions, valeurs.to_numpy(), color=PALETTE[0], width=0.7)
        axe.set_xticks(positions, [str(i) for i in valeurs.index], rotation=45, ha="right")
        axe.set_ylabel(unite.capitalize())
        axe.set_ylim(0, max(valeurs.max(), 1) * 1.2)
        axe.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: format_nombre(x)))
    axe.bar_label(barres, labels=etiquettes, padding=3, fontsize=8.5)
    axe.set_title(titre, loc="left", fontsize=11, fontweight="bold")
    for bord in ("top", "right"):
        axe.spines[bord].set_visible(False)
    figure.tight_layout()
    return figure


def _couper(texte: str, largeur: int = 38) -> str:
    if len(texte) <= largeur:
        return texte
    coupure = texte.rfind(" ", 0, largeur)
    coupure = coupure if coupure > 0 else largeur
    return texte[:coupure] + "\n" + _couper(texte[coupure:].strip(), largeur)


def figure_html(figure: plt.Figure, alternative: str, chemin_png: Path | None = None) -> str:
    """Image PNG intégrée (``data:``) avec texte alternatif ; copie dans ``chemin_png`` si donné.

    La figure est fermée après l'export (pas d'accumulation dans un notebook).
    """
    tampon = io.BytesIO()
    figure.savefig(tampon, format="png", metadata={"Software": None})
    plt.close(figure)
    octets = tampon.getvalue()
    if chemin_png is not None:
        chemin_png.parent.mkdir(parents=True, exist_ok=True)
        chemin_png.write_bytes(octets)
    code = base64.b64encode(octets).decode("ascii")
    return f'<img class="graphique" src="data:image/png;base64,{code}" alt="{html.escape(alternative)}">'


def tableau_html(tableau: pd.DataFrame, legende: str | None = None, classe: str = "donnees") -> str:
    """Tableau HTML échappé (les valeurs sont déjà mises en forme en texte)."""
    entete = "".join(f"<th scope='col'>{html.escape(str(c))}</th>" for c in tableau.columns)
    lignes = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in ligne) + "</tr>"
        for ligne in tableau.itertuples(index=False)
    )
    titre = f"<caption>{html.escape(legende)}</caption>" if legende else ""
    return f'<table class="{classe}">{titre}<thead><tr>{entete}</tr></thead><tbody>{lignes}</tbody></table>'

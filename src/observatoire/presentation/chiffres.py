"""Les chiffres clés écrits : une seule manière, pour les rapports, l'index et le panneau."""

from __future__ import annotations

import pandas as pd

from ..commun.typographie import format_nombre, format_part
from ..indicateurs.calcul import valeur
from ..indicateurs.catalogue import CHIFFRES_CLES, ChiffreCle

__all__ = ["chiffres_du_territoire", "texte_chiffre_cle"]


def texte_chiffre_cle(chiffre: ChiffreCle, indicateurs) -> str:
    """Le chiffre clé écrit : « 23 / 42 (55 %) », « 4 693 », « – » s'il manque."""
    nombre = valeur(indicateurs, chiffre.indicateur, chiffre.modalite)
    if chiffre.part and chiffre.sur is None:
        return format_part(valeur(indicateurs, chiffre.indicateur, chiffre.modalite, colonne="part"))
    texte = format_nombre(nombre)
    if chiffre.sur is not None:
        texte += f" / {format_nombre(valeur(indicateurs, chiffre.sur))}"
    if chiffre.part:
        part = valeur(indicateurs, chiffre.indicateur, chiffre.modalite, colonne="part")
        if part == part:
            texte += f" ({format_part(part)})"
    return texte


def chiffres_du_territoire(
    indicateurs: pd.DataFrame, territoire: str, ou: str = "rapport"
) -> list[ChiffreCle]:
    """Les chiffres clés d'un territoire là où on les montre (``rapport``, ``index``, ``panneau``),
    sans ceux dont l'indicateur manque (population des QPV sans table de contexte)."""
    genre = "synthese" if territoire == "synthese" else "departements"
    presents = set(indicateurs["indicateur"])
    return [
        c
        for c in CHIFFRES_CLES
        if c.territoires in ("tous", genre)
        and (ou == "rapport" or getattr(c, ou))
        and c.indicateur in presents
    ]

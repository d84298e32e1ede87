"""Nombres et parts à la française, sans dépendance lourde (ni matplotlib, ni folium).

Règle d'arrondi des parts affichées, documentée dans ``data/README.md`` : arrondi au plus
proche, les demis vers le haut (12,5 % → 13 %), comme l'usage français ; les tables gardent les
parts exactes. Quand les parts arrondies d'une répartition ne font pas 100 %, le rapport le dit
sous le tableau (règle de l'INSEE) au lieu de retoucher une part.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

__all__ = ["ESPACE_FINE", "arrondir", "format_nombre", "format_part"]

ESPACE_FINE = "\u202f"  # espace fine insécable (typographie française)


def arrondir(valeur: float, decimales: int = 0) -> float:
    """Arrondi au plus proche, demis vers le haut : ``12.5`` → ``13``, ``-12.5`` → ``-13``.

    La valeur est d'abord ramenée à 12 chiffres significatifs : ``0.145 * 100`` vaut
    ``14.499999999999998`` en binaire et doit s'arrondir comme ``14,5``.
    """
    if valeur is None or not math.isfinite(valeur):
        return valeur
    propre = Decimal(f"{valeur:.12g}")
    return float(propre.quantize(Decimal(1).scaleb(-decimales), rounding=ROUND_HALF_UP))


def format_nombre(valeur: float | None, decimales: int = 0) -> str:
    """Nombre à la française : ``4693`` → ``4 693`` (espace fine), ``8.1`` → ``8,1`` ; ``–`` si absent."""
    if valeur is None or (isinstance(valeur, float) and not math.isfinite(valeur)):
        return "–"
    texte = f"{arrondir(float(valeur), decimales):,.{decimales}f}"
    if texte.startswith("-") and float(texte.replace(",", "")) == 0:
        texte = texte[1:]
    return texte.replace(",", ESPACE_FINE).replace(".", ",")


def format_part(part: float | None, decimales: int = 0) -> str:
    """Part en pourcentage à la française : ``0.46`` → ``46 %`` ; ``0.125`` → ``13 %`` (demi vers le haut)."""
    if part is None or (isinstance(part, float) and not math.isfinite(part)):
        return "–"
    return f"{format_nombre(100 * part, decimales)}{ESPACE_FINE}%"

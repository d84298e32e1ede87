"""Typographie française de tout ce que l'outil écrit : nombres, parts, dates, distances, accords,
et une seule fonction, ``typographier``, passée sur chaque texte (pages, fiches, index, tableaux
des notebooks, messages de la ligne de commande).

Règles (Lexique des règles typographiques de l'Imprimerie nationale, ``PUBLICATION.md``) :

- espace fine insécable (U+202F) avant ``;`` ``:`` ``!`` ``?`` et à l'intérieur des guillemets
  « » ; séparateur de milliers : la même espace fine (« 4 693 ») ;
- espace insécable (U+00A0) entre un nombre et son unité (« 300 m », « 12 % ») ;
- virgule décimale, signe moins « − » ; apostrophe typographique (’) dans la prose ;
- dates « 12 mars 2023 », « 1er mars 2023 », mois « mars 2023 » ; jamais d'horodatage ISO ;
- accord plutôt que « (s) » : « 1 adhérent atteint », « 26 adhérents atteints ».

Règle d'arrondi des parts affichées, documentée dans ``data/README.md`` : au plus proche, les
demis vers le haut (12,5 % → 13 %) ; les tables gardent les parts exactes.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import re
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

__all__ = [
    "ESPACE_FINE",
    "ESPACE_INSECABLE",
    "MOIS",
    "accord",
    "arrondir",
    "format_date",
    "format_distance",
    "format_duree",
    "format_mois",
    "format_nombre",
    "format_part",
    "mois_en_lettres",
    "nombre_de",
    "tableau_texte",
    "typographier",
    "typographier_html",
]

ESPACE_FINE = "\u202f"  # espace fine insécable : avant ; : ! ?, dans « », milliers
ESPACE_INSECABLE = "\u00a0"  # espace insécable : entre un nombre et son unité
MOINS = "\u2212"
MOIS = (
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
)  # fmt: skip
UNITES = ("km", "m", "%", "s", "Mo", "ko", "Ko", "ha", "h", "min", "€")
_ESPACES = f" {ESPACE_INSECABLE}{ESPACE_FINE}"


def arrondir(valeur: float, decimales: int = 0) -> float:
    """Arrondi au plus proche, demis vers le haut : ``12.5`` → ``13``, ``-12.5`` → ``-13``.

    La valeur est d'abord ramenée à 12 chiffres significatifs : ``0.145 * 100`` vaut
    ``14.499999999999998`` en binaire et doit s'arrondir comme ``14,5``.
    """
    if valeur is None or not math.isfinite(valeur):
        return valeur
    propre = Decimal(f"{valeur:.12g}")
    return float(propre.quantize(Decimal(1).scaleb(-decimales), rounding=ROUND_HALF_UP))


def _absent(valeur) -> bool:
    if valeur is None:
        return True
    try:
        return not math.isfinite(float(valeur))
    except (TypeError, ValueError):
        return True


def format_nombre(valeur: float | None, decimales: int = 0) -> str:
    """Nombre à la française : ``4693`` → ``4 693`` (espace fine), ``8.1`` → ``8,1``, ``-5`` →
    ``−5`` ; ``–`` si absent."""
    if valeur is None or _absent(valeur):
        return "–"
    texte = f"{arrondir(float(valeur), decimales):,.{decimales}f}"
    if texte.startswith("-"):
        texte = texte[1:] if float(texte[1:].replace(",", "")) == 0 else MOINS + texte[1:]
    return texte.replace(",", ESPACE_FINE).replace(".", ",")


def format_part(part: float | None, decimales: int = 0) -> str:
    """Part en pourcentage : ``0.46`` → ``46 %`` ; ``0.125`` → ``13 %`` (demi vers le haut)."""
    if part is None or _absent(part):
        return "–"
    return f"{format_nombre(100 * float(part), decimales)}{ESPACE_INSECABLE}%"


def format_distance(metres: float | None) -> str:
    """Distance lisible : ``850`` → ``850 m`` ; ``2569`` → ``2,6 km``."""
    if metres is None or _absent(metres):
        return "–"
    if float(metres) < 1_000:
        return f"{format_nombre(metres)}{ESPACE_INSECABLE}m"
    return f"{format_nombre(float(metres) / 1_000, 1)}{ESPACE_INSECABLE}km"


def format_duree(secondes: float) -> str:
    """Durée d'un calcul : ``21.6`` → ``21,6 s`` ; ``135`` → ``2 min 15 s``."""
    if secondes < 60:
        return f"{format_nombre(secondes, 1)}{ESPACE_INSECABLE}s"
    minutes, reste = divmod(round(secondes), 60)
    return f"{minutes}{ESPACE_INSECABLE}min {reste}{ESPACE_INSECABLE}s"


def mois_en_lettres(mois: int) -> str:
    """``3`` → ``mars``."""
    return MOIS[int(mois) - 1]


def format_date(date: dt.date | dt.datetime | str | None) -> str:
    """``2023-03-12`` → ``12 mars 2023`` ; le premier du mois : ``1er mars 2023``."""
    if date is None or (not isinstance(date, str) and _est_nat(date)):
        return "–"
    if isinstance(date, str):
        date = dt.date.fromisoformat(date[:10])
    jour = "1er" if date.day == 1 else str(date.day)
    return f"{jour} {mois_en_lettres(date.month)} {date.year}"


def _est_nat(date) -> bool:
    return date != date  # NaT et NaN ne sont pas égaux à eux-mêmes


def format_mois(cle: str) -> str:
    """``2023-03`` → ``mars 2023``."""
    annee, mois = str(cle).split("-")[:2]
    return f"{mois_en_lettres(int(mois))} {annee}"


def accord(nombre: float, singulier: str, pluriel: str | None = None) -> str:
    """Le mot accordé au nombre, sans le nombre : ``accord(2, "département inconnu")`` →
    ``départements inconnus`` (voir ``nombre_de``)."""
    return nombre_de(nombre, singulier, pluriel).split(" ", 1)[1]


def nombre_de(nombre: float, singulier: str, pluriel: str | None = None) -> str:
    """Un compte et son nom accordé : ``nombre_de(1, "erreur")`` → ``1 erreur`` ;
    ``nombre_de(26, "adhérent atteint", "adhérents atteints")`` → ``26 adhérents atteints``.

    En français, 0 et 1 prennent le singulier. Sans pluriel donné, chaque mot prend un « s »
    (sauf s'il finit par s, x ou z).
    """
    if pluriel is None:
        pluriel = " ".join(
            m if m[-1:] in "sxz" or not m[-1:].isalpha() else m + "s" for m in singulier.split(" ")
        )
    mot = singulier if abs(float(nombre)) < 2 else pluriel
    return f"{format_nombre(nombre)} {mot}"


# --------------------------------------------------------------------------- texte


_AVANT_PONCTUATION = re.compile(rf"[{_ESPACES}]+([;:!?])(?=\s|$|[»)\]])")
_DANS_GUILLEMETS_OUVRANTS = re.compile(rf"«[{_ESPACES}]*")
_DANS_GUILLEMETS_FERMANTS = re.compile(rf"[{_ESPACES}]*»")
_UNITES = re.compile(rf"(\d)[{_ESPACES}]+({'|'.join(re.escape(u) for u in UNITES)})(?![\w%])")
_APOSTROPHE = re.compile(r"(?<=[A-Za-zÀ-ÖØ-öø-ÿŒœ])'(?=[A-Za-zÀ-ÖØ-öø-ÿŒœ])")
_POINTS = re.compile(r"(?<!\.)\.\.\.(?!\.)")


def typographier(texte: str) -> str:
    """Le texte aux règles de la typographie française ; idempotent.

    Espace fine insécable avant ``; : ! ?`` quand une espace les précède déjà (une URL, une
    heure ou un code comme ``EPSG:2154`` n'ont pas d'espace et restent tels quels) et à
    l'intérieur des guillemets ; espace insécable entre un nombre et son unité ; apostrophe
    typographique entre deux lettres ; points de suspension.
    """
    if not texte:
        return texte
    texte = _AVANT_PONCTUATION.sub(ESPACE_FINE + r"\1", texte)
    texte = _DANS_GUILLEMETS_OUVRANTS.sub("«" + ESPACE_FINE, texte)
    texte = _DANS_GUILLEMETS_FERMANTS.sub(ESPACE_FINE + "»", texte)
    texte = _UNITES.sub(r"\1" + ESPACE_INSECABLE + r"\2", texte)
    texte = _APOSTROPHE.sub("’", texte)
    return _POINTS.sub("…", texte)


_PROTEGES = re.compile(
    r"(<script\b.*?</script>|<style\b.*?</style>|<code\b.*?</code>|<pre\b.*?</pre>|<!--.*?-->|<[^>]*>)",
    re.S | re.I,
)


def typographier_html(page: str) -> str:
    """``typographier`` appliqué aux seuls nœuds de texte d'un HTML (ni balises, ni attributs,
    ni scripts, ni styles, ni code)."""
    morceaux = _PROTEGES.split(page)
    for rang in range(0, len(morceaux), 2):
        morceau = morceaux[rang]
        if morceau.strip():
            texte = typographier(html.unescape(morceau))
            morceaux[rang] = html.escape(texte, quote=False)
    return "".join(morceaux)


def tableau_texte(colonnes: Sequence[str], lignes: Sequence[Sequence[object]]) -> str:
    """Un petit tableau en texte pour le terminal : colonnes alignées, nombres à droite."""
    cellules = [[str(c) for c in colonnes]] + [[str(v) for v in ligne] for ligne in lignes]
    largeurs = [max(len(ligne[i]) for ligne in cellules) for i in range(len(colonnes))]
    numerique = [
        all(re.fullmatch(rf"[\d{_ESPACES},.{MOINS}–%]*", ligne[i] or "") for ligne in cellules[1:])
        for i in range(len(colonnes))
    ]

    def ligne_texte(ligne: list[str]) -> str:
        return "  ".join(
            (v.rjust(largeurs[i]) if numerique[i] else v.ljust(largeurs[i])) for i, v in enumerate(ligne)
        ).rstrip()

    return "\n".join(
        ["  " + ligne_texte(cellules[0])] + ["  " + ligne_texte(ligne) for ligne in cellules[1:]]
    )

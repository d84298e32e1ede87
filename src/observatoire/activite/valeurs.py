"""Lecture des valeurs saisies : dates, nombres, booléens, à la française et telles qu'Excel les
exporte. Chaque fonction est vectorisée et calculée une fois par valeur distincte : une colonne
d'un million de lignes n'a souvent que quelques centaines de valeurs différentes.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

__all__ = [
    "ESPACES_DE_MILLIERS",
    "FAUX",
    "SERIE_EXCEL_MAX",
    "SERIE_EXCEL_MIN",
    "VRAI",
    "booleens",
    "dates",
    "decimaux",
    "par_valeur_distincte",
    "series_excel",
]

VRAI = frozenset({"oui", "o", "1", "vrai", "true", "x", "yes", "y"})
FAUX = frozenset({"non", "n", "0", "faux", "false", "no", ""})
# Séparateurs de milliers acceptés : espace, espace insécable, espace fine insécable (« 1 000 »).
ESPACES_DE_MILLIERS = (" ", "\u00a0", "\u202f")
# Numéros de série Excel des dates de 1990 à 2100 (jour 0 = 30/12/1899).
SERIE_EXCEL_MIN, SERIE_EXCEL_MAX = 32_874, 73_415


def par_valeur_distincte(valeurs: pd.Series, fonction: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """Applique une fonction vectorisée aux seules valeurs distinctes, puis la répand.

    Même résultat que ``fonction(valeurs)`` (même index), pour le coût des valeurs distinctes.
    """
    codes, distinctes = pd.factorize(valeurs, use_na_sentinel=False)
    resultat = fonction(pd.Series(distinctes, dtype=object))
    return pd.Series(resultat.to_numpy()[codes], index=valeurs.index, name=valeurs.name)


def _dates(texte: pd.Series) -> pd.Series:
    texte = texte.astype(str).str.strip()
    francaises = pd.to_datetime(texte, format="%d/%m/%Y", errors="coerce")
    iso = pd.to_datetime(texte.str.slice(0, 10), format="%Y-%m-%d", errors="coerce")
    return francaises.fillna(iso).fillna(_series_excel(texte))


def dates(valeurs: pd.Series) -> pd.Series:
    """Dates JJ/MM/AAAA, AAAA-MM-JJ (une heure éventuelle ignorée), ou numéro de série Excel
    plausible (1990 à 2100) ; ``NaT`` sinon."""
    return par_valeur_distincte(valeurs, _dates)


def _series_excel(texte: pd.Series) -> pd.Series:
    nombres = pd.to_numeric(texte.where(texte.str.fullmatch(r"\d{5}").fillna(False)), errors="coerce")
    plausibles = nombres.where(nombres.between(SERIE_EXCEL_MIN, SERIE_EXCEL_MAX))
    return pd.to_datetime(plausibles, unit="D", origin="1899-12-30", errors="coerce")


def series_excel(valeurs: pd.Series) -> pd.Series:
    """Dates écrites comme numéro de série Excel (``45000``) ; ``NaT`` pour toute autre valeur."""
    return par_valeur_distincte(valeurs, lambda s: _series_excel(s.astype(str).str.strip()))


def _decimaux(texte: pd.Series) -> pd.Series:
    texte = texte.astype(str).str.strip()
    for espace in ESPACES_DE_MILLIERS:
        texte = texte.str.replace(espace, "", regex=False)
    texte = texte.str.replace(",", ".", regex=False)
    return pd.to_numeric(texte.where(texte != ""), errors="coerce").astype(float)


def decimaux(valeurs: pd.Series) -> pd.Series:
    """Nombres à virgule ou à point, séparateurs de milliers acceptés ; ``NaN`` si illisible ou vide."""
    return par_valeur_distincte(valeurs, _decimaux).astype(float)


def booleens(valeurs: pd.Series) -> pd.Series:
    """``oui``/``non`` (et ``o``, ``1``, ``vrai``, ``x``…) en booléens ; une valeur inconnue vaut non."""
    return par_valeur_distincte(valeurs, lambda s: s.astype(str).str.strip().str.lower().isin(VRAI)).astype(
        bool
    )

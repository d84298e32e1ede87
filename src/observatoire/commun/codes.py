"""Codes officiels (départements, communes) : normalisation en chaînes de caractères."""

from __future__ import annotations

import re
from collections.abc import Iterable

import pandas as pd

from .erreurs import ErreurParametre

__all__ = [
    "SYNTHESE",
    "departement_de_commune",
    "normaliser_departement",
    "normaliser_departements",
    "normaliser_territoire",
]

SYNTHESE = "synthese"  # le territoire entier du centre

# Les départements de 2025 : 01 à 19, 2A, 2B, 21 à 95, et les cinq DROM (971 à 974, 976). Ni
# « 20 » (la Corse est divisée depuis 1976), ni 975 (Saint-Pierre-et-Miquelon) ni 977, 978 :
# des collectivités d'outre-mer, sans quartier prioritaire.
_MOTIF_DEPARTEMENT = re.compile(r"^(?:0?([1-9])|(1\d|2[1-9]|[3-8]\d|9[0-5])|(2[AB])|(97[1-46]))$")


def normaliser_departement(code: object) -> str:
    """Renvoie le code officiel d'un département sous forme de chaîne.

    Accepte ``95``, ``"95"``, ``"095"``, ``"2a"``, ``"971"`` ; ``"1"`` devient ``"01"``.

    Parameters
    ----------
    code : object
        Code saisi (entier, chaîne, éventuellement avec zéro initial).

    Returns
    -------
    str
        Code INSEE du département (``"01"``…``"95"``, ``"2A"``, ``"2B"``, ``"971"``…).

    Raises
    ------
    ErreurParametre
        Si la valeur ne peut pas être un code de département.
    """
    texte = str(code).strip().upper()
    if texte.endswith(".0"):
        texte = texte[:-2]
    if len(texte) == 3 and texte.startswith("0"):
        texte = texte[1:]
    correspondance = _MOTIF_DEPARTEMENT.match(texte)
    if correspondance is None:
        raise ErreurParametre(
            f"Code de département invalide : {code!r}. Donnez un code INSEE comme "
            "« 78 », « 92 », « 95 », « 2A » ou « 971 »."
        )
    un_chiffre, deux_chiffres, corse, outre_mer = correspondance.groups()
    if un_chiffre:
        return f"0{un_chiffre}"
    return deux_chiffres or corse or outre_mer


def normaliser_departements(codes: str | Iterable[object]) -> tuple[str, ...]:
    """Normalise une liste de départements (ou une chaîne « 78 92 95 » / « 78,92,95 »).

    Parameters
    ----------
    codes : str or iterable
        Codes saisis.

    Returns
    -------
    tuple of str
        Codes normalisés, sans doublon, dans l'ordre donné.
    """
    if isinstance(codes, str | int):
        codes = re.split(r"[\s,;]+", str(codes).strip())
    resultat: list[str] = []
    invalides: list[str] = []
    for code in codes:
        if str(code).strip() == "":
            continue
        try:
            normalise = normaliser_departement(code)
        except ErreurParametre:
            invalides.append(repr(code) if not isinstance(code, str) else f"« {code} »")
            continue
        if normalise not in resultat:
            resultat.append(normalise)
    if invalides:
        raise ErreurParametre(
            f"{'Code de département invalide' if len(invalides) < 2 else 'Codes de département invalides'} : "
            f"{', '.join(invalides)}. Donnez des codes INSEE comme "
            "« 78 », « 92 », « 95 », « 2A » ou « 971 »."
        )
    if not resultat:
        raise ErreurParametre("Aucun département donné : indiquez par exemple « 78 92 95 ».")
    return tuple(resultat)


def departement_de_commune(codes: pd.Series) -> pd.Series:
    """Département de codes communes INSEE : 2 caractères, 3 outre-mer (``97411`` → ``974``)."""
    codes = codes.fillna("").astype(str)
    return codes.str.slice(0, 2).where(~codes.str.startswith("97"), codes.str.slice(0, 3))


def normaliser_territoire(code: object) -> str:
    """Un territoire de rapport : ``"synthese"`` (casse ignorée) ou un code de département normalisé.

    C'est la seule normalisation d'un territoire : la ligne de commande, le lot, les notebooks
    et ``preparer_rapport`` l'appellent tous.
    """
    if str(code).strip().lower() in (SYNTHESE, "synthèse"):
        return SYNTHESE
    return normaliser_departement(code)

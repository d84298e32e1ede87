"""Tableaux à la française : ceux des pages publiées (HTML échappé) et ceux que les notebooks
affichent (``Styler`` dont ``.data`` reste la table numérique).

Nombres alignés à droite avec espace fine (« 1 173 »), parts en pourcentage (« 25 % »), dates
« 10 mars 2023 », mois « mars 2023 », codes de vocabulaire remplacés par leur libellé, ligne de
total quand elle s'additionne ; un tableau vide est dit dans une phrase plutôt que par ses
seuls en-têtes.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pandas as pd
from markupsafe import Markup

from ..activite.vocabulaires import VOCABULAIRES, libelle
from ..commun.typographie import (
    ESPACE_FINE,
    ESPACE_INSECABLE,
    format_date,
    format_mois,
    format_nombre,
    format_part,
    typographier,
)
from .gabarits import paragraphe, rendre

__all__ = ["a_la_francaise", "lien", "tableau_html"]

LIGNES_D_UN_TABLEAU_COURT = 25
_NOMBRE = re.compile(
    rf"^[−\-+]?[\d{ESPACE_FINE}{ESPACE_INSECABLE} ]+(?:,\d+)?(?:[{ESPACE_INSECABLE} ]?(?:%|m|km))?$|^–$"
)


def tableau_html(
    tableau: pd.DataFrame,
    legende: str | None = None,
    classe: str = "donnees",
    *,
    vide: str | None = None,
    total: list | None = None,
) -> str:
    """Tableau HTML (gabarit ``tableau.html.j2``, échappement automatique).

    Les valeurs sont déjà mises en forme en texte ; seule une valeur ``markupsafe.Markup`` (un
    lien construit avec échappement) passe telle quelle. Une colonne dont toutes les valeurs sont
    des nombres écrits à la française est alignée à droite.

    Parameters
    ----------
    tableau : pandas.DataFrame
        Les lignes, déjà en texte.
    legende : str, optional
        Titre du tableau (``<caption>``).
    classe : str
        Classe CSS.
    vide : str, optional
        La phrase à écrire quand le tableau n'a pas de ligne (par défaut « Aucun : <légende> »).
    total : list, optional
        Une ligne de total, en texte, écrite en dernier.
    """
    if tableau.empty:
        return paragraphe(vide or f"{legende or 'Tableau'} : aucune ligne.")
    lignes = [list(ligne) for ligne in tableau.itertuples(index=False)]
    nombres = [
        all(isinstance(v, str) and _NOMBRE.match(v.strip() or "–") for v in tableau[c])
        and c != tableau.columns[0]
        for c in tableau.columns
    ]
    return str(
        rendre(
            "tableau.html.j2",
            colonnes=list(tableau.columns),
            lignes=lignes,
            legende=legende,
            classe=classe,
            nombres=nombres,
            total=total,
            # Imprimé, un tableau court n'est jamais coupé ; un long l'est, son en-tête répété.
            garder=len(lignes) <= LIGNES_D_UN_TABLEAU_COURT,
        )
    )


def a_la_francaise(
    table: pd.DataFrame,
    parts: tuple[str, ...] = ("part",),
    legende: str | None = None,
    noms: dict[str, str] | None = None,
):
    """Affichage à la française d'une table numérique (``Styler`` : ``.data`` reste la table).

    Entiers avec espace fine (``1 173``), parts en pourcentage arrondi au demi supérieur
    (``25 %``), décimaux à une décimale avec virgule, dates « 10 mars 2023 », mois « mars 2023 »,
    codes de vocabulaire (``public``, ``axe``…) remplacés par leur libellé ; colonnes renommées
    par ``noms``.
    """
    formats: dict[str, Callable[..., str]] = {}
    for colonne in table.columns:
        serie = table[colonne]
        if colonne in parts:
            formats[colonne] = format_part
        elif pd.api.types.is_datetime64_any_dtype(serie):
            formats[colonne] = format_date
        elif pd.api.types.is_bool_dtype(serie):
            formats[colonne] = lambda v: "oui" if v else "non"
        elif pd.api.types.is_integer_dtype(serie):
            formats[colonne] = format_nombre
        elif pd.api.types.is_float_dtype(serie):
            formats[colonne] = _nombre_ou_decimal
        elif colonne in VOCABULAIRES:
            formats[colonne] = lambda v, c=colonne: typographier(libelle(c, v)) if isinstance(v, str) else "–"
        elif colonne == "mois":
            formats[colonne] = lambda v: (
                format_mois(v) if isinstance(v, str) and re.fullmatch(r"\d{4}-\d\d", v) else "–"
            )
        else:
            formats[colonne] = lambda v: (
                typographier(str(v)) if isinstance(v, str) else ("–" if pd.isna(v) else str(v))
            )
    style = table.style.format(formats, na_rep="–").hide(axis="index")
    etiquettes = {c: typographier((noms or {}).get(c, c)) for c in table.columns}
    style = style.relabel_index([etiquettes[c] for c in table.columns], axis="columns")
    style = style.set_table_attributes('class="donnees"').set_properties(
        subset=[
            c
            for c in table.columns
            if c in formats and formats[c] in (format_nombre, format_part, _nombre_ou_decimal)
        ],
        **{"text-align": "right"},
    )
    return style.set_caption(typographier(legende)) if legende else style


def _nombre_ou_decimal(valeur: float) -> str:
    if pd.isna(valeur):
        return "–"
    return format_nombre(valeur) if float(valeur).is_integer() else format_nombre(valeur, 1)


def lien(adresse: str, texte: str) -> Markup:
    """Un lien ``<a>`` échappé, pour une cellule de tableau."""
    return Markup('<a href="{}">{}</a>').format(adresse, texte)

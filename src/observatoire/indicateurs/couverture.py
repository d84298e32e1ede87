"""Couverture : pour chaque quartier prioritaire, commune en politique de la ville et adhérent du
territoire, ce que l'activité a atteint ; la seule source des indicateurs de couverture, des
tableaux des rapports et des fiches, et des infobulles des cartes.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from ..commun.codes import SYNTHESE
from ..jointures import ActiviteSituee
from ..referentiel.chargement import Referentiel

__all__ = [
    "couverture_adherents",
    "couverture_communes_pv",
    "couverture_qpv",
    "membres_adherents",
    "restreindre",
    "seances_des_qpv",
    "seances_du_qpv",
]


def restreindre(table: pd.DataFrame, colonne: str, territoire: str) -> pd.DataFrame:
    """Lignes d'une table qui relèvent d'un territoire : toutes pour la synthèse.

    Parameters
    ----------
    table : pandas.DataFrame
        Table à restreindre (séances, participations, demandes, QPV, communes…).
    colonne : str
        Colonne du code de département (``insee_dep``, ``departement``).
    territoire : str
        Code de département ou ``"synthese"``.

    Returns
    -------
    pandas.DataFrame
        La table elle-même pour la synthèse, sinon les lignes du département.
    """
    if territoire == SYNTHESE:
        return table
    return table[table[colonne] == territoire]


def couverture_qpv(
    situee: ActiviteSituee, referentiel: Referentiel, territoire: str = SYNTHESE
) -> pd.DataFrame:
    """Pour chaque QPV du territoire : séances dedans, séances à proximité, atteinte.

    Toutes les séances placées de l'année comptent, où que soit leur commune : un QPV est
    atteint par l'activité qui a eu lieu dans son périmètre ou près de lui. Une séance dans un
    QPV compte aussi « à proximité » de chaque QPV voisin à moins de D mètres. C'est la seule
    source des indicateurs de couverture, des tableaux du rapport et des infobulles de la carte.

    Parameters
    ----------
    situee : ActiviteSituee
        Activité rattachée (``situer_activite``).
    referentiel : Referentiel
        Référentiel du territoire du centre.
    territoire : str
        Code de département ou ``"synthese"``.

    Returns
    -------
    pandas.DataFrame
        Une ligne par QPV du territoire, dans l'ordre du référentiel : ``code_qp``, ``lib_qp``,
        ``lib_com``, ``insee_dep``, ``insee_com``, ``population`` (``NaN`` si inconnue),
        ``statut_2024``, ``seances_dedans``, ``seances_proximite`` (séances à moins de D mètres
        sans être dans ce QPV), ``participants`` (participations aux séances dedans ou à
        proximité) et ``atteinte`` (``dedans``, ``proximite`` ou ``non``).
    """
    qpv = restreindre(referentiel.qpv, "insee_dep", territoire)
    paires = situee.paires_qpv
    dedans = paires[paires["distance_qpv_m"] == 0].groupby("code_qp")["id_seance"].nunique()
    autour = paires[paires["distance_qpv_m"] > 0].groupby("code_qp")["id_seance"].nunique()
    participants = situee.seances.set_index("id_seance")["participants"]
    par_qpv = (
        paires.drop_duplicates(["code_qp", "id_seance"])
        .assign(participants=lambda p: p["id_seance"].map(participants).fillna(0))
        .groupby("code_qp")["participants"]
        .sum()
    )
    colonnes = ["code_qp", "lib_qp", "lib_com", "insee_dep", "insee_com", "statut_2024"]
    table = pd.DataFrame(qpv.reindex(columns=colonnes)).fillna("").reset_index(drop=True)
    table["population"] = qpv["population"].to_numpy(dtype=float) if "population" in qpv else np.nan
    table["seances_dedans"] = table["code_qp"].map(dedans).fillna(0).astype("int64")
    table["seances_proximite"] = table["code_qp"].map(autour).fillna(0).astype("int64")
    table["participants"] = table["code_qp"].map(par_qpv).fillna(0).astype("int64")
    table["atteinte"] = np.select(
        [table["seances_dedans"] > 0, table["seances_proximite"] > 0], ["dedans", "proximite"], "non"
    )
    return table


def couverture_communes_pv(
    situee: ActiviteSituee, referentiel: Referentiel, territoire: str = SYNTHESE
) -> pd.DataFrame:
    """Communes du territoire accueillant un QPV 2024 et les participations qui en viennent.

    Parameters
    ----------
    situee : ActiviteSituee
        Activité rattachée.
    referentiel : Referentiel
        Référentiel du territoire du centre.
    territoire : str
        Code de département ou ``"synthese"``.

    Returns
    -------
    pandas.DataFrame
        ``insee_com``, ``nom_com``, ``n_qpv_2024``, ``participations`` (somme des participations
        dont c'est la commune d'origine), dans l'ordre du référentiel.
    """
    communes = restreindre(referentiel.communes, "insee_dep", territoire)
    communes = communes[communes["n_qpv_2024"].fillna(0).astype(int) > 0]
    par_commune = situee.participations.groupby("code_commune_origine")["nombre"].sum()
    table = pd.DataFrame(communes[["insee_com", "nom_com"]]).reset_index(drop=True)
    table["n_qpv_2024"] = communes["n_qpv_2024"].astype("int64").to_numpy()
    table["participations"] = table["insee_com"].map(par_commune).fillna(0).astype("int64")
    return table


def membres_adherents(referentiel: Referentiel, adherents: tuple[str, ...]) -> pd.DataFrame:
    """Chaque adhérent, son nom, son type et ses communes membres (table nationale).

    Parameters
    ----------
    referentiel : Referentiel
        Référentiel (sa table nationale des communes).
    adherents : tuple of str
        Codes INSEE de communes ou SIREN d'EPCI / d'EPT.

    Returns
    -------
    pandas.DataFrame
        ``code``, ``nom``, ``type`` (``commune``, ``EPCI`` ou ``EPT``), ``communes`` (liste des
        codes membres, vide pour un code inconnu), ``departements`` (leurs départements).
    """
    lignes = []
    for code in adherents:
        nom, type_, membres = _adherent(referentiel.communes_france, code)
        lignes.append(
            {
                "code": code,
                "nom": nom,
                "type": type_,
                "communes": membres["insee_com"].tolist(),
                "departements": sorted(set(membres["insee_dep"])),
            }
        )
    return pd.DataFrame(lignes, columns=["code", "nom", "type", "communes", "departements"])


def _adherent(france: pd.DataFrame, code: str) -> tuple[str, str, pd.DataFrame]:
    """Nom, type et communes membres d'un adhérent (commune, EPCI ou EPT) ; vides s'il est inconnu."""
    for colonne, colonne_nom, type_ in (
        ("insee_com", "nom_com", "commune"),
        ("siren_epci", "nom_epci", "EPCI"),
        ("code_ept", "nom_ept", "EPT"),
    ):
        membres = france[france[colonne] == code]
        if len(membres):
            return str(membres[colonne_nom].iloc[0]), type_, membres
    return "", "", france.iloc[0:0]


def couverture_adherents(
    situee: ActiviteSituee, referentiel: Referentiel, territoire: str, adherents: tuple[str, ...]
) -> pd.DataFrame:
    """Pour chaque adhérent du centre dans le territoire : participations, séances, atteinte.

    Un adhérent est atteint si au moins une participation vient d'une de ses communes ou si
    au moins une séance s'y est tenue. Pour un département, ce sont les adhérents qui y ont
    au moins une commune ; pour la synthèse, tous.

    Parameters
    ----------
    situee : ActiviteSituee
        Activité rattachée.
    referentiel : Referentiel
        Référentiel (table nationale des communes).
    territoire : str
        Code de département ou ``"synthese"``.
    adherents : tuple of str
        Codes INSEE de communes ou SIREN d'EPCI / d'EPT.

    Returns
    -------
    pandas.DataFrame
        ``code``, ``nom``, ``type``, ``participations``, ``seances``, ``atteint`` (bool), dans
        l'ordre de la configuration.
    """
    table = membres_adherents(referentiel, adherents)
    if territoire != SYNTHESE:
        table = table[table["departements"].map(lambda d: territoire in d)]
    par_commune = situee.participations.groupby("code_commune_origine")["nombre"].sum()
    seances = situee.seances["code_commune"].value_counts()
    table = table.reset_index(drop=True)
    table["participations"] = table["communes"].map(lambda c: int(par_commune.reindex(c).fillna(0).sum()))
    table["seances"] = table["communes"].map(lambda c: int(seances.reindex(c).fillna(0).sum()))
    table["atteint"] = (table["participations"] > 0) | (table["seances"] > 0)
    return table[["code", "nom", "type", "participations", "seances", "atteint"]]


def seances_du_qpv(situee: ActiviteSituee, code_qp: str) -> pd.DataFrame:
    """Séances dans un QPV ou à moins de D mètres de lui, la plus proche d'abord.

    Parameters
    ----------
    situee : ActiviteSituee
        Activité rattachée.
    code_qp : str
        Code du QPV.

    Returns
    -------
    pandas.DataFrame
        ``id_seance``, ``date``, ``intitule``, ``nom_com``, ``lieu``, ``participants``,
        ``distance_qpv_m`` (mètres au sol, arrondis), ``situation`` (« dans le QPV » ou « à
        proximité ») ; à distance égale, la plus ancienne, puis dans l'ordre de la table.
    """
    return seances_des_qpv(situee, [code_qp])[code_qp]


def seances_des_qpv(situee: ActiviteSituee, codes_qp: Iterable[str]) -> dict[str, pd.DataFrame]:
    """Les séances de chacun des QPV demandés, comme ``seances_du_qpv``, en une seule jointure.

    Parameters
    ----------
    situee : ActiviteSituee
        Activité rattachée.
    codes_qp : iterable of str
        Codes des QPV (les fiches d'un territoire : tous ses QPV).

    Returns
    -------
    dict of str to pandas.DataFrame
        Pour chaque code demandé, la table de ``seances_du_qpv`` (vide, avec les mêmes colonnes,
        pour un QPV sans séance) ; chaque table est à l'appelant.
    """
    codes = list(dict.fromkeys(codes_qp))
    paires = situee.paires_qpv[situee.paires_qpv["code_qp"].isin(codes)]
    jointes = _seances_jointes(situee, paires)
    seances = jointes.drop(columns=["code_qp", "_ordre"])
    par_qpv = {
        str(code): groupe.reset_index(drop=True)
        for code, groupe in seances.groupby(jointes["code_qp"], sort=False)
    }
    aucune = seances.iloc[0:0].reset_index(drop=True)
    return {code: par_qpv[code] if code in par_qpv else aucune.copy() for code in codes}


def _seances_jointes(situee: ActiviteSituee, paires: pd.DataFrame) -> pd.DataFrame:
    colonnes = ["id_seance", "date", "intitule", "nom_com", "lieu", "participants"]
    # Les seules séances des QPV demandés avant la jointure : 20 000 séances en France.
    retenues = pd.DataFrame(
        situee.seances.loc[situee.seances["id_seance"].isin(paires["id_seance"]), colonnes]
    )
    retenues["_ordre"] = np.arange(len(retenues))
    jointes = retenues.merge(paires[["code_qp", "id_seance", "distance_qpv_m"]], on="id_seance")
    jointes["situation"] = np.where(jointes["distance_qpv_m"] == 0, "dans le QPV", "à proximité")
    jointes["distance_qpv_m"] = jointes["distance_qpv_m"].round(0).astype("int64")
    return jointes.sort_values(["code_qp", "distance_qpv_m", "date", "_ordre"], kind="stable")

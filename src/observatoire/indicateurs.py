"""Tables d'indicateurs au format long : ``territoire;indicateur;modalite;valeur;part``.

Les clés ``indicateur`` sont une interface publique (documentées dans ``data/README.md``) : le
rapport d'activité annuel est écrit à partir d'elles. Les parts sont exactes (fractions de 0 à
1) ; l'arrondi n'intervient qu'à l'affichage.

Périmètre d'un département : les participations dont l'origine est dans le département, les
séances qui s'y tiennent (et les actions qui y ont au moins une séance), les demandes qui en
viennent. La synthèse compte tout une fois, y compris les séances à distance et les origines
hors du territoire (``autre``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .activite import Activite
from .jointures import DISTANCE_PROXIMITE_M, situer_demandes, situer_origines, situer_seances
from .referentiel import Referentiel
from .territoires import normaliser_departement

__all__ = [
    "COLONNES_INDICATEURS",
    "ActiviteSituee",
    "calculer_indicateurs",
    "compter_seances_par_qpv",
    "ecrire_indicateurs",
    "situer_activite",
    "valeur",
]

COLONNES_INDICATEURS = ["territoire", "indicateur", "modalite", "valeur", "part"]
SYNTHESE = "synthese"


@dataclass(frozen=True)
class ActiviteSituee:
    """Activité validée et rattachée au territoire (séances, participations, demandes)."""

    activite: Activite
    seances: pd.DataFrame
    participations: pd.DataFrame
    demandes: pd.DataFrame
    distance_proximite_m: float


def situer_activite(
    activite: Activite, referentiel: Referentiel, distance_proximite_m: float = DISTANCE_PROXIMITE_M
) -> ActiviteSituee:
    """Applique les jointures territoriales à toute l'activité d'une année.

    Parameters
    ----------
    activite : Activite
        Données validées.
    referentiel : Referentiel
        Référentiel de tout le territoire du centre.
    distance_proximite_m : float
        Distance de proximité aux QPV (mètres).

    Returns
    -------
    ActiviteSituee
    """
    seances = situer_seances(activite.seances, referentiel, distance_proximite_m)
    actions = activite.actions[["id_action", "intitule", "axe", "thematique", "format"]]
    seances = seances.merge(actions, on="id_action", how="left")
    participants = activite.participations.groupby("id_seance")["nombre"].sum()
    seances["participants"] = seances["id_seance"].map(participants).fillna(0).astype(int)
    origines = situer_origines(activite.participations, referentiel)
    colonnes_seance = ["id_seance", "id_action", "date", "axe", "thematique", "format", "intitule"]
    participations = origines.merge(pd.DataFrame(seances[colonnes_seance]), on="id_seance", how="left")
    demandes = situer_demandes(activite.demandes, referentiel)
    return ActiviteSituee(activite, seances, participations, demandes, distance_proximite_m)


def calculer_indicateurs(
    situee: ActiviteSituee,
    referentiel: Referentiel,
    territoire: str = SYNTHESE,
    precedente: ActiviteSituee | None = None,
) -> pd.DataFrame:
    """Calcule les indicateurs d'un territoire (un département ou la synthèse).

    Parameters
    ----------
    situee : ActiviteSituee
        Activité de l'année, rattachée (``situer_activite``).
    referentiel : Referentiel
        Référentiel de tout le territoire du centre.
    territoire : str
        Code de département (``"95"``) ou ``"synthese"``.
    precedente : ActiviteSituee, optional
        Activité de l'année précédente, pour l'évolution.

    Returns
    -------
    pandas.DataFrame
        Colonnes ``territoire, indicateur, modalite, valeur, part`` (part exacte ou NaN).
    """
    code = territoire if territoire == SYNTHESE else normaliser_departement(territoire)
    perimetre = _perimetre(situee, code)
    lignes = _indicateurs_activite(perimetre, code)
    lignes += _indicateurs_couverture(perimetre, referentiel, code)
    lignes += _indicateurs_demandes(perimetre, code)
    if precedente is not None:
        lignes += _indicateurs_evolution(perimetre, _perimetre(precedente, code), code)
    tableau = pd.DataFrame(lignes, columns=COLONNES_INDICATEURS)
    tableau["valeur"] = tableau["valeur"].astype(float)
    tableau["part"] = tableau["part"].astype(float)
    return tableau


@dataclass(frozen=True)
class _Perimetre:
    seances: pd.DataFrame
    participations: pd.DataFrame
    demandes: pd.DataFrame


def _perimetre(situee: ActiviteSituee, code: str) -> _Perimetre:
    if code == SYNTHESE:
        return _Perimetre(situee.seances, situee.participations, situee.demandes)
    return _Perimetre(
        situee.seances[situee.seances["insee_dep"] == code],
        situee.participations[situee.participations["departement"] == code],
        situee.demandes[situee.demandes["departement"] == code],
    )


def _ligne(territoire, indicateur, modalite, valeur, part=np.nan) -> dict:
    return {
        "territoire": territoire,
        "indicateur": indicateur,
        "modalite": str(modalite),
        "valeur": valeur,
        "part": part,
    }


def _repartition(
    territoire,
    indicateur,
    modalites: pd.Series,
    poids: pd.Series | None,
    denominateur: float | None = None,
    ordre=None,
) -> list[dict]:
    poids = pd.Series(1, index=modalites.index) if poids is None else poids
    sommes = poids.groupby(modalites.to_numpy()).sum()
    if ordre is not None:
        sommes = sommes.reindex(ordre, fill_value=0)
    else:
        sommes = sommes.sort_values(ascending=False, kind="stable")
    total = denominateur if denominateur is not None else poids.sum()
    return [
        _ligne(territoire, indicateur, modalite, float(n), n / total if total else np.nan)
        for modalite, n in sommes.items()
    ]


def _indicateurs_activite(p: _Perimetre, t: str) -> list[dict]:
    participations = p.participations
    nombre = participations["nombre"]
    lignes = [
        _ligne(t, "actions", "total", p.seances["id_action"].nunique()),
        _ligne(t, "seances", "total", len(p.seances)),
        _ligne(t, "demi_journees", "total", int(p.seances["demi_journees"].sum())),
        _ligne(t, "participations", "total", int(nombre.sum())),
    ]
    ordre_departements = sorted(d for d in participations["departement"].unique() if d != "autre")
    lignes += _repartition(
        t,
        "participations_par_departement_origine",
        participations["departement"],
        nombre,
        ordre=[*ordre_departements, "autre"] if t == SYNTHESE else None,
    )
    lignes += _repartition(t, "participations_par_public", participations["public"], nombre)
    lignes += _repartition(t, "participations_par_axe", participations["axe"], nombre)
    lignes += _repartition(t, "participations_par_thematique", participations["thematique"], nombre)
    mois = participations["date"].dt.strftime("%Y-%m")
    lignes += _repartition(t, "participations_par_mois", mois, nombre, ordre=sorted(mois.unique()))
    dans_territoire = participations[participations["dans_territoire"]]
    avec_interco = dans_territoire[dans_territoire["intercommunalite"] != ""]
    lignes += _repartition(
        t,
        "participations_par_intercommunalite",
        avec_interco["intercommunalite"],
        avec_interco["nombre"],
        denominateur=nombre.sum(),
    )
    avec_commune = dans_territoire[dans_territoire["niveau_origine"] == "commune"]
    lignes += _repartition(
        t,
        "participations_par_commune_origine",
        avec_commune["nom_com"].fillna("?") + " (" + avec_commune["code_commune_origine"] + ")",
        avec_commune["nombre"],
        denominateur=nombre.sum(),
    )
    pv = participations.loc[participations["commune_pv"], "nombre"].sum()
    lignes.append(
        _ligne(
            t, "participations_communes_pv", "total", int(pv), pv / nombre.sum() if nombre.sum() else np.nan
        )
    )
    seances = p.seances
    lignes += _repartition(
        t, "seances_par_precision", seances["precision"], None, ordre=["coordonnees", "commune", "distanciel"]
    )
    lignes += _repartition(
        t,
        "seances_par_situation_qpv",
        seances["situation_qpv"],
        None,
        ordre=["dans_qpv", "proximite_qpv", "hors_qpv", "non_situee", "distanciel"],
    )
    lignes += _repartition(
        t,
        "demi_journees_par_departement",
        seances["insee_dep"].fillna("distanciel").where(seances["precision"] != "distanciel", "distanciel"),
        seances["demi_journees"],
    )
    return lignes


def _indicateurs_couverture(p: _Perimetre, referentiel: Referentiel, t: str) -> list[dict]:
    communes = referentiel.communes
    qpv = referentiel.qpv
    if t != SYNTHESE:
        communes = communes[communes["insee_dep"] == t]
        qpv = qpv[qpv["insee_dep"] == t]
    communes_pv = communes[communes["n_qpv_2024"].fillna(0).astype(int) > 0]
    origines = set(p.participations.loc[p.participations["nombre"] > 0, "code_commune_origine"])
    atteintes = communes_pv["insee_com"].isin(origines)
    total_pv = len(communes_pv)
    lignes = [
        _ligne(t, "communes_pv", "total", total_pv),
        _ligne(
            t,
            "communes_pv_atteintes",
            "total",
            int(atteintes.sum()),
            atteintes.sum() / total_pv if total_pv else np.nan,
        ),
    ]
    lignes += [
        _ligne(t, "communes_pv_non_atteintes", f"{nom} ({code})", 0)
        for code, nom in zip(
            communes_pv.loc[~atteintes, "insee_com"], communes_pv.loc[~atteintes, "nom_com"], strict=True
        )
    ]
    comptes = compter_seances_par_qpv(p.seances, qpv["code_qp"])
    avec_dedans = comptes["seances_dedans"] > 0
    avec_proches = (comptes["seances_proximite"] > 0) & ~avec_dedans
    total_qpv = len(qpv)
    n_dedans, n_proches = int(avec_dedans.sum()), int(avec_proches.sum())
    lignes += [
        _ligne(t, "qpv", "total", total_qpv),
        _ligne(t, "qpv_seance_dedans", "total", n_dedans, n_dedans / total_qpv if total_qpv else np.nan),
        _ligne(t, "qpv_seance_proximite", "total", n_proches, n_proches / total_qpv if total_qpv else np.nan),
        _ligne(
            t,
            "qpv_atteints",
            "total",
            n_dedans + n_proches,
            (n_dedans + n_proches) / total_qpv if total_qpv else np.nan,
        ),
    ]
    non_atteints = qpv[~(avec_dedans | avec_proches)]
    lignes += [
        _ligne(t, "qpv_non_atteints", f"{nom} ({code})", 0)
        for code, nom in zip(non_atteints["code_qp"], non_atteints["lib_qp"], strict=True)
    ]
    return lignes


def _indicateurs_demandes(p: _Perimetre, t: str) -> list[dict]:
    demandes = p.demandes
    connues = demandes[demandes["niveau_origine"] != "inconnue"]
    lignes = [_ligne(t, "demandes", "total", len(demandes))]
    lignes += _repartition(t, "demandes_par_type_demandeur", demandes["type_demandeur"], None)
    lignes += _repartition(t, "demandes_par_thematique", demandes["thematique"], None)
    avec_interco = connues[connues["intercommunalite"] != ""]
    lignes += _repartition(
        t, "demandes_par_intercommunalite", avec_interco["intercommunalite"], None, denominateur=len(connues)
    )
    origine = np.where(
        demandes["niveau_origine"] == "inconnue",
        "inconnue",
        np.where(demandes["dans_territoire"], "territoire", "hors_territoire"),
    )
    lignes += _repartition(
        t,
        "demandes_par_origine",
        pd.Series(origine, index=demandes.index),
        None,
        ordre=["territoire", "hors_territoire", "inconnue"],
    )
    hors = int((~connues["dans_territoire"]).sum())
    lignes.append(
        _ligne(t, "demandes_hors_territoire", "total", hors, hors / len(connues) if len(connues) else np.nan)
    )
    return lignes


def _indicateurs_evolution(p: _Perimetre, precedent: _Perimetre, t: str) -> list[dict]:
    lignes = []
    for cle, actuel, ancien in (
        ("participations", p.participations["nombre"].sum(), precedent.participations["nombre"].sum()),
        ("demandes", len(p.demandes), len(precedent.demandes)),
        ("demi_journees", p.seances["demi_journees"].sum(), precedent.seances["demi_journees"].sum()),
        ("actions", p.seances["id_action"].nunique(), precedent.seances["id_action"].nunique()),
    ):
        lignes.append(_ligne(t, f"annee_precedente_{cle}", "total", int(ancien)))
        lignes.append(
            _ligne(
                t,
                f"evolution_{cle}",
                "total",
                int(actuel - ancien),
                actuel / ancien - 1 if ancien else np.nan,
            )
        )
    lignes += [
        {**ligne, "indicateur": "annee_precedente_demandes_par_type_demandeur"}
        for ligne in _repartition(t, "x", precedent.demandes["type_demandeur"], None)
    ]
    return lignes


def compter_seances_par_qpv(seances: pd.DataFrame, codes_qp: pd.Series) -> pd.DataFrame:
    """Séances dans chaque QPV et séances à proximité (hors de tout QPV) de chaque QPV.

    Parameters
    ----------
    seances : pandas.DataFrame
        Séances situées (``situer_seances``).
    codes_qp : pandas.Series
        Codes des QPV à compter (le résultat reprend son index).

    Returns
    -------
    pandas.DataFrame
        Colonnes ``seances_dedans`` et ``seances_proximite`` (entiers).
    """
    dedans = seances[seances["code_qp"] != ""].groupby("code_qp", observed=True).size()
    proches = seances[(seances["code_qp"] == "") & (seances["code_qp_proche"] != "")]
    proches = proches.groupby("code_qp_proche", observed=True).size()
    return pd.DataFrame(
        {
            "seances_dedans": codes_qp.map(dedans).fillna(0).astype(int),
            "seances_proximite": codes_qp.map(proches).fillna(0).astype(int),
        },
        index=codes_qp.index,
    )


def valeur(
    indicateurs: pd.DataFrame,
    indicateur: str,
    modalite: str = "total",
    territoire: str | None = None,
    colonne: str = "valeur",
) -> float:
    """Lit une valeur (ou une part) d'une table d'indicateurs ; NaN si absente."""
    masque = (indicateurs["indicateur"] == indicateur) & (indicateurs["modalite"] == modalite)
    if territoire is not None:
        masque &= indicateurs["territoire"] == territoire
    trouve = indicateurs.loc[masque, colonne]
    return float(trouve.iloc[0]) if len(trouve) else float("nan")


def ecrire_indicateurs(indicateurs: pd.DataFrame, chemin: str | Path) -> Path:
    """Écrit ``indicateurs.csv`` pour Excel : UTF-8 avec BOM, séparateur « ; »."""
    chemin = Path(chemin)
    chemin.parent.mkdir(parents=True, exist_ok=True)
    indicateurs[COLONNES_INDICATEURS].to_csv(
        chemin, sep=";", index=False, encoding="utf-8-sig", float_format="%.10g"
    )
    return chemin

"""Tables d'indicateurs au format long : ``territoire;indicateur;modalite;libelle;valeur;part``.

Les clés ``indicateur`` sont une interface publique (documentées dans ``data/README.md``) : le
rapport d'activité annuel est écrit à partir d'elles. ``modalite`` porte le code (INSEE, SIREN,
``code_qp``, code de vocabulaire, ``AAAA-MM``) pour joindre d'autres données ; ``libelle`` le
nom lisible. Les parts sont exactes (fractions de 0 à 1) ; l'arrondi n'intervient qu'à
l'affichage. Chaque répartition se réconcilie : des lignes de reste (``hors_territoire``,
``non_renseigne``, ``inconnue``) complètent les modalités jusqu'au total annoncé.

Périmètre d'un département : les participations dont l'origine est dans le département, les
séances qui s'y tiennent (et les actions qui y ont au moins une séance), les demandes qui en
viennent. La synthèse compte tout une fois, y compris les séances à distance et les origines
hors du territoire (``autre``). La couverture des QPV d'un département compte toutes les
séances placées de l'année (voir ``couverture_qpv``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .commun import ecrire_csv
from .jointures import ActiviteSituee
from .referentiel import Referentiel
from .territoires import normaliser_departement
from .vocabulaires import libelle as libelle_vocabulaire

__all__ = [
    "COLONNES_INDICATEURS",
    "SYNTHESE",
    "calculer_indicateurs",
    "couverture_adherents",
    "couverture_communes_pv",
    "couverture_qpv",
    "ecrire_indicateurs",
    "libelle_mois",
    "membres_adherents",
    "restreindre",
    "valeur",
]

COLONNES_INDICATEURS = ["territoire", "indicateur", "modalite", "libelle", "valeur", "part"]
SYNTHESE = "synthese"
LIBELLES_RESTES = {
    "autre": "Autres territoires",
    "hors_territoire": "Hors du territoire",
    "non_renseigne": "Commune ou intercommunalité non renseignée",
    "inconnue": "Origine inconnue",
    "departement_inconnu": "Département non renseigné (« autre »)",
    "territoire": "Territoire du centre",
    "total": "Total",
}
LIBELLES_SITUATIONS = {
    "coordonnees": "Placée par ses coordonnées",
    "commune": "Placée à la commune (sans coordonnées)",
    "distanciel": "À distance",
    "dans_qpv": "Dans un QPV",
    "proximite_qpv": "À proximité d'un QPV",
    "hors_qpv": "Hors QPV",
    "non_situee": "Sans coordonnées (non placée)",
}
LIBELLES_PLACEMENTS = {
    "coordonnees": "Coordonnées saisies",
    "numero": "Adresse (numéro)",
    "rue": "Rue",
    "lieu-dit": "Lieu-dit",
    "commune": "Commune seulement (centre ou lieu à vérifier)",
    "non_placee": "Non placée",
    "distanciel": "À distance",
}
_MOIS = [
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
]  # fmt: skip


def calculer_indicateurs(
    situee: ActiviteSituee,
    referentiel: Referentiel,
    territoire: str = SYNTHESE,
    precedente: ActiviteSituee | None = None,
    adherents: tuple[str, ...] = (),
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
    adherents : tuple of str
        Communes (code INSEE) et intercommunalités (SIREN) adhérentes du centre
        (``couverture_adherents``).

    Returns
    -------
    pandas.DataFrame
        Colonnes ``territoire, indicateur, modalite, libelle, valeur, part`` (part exacte ou NaN).
    """
    code = territoire if territoire == SYNTHESE else normaliser_departement(territoire)
    perimetre = _perimetre(situee, code)
    noms_departements = dict(
        zip(referentiel.departements["insee_dep"], referentiel.departements["nom_dep"], strict=True)
    )
    lignes = _indicateurs_activite(perimetre, code, noms_departements)
    lignes += _indicateurs_couverture(situee, referentiel, code)
    lignes += _indicateurs_demandes(perimetre, code)
    if code == SYNTHESE:
        lignes += _indicateurs_hors_territoire(perimetre, referentiel, code)
    if adherents:
        lignes += _indicateurs_adherents(couverture_adherents(situee, referentiel, code, adherents), code)
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
    return _Perimetre(
        restreindre(situee.seances, "insee_dep", code),
        restreindre(situee.participations, "departement", code),
        restreindre(situee.demandes, "departement", code),
    )


def _ligne(territoire, indicateur, modalite, valeur, part=np.nan, libelle=None) -> dict:
    modalite = str(modalite)
    return {
        "territoire": territoire,
        "indicateur": indicateur,
        "modalite": modalite,
        "libelle": LIBELLES_RESTES.get(modalite, modalite) if libelle is None else str(libelle),
        "valeur": valeur,
        "part": part,
    }


def _repartition(
    territoire: str,
    indicateur: str,
    modalites: pd.Series,
    poids: pd.Series | None,
    libelles: Callable[[str], str] | dict | None = None,
    denominateur: float | None = None,
    ordre: list | None = None,
    restes: dict[str, float] | None = None,
) -> list[dict]:
    """Répartition d'un total par modalité ; ``restes`` ajoute les lignes de reste à la fin."""
    poids = pd.Series(1, index=modalites.index, dtype="int64") if poids is None else poids
    sommes = poids.groupby(modalites.to_numpy()).sum()
    if ordre is not None:
        sommes = sommes.reindex(ordre, fill_value=0)
    else:
        sommes = sommes.sort_values(ascending=False, kind="stable")
    restes = {cle: n for cle, n in (restes or {}).items() if n}
    total = denominateur if denominateur is not None else poids.sum() + sum(restes.values())
    nommer = libelles.get if isinstance(libelles, dict) else libelles
    lignes = [
        _ligne(territoire, indicateur, m, float(n), _part(n, total), nommer(m) if nommer else None)
        for m, n in sommes.items()
    ]
    lignes += [_ligne(territoire, indicateur, m, float(n), _part(n, total)) for m, n in restes.items()]
    return lignes


def _libelles_vocabulaire(vocabulaire: str) -> Callable[[str], str]:
    def nommer(code: str) -> str:
        return libelle_vocabulaire(vocabulaire, code)

    return nommer


def _part(numerateur: float, denominateur: float) -> float:
    return numerateur / denominateur if denominateur else np.nan


def libelle_mois(cle: str) -> str:
    """``2023-03`` → ``mars 2023``."""
    annee, mois = cle.split("-")
    return f"{_MOIS[int(mois) - 1]} {annee}"


def _mois_de_l_annee(dates: pd.Series) -> list[str]:
    """Tous les mois des années couvertes par les dates, dans l'ordre (zéro compris)."""
    annees = sorted(dates.dropna().dt.year.unique())
    return [f"{a}-{m:02d}" for a in annees for m in range(1, 13)]


def _indicateurs_activite(p: _Perimetre, t: str, noms_departements: dict[str, str]) -> list[dict]:
    participations = p.participations
    nombre = participations["nombre"].astype("int64")
    total = int(nombre.sum())
    lignes = [
        _ligne(t, "actions", "total", p.seances["id_action"].nunique()),
        _ligne(t, "seances", "total", len(p.seances)),
        _ligne(t, "demi_journees", "total", int(p.seances["demi_journees"].sum())),
        _ligne(t, "participations", "total", total),
    ]
    ordre_departements = sorted(d for d in participations["departement"].unique() if d != "autre")
    lignes += _repartition(
        t,
        "participations_par_departement_origine",
        participations["departement"],
        nombre,
        lambda d: noms_departements.get(d, LIBELLES_RESTES.get(d, d)),
        ordre=[*ordre_departements, "autre"] if t == SYNTHESE else None,
    )
    for cle in ("public", "axe", "thematique"):
        lignes += _repartition(
            t,
            f"participations_par_{cle}",
            participations[cle],
            nombre,
            _libelles_vocabulaire(cle),
        )
    mois = participations["date"].dt.strftime("%Y-%m")
    lignes += _repartition(
        t,
        "participations_par_mois",
        mois,
        nombre,
        libelle_mois,
        ordre=_mois_de_l_annee(participations["date"]),
    )
    dans_territoire = participations["dans_territoire"].to_numpy(dtype=bool)
    hors = int(nombre[~dans_territoire].sum())
    avec_interco = participations[dans_territoire & (participations["code_intercommunalite"] != "")]
    lignes += _repartition(
        t,
        "participations_par_intercommunalite",
        avec_interco["code_intercommunalite"],
        avec_interco["nombre"].astype("int64"),
        _noms(avec_interco, "code_intercommunalite", "intercommunalite"),
        restes={"hors_territoire": hors, "non_renseigne": total - hors - int(avec_interco["nombre"].sum())},
    )
    avec_commune = participations[dans_territoire & (participations["niveau_origine"] == "commune")]
    lignes += _repartition(
        t,
        "participations_par_commune_origine",
        avec_commune["code_commune_origine"],
        avec_commune["nombre"].astype("int64"),
        _noms(avec_commune, "code_commune_origine", "nom_com"),
        restes={"hors_territoire": hors, "non_renseigne": total - hors - int(avec_commune["nombre"].sum())},
    )
    pv = int(nombre[participations["commune_pv"].to_numpy(dtype=bool)].sum())
    lignes.append(_ligne(t, "participations_communes_pv", "total", pv, _part(pv, total)))
    seances = p.seances
    lignes += _repartition(
        t,
        "seances_par_precision",
        seances["precision"],
        None,
        LIBELLES_SITUATIONS,
        ordre=["coordonnees", "commune", "distanciel"],
    )
    lignes += _repartition(
        t,
        "seances_par_placement",
        seances["placement"],
        None,
        LIBELLES_PLACEMENTS,
        ordre=list(LIBELLES_PLACEMENTS),
    )
    placees = seances[seances["precision"] == "coordonnees"]
    lignes += _repartition(
        t,
        "seances_par_situation_qpv",
        placees["situation_qpv"],
        None,
        LIBELLES_SITUATIONS,
        ordre=["dans_qpv", "proximite_qpv", "hors_qpv"],
    )
    lignes += [
        _ligne(t, "seances_par_situation_qpv", cle, int((seances["precision"] == precision).sum()), np.nan,
               LIBELLES_SITUATIONS[cle])
        for cle, precision in (("non_situee", "commune"), ("distanciel", "distanciel"))
    ]  # fmt: skip
    lieu = seances["insee_dep"].fillna("distanciel").where(seances["precision"] != "distanciel", "distanciel")
    lignes += _repartition(
        t,
        "demi_journees_par_departement",
        lieu,
        seances["demi_journees"].astype("int64"),
        lambda d: noms_departements.get(d, LIBELLES_SITUATIONS.get(d, d)),
    )
    return lignes


def _noms(table: pd.DataFrame, colonne_code: str, colonne_nom: str) -> dict[str, str]:
    paires = table[[colonne_code, colonne_nom]].drop_duplicates(colonne_code)
    return dict(zip(paires[colonne_code], paires[colonne_nom].fillna("").astype(str), strict=True))


def _indicateurs_couverture(situee: ActiviteSituee, referentiel: Referentiel, t: str) -> list[dict]:
    communes_pv = couverture_communes_pv(situee, referentiel, t)
    atteintes = communes_pv["participations"] > 0
    total_pv = len(communes_pv)
    lignes = [
        _ligne(t, "communes_pv", "total", total_pv),
        _ligne(t, "communes_pv_atteintes", "total", int(atteintes.sum()), _part(atteintes.sum(), total_pv)),
    ]
    lignes += [
        _ligne(t, "communes_pv_non_atteintes", code, 0, libelle=nom)
        for code, nom in zip(
            communes_pv.loc[~atteintes, "insee_com"], communes_pv.loc[~atteintes, "nom_com"], strict=True
        )
    ]
    qpv = couverture_qpv(situee, referentiel, t)
    total_qpv = len(qpv)
    n_dedans = int((qpv["atteinte"] == "dedans").sum())
    n_proches = int((qpv["atteinte"] == "proximite").sum())
    lignes += [
        _ligne(t, "qpv", "total", total_qpv),
        _ligne(t, "qpv_seance_dedans", "total", n_dedans, _part(n_dedans, total_qpv)),
        _ligne(t, "qpv_seance_proximite", "total", n_proches, _part(n_proches, total_qpv)),
        _ligne(t, "qpv_atteints", "total", n_dedans + n_proches, _part(n_dedans + n_proches, total_qpv)),
    ]
    non_atteints = qpv[qpv["atteinte"] == "non"]
    lignes += [
        _ligne(t, "qpv_non_atteints", code, 0, libelle=nom)
        for code, nom in zip(non_atteints["code_qp"], non_atteints["lib_qp"], strict=True)
    ]
    return lignes


def _indicateurs_demandes(p: _Perimetre, t: str) -> list[dict]:
    demandes = p.demandes
    inconnue = (demandes["niveau_origine"] == "inconnue").to_numpy(dtype=bool)
    dans_territoire = demandes["dans_territoire"].to_numpy(dtype=bool)
    connues = demandes[~inconnue]
    hors = int((~connues["dans_territoire"]).sum())
    lignes = [_ligne(t, "demandes", "total", len(demandes))]
    for cle in ("type_demandeur", "thematique"):
        lignes += _repartition(t, f"demandes_par_{cle}", demandes[cle], None, _libelles_vocabulaire(cle))
    avec_interco = connues[connues["dans_territoire"] & (connues["code_intercommunalite"] != "")]
    lignes += _repartition(
        t,
        "demandes_par_intercommunalite",
        avec_interco["code_intercommunalite"],
        None,
        _noms(avec_interco, "code_intercommunalite", "intercommunalite"),
        restes={"hors_territoire": hors, "non_renseigne": len(connues) - hors - len(avec_interco)},
    )
    origine = np.where(inconnue, "inconnue", np.where(dans_territoire, "territoire", "hors_territoire"))
    lignes += _repartition(
        t,
        "demandes_par_origine",
        pd.Series(origine, index=demandes.index),
        None,
        ordre=["territoire", "hors_territoire", "inconnue"],
    )
    lignes.append(_ligne(t, "demandes_hors_territoire", "total", hors, _part(hors, len(connues))))
    return lignes


def _indicateurs_hors_territoire(p: _Perimetre, referentiel: Referentiel, t: str) -> list[dict]:
    """Participations et demandes venues de l'extérieur du territoire, par département et par région."""
    noms = referentiel.noms_departements_france
    regions = dict(referentiel.regions_des_departements.values())
    lignes = []
    for quoi, table, poids in (
        ("participations", p.participations, "nombre"),
        ("demandes", p.demandes[p.demandes["niveau_origine"] != "inconnue"], None),
    ):
        dehors = table[~table["dans_territoire"].to_numpy(dtype=bool)]
        nombres = dehors[poids].astype("int64") if poids else pd.Series(1, index=dehors.index, dtype="int64")
        connus = (dehors["code_departement"] != "").to_numpy()
        non_renseigne = int(nombres[~connus].sum())
        for niveau, colonne, nommer in (
            ("departement", "code_departement", lambda d: f"{noms.get(d, d)} ({d})"),
            ("region", "code_region", lambda r: str(regions.get(r, r))),
        ):
            lignes += _repartition(
                t,
                f"{quoi}_hors_territoire_par_{niveau}",
                dehors.loc[connus, colonne],
                nombres[connus],
                nommer,
                restes={"departement_inconnu": non_renseigne},
            )
    return lignes


def _indicateurs_adherents(adherents: pd.DataFrame, t: str) -> list[dict]:
    atteints = adherents["atteint"].to_numpy(dtype=bool)
    lignes = [
        _ligne(t, "adherents", "total", len(adherents)),
        _ligne(t, "adherents_atteints", "total", int(atteints.sum()), _part(atteints.sum(), len(adherents))),
    ]
    lignes += [
        _ligne(t, "adherents_non_atteints", code, 0, libelle=nom)
        for code, nom in zip(adherents.loc[~atteints, "code"], adherents.loc[~atteints, "nom"], strict=True)
    ]
    return lignes


def _indicateurs_evolution(p: _Perimetre, precedent: _Perimetre, t: str) -> list[dict]:
    lignes = []
    for cle, actuel, ancien in (
        (
            "participations",
            p.participations["nombre"].astype("int64").sum(),
            precedent.participations["nombre"].astype("int64").sum(),
        ),
        ("demandes", len(p.demandes), len(precedent.demandes)),
        (
            "demi_journees",
            p.seances["demi_journees"].astype("int64").sum(),
            precedent.seances["demi_journees"].astype("int64").sum(),
        ),
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
        for ligne in _repartition(
            t,
            "x",
            precedent.demandes["type_demandeur"],
            None,
            lambda c: libelle_vocabulaire("type_demandeur", c),
        )
    ]
    return lignes


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
        ``lib_com``, ``insee_dep``, ``seances_dedans``, ``seances_proximite`` (séances à moins de
        D mètres sans être dans ce QPV) et ``atteinte`` (``dedans``, ``proximite`` ou ``non``).
    """
    qpv = restreindre(referentiel.qpv, "insee_dep", territoire)
    paires = situee.paires_qpv
    dedans = paires[paires["distance_qpv_m"] == 0].groupby("code_qp")["id_seance"].nunique()
    autour = paires[paires["distance_qpv_m"] > 0].groupby("code_qp")["id_seance"].nunique()
    colonnes = ["code_qp", "lib_qp", "lib_com", "insee_dep", "insee_com"]
    table = pd.DataFrame(qpv.reindex(columns=colonnes)).fillna("").reset_index(drop=True)
    table["seances_dedans"] = table["code_qp"].map(dedans).fillna(0).astype("int64")
    table["seances_proximite"] = table["code_qp"].map(autour).fillna(0).astype("int64")
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
    """Écrit ``indicateurs.csv`` pour Excel : UTF-8 avec BOM, séparateur « ; », formules neutralisées.

    Les parts gardent 10 chiffres significatifs ; l'arrondi d'affichage est celui des rapports.
    """
    return ecrire_csv(indicateurs[COLONNES_INDICATEURS], chemin, float_format="%.10g")

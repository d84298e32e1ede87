"""Jointures territoriales : lieux des séances → QPV 2024 ; origines → communes, EPCI, territoire.

Tout est calculé en EPSG:2154 (mètres) et vectorisé : un seul arbre STRtree sur les QPV, une
requête « intersecte » (un point sur la limite est dans le QPV), puis une requête « à moins de
D mètres » pour les seuls points restés dehors.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .referentiel import CRS_CALCUL, Referentiel

__all__ = [
    "DISTANCE_PROXIMITE_M",
    "rattacher_qpv",
    "situer_demandes",
    "situer_origines",
    "situer_seances",
]

DISTANCE_PROXIMITE_M = 300.0


def rattacher_qpv(
    points: gpd.GeoSeries | np.ndarray,
    qpv: gpd.GeoDataFrame,
    distance_proximite_m: float = DISTANCE_PROXIMITE_M,
) -> pd.DataFrame:
    """Rattache des points au QPV qui les contient, ou au plus proche à moins de D mètres.

    Parameters
    ----------
    points : geopandas.GeoSeries or array of shapely.Point
        Points en EPSG:2154 ; les valeurs manquantes ou vides ne sont rattachées à rien.
    qpv : geopandas.GeoDataFrame
        Périmètres QPV en EPSG:2154 avec la colonne ``code_qp``.
    distance_proximite_m : float
        Distance de proximité en mètres (300 par défaut), bornes comprises.

    Returns
    -------
    pandas.DataFrame
        Même index que ``points`` (ou position), colonnes ``code_qp`` (QPV contenant le point,
        sinon vide), ``code_qp_proche`` (QPV le plus proche à moins de D, ou celui qui contient
        le point) et ``distance_qpv_m`` (0 dans un QPV, NaN au-delà de D).
    """
    _verifier_crs(points, qpv)
    geometries = np.asarray(points.array if isinstance(points, gpd.GeoSeries) else points, dtype=object)
    index = points.index if isinstance(points, gpd.GeoSeries) else pd.RangeIndex(len(geometries))
    codes = qpv["code_qp"].to_numpy()
    arbre = shapely.STRtree(qpv.geometry.array)
    valides = ~(shapely.is_missing(geometries) | shapely.is_empty(geometries))
    positions = np.flatnonzero(valides)

    dedans, proche, distance = _rattacher(arbre, geometries, positions, distance_proximite_m, qpv)
    return _assembler(index, codes, dedans, proche, distance)


def _verifier_crs(points, qpv) -> None:
    if qpv.crs is not None and qpv.crs != CRS_CALCUL:
        raise ValueError(f"Les QPV doivent être en {CRS_CALCUL} (reçu {qpv.crs}).")
    if isinstance(points, gpd.GeoSeries) and points.crs is not None and points.crs != CRS_CALCUL:
        raise ValueError(f"Les points doivent être en {CRS_CALCUL} (reçu {points.crs}).")


def _rattacher(arbre, geometries, positions, distance_m, qpv):
    n = len(geometries)
    dedans = np.full(n, -1)
    proche = np.full(n, -1)
    distance = np.full(n, np.nan)
    if len(positions) == 0:
        return dedans, proche, distance
    points_valides = geometries[positions]
    i_points, i_qpv = arbre.query(points_valides, predicate="intersects")
    # Plusieurs QPV peuvent se toucher : le premier dans l'ordre du référentiel l'emporte.
    premier = _premier_par_groupe(i_points, i_qpv)
    dedans[positions[premier[0]]] = premier[1]
    proche[positions[premier[0]]] = premier[1]
    distance[positions[premier[0]]] = 0.0

    restants = np.setdiff1d(np.arange(len(positions)), premier[0], assume_unique=True)
    if len(restants) and distance_m > 0:
        i_points, i_qpv = arbre.query(points_valides[restants], predicate="dwithin", distance=distance_m)
        if len(i_points):
            distances = shapely.distance(points_valides[restants][i_points], qpv.geometry.array[i_qpv])
            ordre = np.lexsort((i_qpv, distances, i_points))
            i_points, i_qpv, distances = i_points[ordre], i_qpv[ordre], distances[ordre]
            garde = np.r_[True, i_points[1:] != i_points[:-1]]
            cible = positions[restants[i_points[garde]]]
            proche[cible] = i_qpv[garde]
            distance[cible] = distances[garde]
    return dedans, proche, distance


def _premier_par_groupe(groupes: np.ndarray, valeurs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(groupes) == 0:
        return groupes, valeurs
    ordre = np.lexsort((valeurs, groupes))
    groupes, valeurs = groupes[ordre], valeurs[ordre]
    garde = np.r_[True, groupes[1:] != groupes[:-1]]
    return groupes[garde], valeurs[garde]


def _assembler(index, codes, dedans, proche, distance) -> pd.DataFrame:
    code_dedans = np.where(dedans >= 0, codes[np.maximum(dedans, 0)], "")
    code_proche = np.where(proche >= 0, codes[np.maximum(proche, 0)], "")
    return pd.DataFrame(
        {
            "code_qp": code_dedans.astype(object),
            "code_qp_proche": code_proche.astype(object),
            "distance_qpv_m": distance,
        },
        index=index,
    )


def situer_seances(
    seances: pd.DataFrame,
    referentiel: Referentiel,
    distance_proximite_m: float = DISTANCE_PROXIMITE_M,
) -> gpd.GeoDataFrame:
    """Situe chaque séance : commune, EPCI, EPT, département, QPV ou proximité.

    Une séance sans coordonnées est placée à la commune (``precision = "commune"``) et jamais
    rattachée à un QPV ; une séance à distance a ``precision = "distanciel"``.

    Parameters
    ----------
    seances : pandas.DataFrame
        Table ``seances`` typée (``Activite.seances``).
    referentiel : Referentiel
        Référentiel du territoire.
    distance_proximite_m : float
        Distance de proximité aux QPV, en mètres.

    Returns
    -------
    geopandas.GeoDataFrame
        Copie des séances en EPSG:2154 avec ``nom_com``, ``siren_epci``, ``nom_epci``,
        ``code_ept``, ``nom_ept``, ``insee_dep``, ``precision``, ``code_qp``,
        ``code_qp_proche``, ``distance_qpv_m`` et ``situation_qpv`` (``dans_qpv``,
        ``proximite_qpv``, ``hors_qpv``, ``non_situee``, ``distanciel``).
    """
    communes = _attributs_communes(referentiel)
    situees = seances.merge(communes, how="left", left_on="code_commune", right_on="insee_com")
    code_commune = situees["code_commune"].fillna("").astype(str)
    situees["insee_dep"] = situees["insee_dep"].fillna(code_commune.str.slice(0, 2)).astype(object)
    points = gpd.GeoSeries.from_xy(situees["longitude"], situees["latitude"], crs="EPSG:4326")
    points = points.where(situees["latitude"].notna() & situees["longitude"].notna())
    points = points.to_crs(CRS_CALCUL)
    rattachement = rattacher_qpv(points, referentiel.qpv, distance_proximite_m)
    situees = pd.concat([situees, rattachement], axis=1)
    situees["precision"] = np.select(
        [situees["distanciel"].astype(bool).to_numpy(), points.isna().to_numpy()],
        ["distanciel", "commune"],
        "coordonnees",
    )
    situees["situation_qpv"] = np.select(
        [
            situees["precision"] == "distanciel",
            situees["precision"] == "commune",
            situees["code_qp"] != "",
            situees["code_qp_proche"] != "",
        ],
        ["distanciel", "non_situee", "dans_qpv", "proximite_qpv"],
        "hors_qpv",
    )
    return gpd.GeoDataFrame(situees, geometry=points.to_numpy(), crs=CRS_CALCUL)


def _attributs_communes(referentiel: Referentiel) -> pd.DataFrame:
    colonnes = [
        "insee_com",
        "nom_com",
        "insee_dep",
        "siren_epci",
        "nom_epci",
        "code_ept",
        "nom_ept",
        "n_qpv_2024",
    ]
    communes = pd.DataFrame(referentiel.communes[colonnes])
    communes["intercommunalite"] = communes["nom_ept"].where(communes["nom_ept"] != "", communes["nom_epci"])
    communes["commune_pv"] = communes["n_qpv_2024"].fillna(0).astype(int) > 0
    return communes.drop(columns="n_qpv_2024")


def situer_origines(participations: pd.DataFrame, referentiel: Referentiel) -> pd.DataFrame:
    """Rattache l'origine de chaque participation : commune, commune PV, EPCI, département.

    Quand seule l'origine départementale est connue, la participation compte à ce niveau
    (``niveau_origine = "departement"``) ; ``autre`` ou un département hors du territoire donne
    ``dans_territoire = False``.

    Parameters
    ----------
    participations : pandas.DataFrame
        Table ``participations`` typée.
    referentiel : Referentiel
        Référentiel du territoire du centre (ses départements font « le territoire »).

    Returns
    -------
    pandas.DataFrame
        Copie avec ``nom_com``, ``siren_epci``, ``nom_epci``, ``code_ept``, ``nom_ept``,
        ``intercommunalite`` (EPT dans la Métropole du Grand Paris, sinon EPCI), ``commune_pv``,
        ``departement`` (code ou ``autre``), ``dans_territoire`` et ``niveau_origine``.
    """
    return _situer(participations, "code_commune_origine", "departement_origine", None, referentiel)


def situer_demandes(demandes: pd.DataFrame, referentiel: Referentiel) -> pd.DataFrame:
    """Rattache chaque demande info-doc à sa commune, son intercommunalité et son département.

    Ordre de priorité : commune, puis SIREN d'EPCI ou d'EPT, puis département ; une demande
    sans aucune de ces informations a ``niveau_origine = "inconnue"``.

    Parameters
    ----------
    demandes : pandas.DataFrame
        Table ``demandes`` typée.
    referentiel : Referentiel
        Référentiel du territoire.

    Returns
    -------
    pandas.DataFrame
        Copie avec les mêmes colonnes de rattachement que ``situer_origines``.
    """
    return _situer(demandes, "code_commune", "departement", "siren_epci", referentiel)


def _situer(table, colonne_commune, colonne_departement, colonne_siren, referentiel) -> pd.DataFrame:
    communes = _attributs_communes(referentiel)
    territoire = set(referentiel.departements_demandes)
    if colonne_siren:
        table = table.rename(columns={colonne_siren: "siren_saisi"})
    situees = table.merge(
        communes.drop(columns="insee_dep"), how="left", left_on=colonne_commune, right_on="insee_com"
    ).drop(columns="insee_com")
    code = situees[colonne_commune].fillna("").astype(str)
    departement_commune = code.str.slice(0, 2).where(~code.str.startswith("97"), code.str.slice(0, 3))
    departement = departement_commune.where(code != "", situees[colonne_departement].fillna("").astype(str))
    niveau = np.where(code != "", "commune", np.where(departement != "", "departement", "inconnue"))
    if colonne_siren:
        intercommunalites = _intercommunalites(referentiel)
        siren = situees["siren_saisi"].fillna("").astype(str)
        par_siren = (code == "") & (siren != "")
        trouve = siren[par_siren].map(intercommunalites["nom"])
        situees.loc[par_siren, "intercommunalite"] = trouve
        departement = departement.where(
            ~par_siren, siren.map(intercommunalites["departement"]).fillna(departement)
        )
        niveau = np.where(par_siren, "intercommunalite", niveau)
    situees["departement"] = departement.where(departement.isin(territoire) | (departement == ""), "autre")
    situees["dans_territoire"] = departement.isin(territoire)
    situees["niveau_origine"] = niveau
    situees["commune_pv"] = situees["commune_pv"].astype("boolean").fillna(False).astype(bool)
    situees["intercommunalite"] = situees["intercommunalite"].fillna("")
    return situees


def _intercommunalites(referentiel: Referentiel) -> pd.DataFrame:
    communes = referentiel.communes
    lignes = []
    for colonne_code, colonne_nom in (("siren_epci", "nom_epci"), ("code_ept", "nom_ept")):
        for (code, nom), membres in communes[communes[colonne_code] != ""].groupby(
            [colonne_code, colonne_nom]
        ):
            departements = membres["insee_dep"].value_counts()
            lignes.append({"code": code, "nom": nom, "departement": departements.index[0]})
    return pd.DataFrame(lignes).drop_duplicates("code").set_index("code")

"""Jointures territoriales : lieux des séances → QPV 2024 ; origines → communes, EPCI, territoire.

Tout est calculé en EPSG:2154 (mètres, corrigés hors métropole de l'échelle de Lambert-93) et vectorisé : un seul arbre STRtree sur les QPV, une
requête « intersecte » (un point sur la limite est dans le QPV), puis une requête « à moins de
D mètres » pour les seuls points restés dehors.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .activite.donnees import Activite
from .commun.codes import departement_de_commune
from .commun.parametres import DISTANCE_PROXIMITE_M
from .referentiel.chargement import Referentiel
from .referentiel.projection import CRS_CALCUL, echelle_lambert93

__all__ = [
    "DISTANCE_PROXIMITE_M",
    "ActiviteSituee",
    "apparier_qpv",
    "rattacher_qpv",
    "situer_activite",
    "situer_demandes",
    "situer_origines",
    "situer_seances",
]


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
        Distance de proximité en mètres (300 par défaut), bornes comprises ; 0 pour ne
        chercher que le QPV qui contient le point.

    Returns
    -------
    pandas.DataFrame
        Même index que ``points`` (ou position), colonnes ``code_qp`` (QPV contenant le point,
        sinon ``""``), ``code_qp_proche`` (QPV le plus proche à moins de D, ou celui qui
        contient le point) et ``distance_qpv_m`` (0 dans un QPV, NaN au-delà de D). Les codes
        sont des catégories (``""`` compris) : une colonne d'un million de lignes reste légère.
        Un point sur la limite d'un QPV est dans le QPV ; entre deux QPV qui se touchent, le
        premier du référentiel l'emporte.
    """
    _verifier_crs(points, qpv)
    geometries = (
        np.asarray(points.array) if isinstance(points, gpd.GeoSeries) else np.asarray(points, dtype=object)
    )
    index = points.index if isinstance(points, gpd.GeoSeries) else pd.RangeIndex(len(geometries))
    polygones = np.asarray(qpv.geometry.array, dtype=object)

    i_points, i_qpv, distances = _paires_a_portee(geometries, polygones, distance_proximite_m)
    return _assembler(index, len(geometries), qpv["code_qp"].to_numpy(), i_points, i_qpv, distances)


def apparier_qpv(
    points: gpd.GeoSeries,
    qpv: gpd.GeoDataFrame,
    distance_proximite_m: float = DISTANCE_PROXIMITE_M,
) -> pd.DataFrame:
    """Toutes les paires (point, QPV) à moins de D mètres, pas seulement la plus proche.

    Un point dans un QPV peut aussi être à moins de D mètres d'un QPV voisin : les deux paires
    sont gardées, si bien que le voisin compte la séance « à proximité ».

    Parameters
    ----------
    points : geopandas.GeoSeries
        Points en EPSG:2154 ; les valeurs manquantes ou vides ne forment aucune paire.
    qpv : geopandas.GeoDataFrame
        Périmètres QPV en EPSG:2154 avec la colonne ``code_qp``.
    distance_proximite_m : float
        Distance de proximité en mètres, bornes comprises.

    Returns
    -------
    pandas.DataFrame
        Colonnes ``point`` (étiquette d'index du point), ``code_qp`` et ``distance_qpv_m``
        (0 dans le QPV ou sur sa limite), triées par point puis distance.
    """
    _verifier_crs(points, qpv)
    geometries = np.asarray(points.array)
    polygones = np.asarray(qpv.geometry.array, dtype=object)
    i_points, i_qpv, distances = _paires_a_portee(geometries, polygones, distance_proximite_m)
    ordre = np.lexsort((i_qpv, distances, i_points))
    return pd.DataFrame(
        {
            "point": points.index.to_numpy()[i_points[ordre]],
            "code_qp": qpv["code_qp"].to_numpy()[i_qpv[ordre]],
            "distance_qpv_m": distances[ordre],
        }
    )


def _verifier_crs(points, qpv) -> None:
    if qpv.crs is not None and qpv.crs != CRS_CALCUL:
        raise ValueError(f"Les QPV doivent être en {CRS_CALCUL} (reçu {qpv.crs}).")
    if isinstance(points, gpd.GeoSeries) and points.crs is not None and points.crs != CRS_CALCUL:
        raise ValueError(f"Les points doivent être en {CRS_CALCUL} (reçu {points.crs}).")


def _paires_a_portee(points: np.ndarray, polygones: np.ndarray, distance_m: float):
    """Paires (point, QPV) à moins de D mètres au sol avec leur distance (0 dedans ou sur la limite).

    Les distances sont celles de Lambert-93, corrigées hors métropole de son facteur d'échelle
    (``echelle_lambert93``) : à La Réunion, 300 m au sol mesurent 561 m projetés.
    """
    # Préparer les polygones (index interne GEOS) ne change pas leur valeur ; la préparation
    # reste en cache sur les géométries du référentiel pour les appels suivants.
    shapely.prepare(polygones)
    if distance_m <= 0:
        i_points, i_qpv = shapely.STRtree(polygones).query(points, predicate="intersects")
        return i_points, i_qpv, np.zeros(len(i_points))
    echelles = echelle_lambert93(points)
    metropole = bool((echelles == 1.0).all())
    portees = np.full(len(points), distance_m) if metropole else distance_m * echelles
    marge = float(portees.max()) if len(portees) else distance_m
    # Arbre sur les emprises élargies de D : peu de candidats, puis tests exacts sur les QPV
    # préparés (index de leurs segments). La requête dwithin de l'arbre, celle de
    # geopandas.sjoin, prépare le point cherché et non le polygone : 1,5 fois plus lente.
    xmin, ymin, xmax, ymax = shapely.bounds(polygones).T
    emprises = shapely.box(xmin - marge, ymin - marge, xmax + marge, ymax + marge)
    i_points, i_qpv = shapely.STRtree(emprises).query(points)
    distances = np.full(len(i_points), np.inf)
    dedans = shapely.intersects(polygones[i_qpv], points[i_points])
    distances[dedans] = 0.0
    autour = np.flatnonzero(~dedans)
    portee_autour = distance_m if metropole else portees[i_points[autour]]
    a_portee = shapely.dwithin(polygones[i_qpv[autour]], points[i_points[autour]], portee_autour)
    proches = autour[a_portee]
    distances[proches] = shapely.distance(points[i_points[proches]], polygones[i_qpv[proches]])
    if not metropole:
        distances[proches] /= echelles[i_points[proches]]
    retenues = distances <= distance_m
    return i_points[retenues], i_qpv[retenues], distances[retenues]


def _assembler(index, n, codes, i_points, i_qpv, distances) -> pd.DataFrame:
    # Le plus proche d'abord ; à égalité (QPV qui se touchent), le premier du référentiel.
    ordre = np.lexsort((i_qpv, distances, i_points))
    i_points, i_qpv, distances = i_points[ordre], i_qpv[ordre], distances[ordre]
    premier = np.r_[True, i_points[1:] != i_points[:-1]] if len(i_points) else np.zeros(0, dtype=bool)
    i_points, i_qpv, distances = i_points[premier], i_qpv[premier], distances[premier]
    proche = np.zeros(n, dtype=np.int64)  # 0 = aucun QPV ; k = k-ième QPV
    proche[i_points] = i_qpv + 1
    dedans = np.zeros(n, dtype=np.int64)
    dedans[i_points[distances == 0]] = i_qpv[distances == 0] + 1
    distance = np.full(n, np.nan)
    distance[i_points] = distances
    categories = pd.Index(["", *codes], dtype=object).unique()
    position = categories.get_indexer(["", *codes])
    return pd.DataFrame(
        {
            "code_qp": pd.Categorical.from_codes(position[dedans], categories=categories),
            "code_qp_proche": pd.Categorical.from_codes(position[proche], categories=categories),
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
    situees["insee_dep"] = situees["insee_dep"].fillna(departement_de_commune(code_commune)).astype(object)
    distanciel = situees["distanciel"].astype(bool)
    points = gpd.GeoSeries.from_xy(situees["longitude"], situees["latitude"], crs="EPSG:4326")
    points = points.where(situees["latitude"].notna() & situees["longitude"].notna() & ~distanciel)
    points = points.to_crs(CRS_CALCUL)
    rattachement = rattacher_qpv(points, referentiel.qpv, distance_proximite_m)
    situees = pd.concat([situees, rattachement], axis=1)
    if "placement" not in situees.columns:
        situees["placement"] = np.where(
            situees["distanciel"].astype(bool),
            "distanciel",
            np.where(points.isna(), "non_placee", "coordonnees"),
        )
    # Une séance à distance n'appartient à aucun département, quel que soit le code qu'elle porte.
    situees.loc[distanciel.to_numpy(), "insee_dep"] = ""
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
    dans_ept = communes["code_ept"] != ""
    communes["intercommunalite"] = communes["nom_ept"].where(dans_ept, communes["nom_epci"])
    communes["code_intercommunalite"] = communes["code_ept"].where(dans_ept, communes["siren_epci"])
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
        ``intercommunalite`` (EPT dans la Métropole du Grand Paris, sinon EPCI) et son code
        ``code_intercommunalite`` (code de l'EPT ou SIREN de l'EPCI), ``commune_pv``,
        ``departement`` (code ou ``autre``), ``code_departement`` et ``code_region`` (codes
        INSEE réels, même hors du territoire ; vides si inconnus), ``dans_territoire`` et
        ``niveau_origine``.
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
    departement_commune = departement_de_commune(code)
    departement = departement_commune.where(code != "", situees[colonne_departement].fillna("").astype(str))
    niveau = np.where(code != "", "commune", np.where(departement != "", "departement", "inconnue"))
    if colonne_siren:
        intercommunalites = _intercommunalites(referentiel)
        siren = situees["siren_saisi"].fillna("").astype(str)
        par_siren = (code == "") & (siren != "")
        trouve = siren[par_siren].map(intercommunalites["nom"])
        situees.loc[par_siren, "intercommunalite"] = trouve
        situees.loc[par_siren, "code_intercommunalite"] = siren[par_siren].where(trouve.notna())
        departement = departement.where(
            ~par_siren, siren.map(intercommunalites["departement"]).fillna(departement)
        )
        niveau = np.where(par_siren, "intercommunalite", niveau)
    region = {dep: code_region for dep, (code_region, _) in referentiel.regions_des_departements.items()}
    situees["code_departement"] = departement.where(departement.isin(region.keys()), "")
    situees["code_region"] = situees["code_departement"].map(region).fillna("")
    situees["departement"] = departement.where(departement.isin(territoire) | (departement == ""), "autre")
    situees["dans_territoire"] = departement.isin(territoire)
    situees["niveau_origine"] = niveau
    # Commune PV : toute commune de France qui accueille un QPV 2024 (table nationale), même hors
    # du territoire (Paris, Toulon…).
    situees["commune_pv"] = code.isin(referentiel.communes_pv_france).to_numpy()
    situees["intercommunalite"] = situees["intercommunalite"].fillna("")
    situees["code_intercommunalite"] = situees["code_intercommunalite"].fillna("")
    return situees


def _intercommunalites(referentiel: Referentiel) -> pd.DataFrame:
    """EPCI et EPT de France : code → nom et département de rattachement.

    Le département est celui de la plupart de ses communes du territoire (la Métropole du
    Grand Paris reste dans le territoire qui en a des communes), sinon de toutes ses communes.
    """
    communes = referentiel.communes_france.assign(
        dans_territoire=lambda t: t["insee_dep"].isin(referentiel.departements_demandes)
    )
    tables = []
    for colonne_code, colonne_nom in (("siren_epci", "nom_epci"), ("code_ept", "nom_ept")):
        membres = communes.loc[
            communes[colonne_code] != "", [colonne_code, colonne_nom, "insee_dep", "dans_territoire"]
        ]
        comptes = (
            membres.groupby([colonne_code, colonne_nom, "insee_dep", "dans_territoire"])
            .size()
            .reset_index(name="n")
        )
        comptes = comptes.sort_values(
            [colonne_code, "dans_territoire", "n", "insee_dep"], ascending=[True, False, False, True]
        )
        tables.append(
            comptes.drop_duplicates(colonne_code).rename(
                columns={colonne_code: "code", colonne_nom: "nom", "insee_dep": "departement"}
            )[["code", "nom", "departement"]]
        )
    return pd.concat(tables).drop_duplicates("code").set_index("code")


@dataclass(frozen=True)
class ActiviteSituee:
    """Activité validée et rattachée au territoire.

    Attributes
    ----------
    activite : Activite
        Données validées.
    seances, participations, demandes : pandas.DataFrame
        Tables rattachées (``situer_seances``, ``situer_origines``, ``situer_demandes``).
    paires_qpv : pandas.DataFrame
        Toutes les paires (séance, QPV) à moins de D mètres : ``id_seance``, ``code_qp``,
        ``distance_qpv_m`` (0 dedans).
    distance_proximite_m : float
        Distance de proximité utilisée (mètres).
    """

    activite: Activite
    seances: pd.DataFrame
    participations: pd.DataFrame
    demandes: pd.DataFrame
    paires_qpv: pd.DataFrame
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
    seances["participants"] = seances["id_seance"].map(participants).fillna(0).astype("int64")
    origines = situer_origines(activite.participations, referentiel)
    colonnes_seance = ["id_seance", "id_action", "date", "axe", "thematique", "format", "intitule"]
    participations = origines.merge(pd.DataFrame(seances[colonnes_seance]), on="id_seance", how="left")
    demandes = situer_demandes(activite.demandes, referentiel)
    return ActiviteSituee(
        activite,
        seances,
        participations,
        demandes,
        _paires_seances_qpv(seances, referentiel, distance_proximite_m),
        distance_proximite_m,
    )


def _paires_seances_qpv(
    seances: gpd.GeoDataFrame, referentiel: Referentiel, distance_m: float
) -> pd.DataFrame:
    placees = seances[seances["precision"] == "coordonnees"]
    paires = apparier_qpv(placees.geometry, referentiel.qpv, distance_m)
    identifiants = placees["id_seance"].to_numpy()
    positions = placees.index.get_indexer(paires["point"])
    return pd.DataFrame(
        {
            "id_seance": identifiants[positions],
            "code_qp": paires["code_qp"].to_numpy(),
            "distance_qpv_m": paires["distance_qpv_m"].to_numpy(),
        }
    )

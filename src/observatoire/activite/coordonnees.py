"""Un seul contrôle des coordonnées, d'où qu'elles viennent : séance, registre des lieux,
résultat du géocodage.

Une coordonnée est gardée si elle est lisible, finie, dans les bornes du WGS84 et dans le
département de sa commune (à 1 km près : les contours sont simplifiés). Sinon le problème est
nommé : latitude et longitude inversées, mètres Lambert-93 saisis à la place des degrés, point
hors du département. Un lieu plus loin de sa commune que ``ECART_COMMUNE_M`` est signalé sans
être refusé (le lieu peut être juste de l'autre côté de la limite).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from ..commun.codes import departement_de_commune
from ..commun.typographie import format_nombre
from ..referentiel.chargement import Referentiel
from ..referentiel.projection import CRS_CALCUL, echelle_lambert93
from .contrat import ECART_COMMUNE_M
from .valeurs import decimaux

__all__ = ["CoordonneeDouteuse", "controler_coordonnees"]

MARGE_DEPARTEMENT_M = 1_000.0
# Emprise des coordonnées Lambert-93 de la métropole (mètres) : des « degrés » dans ces bornes
# sont des mètres saisis par erreur.
_X_LAMBERT93 = (50_000.0, 1_300_000.0)
_Y_LAMBERT93 = (6_000_000.0, 7_200_000.0)


@dataclass(frozen=True)
class CoordonneeDouteuse:
    """Un problème de coordonnées : à l'étiquette d'index ``index`` de la table contrôlée."""

    index: object
    gravite: str
    message: str
    correction: str


def controler_coordonnees(
    latitudes: pd.Series, longitudes: pd.Series, communes: pd.Series, referentiel: Referentiel | None
) -> list[CoordonneeDouteuse]:
    """Contrôle des coordonnées saisies en texte (degrés décimaux WGS84).

    Parameters
    ----------
    latitudes, longitudes : pandas.Series
        Textes saisis (vides : pas de coordonnées), même index.
    communes : pandas.Series
        Code INSEE de la commune déclarée de chaque lieu.
    referentiel : Referentiel or None
        Contours des départements et des communes du territoire ; sans lui, seules la lecture
        et les bornes sont contrôlées.

    Returns
    -------
    list of CoordonneeDouteuse
        Un problème au plus par ligne ; une ligne sans problème n'y figure pas.
    """
    douteuses: list[CoordonneeDouteuse] = []
    lat_texte, lon_texte = (
        latitudes.fillna("").astype(str).str.strip(),
        longitudes.fillna("").astype(str).str.strip(),
    )
    une_seule = (lat_texte == "") ^ (lon_texte == "")
    douteuses += [
        CoordonneeDouteuse(
            i, "erreur", "coordonnées incomplètes : latitude et longitude vont ensemble.",
            "Remplissez les deux colonnes, ou videz-les (le lieu sera placé à sa commune).",
        )
        for i in lat_texte.index[une_seule]
    ]  # fmt: skip
    latitude, longitude = decimaux(lat_texte), decimaux(lon_texte)
    lisibles = latitude.notna() & longitude.notna() & ~une_seule
    illisibles = ((lat_texte != "") & latitude.isna()) | ((lon_texte != "") & longitude.isna())
    douteuses += [
        CoordonneeDouteuse(
            i,
            "erreur",
            "coordonnée illisible.",
            "Écrivez des degrés décimaux, par exemple 48,9356 et 2,2874.",
        )
        for i in lat_texte.index[illisibles & ~une_seule]
    ]
    finies = lisibles & np.isfinite(latitude) & np.isfinite(longitude)
    dans_bornes = finies & latitude.abs().le(90) & longitude.abs().le(180)
    for i in lat_texte.index[lisibles & ~dans_bornes]:
        douteuses.append(_hors_bornes(i, latitude[i], longitude[i]))
    if referentiel is not None:
        douteuses += _dans_le_departement(
            latitude[dans_bornes], longitude[dans_bornes], communes, referentiel
        )
    return douteuses


def _hors_bornes(index, latitude: float, longitude: float) -> CoordonneeDouteuse:
    if not (np.isfinite(latitude) and np.isfinite(longitude)):
        return CoordonneeDouteuse(
            index, "erreur", "coordonnée infinie ou non numérique.", "Écrivez des degrés décimaux WGS84."
        )
    for x, y in ((longitude, latitude), (latitude, longitude)):
        if _X_LAMBERT93[0] <= x <= _X_LAMBERT93[1] and _Y_LAMBERT93[0] <= y <= _Y_LAMBERT93[1]:
            return CoordonneeDouteuse(
                index,
                "erreur",
                "coordonnées en mètres Lambert-93 (X, Y), et non en degrés WGS84.",
                "Convertissez-les en degrés (latitude ≈ 49, longitude ≈ 2 en Île-de-France), par exemple "
                "avec le géoportail, ou videz-les et utilisez l'adresse (observatoire geocoder).",
            )
    return CoordonneeDouteuse(
        index,
        "erreur",
        "coordonnées hors des bornes du WGS84 (latitude de −90 à 90, longitude de −180 à 180).",
        "Écrivez des degrés décimaux WGS84 (latitude ≈ 49, longitude ≈ 2 en Île-de-France).",
    )


def _dans_le_departement(latitude, longitude, communes, referentiel: Referentiel) -> list[CoordonneeDouteuse]:
    departement = departement_de_commune(communes.reindex(latitude.index).fillna(""))
    a_controler = departement.isin(set(referentiel.departements["insee_dep"]))
    if not a_controler.any():
        return []
    index = latitude.index[a_controler]
    contours = referentiel.departements.set_index("insee_dep").geometry.buffer(MARGE_DEPARTEMENT_M)
    geometries = contours.reindex(departement[a_controler]).to_numpy()
    vers_l93 = Transformer.from_crs("EPSG:4326", CRS_CALCUL, always_xy=True)
    lat, lon = latitude[a_controler].to_numpy(), longitude[a_controler].to_numpy()
    x, y = vers_l93.transform(lon, lat)
    dedans = shapely.contains_xy(geometries, x, y)
    xi, yi = vers_l93.transform(lat, lon)
    inverse = shapely.contains_xy(geometries, xi, yi)
    douteuses = []
    for i, ok, inv, dep in zip(index, dedans, inverse, departement[a_controler], strict=True):
        if ok:
            continue
        if inv:
            douteuses.append(
                CoordonneeDouteuse(
                    i,
                    "erreur",
                    "latitude et longitude inversées.",
                    "Échangez les deux valeurs (latitude ≈ 48 à 49, longitude ≈ 1 à 3 en Île-de-France).",
                )
            )
        else:
            nom = referentiel.noms_departements_france.get(dep, dep)
            douteuses.append(
                CoordonneeDouteuse(
                    i,
                    "erreur",
                    f"coordonnées hors du département de la commune du lieu ({nom}, {dep}).",
                    "Vérifiez les coordonnées (degrés décimaux WGS84) ou le code commune.",
                )
            )
    points = shapely.points(x[dedans], y[dedans])
    douteuses += _loin_de_la_commune(index[dedans], points, communes, referentiel)
    return douteuses


def _loin_de_la_commune(index, points, communes, referentiel: Referentiel) -> list[CoordonneeDouteuse]:
    """Avertit quand un lieu est à plus de ``ECART_COMMUNE_M`` de la commune qu'il déclare."""
    contours = referentiel.communes.set_index("insee_com").geometry
    codes = communes.reindex(index)
    connus = codes.isin(contours.index).to_numpy()
    if not connus.any():
        return []
    distances = shapely.distance(
        contours.reindex(codes[connus]).to_numpy(), points[connus]
    ) / echelle_lambert93(points[connus])
    return [
        CoordonneeDouteuse(
            i,
            "avertissement",
            f"lieu à {format_nombre(distance)} m hors de sa commune {code}.",
            "Vérifiez les coordonnées ou le code commune du lieu (il est compté à ses coordonnées).",
        )
        for i, code, distance in zip(index[connus], codes[connus], distances, strict=True)
        if distance > ECART_COMMUNE_M
    ]

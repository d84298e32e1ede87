"""Projection de calcul : Lambert-93 (EPSG:2154) et son facteur d'échelle hors métropole."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import shapely
from pyproj import Proj, Transformer

__all__ = ["CRS_CALCUL", "LATITUDE_MIN_METROPOLE", "echelle_lambert93", "emprise_en_degres"]

CRS_CALCUL = "EPSG:2154"
# Au sud de cette latitude (les DROM), Lambert-93 déforme : les distances y sont corrigées de son
# facteur d'échelle local. La métropole (Corse comprise, 41,3° N au plus bas) garde les
# distances de Lambert-93, sa projection légale.
LATITUDE_MIN_METROPOLE = 40.0
# Cadre de la métropole en Lambert-93 (mètres), plus large que son emprise (x de 99 à 1 243 km,
# y de 6 046 à 7 111 km) : tout point dedans est au nord de 40° N.
X_MIN_METROPOLE, X_MAX_METROPOLE, Y_MIN_METROPOLE = -200_000.0, 1_600_000.0, 6_000_000.0


def echelle_lambert93(points) -> np.ndarray:
    """Facteur d'échelle de Lambert-93 en chaque point : ce que mesure 1 mètre du terrain.

    Lambert-93 est conforme : autour d'un point, toute distance projetée vaut la distance réelle
    multipliée par ce facteur. En métropole, il vaut 1 par convention (Lambert-93 y est la
    projection légale, ses distances font foi ; l'écart réel reste sous 3 ‰) ; dans les DROM,
    c'est le facteur local (1,13 en Guadeloupe, 1,26 en Guyane, 1,61 à Mayotte, 1,87 à La
    Réunion : 300 m y mesurent 561 m). Diviser une distance projetée par ce facteur donne la
    distance au sol, à mieux qu'un millimètre près sur quelques kilomètres.

    Parameters
    ----------
    points : array-like of shapely.Point
        Points en EPSG:2154 ; un point manquant ou vide vaut 1.

    Returns
    -------
    numpy.ndarray
        Un facteur par point.
    """
    geometries = np.asarray(points, dtype=object)
    echelles = np.ones(len(geometries))
    if len(geometries) == 0:
        return echelles
    xmin, ymin, xmax, _ = shapely.total_bounds(geometries)
    if ymin >= Y_MIN_METROPOLE and xmin >= X_MIN_METROPOLE and xmax <= X_MAX_METROPOLE:
        return echelles  # tous en métropole (le cas courant), sans lire chaque point
    # Un point dans le cadre de la métropole en Lambert-93 (y ≥ 6 000 km : 41,3° N au plus bas)
    # vaut 1 sans calcul ; seuls les autres sont ramenés en degrés pour lire leur latitude.
    x, y = shapely.get_x(geometries), shapely.get_y(geometries)
    en_metropole = (y >= Y_MIN_METROPOLE) & (x >= X_MIN_METROPOLE) & (x <= X_MAX_METROPOLE)
    valides = np.flatnonzero(~(shapely.is_missing(geometries) | shapely.is_empty(geometries) | en_metropole))
    if len(valides) == 0:
        return echelles
    vers_degres, projection = _lambert93()
    longitudes, latitudes = vers_degres.transform(
        shapely.get_x(geometries[valides]), shapely.get_y(geometries[valides])
    )
    loin = np.asarray(latitudes) < LATITUDE_MIN_METROPOLE
    if loin.any():
        facteurs = projection.get_factors(np.asarray(longitudes)[loin], np.asarray(latitudes)[loin])
        echelles[valides[loin]] = np.asarray(facteurs.meridional_scale)
    return echelles


def emprise_en_degres(
    xmin: float, ymin: float, xmax: float, ymax: float
) -> tuple[float, float, float, float]:
    """Emprise en degrés WGS84 (ouest, sud, est, nord) d'un rectangle Lambert-93, par ses coins.

    Parameters
    ----------
    xmin, ymin, xmax, ymax : float
        Le rectangle, en mètres Lambert-93.

    Returns
    -------
    tuple of float
    """
    vers_degres, _ = _lambert93()
    longitudes, latitudes = vers_degres.transform([xmin, xmin, xmax, xmax], [ymin, ymax, ymin, ymax])
    return (min(longitudes), min(latitudes), max(longitudes), max(latitudes))


@lru_cache(maxsize=1)
def _lambert93():
    """Transformation vers WGS84 et projection Lambert-93, construites une fois (2,8 ms chacune)."""
    return Transformer.from_crs(CRS_CALCUL, "EPSG:4326", always_xy=True), Proj(CRS_CALCUL)

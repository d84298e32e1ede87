"""La carte d'un quartier prioritaire (fiche QPV) : un gabarit compilé une fois, nourri des
données de chaque fiche — pas un objet folium par fiche (dix fois plus lent à produire).

Le périmètre du quartier, l'anneau de proximité, les QPV voisins, les limites des communes
(la carte reste lisible hors ligne, sans fond de plan), les lieux du centre alentour, une
légende repliable, une échelle, un contrôle des couches replié. Tout texte venu des données est
échappé avant d'entrer dans le JSON, lui-même sûr dans un ``<script>``.
"""

from __future__ import annotations

import html

import geopandas as gpd
import numpy as np
import shapely
from jinja2.utils import htmlsafe_json_dumps

from ..commun.typographie import format_distance, typographier, typographier_html
from . import couleurs
from .gabarits import feuille_de_style, rendre
from .leaflet import fichiers_leaflet

__all__ = ["page_carte_quartier"]

DECIMALES = 5


def _geojson(table: gpd.GeoDataFrame, textes: list[str] | None = None) -> dict:
    geometries = shapely.transform(np.asarray(table.geometry.array), lambda xy: np.round(xy, DECIMALES))
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"texte": textes[rang]} if textes else {},
                "geometry": shapely.geometry.mapping(geometrie),
            }
            for rang, geometrie in enumerate(geometries)
        ],
    }


def _textes_qpv(table: gpd.GeoDataFrame) -> list[str]:
    return [
        html.escape(typographier(f"{n} ({c})"))
        for n, c in zip(table["lib_qp"], table["code_qp"], strict=True)
    ]


def page_carte_quartier(
    *,
    titre: str,
    quartier: gpd.GeoDataFrame,
    anneau: gpd.GeoDataFrame,
    voisins: gpd.GeoDataFrame,
    communes: gpd.GeoDataFrame,
    lieux: list[dict],
    cadre: tuple[float, float, float, float],
    distance_m: float,
    sources: str,
    partage: bool,
) -> str:
    """La page HTML de la carte d'un quartier.

    Parameters
    ----------
    titre : str
        Titre de la carte.
    quartier, anneau, voisins, communes : geopandas.GeoDataFrame
        Le QPV (``lib_qp``, ``code_qp``), son anneau de proximité, les autres QPV alentour, les
        limites des communes alentour, en degrés (EPSG:4326 : l'appelant projette une fois pour
        toutes ses cartes).
    lieux : list of dict
        ``lat``, ``lon``, ``texte`` (non échappé), ``proche`` (bool) de chaque lieu alentour.
    cadre : tuple
        Emprise (xmin, ymin, xmax, ymax) en degrés.
    distance_m : float
        Distance de proximité (mètres).
    sources : str
        Mention des sources.
    partage : bool
        La page charge ``leaflet.js`` posé à côté (fiches publiées) au lieu de le contenir.
    """
    proche, autre = couleurs.SITUATIONS["dans_qpv"], couleurs.SITUATIONS["hors_qpv"]
    donnees = {
        "quartier": _geojson(quartier, _textes_qpv(quartier)),
        "anneau": _geojson(anneau),
        "voisins": _geojson(voisins, _textes_qpv(voisins)),
        "communes": _geojson(communes),
        "lieux": [
            {
                "lat": round(float(lieu["lat"]), DECIMALES),
                "lon": round(float(lieu["lon"]), DECIMALES),
                "texte": html.escape(typographier(lieu["texte"])),
                "couleur": proche if lieu["proche"] else autre,
            }
            for lieu in lieux
        ],
        "cadre": [
            [round(cadre[1], DECIMALES), round(cadre[0], DECIMALES)],
            [round(cadre[3], DECIMALES), round(cadre[2], DECIMALES)],
        ],
        "couleurs": _couleurs(),
        "nom_anneau": typographier(f"À moins de {format_distance(distance_m)}"),
    }
    css, js = fichiers_leaflet() if not partage else ("", "")
    presents = {bool(lieu["proche"]) for lieu in lieux}
    legende_lieux = [
        (proche, "Lieu d'une séance dans le quartier ou à proximité") if True in presents else None,
        (autre, "Autre lieu où le centre a tenu une séance") if False in presents else None,
    ]
    page = rendre(
        "carte_quartier.html.j2",
        titre=titre,
        partage=partage,
        css_leaflet=css,
        js_leaflet=js,
        style=feuille_de_style(),
        donnees=htmlsafe_json_dumps(donnees, separators=(",", ":"), sort_keys=True, ensure_ascii=False),
        couleurs=_couleurs(),
        distance=format_distance(distance_m),
        voisins=len(voisins) > 0,
        lieux=[entree for entree in legende_lieux if entree],
        sources=sources,
    )
    return typographier_html(str(page))


def _couleurs() -> dict[str, str]:
    return {
        "qpv": couleurs.SITUATIONS["dans_qpv"],
        "qpv_fond": "#f6c9a8",
        "anneau": couleurs.SITUATIONS["proximite_qpv"],
        "voisin": couleurs.VOISIN,
        "voisin_fond": "#d9d9d9",
        "commune": couleurs.COMMUNE,
    }

"""Cartes folium autonomes (aucun CDN), légères, sûres et reproductibles.

- Leaflet et MarkerCluster viennent des paquets XStatic et sont intégrés dans la page, avec les
  images de leur CSS en ``data:`` ; les ressources par défaut de folium (jQuery, Bootstrap,
  Font Awesome…) sont retirées. Seules les tuiles du fond de carte viennent du réseau : sans
  réseau, les couches s'affichent sur un fond uni.
- Les contours sont simplifiés en mètres (simplification de couverture : les communes voisines
  gardent une limite commune), les coordonnées arrondies à 1e-5 degré.
- Toute chaîne issue des données est échappée (folium n'échappe ni les infobulles ni les
  fenêtres) ; les identifiants aléatoires de folium sont remplacés par des numéros d'ordre.
"""

from __future__ import annotations

import html
import json
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement
from branca.element import Figure as PageBranca
from jinja2 import Template
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..commun.codes import SYNTHESE
from ..commun.typographie import format_nombre, nombre_de, typographier, typographier_html
from ..indicateurs.couverture import couverture_qpv, restreindre
from ..jointures import ActiviteSituee
from ..referentiel.chargement import Referentiel
from . import couleurs
from .classes import classes_des_taux
from .gabarits import feuille_de_style
from .leaflet import fichiers_leaflet

__all__ = [
    "CarteAutonome",
    "carte_activite",
    "carte_statique",
    "ecrire_carte",
    "html_carte",
    "ressources_integrees",
]

COULEURS_CLASSES = list(couleurs.TAUX)
COULEUR_ZERO = couleurs.TAUX_ZERO
COULEUR_SANS_DONNEE = couleurs.SANS_DONNEE
COULEUR_CERCLES = couleurs.COMPTES
RAYON_MAX_PX = 26.0  # rayon du plus grand cercle ; l'aire des cercles est proportionnelle au compte
POUR_HABITANTS = 10_000
SEANCES_PAR_LIEU = 10
# Au-delà de ces nombres, une carte de synthèse pèserait des mégaoctets et ne se lirait plus :
# les aplats passent de la commune à l'EPCI puis au département, les QPV deviennent des points.
SEUIL_COMMUNES_APLATS = 1_500
SEUIL_EPCI_APLATS = 400
SEUIL_QPV_PERIMETRES = 400
SEUIL_LIEUX = 3_000  # au-delà, les lieux sont regroupés par unité des aplats (commune, EPCI…)
COULEUR_QPV = couleurs.QPV
COULEURS_LIEUX = dict(couleurs.SITUATIONS)
LIBELLES_LIEUX = {
    "dans_qpv": "Séance dans un QPV",
    "proximite_qpv": "Séance à proximité d'un QPV",
    "hors_qpv": "Séance hors QPV",
}
TOLERANCE_M = 40.0
# Simplification des contours selon l'échelle des aplats : un département dessiné à 40 m près
# pèserait autant que toutes ses communes.
TOLERANCES_M = {"commune": TOLERANCE_M, "EPCI": 250.0, "département": 2_000.0}
DECIMALES_LIMITES = 4  # aplats et limites au dix-millième de degré ; périmètres des QPV au cent-millième


class CarteAutonome(folium.Map):
    """Carte folium sans ressources distantes : Leaflet vient de ``ressources_integrees``."""

    default_js: list = []
    default_css: list = []


def echelle_metrique(carte: folium.Map) -> folium.Map:
    """Ajoute une échelle en mètres seulement (celle de folium montre aussi les pieds)."""
    carte.add_child(_EchelleMetrique())
    return carte


def ressources_integrees(carte: folium.Map, partagees: bool = False) -> folium.Map:
    """Intègre Leaflet et MarkerCluster (paquets XStatic) dans l'en-tête de la carte.

    ``partagees`` : la page charge ``leaflet.css`` et ``leaflet.js`` posés à côté d'elle
    (``fichiers_leaflet``) au lieu de les contenir ; utile pour des dizaines de fiches.
    """
    racine = carte.get_root()  # une branca Figure : son en-tête reçoit les ressources intégrées
    racine.header.add_child(Element(_ressources(partagees)), name="ressources_integrees")  # type: ignore[attr-defined]
    return carte


def carte_activite(
    situee: ActiviteSituee,
    referentiel: Referentiel,
    territoire: str = SYNTHESE,
    lien_fiches: str | None = None,
    annee: int | None = None,
) -> folium.Map:
    """Carte de l'activité d'un territoire (un département ou la synthèse).

    Couches : taux de participation par commune d'origine (participations pour 10 000
    habitants, populations légales du référentiel ; classes de Fisher-Jenks, « aucune
    participation » et « pas de donnée » distingués), cercles proportionnels aux participations
    (aire ∝ compte), périmètres QPV 2024 (infobulle : nom, code, communes, séances dedans et à proximité),
    lieux des séances regroupés, limites des EPCI/EPT, contour départemental ; contrôle des
    couches et légende en français.

    Parameters
    ----------
    situee : ActiviteSituee
        Activité rattachée (``situer_activite``).
    referentiel : Referentiel
        Référentiel du territoire du centre.
    territoire : str
        Code de département ou ``"synthese"``.
    lien_fiches : str, optional
        Dossier relatif des fiches QPV (``"../fiches/"``) : un clic sur un QPV ouvre sa fiche.

    Returns
    -------
    folium.Map
        Carte à écrire avec ``ecrire_carte`` (HTML autonome et reproductible).
    """
    couches = _couches(situee, referentiel, territoire)
    classes = classes_des_taux(couches.unites["taux"])
    carte = CarteAutonome(location=None, tiles=None, control_scale=False, prefer_canvas=True)
    carte.add_child(_EchelleMetrique())
    folium.TileLayer(
        "OpenStreetMap", name="Fond OpenStreetMap", attr="© contributeurs OpenStreetMap", control=True
    ).add_to(carte)
    _couche_aplats(couches.unites, couches.niveau, classes).add_to(carte)
    if len(couches.intercos):
        _couche_limites(couches.intercos, "Limites EPCI / EPT", "#444444", 1.5, "5 4").add_to(carte)
    _couche_limites(couches.departements, "Contour départemental", "#111111", 3, None).add_to(carte)
    _couche_qpv(couches.qpv, lien_fiches).add_to(carte)
    _couche_cercles(couches.unites, couches.niveau).add_to(carte)
    carte.add_child(_LieuxRegroupes(couches.lieux, couches.unites, couches.niveau))
    origines = territoire == SYNTHESE and not situee.participations["dans_territoire"].all()
    if origines:
        _couche_origines(origines_hors_territoire(situee, referentiel)).add_to(carte)
    folium.LayerControl(collapsed=True).add_to(carte)
    perimetre = restreindre(situee.seances, "insee_dep", territoire)
    carte.add_child(
        _Legende(
            classes,
            couches,
            int((perimetre["precision"] == "commune").sum()),
            referentiel.millesime_population,
            origines=origines,
            titre=_titre_carte(referentiel, territoire, annee),
            sources=f"Sources : {referentiel.attribution} ; fond © contributeurs OpenStreetMap",
        )
    )
    ressources_integrees(carte)
    xmin, ymin, xmax, ymax = couches.departements.total_bounds
    carte.add_child(_Cadrage([[ymin, xmin], [ymax, xmax]]))
    return carte


def _titre_carte(referentiel: Referentiel, territoire: str, annee: int | None) -> str:
    if territoire == SYNTHESE:
        nom = f"territoire du centre ({', '.join(referentiel.departements_demandes)})"
    else:
        noms = referentiel.departements.set_index("insee_dep")["nom_dep"]
        nom = f"{noms.get(territoire, territoire)} ({territoire})"
    return typographier(f"Activité{f' {annee}' if annee else ''} et quartiers prioritaires — {nom}")


@dataclass(frozen=True)
class _Couches:
    """Ce que dessinent la carte interactive et la carte statique d'un territoire."""

    unites: (
        gpd.GeoDataFrame
    )  # aplats : ``code``, ``nom``, ``participations``, ``population``, ``taux``, ``centre``
    niveau: str  # ``commune``, ``EPCI`` ou ``département`` : l'échelle des aplats
    qpv: gpd.GeoDataFrame
    intercos: gpd.GeoDataFrame
    departements: gpd.GeoDataFrame
    lieux: gpd.GeoDataFrame


def _couches(situee, referentiel, territoire) -> _Couches:
    communes = restreindre(referentiel.communes, "insee_dep", territoire)
    qpv = restreindre(referentiel.qpv, "insee_dep", territoire)
    departements = restreindre(referentiel.departements, "insee_dep", territoire)
    seances = restreindre(situee.seances, "insee_dep", territoire)
    participations = restreindre(situee.participations, "departement", territoire)
    par_commune = participations.groupby("code_commune_origine")["nombre"].sum()
    communes = communes.assign(
        participations=communes["insee_com"].map(par_commune).fillna(0).astype("int64"),
        population=pd.to_numeric(communes["population"], errors="coerce"),
    )
    niveau = _niveau_des_aplats(communes)
    unites = _unites(communes, departements, referentiel, niveau)
    unites["taux"] = (unites["participations"] / unites["population"] * POUR_HABITANTS).where(
        unites["population"] > 0
    )
    unites["centre"] = unites.geometry.representative_point().to_crs("EPSG:4326")
    unites = _alleger(unites, niveau == "commune", TOLERANCES_M[niveau], DECIMALES_LIMITES)
    qpv = _qpv_avec_seances(qpv, situee, referentiel, territoire)
    qpv = _alleger(qpv, couverture=False) if len(qpv) <= SEUIL_QPV_PERIMETRES else _en_points(qpv)
    if niveau == "commune":
        intercos = communes.assign(
            interco=communes["nom_ept"].where(communes["nom_ept"] != "", communes["nom_epci"])
        ).dissolve("interco", as_index=False)[["interco", "geometry"]]
        intercos = _alleger(intercos, True, TOLERANCE_M, DECIMALES_LIMITES)
        intercos["geometry"] = intercos.geometry.boundary
    else:  # les aplats sont déjà des intercommunalités ou des départements
        intercos = gpd.GeoDataFrame({"interco": []}, geometry=[], crs="EPSG:4326")
    departements = _alleger(
        departements[["insee_dep", "nom_dep", "geometry"]].copy(),
        couverture=True,
        tolerance_m=TOLERANCES_M[niveau],
        decimales=DECIMALES_LIMITES,
    )
    departements["geometry"] = departements.geometry.boundary
    lieux = seances[seances["precision"] == "coordonnees"].to_crs("EPSG:4326")
    return _Couches(unites, niveau, qpv, intercos, departements, lieux)


def _niveau_des_aplats(communes: pd.DataFrame) -> str:
    """L'échelle des aplats : la commune tant qu'elles restent lisibles et légères, sinon plus large."""
    if len(communes) <= SEUIL_COMMUNES_APLATS:
        return "commune"
    if communes["siren_epci"].nunique() <= SEUIL_EPCI_APLATS:
        return "EPCI"
    return "département"


def _unites(communes, departements, referentiel, niveau: str) -> gpd.GeoDataFrame:
    """Les aplats au niveau choisi : participations et population sommées sur les communes du
    territoire (un EPCI à cheval compte ses seules communes du territoire)."""
    colonnes = ["code", "nom", "participations", "population", "geometry"]
    if niveau == "commune":
        return communes.rename(columns={"insee_com": "code", "nom_com": "nom"})[colonnes].reset_index(
            drop=True
        )
    cle, contours, colonne_nom = (
        ("siren_epci", referentiel.epci, "nom_epci")
        if niveau == "EPCI"
        else ("insee_dep", departements, "nom_dep")
    )
    sommes = communes.groupby(cle)[["participations", "population"]].sum(min_count=1)
    unites = contours[[cle, colonne_nom, "geometry"]].merge(sommes, left_on=cle, right_index=True)
    unites["participations"] = unites["participations"].fillna(0).astype("int64")
    return unites.rename(columns={cle: "code", colonne_nom: "nom"})[colonnes].reset_index(drop=True)


def _en_points(qpv: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Les QPV réduits à un point intérieur (WGS84, 1e-5 degré) : à l'échelle nationale, les
    périmètres ne se voient plus et pèseraient trop."""
    points = qpv.assign(geometry=qpv.geometry.representative_point()).to_crs("EPSG:4326")
    points["geometry"] = shapely.transform(points.geometry.array, lambda xy: np.round(xy, 5))
    return points


def _qpv_avec_seances(qpv: gpd.GeoDataFrame, situee, referentiel, territoire) -> gpd.GeoDataFrame:
    comptes = couverture_qpv(situee, referentiel, territoire).set_index("code_qp")
    qpv = qpv[["code_qp", "lib_qp", "lib_com", "geometry"]]
    return qpv.join(comptes[["seances_dedans", "seances_proximite", "atteinte", "population"]], on="code_qp")


def _alleger(
    table: gpd.GeoDataFrame, couverture: bool, tolerance_m: float = TOLERANCE_M, decimales: int = 5
) -> gpd.GeoDataFrame:
    """Simplifie en mètres (EPSG:2154), passe en WGS84 et arrondit (1e-5 degré : environ 1 m ;
    1e-4 : environ 10 m, bien en deçà de la simplification des aplats et des limites)."""
    geometries = np.asarray(table.geometry.array)
    if couverture and hasattr(shapely, "coverage_simplify"):
        geometries = shapely.coverage_simplify(geometries, tolerance_m)
    else:
        geometries = shapely.simplify(geometries, tolerance_m / 4, preserve_topology=True)
    allegee = gpd.GeoDataFrame(table.drop(columns="geometry"), geometry=geometries, crs=table.crs)
    allegee = allegee.to_crs("EPSG:4326")
    allegee["geometry"] = shapely.transform(allegee.geometry.array, lambda xy: np.round(xy, decimales))
    return allegee


def _couleur(taux: float, classes) -> str:
    if pd.isna(taux):
        return COULEUR_SANS_DONNEE
    if taux == 0:
        return COULEUR_ZERO
    for rang, (_, fin) in enumerate(classes):
        if taux <= fin:
            return COULEURS_CLASSES[rang]
    return COULEURS_CLASSES[len(classes) - 1]


def _libelle_classe(rang: int, debut: float, fin: float) -> str:
    if rang == 0:
        return f"{format_nombre(debut, 1)} à {format_nombre(fin, 1)}"
    return f"plus de {format_nombre(debut, 1)} à {format_nombre(fin, 1)}"


def _rayons(participations: pd.Series) -> pd.Series:
    """Rayon en pixels : l'aire du cercle est proportionnelle au nombre de participations."""
    maximum = participations.max()
    if not maximum or maximum <= 0:
        return participations * 0.0
    return RAYON_MAX_PX * np.sqrt(participations / maximum)


def _geojson(table: gpd.GeoDataFrame, proprietes: dict[str, pd.Series]) -> dict:
    entites = []
    for rang, geometrie in enumerate(table.geometry):
        entites.append(
            {
                "type": "Feature",
                "properties": {nom: valeurs.iloc[rang] for nom, valeurs in proprietes.items()},
                "geometry": shapely.geometry.mapping(geometrie),
            }
        )
    return {"type": "FeatureCollection", "features": entites}


def _echapper(valeurs: pd.Series) -> pd.Series:
    return valeurs.fillna("").astype(str).map(html.escape)


def _couche_aplats(unites, niveau: str, classes) -> folium.GeoJson:
    donnees = _geojson(
        unites,
        {
            "nom": _echapper(unites["nom"] + " (" + unites["code"] + ")"),
            "participations": unites["participations"].map(format_nombre),
            "population": unites["population"].map(format_nombre),
            "taux": unites["taux"].map(lambda t: format_nombre(t, 1)),
            "couleur": unites["taux"].map(lambda v: _couleur(v, classes)),
        },
    )
    return folium.GeoJson(
        donnees,
        name=f"Participations pour 10 000 habitants ({niveau} d'origine)",
        style_function=lambda f: {
            "fillColor": f["properties"]["couleur"],
            "fillOpacity": 0.75,
            "color": "#ffffff",
            "weight": 0.6,
        },
        tooltip=folium.GeoJsonTooltip(
            ["nom", "participations", "population", "taux"],
            aliases=[niveau.capitalize(), "Participations", "Population municipale", "Pour 10 000 habitants"],
        ),
        smooth_factor=1.0,
    )


class _Cercles(folium.map.Layer):
    """Cercles proportionnels écrits comme données (un tableau JSON et une boucle), pas comme un
    objet folium chacun : environ 100 octets par cercle au lieu de 600, et un rendu immédiat."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.featureGroup();
        {{ this.donnees }}.forEach(function (c) {
            L.circleMarker([c.lat, c.lon], {{ this.style }}).setRadius(c.rayon)
                .bindTooltip(c.texte).addTo({{ this.get_name() }});
        });
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
    """)

    def __init__(self, nom: str, cercles: list[dict], contour: str, remplissage: str, opacite: float):
        super().__init__(name=nom, overlay=True, control=True, show=True)
        self._name = "Cercles"
        self.donnees = _json_compact(cercles)
        self.style = json.dumps(
            {"color": contour, "weight": 1, "fill": True, "fillColor": remplissage, "fillOpacity": opacite}
        )


def _cercle(point, rayon: float, texte: str) -> dict:
    return {"lat": round(point.y, 5), "lon": round(point.x, 5), "rayon": round(rayon, 2), "texte": texte}


def _couche_cercles(unites, niveau: str) -> _Cercles:
    atteintes = unites[unites["participations"] > 0].sort_values("participations", ascending=False)
    cercles = [
        _cercle(
            ligne.centre,
            float(rayon),
            f"{html.escape(str(ligne.nom))} : {format_nombre(ligne.participations)} participations",
        )
        for ligne, rayon in zip(atteintes.itertuples(), _rayons(atteintes["participations"]), strict=True)
    ]
    return _Cercles(
        f"Participations par {niveau} d'origine (cercles)", cercles, "#ffffff", COULEUR_CERCLES, 0.6
    )


def origines_hors_territoire(situee, referentiel) -> gpd.GeoDataFrame:
    """Départements d'origine hors du territoire : participations, demandes et un point.

    Parameters
    ----------
    situee : ActiviteSituee
        Activité rattachée.
    referentiel : Referentiel
        Référentiel (départements de France).

    Returns
    -------
    geopandas.GeoDataFrame
        ``insee_dep``, ``nom`` (« Paris (75) »), ``participations``, ``demandes`` et le point
        intérieur du département (EPSG:4326), les plus nombreux d'abord.
    """
    participations = situee.participations[~situee.participations["dans_territoire"].to_numpy(dtype=bool)]
    demandes = situee.demandes[~situee.demandes["dans_territoire"].to_numpy(dtype=bool)]
    par_dep = participations.groupby("code_departement")["nombre"].sum()
    demandes_par_dep = demandes["code_departement"].value_counts()
    departements = referentiel.departements_france
    departements = departements[
        departements["insee_dep"].isin(set(par_dep.index) | set(demandes_par_dep.index))
    ].copy()
    departements["participations"] = departements["insee_dep"].map(par_dep).fillna(0).astype("int64")
    departements["demandes"] = departements["insee_dep"].map(demandes_par_dep).fillna(0).astype("int64")
    departements["nom"] = departements["nom_dep"] + " (" + departements["insee_dep"] + ")"
    departements = departements.to_crs("EPSG:4326").sort_values(
        ["participations", "insee_dep"], ascending=[False, True]
    )
    return departements[["insee_dep", "nom", "participations", "demandes", "geometry"]].reset_index(drop=True)


def _couche_origines(origines: gpd.GeoDataFrame) -> _Cercles:
    cercles = [
        _cercle(
            ligne.geometry,
            max(float(rayon), 3.0),
            f"{html.escape(str(ligne.nom))} : {nombre_de(ligne.participations, 'participation')}, "
            f"{nombre_de(ligne.demandes, 'demande')}",
        )
        for ligne, rayon in zip(origines.itertuples(), _rayons(origines["participations"]), strict=True)
    ]
    return _Cercles(
        "Origines hors du territoire (par département)",
        cercles,
        couleurs.COMPTES_CONTOUR,
        COULEUR_CERCLES,
        0.35,
    )


def _couche_limites(table, nom, couleur, epaisseur, tirets) -> folium.GeoJson:
    return folium.GeoJson(
        _geojson(table, {}),
        name=nom,
        style_function=lambda f: {"color": couleur, "weight": epaisseur, "dashArray": tirets, "fill": False},
        interactive=False,
    )


def _couche_qpv(qpv, lien_fiches: str | None = None) -> folium.GeoJson:
    proprietes = {
        "nom": _echapper(qpv["lib_qp"]),
        "code": _echapper(qpv["code_qp"]),
        "communes": _echapper(qpv["lib_com"].str.replace(",", ", ")),
        "population": qpv["population"].map(
            lambda p: "inconnue" if pd.isna(p) else f"{format_nombre(p)} habitants"
        ),
        "dedans": qpv["seances_dedans"].map(format_nombre),
        "proximite": qpv["seances_proximite"].map(format_nombre),
    }
    if lien_fiches is not None:
        proprietes["fiche"] = _echapper(qpv["code_qp"]).map(
            lambda code: (
                f'<a href="{html.escape(lien_fiches)}{code}.html" target="_top">Ouvrir la fiche du quartier</a>'
            )
        )
    donnees = _geojson(qpv, proprietes)
    return folium.GeoJson(
        donnees,
        name="Quartiers prioritaires (QPV 2024)",
        style_function=lambda f: {
            "color": COULEUR_QPV,
            "weight": 2,
            "fillColor": couleurs.QPV_FOND,
            "fillOpacity": 0.12,
        },
        tooltip=folium.GeoJsonTooltip(
            ["nom", "code", "communes", "population", "dedans", "proximite"],
            aliases=["QPV", "Code", "Communes", "Population", "Séances dans le QPV", "Séances à proximité"],
        ),
        popup=folium.GeoJsonPopup(["nom", "fiche"], aliases=["QPV", "Fiche"])
        if lien_fiches is not None
        else None,
        # QPV réduits à des points (échelle nationale) : un petit cercle, pas l'épingle par défaut
        # de Leaflet, dont l'image viendrait d'internet.
        marker=folium.CircleMarker(radius=4) if (qpv.geom_type == "Point").all() and len(qpv) else None,
    )


class _LieuxRegroupes(folium.map.Layer):
    """Lieux des séances en cercles regroupés (Leaflet.markercluster), fenêtres en texte échappé."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.markerClusterGroup({
            maxClusterRadius: 40,
            iconCreateFunction: function (groupe) {
                var n = groupe.getChildCount(), taille = n < 10 ? 26 : (n < 100 ? 32 : 40);
                return L.divIcon({
                    html: '<div class="marqueur-groupe" style="width:' + taille + 'px;height:' + taille
                        + 'px;background:{{ this.couleur_groupes }}">' + n + '</div>',
                    className: "", iconSize: [taille, taille]
                });
            }
        });
        {{ this.donnees }}.forEach(function (lieu) {
            L.circleMarker([lieu.lat, lieu.lon], {
                radius: 7, color: "#222222", weight: 1.5, fillColor: lieu.couleur, fillOpacity: 0.9
            }).bindPopup(lieu.html, {maxWidth: 320}).addTo({{ this.get_name() }});
        });
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
    """)

    def __init__(self, seances: gpd.GeoDataFrame, unites: gpd.GeoDataFrame, niveau: str):
        lieux = (
            _lieux(seances)
            if _nombre_de_lieux(seances) <= SEUIL_LIEUX
            else _lieux_par_unite(seances, unites, niveau)
        )
        super().__init__(name="Lieux des séances", overlay=True, control=True, show=True)
        self._name = "LieuxSeances"
        self.donnees = _json_compact(lieux)
        self.couleur_groupes = couleurs.GROUPES


def _nombre_de_lieux(seances: gpd.GeoDataFrame) -> int:
    return len(set(zip(seances.geometry.x.round(5), seances.geometry.y.round(5), strict=True)))


SITUATIONS_COURTES = {
    "dans_qpv": "dans un QPV",
    "proximite_qpv": "à proximité d'un QPV",
    "hors_qpv": "hors QPV",
}
_CLE_DES_UNITES = {"commune": "code_commune", "EPCI": "siren_epci", "département": "insee_dep"}


def _lieux_par_unite(seances: gpd.GeoDataFrame, unites: gpd.GeoDataFrame, niveau: str) -> list[dict]:
    """Trop de lieux pour une carte : un marqueur par unité des aplats, au point de l'unité, qui
    compte ses séances par situation (sa couleur : la meilleure situation atteinte)."""
    centres = unites.set_index("code")
    noms = centres["nom"]
    comptes = pd.crosstab(seances[_CLE_DES_UNITES[niveau]], seances["situation_qpv"])
    participants = seances.groupby(_CLE_DES_UNITES[niveau])["participants"].sum()
    lieux = []
    for code, ligne in comptes.iterrows():
        if code not in centres.index:
            continue
        meilleure = next((s for s in COULEURS_LIEUX if ligne.get(s, 0) > 0), "")
        detail = ", ".join(
            f"{format_nombre(ligne[s])} {LIBELLES_LIEUX[s].lower()}"
            for s in COULEURS_LIEUX
            if ligne.get(s, 0) > 0
        )
        lieux.append(
            {
                "lat": round(centres.at[code, "centre"].y, 5),
                "lon": round(centres.at[code, "centre"].x, 5),
                "couleur": COULEURS_LIEUX.get(meilleure, "#999999"),
                "html": f"<strong>{html.escape(str(noms[code]))}</strong> ({html.escape(niveau)})"
                f"<br>{nombre_de(int(ligne.sum()), 'séance')}, {nombre_de(participants[code], 'participation')}"
                f"<br>{html.escape(detail)}",
            }
        )
    return lieux


def _lieux(seances: gpd.GeoDataFrame) -> list[dict]:
    """Un marqueur par lieu (coordonnées au 1e-5 degré) : ses séances, au plus ``SEANCES_PAR_LIEU``.

    La taille de la carte suit le nombre de lieux, pas celui des séances : un lieu qui accueille
    cent séances n'a qu'une fenêtre, qui liste les plus récentes et compte les autres.
    """
    if seances.empty:
        return []
    table = pd.DataFrame(
        {
            "lat": seances.geometry.y.round(5).to_numpy(),
            "lon": seances.geometry.x.round(5).to_numpy(),
            "date": seances["date"].to_numpy(),
            "intitule": seances["intitule"].fillna("").astype(str).to_numpy(),
            "nom_com": seances["nom_com"].fillna("").astype(str).to_numpy(),
            "lieu": seances["lieu"].fillna("").astype(str).to_numpy(),
            "situation": seances["situation_qpv"].astype(str).to_numpy(),
            "participants": seances["participants"].astype("int64").to_numpy(),
        }
    ).sort_values(["lat", "lon", "date", "intitule"], ascending=[True, True, False, True], kind="stable")
    lieux = []
    for (lat, lon), groupe in table.groupby(["lat", "lon"], sort=True):
        premiere = groupe.iloc[0]
        nom = premiere["lieu"] or premiere["nom_com"]
        lignes = "".join(
            f"<li>{ligne.date:%d/%m/%Y} · {html.escape(ligne.intitule)} : "
            f"{format_nombre(ligne.participants)} participations</li>"
            for ligne in groupe.head(SEANCES_PAR_LIEU).itertuples()
        )
        reste = len(groupe) - SEANCES_PAR_LIEU
        fenetre = (
            f"<strong>{html.escape(nom)}</strong> ({html.escape(premiere['nom_com'])})"
            f"<br>{html.escape(LIBELLES_LIEUX.get(premiere['situation'], ''))}"
            f"<br>{nombre_de(len(groupe), 'séance')}, {nombre_de(groupe['participants'].sum(), 'participation')}"
            f"<ul class='seances-lieu'>{lignes}</ul>"
            + (f"<em>… et {nombre_de(reste, 'autre séance', 'autres séances')}</em>" if reste > 0 else "")
        )
        lieux.append(
            {
                "lat": float(lat),
                "lon": float(lon),
                "couleur": COULEURS_LIEUX.get(premiere["situation"], "#999999"),
                "html": fenetre,
            }
        )
    return lieux


class _EchelleMetrique(MacroElement):
    _template = Template("""
        {% macro script(this, kwargs) %}
        L.control.scale({metric: true, imperial: false, position: "bottomright"}).addTo({{ this._parent.get_name() }});
        {% endmacro %}
    """)


class _Cadrage(MacroElement):
    """Cadre la carte sur le territoire en laissant libre la place de la légende ouverte (à gauche,
    sur un écran large) ; sur un téléphone, la légende démarre repliée."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function (carte) {
            var legende = document.getElementById("legende-carte");
            if (legende && window.innerWidth < 700) { legende.open = false; }
            var large = legende && legende.open ? legende.offsetWidth + 24 : 12;
            carte.fitBounds({{ this.cadre }}, {paddingTopLeft: [large, 44], paddingBottomRight: [12, 24]});
        })({{ this._parent.get_name() }});
        {% endmacro %}
    """)

    def __init__(self, cadre):
        super().__init__()
        self._name = "Cadrage"
        self.cadre = json.dumps(cadre)


class _Legende(MacroElement):
    """Titre de la carte et légende repliable : une entrée par couche (aplats, cercles emboîtés et
    étiquetés, QPV, situations des séances, groupes de lieux, origines hors du territoire) et
    les sources."""

    _template = Template("""
        {% macro html(this, kwargs) %}
        <div class="carte-titre"><span>{{ this.titre }}</span></div>
        <details class="legende-carte" id="legende-carte" open>
          <summary>Légende</summary>
          <div>
          <span class="titre">Participations pour 10 000 habitants</span>
          <div class="note">par {{ this.niveau }} d'origine ; populations municipales {{ this.millesime }} ; classes de Fisher-Jenks</div>
          {% for couleur, texte in this.entrees %}
          <div><span class="case" style="background:{{ couleur }}"></span>{{ texte }}</div>
          {% endfor %}
          {% if this.cercles %}<span class="titre">Participations (cercles proportionnels)</span>
          <div class="cercles">{{ this.cercles }}</div>{% endif %}
          <div><span class="case" style="background:{{ this.qpv_fond }};border:2px solid {{ this.qpv }}"></span>Périmètre d'un QPV 2024</div>
          <span class="titre">Lieux des séances</span>
          {% for couleur, texte in this.lieux %}
          <div><span class="rond" style="background:{{ couleur }}"></span>{{ texte }}</div>
          {% endfor %}
          <div><span class="groupe" style="background:{{ this.groupes }}">3</span>Plusieurs lieux proches (zoomer pour les séparer)</div>
          {% if this.origines %}<div><span class="rond" style="background:{{ this.origines_fond }};border:1.5px solid {{ this.origines_contour }}"></span>Participations venues de l'extérieur du territoire, par département</div>{% endif %}
          {% if this.non_places %}<div class="note">{{ this.non_places }}</div>{% endif %}
          <div class="note carte-sources">{{ this.sources }}</div>
          </div>
        </details>
        {% endmacro %}
    """)

    def __init__(
        self,
        classes,
        couches: _Couches,
        non_places: int,
        millesime_population: int,
        *,
        origines: bool,
        titre: str,
        sources: str,
    ):
        super().__init__()
        self._name = "Legende"
        self.titre = titre
        self.sources = typographier(sources)
        self.millesime = str(millesime_population or "")
        self.niveau = couches.niveau
        self.entrees = [(c, typographier(t)) for c, t in _entrees_legende(classes, couches.unites)]
        self.cercles = Markup(_svg_cercles(_cercles_legende(couches.unites)))
        presentes = set(couches.lieux["situation_qpv"])
        self.lieux = [(COULEURS_LIEUX[c], t) for c, t in LIBELLES_LIEUX.items() if c in presentes]
        self.qpv, self.qpv_fond = COULEUR_QPV, "rgba(26,26,26,.12)"
        self.groupes = couleurs.GROUPES
        self.origines = origines
        self.origines_fond, self.origines_contour = "rgba(204,121,167,.35)", couleurs.COMPTES_CONTOUR
        self.non_places = (
            typographier(
                f"{nombre_de(non_places, 'séance sans coordonnées, comptée', 'séances sans coordonnées, comptées')} "
                f"à la commune, {'ne figure' if non_places < 2 else 'ne figurent'} pas sur la carte."
            )
            if non_places
            else ""
        )


def _svg_cercles(cercles: list[tuple[int, float]]) -> str:
    """Cercles de légende emboîtés (le plus grand d'abord, posés sur la même ligne), chacun
    étiqueté à droite par un trait qui part de son sommet."""
    if not cercles:
        return ""
    grand = max(r for _, r in cercles)
    largeur, hauteur = 2 * grand + 90, 2 * grand + 8
    base = hauteur - 3
    morceaux = [
        f'<svg width="{largeur:.0f}" height="{hauteur:.0f}" role="img" aria-label="Cercles de légende">'
    ]
    for valeur_cercle, rayon in sorted(cercles, key=lambda c: -c[1]):
        cx, sommet = grand + 2, base - 2 * rayon
        morceaux.append(
            f'<circle cx="{cx:.1f}" cy="{base - rayon:.1f}" r="{rayon:.1f}" fill="rgba(204,121,167,.55)" '
            f'stroke="{couleurs.COMPTES_CONTOUR}" stroke-width="1"/>'
            f'<line x1="{cx:.1f}" y1="{sommet:.1f}" x2="{2 * grand + 10:.1f}" y2="{sommet:.1f}" stroke="#555" stroke-width=".7"/>'
            f'<text x="{2 * grand + 13:.1f}" y="{sommet + 4:.1f}" font-size="11">{html.escape(format_nombre(valeur_cercle))}</text>'
        )
    morceaux.append("</svg>")
    return "".join(morceaux)


def _entrees_legende(classes, unites) -> list[tuple[str, str]]:
    entrees = [(COULEURS_CLASSES[i], _libelle_classe(i, d, f)) for i, (d, f) in enumerate(classes)]
    entrees.append((COULEUR_ZERO, "Aucune participation"))
    if unites["taux"].isna().any():
        entrees.append((COULEUR_SANS_DONNEE, "Pas de donnée (population inconnue)"))
    return entrees


def _cercles_legende(unites, ecart_min: float = 7.0) -> list[tuple[int, float]]:
    """Cercles de référence : la plus grande valeur dessinée, puis sa moitié et son dixième
    arrondis lisiblement ; un cercle dont le sommet serait à moins de ``ecart_min`` rayons
    (pixels) du précédent est omis, pour que les étiquettes ne se chevauchent pas."""
    maximum = int(unites["participations"].max())
    if maximum <= 0:
        return []
    valeurs = [maximum] + sorted(
        {_arrondi_lisible(maximum * f) for f in (0.5, 0.1)} - {0, maximum}, reverse=True
    )
    cercles: list[tuple[int, float]] = []
    for valeur_cercle in valeurs:
        rayon = RAYON_MAX_PX * float(np.sqrt(valeur_cercle / maximum))
        if not cercles or cercles[-1][1] - rayon >= ecart_min:
            cercles.append((valeur_cercle, rayon))
    return cercles


def _arrondi_lisible(valeur: float) -> int:
    if valeur < 10:
        return max(1, int(valeur))
    puissance = 10 ** int(np.floor(np.log10(valeur)))
    return int(valeur // puissance * puissance)


class _PageCarte(PageBranca):
    """La page d'une carte : langue, titre, repère de titre pour les lecteurs d'écran, feuille de
    style de l'Observatoire (légende, titre), puis ce que folium y met."""

    _template = Template(
        '<!DOCTYPE html>\n<html lang="fr">\n<head>\n<meta charset="utf-8">\n<title>{{ this.titre }}</title>\n'
        "{{ this.header.render(**kwargs) }}\n<style>{{ this.style }}</style>\n</head>\n<body>\n"
        '<h1 class="visuellement-cache" style="position:absolute;width:1px;height:1px;overflow:hidden;'
        'clip:rect(0 0 0 0)">{{ this.titre }}</h1>\n{{ this.html.render(**kwargs) }}\n</body>\n'
        "<script>\n{{ this.script.render(**kwargs) }}\n</script>\n</html>\n"
    )

    def __init__(self, titre: str):
        super().__init__()
        self.titre = html.escape(typographier(titre))
        self.style = feuille_de_style()


def html_carte(carte: folium.Map, titre: str = "Carte de l'activité du centre de ressources") -> str:
    """HTML autonome et reproductible d'une carte : ressources intégrées, identifiants stables.

    La page a une langue, un titre, et se laisse agrandir (folium interdit le zoom du navigateur,
    ce qui gêne les personnes malvoyantes : critère WCAG 1.4.4). Folium complète la carte à chaque
    rendu : rendre une seule fois chaque objet carte.
    """
    ancienne = cast(PageBranca, carte.get_root())
    page_carte = _PageCarte(titre)
    for nom, enfant in list(ancienne.header._children.items()):
        page_carte.header.add_child(enfant, name=nom)
    page_carte.add_child(carte)
    page = page_carte.render()
    # Le seul réglage de folium qu'aucune option ne change : son « viewport » interdit le zoom.
    page = re.sub(
        r'<meta name="viewport" content="[^"]*"\s*/?>',
        '<meta name="viewport" content="width=device-width, initial-scale=1.0">',
        page,
        count=1,
    )
    return _identifiants_stables(_geojson_compact(typographier_html(page)))


def _json_compact(donnees) -> str:
    """JSON sans espaces, sûr dans un ``<script>`` (``<``, ``>``, ``&``, ``'`` échappés)."""
    return str(htmlsafe_json_dumps(donnees, separators=(",", ":"), sort_keys=True, ensure_ascii=False))


def _geojson_compact(page: str) -> str:
    """Réécrit sans espaces les données que folium passe à ``…_add({...})`` (GeoJSON des aplats,
    limites, QPV) : même contenu, un dixième d'octets en moins. Chaque bloc est relu par le
    décodeur JSON, jamais découpé par motif."""
    decodeur = json.JSONDecoder()
    morceaux, position = [], 0
    for appel in re.finditer(r"_add\((?=\{)", page):
        if appel.end() < position:
            continue
        donnees, fin = decodeur.raw_decode(page, appel.end())
        morceaux += [page[position : appel.end()], _json_compact(donnees)]
        position = fin
    morceaux.append(page[position:])
    return "".join(morceaux)


def _ressources(partagees: bool = False) -> str:
    if partagees:
        return '<link rel="stylesheet" href="leaflet.css">\n<script src="leaflet.js"></script>'
    css, js = fichiers_leaflet()
    return f"<style>{css}</style>\n<script>{js}</script>"


def _identifiants_stables(page: str) -> str:
    numeros: dict[str, str] = {}

    def remplacer(correspondance: re.Match) -> str:
        return numeros.setdefault(correspondance[0], f"{len(numeros) + 1:04d}")

    return re.sub(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])", remplacer, page)


def ecrire_carte(
    carte: folium.Map,
    chemin: str | Path,
    titre: str = "Carte de l'activité du centre de ressources",
    navigation: Sequence[tuple[str, str]] = (),
) -> str:
    """Écrit la carte autonome (``carte.html``) et renvoie son HTML.

    Deux cartes construites sur les mêmes données donnent les mêmes octets. Folium modifie la
    carte en la rendant : rendre une fois par carte (utiliser le HTML renvoyé).

    Parameters
    ----------
    carte : folium.Map
    chemin : str or Path
    titre : str
    navigation : sequence of (str, str)
        Liens (adresse, libellé) posés en bandeau au-dessus de la carte écrite : ouverte seule
        (reçue par courriel), elle mène à l'index de l'année et au rapport. Le HTML renvoyé, que
        le rapport intègre dans son cadre, n'en a pas.
    """
    page = html_carte(carte, titre)
    chemin = Path(chemin)
    chemin.parent.mkdir(parents=True, exist_ok=True)
    chemin.write_text(_avec_navigation(page, navigation) if navigation else page, encoding="utf-8")
    return page


# Un bandeau d'une ligne (deux sur un téléphone) : la carte, son titre et sa légende
# commencent dessous.
_STYLE_NAVIGATION = (
    "<style>.obs-carte-navigation{position:absolute;top:0;left:0;right:0;height:2.4rem;z-index:1001;"
    "display:flex;gap:1.2rem;align-items:center;padding:0 .8rem;background:#fff;"
    "border-bottom:1px solid #c8ccd2;font:14px/1.3 system-ui,sans-serif;overflow-x:auto;"
    "white-space:nowrap}.obs-carte-navigation a{color:#0b4f8a}"
    ".folium-map{top:2.4rem!important;height:calc(100% - 2.4rem)!important}"
    ".carte-titre{top:calc(2.4rem + 8px)}.legende-carte{max-height:calc(100% - 2.4rem - 112px)}"
    # Sur un téléphone, le bandeau passe sur deux lignes plutôt que de cacher un lien.
    "@media (max-width:520px){.obs-carte-navigation{height:3.4rem;flex-wrap:wrap;align-content:center;"
    "row-gap:.15rem;column-gap:.9rem;font-size:13px;padding:0 .6rem;white-space:normal}"
    ".folium-map{top:3.4rem!important;height:calc(100% - 3.4rem)!important}"
    ".carte-titre{top:calc(3.4rem + 8px)}.legende-carte{max-height:calc(100% - 3.4rem - 112px)}}</style>"
)


def _avec_navigation(page: str, navigation: Sequence[tuple[str, str]]) -> str:
    liens = "".join(
        f'<a href="{html.escape(adresse)}">{html.escape(typographier(libelle))}</a>'
        for adresse, libelle in navigation
    )
    bandeau = f'<nav class="obs-carte-navigation" aria-label="Navigation">{liens}</nav>'
    page = page.replace("</head>", _STYLE_NAVIGATION + "</head>", 1)
    return re.sub(r"(<body[^>]*>)", lambda m: m[1] + bandeau, page, count=1)


def carte_statique(
    situee: ActiviteSituee,
    referentiel: Referentiel,
    territoire: str = SYNTHESE,
    *,
    titre: str | None = None,
    annee: int | None = None,
) -> Figure:
    """Carte PNG pour l'impression, mise en page comme un atlas : titre (territoire et année), carte
    cadrée sur le territoire en Lambert-93, légende encadrée hors de la carte (classes des taux,
    cercles emboîtés et étiquetés, QPV, situations des séances), barre d'échelle, sources.

    Mêmes règles que la carte interactive : taux pour 10 000 habitants en aplats (mêmes classes),
    participations en cercles proportionnels (aire ∝ compte), périmètres des QPV, lieux des séances.

    Returns
    -------
    matplotlib.figure.Figure
    """
    couches = _couches(situee, referentiel, territoire)
    classes = classes_des_taux(couches.unites["taux"])
    unites = couches.unites.to_crs(CRS_L93)
    centres = gpd.GeoSeries(couches.unites["centre"], crs="EPSG:4326").to_crs(CRS_L93)
    xmin, ymin, xmax, ymax = couches.departements.to_crs(CRS_L93).total_bounds
    marge = 0.03 * max(xmax - xmin, ymax - ymin)
    xmin, ymin, xmax, ymax = xmin - marge, ymin - marge, xmax + marge, ymax + marge
    largeur_carte = 6.6
    hauteur_carte = float(np.clip(largeur_carte * (ymax - ymin) / (xmax - xmin), 3.8, 6.0))
    largeur_carte = min(largeur_carte, hauteur_carte * (xmax - xmin) / (ymax - ymin))
    # Le cadre de la légende a la hauteur de la carte : assez haute pour toute la légende.
    hauteur_carte = max(hauteur_carte, _hauteur_legende_po(classes, couches))
    haut, bas, legende = 0.8, 0.55, 3.5
    figure = Figure(figsize=(largeur_carte + legende + 0.35, hauteur_carte + haut + bas), dpi=110)
    large, h = figure.get_size_inches()
    axe = figure.add_axes((0.12 / large, bas / h, largeur_carte / large, hauteur_carte / h))
    cadre_legende = figure.add_axes(
        ((largeur_carte + 0.25) / large, bas / h, (legende - 0.05) / large, hauteur_carte / h)
    )
    unites.plot(
        ax=axe, color=unites["taux"].map(lambda v: _couleur(v, classes)), edgecolor="#ffffff", linewidth=0.3
    )
    if len(couches.intercos):
        couches.intercos.to_crs(CRS_L93).plot(ax=axe, color="#555555", linewidth=0.7, linestyle="--")
    couches.departements.to_crs(CRS_L93).plot(ax=axe, color="#111111", linewidth=1.4)
    qpv = couches.qpv.to_crs(CRS_L93)
    if (qpv.geom_type == "Point").all():
        qpv.plot(ax=axe, color=COULEUR_QPV, markersize=4, zorder=3)
    else:
        qpv.plot(ax=axe, facecolor=(0.1, 0.1, 0.1, 0.12), edgecolor=COULEUR_QPV, linewidth=0.9, zorder=3)
    atteintes = unites[unites["participations"] > 0].sort_values("participations", ascending=False)
    if len(atteintes):
        axe.scatter(
            centres[atteintes.index].x,
            centres[atteintes.index].y,
            s=(2 * _rayons(atteintes["participations"]) * ECHELLE_CERCLES_PT) ** 2,
            color=COULEUR_CERCLES,
            alpha=0.6,
            edgecolor=couleurs.COMPTES_CONTOUR,
            linewidth=0.6,
            zorder=4,
        )
    lieux = couches.lieux.to_crs(CRS_L93)
    for situation, couleur in COULEURS_LIEUX.items():
        partie = lieux[lieux["situation_qpv"] == situation]
        if len(partie):
            partie.plot(ax=axe, color=couleur, markersize=13, edgecolor="#222222", linewidth=0.5, zorder=5)
    axe.set_xlim(xmin, xmax)
    axe.set_ylim(ymin, ymax)
    axe.set_aspect("equal")
    axe.set_axis_off()
    _barre_d_echelle(axe, xmin, xmax, ymin, ymax)
    _legende_statique(cadre_legende, classes, couches, lieux)
    figure.text(
        0.12 / large, 1 - 0.12 / h, typographier(titre or _titre_carte(referentiel, territoire, annee)),
        ha="left", va="top", fontsize=14, fontweight="bold",
    )  # fmt: skip
    sources = typographier(
        f"Sources : ANCT, QPV {referentiel.millesime_qpv} ; INSEE, COG {referentiel.millesime_cog}, populations "
        f"municipales {referentiel.millesime_population or ''} ; IGN ADMIN EXPRESS ; données du centre. "
        "Licence Ouverte 2.0. Projection Lambert-93."
    )
    # Repliée à la largeur de la figure (7 pt : environ 0,55 em par signe).
    signes = int((large - 0.3) * 72 / (8 * 0.55))
    figure.text(
        0.12 / large, 0.06 / h, "\n".join(textwrap.wrap(sources, signes)),
        fontsize=8, color="#444444", ha="left", va="bottom", linespacing=1.2,
    )  # fmt: skip
    return figure


CRS_L93 = "EPSG:2154"
ECHELLE_CERCLES_PT = 0.375  # rayon en points typographiques d'un cercle d'un pixel de rayon à l'écran


def _barre_d_echelle(axe, xmin, xmax, ymin, ymax) -> None:
    """Barre d'échelle en bas à gauche : environ un cinquième de la largeur, longueur ronde."""
    cible = (xmax - xmin) / 5
    puissance = 10 ** np.floor(np.log10(cible))
    longueur = max(m * puissance for m in (1, 2, 5) if m * puissance <= cible)
    x0, y0 = xmin + 0.04 * (xmax - xmin), ymin + 0.04 * (ymax - ymin)
    epaisseur = 0.008 * (ymax - ymin)
    axe.add_patch(
        Rectangle((x0, y0), longueur / 2, epaisseur, facecolor="#222222", edgecolor="#222222", zorder=6)
    )
    axe.add_patch(
        Rectangle(
            (x0 + longueur / 2, y0),
            longueur / 2,
            epaisseur,
            facecolor="#ffffff",
            edgecolor="#222222",
            zorder=6,
        )
    )
    texte = f"{format_nombre(longueur / 1000)} km" if longueur >= 1000 else f"{format_nombre(longueur)} m"
    axe.text(x0, y0 + 2.2 * epaisseur, "0", fontsize=8.5, ha="center", va="bottom", zorder=6)
    axe.text(
        x0 + longueur,
        y0 + 2.2 * epaisseur,
        typographier(texte),
        fontsize=8.5,
        ha="center",
        va="bottom",
        zorder=6,
    )


LIGNE_LEGENDE_PT = 16


def _hauteur_legende_po(classes, couches: _Couches) -> float:
    """La hauteur (pouces) que ``_legende_statique`` occupera, en lignes de légende."""
    lignes = 0.6 + 2.25 + len(_entrees_legende(classes, couches.unites)) + 0.4
    cercles = _cercles_legende(couches.unites)
    if cercles:
        lignes += 2.25 + 2 * cercles[0][1] * ECHELLE_CERCLES_PT / LIGNE_LEGENDE_PT + 1.1
        lignes += 0.85 * (len(cercles) - 1)
    lignes += 1.25 + 1 + len(COULEURS_LIEUX) + 0.5
    return lignes * LIGNE_LEGENDE_PT / 72


def _legende_statique(cadre, classes, couches: _Couches, lieux) -> None:
    """La légende dans son cadre, de haut en bas : taux, cercles emboîtés étiquetés, QPV, lieux."""
    cadre.set_xlim(0, 1)
    cadre.set_ylim(0, 1)
    cadre.set_xticks([])
    cadre.set_yticks([])
    for bord in cadre.spines.values():
        bord.set_edgecolor("#999999")
        bord.set_linewidth(0.8)
    hauteur_pt = cadre.get_window_extent().height / cadre.figure.dpi * 72
    ligne = LIGNE_LEGENDE_PT / hauteur_pt  # une ligne de légende, en fraction du cadre
    y = 1 - 0.6 * ligne

    largeur_pt = cadre.get_window_extent().width / cadre.figure.dpi * 72
    # Caractères d'un titre de légende sur une ligne du cadre (8,5 pt gras : ~0,6 em par signe).
    signes = max(16, int(0.9 * largeur_pt / (10 * 0.6)))

    def titre(texte: str) -> None:
        nonlocal y
        lignes = textwrap.wrap(typographier(texte), signes) or [""]
        cadre.text(0.05, y, "\n".join(lignes), fontsize=10, fontweight="bold", va="top", linespacing=1.15)
        y -= (0.25 + len(lignes)) * ligne

    def entree(texte: str, dessiner) -> None:
        nonlocal y
        dessiner(y - 0.45 * ligne)
        cadre.text(0.2, y - 0.45 * ligne, typographier(texte), fontsize=9.5, va="center")
        y -= ligne

    titre(f"Participations pour 10 000 hab. ({couches.niveau} d'origine)")
    for couleur, texte in _entrees_legende(classes, couches.unites):
        entree(texte, lambda yy, c=couleur: cadre.add_patch(
            Rectangle((0.05, yy - 0.3 * ligne), 0.1, 0.6 * ligne, facecolor=c, edgecolor="#999999", linewidth=0.6)
        ))  # fmt: skip
    y -= 0.4 * ligne
    cercles = _cercles_legende(couches.unites)
    if cercles:
        titre("Participations (cercles proportionnels)")
        grand_pt = cercles[0][1] * ECHELLE_CERCLES_PT
        base = y - 2 * grand_pt / hauteur_pt - 0.2 * ligne
        x_centre = 0.05 + grand_pt / (cadre.get_window_extent().width / cadre.figure.dpi * 72)
        etiquette_precedente = None
        for valeur_cercle, rayon in cercles:
            rayon_pt = rayon * ECHELLE_CERCLES_PT
            centre_y = base + rayon_pt / hauteur_pt
            cadre.scatter([x_centre], [centre_y], s=rayon_pt**2 * 4, color=COULEUR_CERCLES, alpha=0.6,
                          edgecolor=couleurs.COMPTES_CONTOUR, linewidth=0.6)  # fmt: skip
            sommet = base + 2 * rayon_pt / hauteur_pt
            # Chaque étiquette à au moins une ligne de la précédente : un trait la relie au sommet
            # de son cercle, même quand deux cercles ont des sommets proches.
            etiquette = (
                sommet if etiquette_precedente is None else min(sommet, etiquette_precedente - 0.85 * ligne)
            )
            cadre.plot([x_centre, 0.52, 0.6], [sommet, sommet, etiquette], color="#555555", linewidth=0.5)
            cadre.text(0.62, etiquette, format_nombre(valeur_cercle), fontsize=9, va="center")
            etiquette_precedente = etiquette
        y = min(base, etiquette_precedente or base) - 0.9 * ligne
    titre("Quartiers et lieux des séances")
    entree("Périmètre d'un QPV 2024", lambda yy: cadre.add_patch(
        Rectangle((0.05, yy - 0.3 * ligne), 0.1, 0.6 * ligne, facecolor=(0.1, 0.1, 0.1, 0.12), edgecolor=COULEUR_QPV)
    ))  # fmt: skip
    presentes = set(lieux["situation_qpv"])
    for situation, couleur in COULEURS_LIEUX.items():
        if situation in presentes:
            entree(LIBELLES_LIEUX[situation], lambda yy, c=couleur: cadre.scatter(
                [0.1], [yy], s=28, color=c, edgecolor="#222222", linewidth=0.5
            ))  # fmt: skip

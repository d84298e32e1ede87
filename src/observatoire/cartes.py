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

import base64
import html
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import xstatic.pkg.leaflet as xs_leaflet
import xstatic.pkg.leaflet_markercluster as xs_cluster
from branca.element import Element, MacroElement
from jinja2 import Template
from jinja2.utils import htmlsafe_json_dumps

from .formats import format_nombre
from .indicateurs import SYNTHESE, couverture_qpv, restreindre
from .jointures import ActiviteSituee
from .referentiel import Referentiel

__all__ = [
    "CarteAutonome",
    "carte_activite",
    "carte_statique",
    "ecrire_carte",
    "html_carte",
    "ressources_integrees",
]

COULEURS_CLASSES = ["#ffffcc", "#a1dab4", "#41b6c4", "#2c7fb8", "#253494"]  # YlGnBu, sûre
COULEUR_ZERO = "#e8e8e8"
COULEUR_SANS_DONNEE = "#ffffff"
COULEUR_ORIGINES = "#e69f00"  # orange Okabe-Ito, distinct des cercles du territoire
COULEUR_CERCLES = "#6a3d9a"
RAYON_MAX_PX = 26.0  # rayon du plus grand cercle ; l'aire des cercles est proportionnelle au compte
POUR_HABITANTS = 10_000
SEANCES_PAR_LIEU = 10
# Au-delà de ces nombres, une carte de synthèse pèserait des mégaoctets et ne se lirait plus :
# les aplats passent de la commune à l'EPCI puis au département, les QPV deviennent des points.
SEUIL_COMMUNES_APLATS = 1_500
SEUIL_EPCI_APLATS = 400
SEUIL_QPV_PERIMETRES = 400
VALEURS_JENKS_MAX = 1_000
SEUIL_LIEUX = 3_000  # au-delà, les lieux sont regroupés par unité des aplats (commune, EPCI…)
COULEUR_QPV = "#d95f02"
COULEURS_LIEUX = {"dans_qpv": "#d95f02", "proximite_qpv": "#7570b3", "hors_qpv": "#1b9e77"}
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
    classes = _classes(couches.unites["taux"])
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
    if territoire == SYNTHESE:
        _couche_origines(origines_hors_territoire(situee, referentiel)).add_to(carte)
    folium.LayerControl(collapsed=False).add_to(carte)
    perimetre = restreindre(situee.seances, "insee_dep", territoire)
    carte.add_child(
        _Legende(
            classes,
            couches,
            int((perimetre["precision"] == "commune").sum()),
            referentiel.millesime_population,
        )
    )
    ressources_integrees(carte)
    xmin, ymin, xmax, ymax = couches.departements.total_bounds
    carte.fit_bounds([[ymin, xmin], [ymax, xmax]])
    return carte


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
    return qpv.join(comptes[["seances_dedans", "seances_proximite", "atteinte"]], on="code_qp")


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


def _classes(taux: pd.Series) -> list[tuple[float, float]]:
    """Classes de Fisher-Jenks des taux positifs, bornes arrondies au dixième supérieur.

    Arrondir la borne haute vers le haut garde chaque commune dans la classe que la légende
    annonce : une commune à 12,34 est bien « jusqu'à 12,4 ».
    """
    positifs = taux[taux > 0].dropna().to_numpy(dtype=float)
    if len(positifs) == 0:
        return []
    if len(positifs) > VALEURS_JENKS_MAX:
        # Fisher-Jenks est quadratique : au-delà, il est calculé sur des quantiles régulièrement
        # espacés, ce qui reste déterministe.
        positifs = np.quantile(positifs, np.linspace(0, 1, VALEURS_JENKS_MAX))
    minimum, maximum = _dixieme_bas(positifs.min()), _dixieme_haut(positifs.max())
    k = min(len(COULEURS_CLASSES), len(np.unique(positifs)))
    if k <= 1:
        return [(minimum, maximum)]
    bornes = sorted({_dixieme_haut(b) for b in _fisher_jenks(positifs, k)})
    classes, debut = [], minimum
    for fin in bornes:
        classes.append((debut, fin))
        debut = fin
    return classes


def _fisher_jenks(valeurs: np.ndarray, k: int) -> np.ndarray:
    """Bornes hautes des ``k`` classes de Fisher-Jenks (seuils naturels optimaux).

    Même calcul, en float32 comme lui, que ``mapclassify.FisherJenks`` (un test compare les deux
    sur des milliers de séries), mais vectorisé par ligne de la programmation dynamique : 0,06 s
    au lieu de 1,7 s pour 1 000 valeurs, et sans importer scipy (2 s par noyau).
    """
    x = np.sort(np.asarray(valeurs, dtype="f8"))
    n = len(x)
    x32 = x.astype(np.float32)
    debut_optimal = np.zeros((n + 1, k + 1), dtype=np.int64)  # 1 + début de la dernière classe
    cout = np.zeros((n + 1, k + 1), dtype=np.float32)  # somme des variances intra-classes
    debut_optimal[1, 1:] = 1
    cout[2:, 1:] = np.inf
    for fin in range(2, n + 1):
        # variance[m - 1] : somme des carrés des écarts de x[fin - m : fin] (m valeurs), cumulées
        # de la droite vers la gauche comme dans la boucle de mapclassify.
        inverses = x32[fin - 1 :: -1]
        sommes = np.cumsum(inverses, dtype=np.float32)
        carres = np.cumsum(inverses * inverses, dtype=np.float32)
        variance = carres - (sommes * sommes) / np.arange(1, fin + 1, dtype=np.float32)
        for classe in range(2, k + 1):
            candidats = variance[: fin - 1] + cout[fin - 1 : 0 : -1, classe - 1]
            meilleur = candidats.min()
            # À égalité, le plus long dernier segment (le dernier candidat vu par mapclassify).
            m = fin - 1 - int(np.argmin(candidats[::-1] != meilleur))
            debut_optimal[fin, classe] = fin - m + 1
            cout[fin, classe] = meilleur
        debut_optimal[fin, 1] = 1
        cout[fin, 1] = variance[-1]
    bornes = np.empty(k)
    bornes[k - 1] = x[-1]
    fin = n
    for classe in range(k, 1, -1):
        pivot = int(debut_optimal[fin, classe])
        bornes[classe - 2] = x[pivot - 2]
        fin = pivot - 1
    return bornes


def _dixieme_haut(valeur: float) -> float:
    return float(np.ceil(round(valeur * 10, 6)) / 10)


def _dixieme_bas(valeur: float) -> float:
    return float(np.floor(round(valeur * 10, 6)) / 10)


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
            f"{html.escape(str(ligne.nom))} : {format_nombre(ligne.participations)} participation(s), "
            f"{format_nombre(ligne.demandes)} demande(s)",
        )
        for ligne, rayon in zip(origines.itertuples(), _rayons(origines["participations"]), strict=True)
    ]
    return _Cercles(
        "Origines hors du territoire (par département)", cercles, "#7a4b00", COULEUR_ORIGINES, 0.7
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
            "fillColor": COULEUR_QPV,
            "fillOpacity": 0.25,
        },
        tooltip=folium.GeoJsonTooltip(
            ["nom", "code", "communes", "dedans", "proximite"],
            aliases=["QPV", "Code", "Commune(s)", "Séances dans le QPV", "Séances à proximité"],
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
        var {{ this.get_name() }} = L.markerClusterGroup({maxClusterRadius: 40});
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
                f"<br>{format_nombre(int(ligne.sum()))} séance(s), {format_nombre(participants[code])} participations"
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
            f"<br>{len(groupe)} séance(s), {format_nombre(groupe['participants'].sum())} participations"
            f"<ul class='seances-lieu'>{lignes}</ul>"
            + (f"<em>… et {reste} autre(s) séance(s)</em>" if reste > 0 else "")
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


class _Legende(MacroElement):
    _template = Template("""
        {% macro html(this, kwargs) %}
        <div class="legende-carte" role="region" aria-label="Légende">
          <strong>Participations pour 10 000 habitants</strong>
          <div class="note">par {{ this.niveau }} d'origine ; populations municipales {{ this.millesime }}</div>
          {% for couleur, texte in this.entrees %}
          <div><span class="case" style="background:{{ couleur }}"></span>{{ texte }}</div>
          {% endfor %}
          {% if this.cercles %}<strong>Participations (aire des cercles)</strong>
          <div class="cercles">{% for diametre, texte in this.cercles %}
          <span class="cercle-legende"><span class="cercle" style="width:{{ diametre }}px;height:{{ diametre }}px"></span>{{ texte }}</span>
          {% endfor %}</div>{% endif %}
          <div><span class="case qpv"></span>Périmètre QPV 2024</div>
          {% for couleur, texte in this.lieux %}
          <div><span class="rond" style="background:{{ couleur }}"></span>{{ texte }}</div>
          {% endfor %}
          {% if this.non_places %}<div class="note">{{ this.non_places }}</div>{% endif %}
        </div>
        <style>
          .legende-carte {position:absolute; z-index:1000; bottom:24px; left:10px; background:#fff;
            padding:8px 10px; font:12px/1.5 system-ui,sans-serif; border-radius:4px;
            box-shadow:0 1px 4px rgba(0,0,0,.35); max-width:250px}
          .legende-carte .case {display:inline-block; width:14px; height:12px; margin-right:6px;
            border:1px solid #999; vertical-align:middle}
          .legende-carte .case.qpv {border:2px solid #d95f02; background:rgba(217,95,2,.25)}
          .legende-carte .rond {display:inline-block; width:12px; height:12px; border-radius:50%;
            border:1.5px solid #222; margin-right:6px; vertical-align:middle}
          .legende-carte .note {color:#555; font-size:11px; margin-top:4px}
          .legende-carte .cercles {display:flex; align-items:flex-end; gap:8px; margin:2px 0 4px}
          .legende-carte .cercle-legende {display:inline-flex; flex-direction:column; align-items:center}
          .legende-carte .cercle {display:inline-block; border-radius:50%; background:rgba(106,61,154,.6);
            border:1px solid #fff; box-shadow:0 0 0 1px #6a3d9a}
        </style>
        {% endmacro %}
    """)

    def __init__(self, classes, couches: _Couches, non_places: int, millesime_population: int):
        super().__init__()
        self._name = "Legende"
        self.millesime = str(millesime_population or "")
        self.niveau = couches.niveau
        self.entrees = _entrees_legende(classes, couches.unites)
        self.cercles = [
            (round(2 * rayon, 1), format_nombre(valeur)) for valeur, rayon in _cercles_legende(couches.unites)
        ]
        presentes = set(couches.lieux["situation_qpv"])
        self.lieux = [(COULEURS_LIEUX[c], t) for c, t in LIBELLES_LIEUX.items() if c in presentes]
        self.non_places = (
            f"{format_nombre(non_places)} séance(s) sans coordonnées, comptée(s) à la commune, "
            "ne figure(nt) pas sur la carte."
            if non_places
            else ""
        )


def _entrees_legende(classes, unites) -> list[tuple[str, str]]:
    entrees = [(COULEURS_CLASSES[i], _libelle_classe(i, d, f)) for i, (d, f) in enumerate(classes)]
    entrees.append((COULEUR_ZERO, "Aucune participation"))
    if unites["taux"].isna().any():
        entrees.append((COULEUR_SANS_DONNEE, "Pas de donnée (population inconnue)"))
    return entrees


def _cercles_legende(unites) -> list[tuple[int, float]]:
    """Trois cercles de référence (maximum, moitié, dixième), valeurs arrondies lisiblement."""
    maximum = int(unites["participations"].max())
    if maximum <= 0:
        return []
    valeurs = sorted({_arrondi_lisible(maximum * f) for f in (1.0, 0.5, 0.1)} - {0}, reverse=True)
    return [(v, RAYON_MAX_PX * float(np.sqrt(v / maximum))) for v in valeurs if v <= maximum]


def _arrondi_lisible(valeur: float) -> int:
    if valeur < 10:
        return max(1, int(valeur))
    puissance = 10 ** int(np.floor(np.log10(valeur)))
    return int(valeur // puissance * puissance)


def html_carte(carte: folium.Map, titre: str = "Carte de l'activité du centre de ressources") -> str:
    """HTML autonome et reproductible d'une carte : ressources intégrées, identifiants stables.

    La page a une langue, un titre, et se laisse agrandir (folium interdit le zoom du navigateur,
    ce qui gêne les personnes malvoyantes : critère WCAG 1.4.4). Folium complète la carte à chaque
    rendu : rendre une seule fois chaque objet carte.
    """
    page = carte.get_root().render()
    page = page.replace("<html>", '<html lang="fr">', 1)
    page = re.sub(
        r'<meta name="viewport" content="[^"]*"\s*/?>',
        lambda _: (
            f'<meta name="viewport" content="width=device-width, initial-scale=1.0">\n<title>{html.escape(titre)}</title>'
        ),
        page,
        count=1,
    )
    # Un titre de niveau 1 (masqué à l'écran, lu par les lecteurs d'écran) : la page a un repère.
    page = page.replace(
        "<body>",
        '<body>\n<h1 style="position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)">'
        f"{html.escape(titre)}</h1>",
        1,
    )
    return _identifiants_stables(_geojson_compact(page))


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


@lru_cache(maxsize=1)
def fichiers_leaflet() -> tuple[str, str]:
    """CSS (images en ``data:``) et JavaScript de Leaflet et MarkerCluster, sans carte source."""
    leaflet = Path(xs_leaflet.BASE_DIR)
    cluster = Path(xs_cluster.BASE_DIR)
    css = (leaflet / "leaflet.css").read_text(encoding="utf-8")
    css = re.sub(
        r"url\((?:\"|')?images/([\w.-]+\.png)(?:\"|')?\)", lambda m: _data_png(leaflet / "images" / m[1]), css
    )
    css += (cluster / "MarkerCluster.css").read_text(encoding="utf-8")
    css += (cluster / "MarkerCluster.Default.css").read_text(encoding="utf-8")
    js = (leaflet / "leaflet.js").read_text(encoding="utf-8")
    js += "\n" + (cluster / "leaflet.markercluster.js").read_text(encoding="utf-8")
    js = re.sub(r"//# sourceMappingURL=\S+", "", js)
    return css, js


def _ressources(partagees: bool = False) -> str:
    if partagees:
        return '<link rel="stylesheet" href="leaflet.css">\n<script src="leaflet.js"></script>'
    css, js = fichiers_leaflet()
    return f"<style>{css}</style>\n<script>{js}</script>"


def _data_png(chemin: Path) -> str:
    return f"url(data:image/png;base64,{base64.b64encode(chemin.read_bytes()).decode('ascii')})"


def _identifiants_stables(page: str) -> str:
    numeros: dict[str, str] = {}

    def remplacer(correspondance: re.Match) -> str:
        return numeros.setdefault(correspondance[0], f"{len(numeros) + 1:04d}")

    return re.sub(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])", remplacer, page)


def ecrire_carte(
    carte: folium.Map, chemin: str | Path, titre: str = "Carte de l'activité du centre de ressources"
) -> str:
    """Écrit la carte autonome (``carte.html``) et renvoie son HTML.

    Deux cartes construites sur les mêmes données donnent les mêmes octets. Folium modifie la
    carte en la rendant : rendre une fois par carte (utiliser le HTML renvoyé).
    """
    page = html_carte(carte, titre)
    chemin = Path(chemin)
    chemin.parent.mkdir(parents=True, exist_ok=True)
    chemin.write_text(page, encoding="utf-8")
    return page


def carte_statique(situee: ActiviteSituee, referentiel: Referentiel, territoire: str = SYNTHESE):
    """Carte PNG pour l'impression : mêmes règles que la carte interactive.

    Taux pour 10 000 habitants en aplats (mêmes classes), participations en cercles
    proportionnels (aire ∝ compte), périmètres QPV et lieux des séances.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Rectangle

    couches = _couches(situee, referentiel, territoire)
    unites, seances = couches.unites, couches.lieux
    classes = _classes(unites["taux"])
    figure = Figure(figsize=(10, 7.5), dpi=100)
    axe = figure.subplots()
    unites.plot(
        ax=axe, color=unites["taux"].map(lambda v: _couleur(v, classes)), edgecolor="#bbbbbb", linewidth=0.3
    )
    if len(couches.intercos):
        couches.intercos.plot(ax=axe, color="#444444", linewidth=0.8, linestyle="--")
    couches.departements.plot(ax=axe, color="#111111", linewidth=1.5)
    couches.qpv.plot(ax=axe, facecolor=(0.85, 0.37, 0.01, 0.3), edgecolor=COULEUR_QPV, linewidth=1)
    atteintes = unites[unites["participations"] > 0].sort_values("participations", ascending=False)
    # Rayon en points typographiques ; l'aire (markersize = rayon²) est proportionnelle au compte.
    echelle = 0.75
    if len(atteintes):
        axe.scatter(
            atteintes["centre"].x,
            atteintes["centre"].y,
            s=(_rayons(atteintes["participations"]) * echelle) ** 2,
            color=COULEUR_CERCLES,
            alpha=0.6,
            edgecolor="white",
            linewidth=0.6,
            zorder=4,
        )
    for situation, couleur in COULEURS_LIEUX.items():
        partie = seances[seances["situation_qpv"] == situation]
        if len(partie):
            partie.plot(ax=axe, color=couleur, markersize=14, edgecolor="#222222", linewidth=0.5, zorder=5)
    poignees: list = [
        Rectangle((0, 0), 1, 1, facecolor=c, edgecolor="#999999")
        for c, _ in _entrees_legende(classes, unites)
    ]
    libelles = [t for _, t in _entrees_legende(classes, unites)]
    for valeur_cercle, rayon in _cercles_legende(unites):
        poignees.append(
            Line2D(
                [],
                [],
                marker="o",
                linestyle="",
                markersize=2 * rayon * echelle,
                color=COULEUR_CERCLES,
                alpha=0.6,
            )
        )
        libelles.append(f"{format_nombre(valeur_cercle)} participations")
    poignees.append(Rectangle((0, 0), 1, 1, facecolor=(0.85, 0.37, 0.01, 0.3), edgecolor=COULEUR_QPV))
    libelles.append("Périmètre QPV 2024")
    for situation, couleur in COULEURS_LIEUX.items():
        if (seances["situation_qpv"] == situation).any():
            poignees.append(Line2D([], [], marker="o", linestyle="", color=couleur, markeredgecolor="#222"))
            libelles.append(LIBELLES_LIEUX[situation])
    axe.legend(
        poignees,
        libelles,
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
        fontsize=7.5,
        title=f"Participations pour 10 000 hab.\n({couches.niveau} d'origine)",
        title_fontsize=8,
        frameon=False,
        labelspacing=1.1,
    )
    axe.set_axis_off()
    axe.set_title("Activité et quartiers prioritaires", loc="left", fontsize=11, fontweight="bold")
    figure.text(
        0.01,
        0.01,
        f"Sources : ANCT QPV 2024 ; INSEE COG {referentiel.millesime_cog}, populations municipales "
        f"{referentiel.millesime_population or ''} ; IGN ADMIN EXPRESS "
        "(Licence Ouverte 2.0)",
        fontsize=6.5,
        color="#555555",
    )
    figure.set_layout_engine("tight")
    return figure

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
import warnings
from pathlib import Path

import folium
import geopandas as gpd
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import shapely
import xstatic.pkg.leaflet as xs_leaflet
import xstatic.pkg.leaflet_markercluster as xs_cluster
from branca.element import Element, MacroElement
from jinja2 import Template

from .graphiques import format_nombre
from .indicateurs import SYNTHESE, ActiviteSituee, compter_seances_par_qpv
from .referentiel import Referentiel

__all__ = ["carte_activite", "carte_statique", "ecrire_carte", "html_carte"]

COULEURS_CLASSES = ["#ffffcc", "#a1dab4", "#41b6c4", "#2c7fb8", "#253494"]  # YlGnBu, sûre
COULEUR_ZERO = "#e8e8e8"
COULEUR_QPV = "#d95f02"
COULEURS_LIEUX = {"dans_qpv": "#d95f02", "proximite_qpv": "#7570b3", "hors_qpv": "#1b9e77"}
LIBELLES_LIEUX = {
    "dans_qpv": "Séance dans un QPV",
    "proximite_qpv": "Séance à proximité d'un QPV",
    "hors_qpv": "Séance hors QPV",
}
TOLERANCE_M = 40.0


class _CarteAutonome(folium.Map):
    default_js: list = []
    default_css: list = []


def carte_activite(
    situee: ActiviteSituee, referentiel: Referentiel, territoire: str = SYNTHESE
) -> folium.Map:
    """Carte de l'activité d'un territoire (un département ou la synthèse).

    Couches : participations par commune d'origine (classes de Fisher-Jenks, zéro distingué),
    périmètres QPV 2024 (infobulle : nom, code, communes, séances dedans et à proximité),
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

    Returns
    -------
    folium.Map
        Carte à écrire avec ``ecrire_carte`` (HTML autonome et reproductible).
    """
    communes, qpv, intercos, departements, seances = _couches(situee, referentiel, territoire)
    classes = _classes(communes["participations"])
    carte = _CarteAutonome(location=None, tiles=None, control_scale=False, prefer_canvas=True)
    carte.add_child(_EchelleMetrique())
    folium.TileLayer(
        "OpenStreetMap", name="Fond OpenStreetMap", attr="© contributeurs OpenStreetMap", control=True
    ).add_to(carte)
    _couche_communes(communes, classes).add_to(carte)
    _couche_limites(intercos, "Limites EPCI / EPT", "#444444", 1.5, "5 4").add_to(carte)
    _couche_limites(departements, "Contour départemental", "#111111", 3, None).add_to(carte)
    _couche_qpv(qpv).add_to(carte)
    carte.add_child(_LieuxRegroupes(seances))
    folium.LayerControl(collapsed=False).add_to(carte)
    perimetre = situee.seances
    if territoire != SYNTHESE:
        perimetre = perimetre[perimetre["insee_dep"] == territoire]
    carte.add_child(_Legende(classes, seances, int((perimetre["precision"] == "commune").sum())))
    carte.get_root().header.add_child(Element(_ressources()), name="ressources_integrees")
    xmin, ymin, xmax, ymax = departements.total_bounds
    carte.fit_bounds([[ymin, xmin], [ymax, xmax]])
    return carte


def _couches(situee, referentiel, territoire):
    communes = referentiel.communes
    qpv = referentiel.qpv
    departements = referentiel.departements
    seances = situee.seances
    participations = situee.participations
    if territoire != SYNTHESE:
        communes = communes[communes["insee_dep"] == territoire]
        qpv = qpv[qpv["insee_dep"] == territoire]
        departements = departements[departements["insee_dep"] == territoire]
        seances = seances[seances["insee_dep"] == territoire]
        participations = participations[participations["departement"] == territoire]
    par_commune = participations.groupby("code_commune_origine")["nombre"].sum()
    communes = communes[["insee_com", "nom_com", "nom_epci", "nom_ept", "n_qpv_2024", "geometry"]].copy()
    communes["participations"] = communes["insee_com"].map(par_commune).fillna(0).astype(int)
    communes = _alleger(communes, couverture=True)
    qpv = _alleger(_qpv_avec_seances(qpv, situee.seances), couverture=False)
    intercos = communes.assign(
        interco=communes["nom_ept"].where(communes["nom_ept"] != "", communes["nom_epci"])
    )
    intercos = intercos.dissolve("interco", as_index=False)[["interco", "geometry"]]
    intercos["geometry"] = intercos.geometry.boundary
    departements = _alleger(departements[["insee_dep", "nom_dep", "geometry"]].copy(), couverture=True)
    departements["geometry"] = departements.geometry.boundary
    lieux = seances[seances["precision"] == "coordonnees"].to_crs("EPSG:4326")
    return communes, qpv, intercos, departements, lieux


def _qpv_avec_seances(qpv: gpd.GeoDataFrame, seances: pd.DataFrame) -> gpd.GeoDataFrame:
    qpv = qpv[["code_qp", "lib_qp", "lib_com", "geometry"]]
    return qpv.join(compter_seances_par_qpv(seances, qpv["code_qp"]))


def _alleger(table: gpd.GeoDataFrame, couverture: bool) -> gpd.GeoDataFrame:
    """Simplifie en mètres (EPSG:2154), passe en WGS84 et arrondit à 1e-5 degré."""
    geometries = np.asarray(table.geometry.array)
    if couverture and hasattr(shapely, "coverage_simplify"):
        geometries = shapely.coverage_simplify(geometries, TOLERANCE_M)
    else:
        geometries = shapely.simplify(geometries, TOLERANCE_M / 4, preserve_topology=True)
    allegee = gpd.GeoDataFrame(table.drop(columns="geometry"), geometry=geometries, crs=table.crs)
    allegee = allegee.to_crs("EPSG:4326")
    allegee["geometry"] = shapely.transform(allegee.geometry.array, lambda xy: np.round(xy, 5))
    return allegee


def _classes(valeurs: pd.Series) -> list[tuple[int, int]]:
    positives = valeurs[valeurs > 0].to_numpy()
    if len(positives) == 0:
        return []
    k = min(len(COULEURS_CLASSES), len(np.unique(positives)))
    if k <= 1:
        return [(int(positives.min()), int(positives.max()))]
    import mapclassify  # import coûteux (scipy) : seulement quand une carte est dessinée

    with warnings.catch_warnings():
        # Sans numba, mapclassify prévient qu'il calcule en Python pur : quelques centaines de
        # communes au plus, c'est instantané.
        warnings.simplefilter("ignore", UserWarning)
        bornes = mapclassify.FisherJenks(positives, k=k).bins.astype(int)
    classes, debut = [], int(positives.min())
    for fin in bornes:
        classes.append((debut, int(fin)))
        debut = int(fin) + 1
    return classes


def _couleur(valeur: float, classes) -> str:
    if pd.isna(valeur):
        return "#ffffff"
    if valeur == 0:
        return COULEUR_ZERO
    for rang, (_, fin) in enumerate(classes):
        if valeur <= fin:
            return COULEURS_CLASSES[rang]
    return COULEURS_CLASSES[len(classes) - 1]


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


def _couche_communes(communes, classes) -> folium.GeoJson:
    donnees = _geojson(
        communes,
        {
            "nom": _echapper(communes["nom_com"] + " (" + communes["insee_com"] + ")"),
            "participations": communes["participations"].map(format_nombre),
            "couleur": communes["participations"].map(lambda v: _couleur(v, classes)),
        },
    )
    return folium.GeoJson(
        donnees,
        name="Participations par commune d'origine",
        style_function=lambda f: {
            "fillColor": f["properties"]["couleur"],
            "fillOpacity": 0.75,
            "color": "#ffffff",
            "weight": 0.6,
        },
        tooltip=folium.GeoJsonTooltip(["nom", "participations"], aliases=["Commune", "Participations"]),
        smooth_factor=1.0,
    )


def _couche_limites(table, nom, couleur, epaisseur, tirets) -> folium.GeoJson:
    return folium.GeoJson(
        _geojson(table, {}),
        name=nom,
        style_function=lambda f: {"color": couleur, "weight": epaisseur, "dashArray": tirets, "fill": False},
        interactive=False,
    )


def _couche_qpv(qpv) -> folium.GeoJson:
    donnees = _geojson(
        qpv,
        {
            "nom": _echapper(qpv["lib_qp"]),
            "code": _echapper(qpv["code_qp"]),
            "communes": _echapper(qpv["lib_com"].str.replace(",", ", ")),
            "dedans": qpv["seances_dedans"].map(format_nombre),
            "proximite": qpv["seances_proximite"].map(format_nombre),
        },
    )
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

    def __init__(self, seances: gpd.GeoDataFrame):
        super().__init__(name="Lieux des séances", overlay=True, control=True, show=True)
        self._name = "LieuxSeances"
        lieux = []
        for ligne in seances.itertuples():
            fenetre = (
                f"<strong>{html.escape(str(ligne.intitule))}</strong><br>"
                f"{ligne.date:%d/%m/%Y} · {html.escape(str(ligne.nom_com))}"
                + (f" · {html.escape(str(ligne.lieu))}" if str(ligne.lieu) else "")
                + f"<br>{html.escape(LIBELLES_LIEUX.get(ligne.situation_qpv, ''))}"
                + f"<br>{format_nombre(ligne.participants)} participant·es"
            )
            lieux.append(
                {
                    "lat": round(ligne.geometry.y, 5),
                    "lon": round(ligne.geometry.x, 5),
                    "couleur": COULEURS_LIEUX.get(ligne.situation_qpv, "#999999"),
                    "html": fenetre,
                }
            )
        self.donnees = json.dumps(lieux, ensure_ascii=False).replace("</", "<\\/")


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
          <strong>Participations par commune d'origine</strong>
          {% for couleur, texte in this.entrees %}
          <div><span class="case" style="background:{{ couleur }}"></span>{{ texte }}</div>
          {% endfor %}
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
        </style>
        {% endmacro %}
    """)

    def __init__(self, classes, seances, non_places: int):
        super().__init__()
        self._name = "Legende"
        entrees = [
            (
                COULEURS_CLASSES[i],
                f"{format_nombre(debut)} à {format_nombre(fin)}" if debut != fin else format_nombre(debut),
            )
            for i, (debut, fin) in enumerate(classes)
        ]
        self.entrees = entrees + [(COULEUR_ZERO, "Aucune participation")]
        presentes = set(seances["situation_qpv"])
        self.lieux = [(COULEURS_LIEUX[c], t) for c, t in LIBELLES_LIEUX.items() if c in presentes]
        self.non_places = (
            f"{format_nombre(non_places)} séance(s) sans coordonnées, comptée(s) à la commune, "
            "ne figure(nt) pas sur la carte."
            if non_places
            else ""
        )


def html_carte(carte: folium.Map) -> str:
    """HTML autonome et reproductible d'une carte : ressources intégrées, identifiants stables.

    Folium complète la carte à chaque rendu : rendre une seule fois chaque objet carte.
    """
    page = carte.get_root().render()
    page = page.replace("<html>", '<html lang="fr">', 1)
    return _identifiants_stables(page)


def _ressources() -> str:
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
    return f"<style>{css}</style>\n<script>{js}</script>"


def _data_png(chemin: Path) -> str:
    return f"url(data:image/png;base64,{base64.b64encode(chemin.read_bytes()).decode('ascii')})"


def _identifiants_stables(page: str) -> str:
    numeros: dict[str, str] = {}

    def remplacer(correspondance: re.Match) -> str:
        return numeros.setdefault(correspondance[0], f"{len(numeros) + 1:04d}")

    return re.sub(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])", remplacer, page)


def ecrire_carte(carte: folium.Map, chemin: str | Path) -> str:
    """Écrit la carte autonome (``carte.html``) et renvoie son HTML.

    Deux cartes construites sur les mêmes données donnent les mêmes octets. Folium modifie la
    carte en la rendant : rendre une fois par carte (utiliser le HTML renvoyé).
    """
    page = html_carte(carte)
    chemin = Path(chemin)
    chemin.parent.mkdir(parents=True, exist_ok=True)
    chemin.write_text(page, encoding="utf-8")
    return page


def carte_statique(
    situee: ActiviteSituee, referentiel: Referentiel, territoire: str = SYNTHESE
) -> plt.Figure:
    """Carte PNG pour l'impression et le rapport annuel (mêmes classes que la carte interactive)."""
    communes, qpv, intercos, departements, seances = _couches(situee, referentiel, territoire)
    classes = _classes(communes["participations"])
    figure, axe = plt.subplots(figsize=(8, 8), dpi=120)
    communes.assign(couleur=communes["participations"].map(lambda v: _couleur(v, classes))).plot(
        ax=axe,
        color=communes["participations"].map(lambda v: _couleur(v, classes)),
        edgecolor="white",
        linewidth=0.3,
    )
    intercos.plot(ax=axe, color="#444444", linewidth=0.8, linestyle="--")
    departements.plot(ax=axe, color="#111111", linewidth=1.5)
    qpv.plot(ax=axe, facecolor=(0.85, 0.37, 0.01, 0.3), edgecolor=COULEUR_QPV, linewidth=1)
    for situation, couleur in COULEURS_LIEUX.items():
        partie = seances[seances["situation_qpv"] == situation]
        if len(partie):
            partie.plot(
                ax=axe,
                color=couleur,
                markersize=22,
                edgecolor="#222222",
                linewidth=0.6,
                label=LIBELLES_LIEUX[situation],
            )
    poignees = [plt.Rectangle((0, 0), 1, 1, color=COULEURS_CLASSES[i]) for i in range(len(classes))]
    libelles = [f"{format_nombre(d)} à {format_nombre(f)}" for d, f in classes]
    poignees += [
        plt.Rectangle((0, 0), 1, 1, color=COULEUR_ZERO),
        plt.Rectangle((0, 0), 1, 1, facecolor=(0.85, 0.37, 0.01, 0.3), edgecolor=COULEUR_QPV),
    ]
    libelles += ["Aucune participation", "Périmètre QPV 2024"]
    for situation, couleur in COULEURS_LIEUX.items():
        if (seances["situation_qpv"] == situation).any():
            poignees.append(
                plt.Line2D([], [], marker="o", linestyle="", color=couleur, markeredgecolor="#222")
            )
            libelles.append(LIBELLES_LIEUX[situation])
    axe.legend(
        poignees,
        libelles,
        loc="lower left",
        fontsize=7.5,
        title="Participations par commune",
        title_fontsize=8,
        frameon=True,
    )
    axe.set_axis_off()
    axe.set_title("Activité et quartiers prioritaires", loc="left", fontsize=11, fontweight="bold")
    figure.text(
        0.01,
        0.01,
        "Sources : ANCT QPV 2024 ; INSEE COG 2024 ; IGN ADMIN EXPRESS (Licence Ouverte 2.0)",
        fontsize=6.5,
        color="#555555",
    )
    figure.tight_layout()
    return figure

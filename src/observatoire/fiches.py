"""Fiche d'un quartier prioritaire : la page qu'une chargée de mission ouvre avant de rencontrer
une ville.

Pour un QPV : son périmètre et ses voisins sur une carte, les séances tenues dedans ou à moins de
D mètres (dates, actions, distance), les participations venues de sa ou ses communes, les lieux
du centre les plus proches, et sa place parmi les QPV de son département. ``FicheQPV`` donne
chaque section (notebook ``fiche_qpv.ipynb``) et la page entière (``ecrire_fiches``).
"""

from __future__ import annotations

import html
import json
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from markupsafe import Markup

from .commun import ecrire_atomique
from .erreurs import ErreurParametre
from .exploration import seances_du_qpv
from .formats import format_nombre, format_part
from .gabarits import paragraphe, rendre
from .graphiques import tableau_html
from .indicateurs import couverture_qpv
from .jointures import ActiviteSituee
from .referentiel import Referentiel, echelle_lambert93
from .vocabulaires import libelle

__all__ = ["FicheQPV", "ecrire_fiches"]

RAYON_VOISINAGE_M = 3_000.0  # voisins et lieux montrés sur la carte de la fiche
LIEUX_PROCHES = 5


class FicheQPV:
    """Les sections de la fiche d'un QPV (chacune est une ``Section`` affichable).

    Parameters
    ----------
    situee : ActiviteSituee
        Activité rattachée de l'année.
    referentiel : Referentiel
        Référentiel du territoire du centre.
    code_qp : str
        Code du QPV (``QN09531M``).
    leaflet_partage : bool
        La carte charge ``leaflet.js`` posé à côté de la page (fiches écrites par lot) au lieu de
        le contenir (fiche affichée seule).
    """

    def __init__(
        self, situee: ActiviteSituee, referentiel: Referentiel, code_qp: str, leaflet_partage: bool = False
    ):
        self._initialiser(_Alentours(situee, referentiel), code_qp, leaflet_partage)

    @classmethod
    def _du_lot(cls, alentours: _Alentours, code_qp: str) -> FicheQPV:
        """Une fiche écrite par lot : les calculs communs à toutes les fiches sont faits une fois."""
        fiche = cls.__new__(cls)
        fiche._initialiser(alentours, code_qp, leaflet_partage=True)
        return fiche

    def _initialiser(self, alentours: _Alentours, code_qp: str, leaflet_partage: bool) -> None:
        situee, referentiel = alentours.situee, alentours.referentiel
        qpv = referentiel.qpv
        trouve = qpv[qpv["code_qp"] == str(code_qp).strip().upper()]
        if trouve.empty:
            raise ErreurParametre(
                f"QPV inconnu du référentiel : {code_qp!r}. Un code QPV 2024 s'écrit QN + département + "
                "numéro, par exemple QN09531M."
            )
        self.situee, self.referentiel, self._alentours = situee, referentiel, alentours
        # Distances au sol : Lambert-93 est corrigé de son échelle hors métropole.
        self._echelle = float(echelle_lambert93([trouve.geometry.iloc[0].representative_point()])[0])
        self.qpv = trouve.iloc[0]
        self.code = str(self.qpv["code_qp"])
        self.departement = str(self.qpv["insee_dep"])
        self.communes = [c.strip() for c in str(self.qpv.get("insee_com", "")).split(",") if c.strip()]
        self.seances = seances_du_qpv(situee, self.code)
        self.leaflet_partage = leaflet_partage

    # ---------------------------------------------------------------- sections
    def titre(self):
        """Titre de la fiche : nom, code, communes, département."""
        from .rapport import Section

        communes = str(self.qpv.get("lib_com", "")).replace(",", ", ")
        return Section(
            _morceau("titre", str(self.qpv["lib_qp"]), self.code, communes, self.departement, self._annee())
        )

    def chiffres_cles(self):
        """Séances dedans et à proximité, participations des communes du QPV, rang départemental."""
        from .rapport import Section

        dedans = int((self.seances["distance_qpv_m"] == 0).sum())
        proches = int((self.seances["distance_qpv_m"] > 0).sum())
        rang, total = self._rang()
        cartes = [
            (format_nombre(dedans), "séances dans le quartier"),
            (
                format_nombre(proches),
                f"séances à moins de {format_nombre(self.situee.distance_proximite_m)} m",
            ),
            (
                format_nombre(self._participations_par_public().sum()),
                "participations venues de sa ou ses communes",
            ),
            (f"{rang} / {total}", "rang parmi les QPV du département (séances dedans et à proximité)"),
        ]
        return Section(rendre("chiffres_cles.html.j2", cartes=cartes))

    def carte(self):
        """Le périmètre, les QPV voisins, l'anneau de proximité et les lieux du centre alentour."""
        from .rapport import Section

        # Écrite en lot, la carte est un fichier à côté de la fiche (qui charge leaflet.js partagé) ;
        # affichée seule, elle est contenue dans la page.
        return Section(
            rendre(
                "carte.html.j2",
                titre=f"Carte du quartier {self.qpv['lib_qp']}",
                source=f"{self.code}.carte.html" if self.leaflet_partage else None,
                page="" if self.leaflet_partage else self.page_carte(),
                largeur_min=320,
                hauteur=460,
                statique="",
                liens=False,
            )
        )

    def seances_du_quartier(self):
        """Tableau des séances dans le QPV ou à moins de D mètres."""
        from .rapport import Section

        if self.seances.empty:
            return Section(
                paragraphe(
                    f"Aucune séance dans le quartier ni à moins de "
                    f"{format_nombre(self.situee.distance_proximite_m)} m en {self._annee()}."
                )
            )
        tableau = pd.DataFrame(
            {
                "Date": self.seances["date"].dt.strftime("%d/%m/%Y"),
                "Action": self.seances["intitule"],
                "Lieu": (self.seances["lieu"].where(self.seances["lieu"] != "", self.seances["nom_com"])),
                "Situation": self.seances["situation"],
                "Distance (m)": self.seances["distance_qpv_m"].map(format_nombre),
                "Participations": self.seances["participants"].map(format_nombre),
            }
        )
        return Section(
            tableau_html(
                tableau, f"Séances dans le quartier ou à proximité ({len(tableau)})", "donnees texte"
            )
        )

    def participations_des_communes(self):
        """Participations venues de la ou des communes du QPV, par public."""
        from .rapport import Section

        par_public = self._participations_par_public()
        total = par_public.sum()
        if not total:
            return Section(paragraphe("Aucune participation venue de la ou des communes du quartier."))
        par_public = par_public.sort_values(ascending=False)
        tableau = pd.DataFrame(
            {
                "Public": [libelle("public", p) for p in par_public.index],
                "Participations": par_public.map(format_nombre).to_numpy(),
                "Part": (par_public / total).map(format_part).to_numpy(),
            }
        )
        return Section(
            tableau_html(
                tableau,
                f"Participations venues de la ou des communes du quartier (sur {format_nombre(total)})",
            )
        )

    def lieux_proches(self):
        """Les lieux où le centre a tenu des séances, du plus proche au plus loin."""
        from .rapport import Section

        lieux = self._lieux_proches()
        if lieux.empty:
            return Section(paragraphe("Aucun lieu de séance placé par ses coordonnées."))
        tableau = pd.DataFrame(
            {
                "Lieu": lieux["nom"],
                "Commune": lieux["nom_com"],
                "Distance au quartier (m)": lieux["distance"].map(format_nombre),
                "Séances": lieux["seances"].map(format_nombre),
            }
        )
        return Section(
            tableau_html(tableau, f"Les {len(lieux)} lieux du centre les plus proches", "donnees texte")
        )

    def comparaison(self):
        """Le QPV parmi ceux de son département : séances dedans et à proximité."""
        from .rapport import Section

        table = self._classement
        montrees = table.head(5)
        if self.code not in set(montrees["code_qp"]):
            montrees = pd.concat([montrees, table[table["code_qp"] == self.code]])
        tableau = pd.DataFrame(
            {
                "Rang": montrees["rang"].map(format_nombre),
                "QPV": [
                    ("▶ " if c == self.code else "") + n
                    for c, n in zip(montrees["code_qp"], montrees["lib_qp"], strict=True)
                ],
                "Séances dedans": montrees["seances_dedans"].map(format_nombre),
                "Séances à proximité": montrees["seances_proximite"].map(format_nombre),
            }
        )
        atteints = int((table["atteinte"] != "non").sum())
        return Section(
            tableau_html(
                tableau, f"Parmi les {len(table)} QPV du département ({atteints} atteints)", "donnees texte"
            )
        )

    def page(self) -> str:
        """La fiche entière, page HTML autonome."""
        from .gabarits import rendre_page
        from .rapport import STYLE

        sections = [
            self.titre(),
            self.chiffres_cles(),
            self.carte(),
            self.seances_du_quartier(),
            self.participations_des_communes(),
            self.lieux_proches(),
            self.comparaison(),
        ]
        corps = STYLE + "".join(str(s) for s in sections) + _morceau("pied", self.referentiel.attribution)
        return rendre_page(f"Fiche QPV — {self.qpv['lib_qp']} ({self.code})", corps)

    # ---------------------------------------------------------------- calculs
    def _annee(self) -> str:
        return self._alentours.annee

    def _participations_par_public(self) -> pd.Series:
        """Participations venues de la ou des communes du QPV, sommées par public (ordre alphabétique)."""
        par_commune = self._alentours.participations_des_communes_des_qpv(self.departement)
        retenues = par_commune[par_commune.index.get_level_values(0).isin(self.communes)]
        return retenues.groupby(level=1).sum()

    @property
    def _classement(self) -> pd.DataFrame:
        return self._alentours.classement(self.departement)

    def _rang(self) -> tuple[int, int]:
        table = self._classement
        return int(table.loc[table["code_qp"] == self.code, "rang"].iloc[0]), len(table)

    def _lieux_proches(self) -> pd.DataFrame:
        lieux = self._alentours.lieux
        if lieux.empty:
            return pd.DataFrame(columns=["nom", "nom_com", "distance", "seances", "geometry"])
        forme = self.qpv.geometry
        candidats = _indices_des_plus_proches(lieux.sindex, forme, LIEUX_PROCHES, echelle=self._echelle)
        retenus = lieux.iloc[candidats]
        retenus = retenus.assign(
            distance=[round(forme.distance(g) / self._echelle) for g in retenus["geometry"]]
        )
        return (
            retenus.sort_values(["distance", "nom"], kind="stable").head(LIEUX_PROCHES).reset_index(drop=True)
        )

    def page_carte(self) -> str:
        """La carte du quartier, page HTML autonome (ou qui charge ``leaflet.js`` partagé)."""
        import folium

        from .cartes import CarteAutonome, echelle_metrique, html_carte, ressources_integrees

        qpv = self.referentiel.qpv
        forme = self.qpv.geometry
        rayon = RAYON_VOISINAGE_M * self._echelle  # en mètres projetés (voir echelle_lambert93)
        proches_qpv = np.sort(qpv.sindex.query(forme, predicate="dwithin", distance=rayon))
        voisins = qpv.iloc[proches_qpv]
        voisins = voisins[voisins["code_qp"] != self.code]
        vers = "EPSG:4326"
        carte = echelle_metrique(
            CarteAutonome(location=None, tiles=None, control_scale=False, prefer_canvas=True)
        )
        folium.TileLayer(
            "OpenStreetMap", name="Fond OpenStreetMap", attr="© contributeurs OpenStreetMap"
        ).add_to(carte)
        anneau = qpv[qpv["code_qp"] == self.code].buffer(self.situee.distance_proximite_m * self._echelle)
        anneau = anneau.to_crs(vers)
        folium.GeoJson(
            json.loads(anneau.to_json()),
            name=f"À moins de {format_nombre(self.situee.distance_proximite_m)} m",
            style_function=lambda _: {"color": "#7570b3", "weight": 1.5, "dashArray": "6 4", "fill": False},
            interactive=False,
        ).add_to(carte)
        for table, nom, couleur, epaisseur in (
            (voisins, "QPV voisins", "#999999", 1.5),
            (qpv[qpv["code_qp"] == self.code], "Ce quartier", "#d95f02", 3),
        ):
            if table.empty:
                continue
            donnees = table[["code_qp", "lib_qp", "geometry"]].to_crs(vers)
            donnees = donnees.assign(lib_qp=donnees["lib_qp"].map(lambda t: html.escape(str(t))))
            folium.GeoJson(
                json.loads(donnees.to_json()),
                name=nom,
                style_function=lambda _, c=couleur, e=epaisseur: {
                    "color": c,
                    "weight": e,
                    "fillColor": c,
                    "fillOpacity": 0.15,
                },
                tooltip=folium.GeoJsonTooltip(["lib_qp", "code_qp"], aliases=["QPV", "Code"]),
            ).add_to(carte)
        placees = self._alentours.placees
        autour = np.sort(placees.sindex.query(forme, predicate="dwithin", distance=rayon))
        alentour = placees.iloc[autour].to_crs(vers)
        proches = set(self.seances["id_seance"])
        groupe = folium.FeatureGroup(name="Lieux des séances")
        # Un marqueur par lieu (pas par séance) : la fiche ne grossit pas avec le nombre de séances.
        lieux = pd.DataFrame(
            {
                "lat": alentour.geometry.y.round(5).to_numpy(),
                "lon": alentour.geometry.x.round(5).to_numpy(),
                "proche": alentour["id_seance"].isin(proches).to_numpy(),
                "nom": alentour["lieu"]
                .where(alentour["lieu"] != "", alentour["nom_com"])
                .astype(str)
                .to_numpy(),
            }
        )
        for (lat, lon), lieu in lieux.groupby(["lat", "lon"], sort=True):
            folium.CircleMarker(
                [float(lat), float(lon)],
                radius=6,
                color="#222222",
                weight=1,
                fill=True,
                fill_color="#d95f02" if lieu["proche"].any() else "#1b9e77",
                fill_opacity=0.9,
                tooltip=f"{html.escape(lieu['nom'].iloc[0])} : {len(lieu)} séance(s)",
            ).add_to(groupe)
        groupe.add_to(carte)
        folium.LayerControl(collapsed=True).add_to(carte)
        cadre = qpv[qpv["code_qp"] == self.code].buffer(800 * self._echelle)
        xmin, ymin, xmax, ymax = cadre.to_crs(vers).total_bounds
        carte.fit_bounds([[ymin, xmin], [ymax, xmax]])
        ressources_integrees(carte, partagees=self.leaflet_partage)
        return html_carte(carte, f"Carte du quartier {self.qpv['lib_qp']} ({self.code})")


def ecrire_fiches(
    situee: ActiviteSituee, referentiel: Referentiel, dossier: str | Path, departements: tuple[str, ...]
) -> list[Path]:
    """Écrit une fiche par QPV des départements donnés, et ``index.html`` qui les liste.

    Parameters
    ----------
    situee : ActiviteSituee
        Activité rattachée de l'année.
    referentiel : Referentiel
        Référentiel du territoire du centre.
    dossier : str or Path
        Dossier des fiches (``reports/<annee>/fiches``).
    departements : tuple of str
        Départements dont on écrit les QPV.

    Returns
    -------
    list of Path
        Les fiches écrites (sans l'index).
    """
    from .cartes import fichiers_leaflet
    from .gabarits import rendre_page
    from .rapport import STYLE

    dossier = Path(dossier)
    ecrites = []
    lignes = []
    alentours = _Alentours(situee, referentiel)
    for departement in departements:
        couverture = couverture_qpv(situee, referentiel, departement)
        for ligne in couverture.itertuples():
            fiche = FicheQPV._du_lot(alentours, ligne.code_qp)
            ecrites.append(ecrire_atomique(dossier / f"{ligne.code_qp}.html", fiche.page().encode("utf-8")))
            ecrire_atomique(dossier / f"{ligne.code_qp}.carte.html", fiche.page_carte().encode("utf-8"))
            lignes.append(
                [
                    Markup('<a href="{}.html">{}</a>').format(ligne.code_qp, str(ligne.lib_qp)),
                    ligne.code_qp,
                    str(ligne.lib_com).replace(",", ", "),
                    format_nombre(ligne.seances_dedans),
                    format_nombre(ligne.seances_proximite),
                ]
            )
    colonnes = ["QPV", "Code", "Commune(s)", "Séances dedans", "Séances à proximité"]
    tableau = tableau_html(pd.DataFrame(lignes, columns=colonnes), "Une fiche par QPV 2024", "donnees texte")
    corps = STYLE + _morceau("index", Markup(tableau))
    ecrire_atomique(
        dossier / "index.html", rendre_page("Fiches des quartiers prioritaires", corps).encode("utf-8")
    )
    css, js = fichiers_leaflet()
    ecrire_atomique(dossier / "leaflet.css", css.encode("utf-8"))
    ecrire_atomique(dossier / "leaflet.js", js.encode("utf-8"))
    return ecrites


class _Alentours:
    """Ce que toutes les fiches d'une activité partagent, calculé une fois (à la demande) : année,
    participations par commune d'origine et public, lieux des séances et leurs index spatiaux,
    classement des QPV de chaque département."""

    def __init__(self, situee: ActiviteSituee, referentiel: Referentiel):
        self.situee, self.referentiel = situee, referentiel
        self._classements: dict[str, pd.DataFrame] = {}
        self._participations: dict[str, pd.Series] = {}

    @cached_property
    def annee(self) -> str:
        dates = self.situee.seances["date"].dropna()
        return str(int(dates.dt.year.mode().iloc[0])) if len(dates) else ""

    @cached_property
    def participations_par_commune_et_public(self) -> pd.Series:
        return self.situee.participations.groupby(["code_commune_origine", "public"])["nombre"].sum()

    def participations_des_communes_des_qpv(self, departement: str) -> pd.Series:
        """Participations par commune d'origine et public, pour les seules communes des QPV du
        département (les fiches les lisent une par une : une petite table suffit)."""
        if departement not in self._participations:
            qpv = self.referentiel.qpv
            hotes = qpv.loc[qpv["insee_dep"] == departement, "insee_com"].astype(str).str.split(",")
            communes = {c.strip() for liste in hotes for c in liste if c.strip()}
            toutes = self.participations_par_commune_et_public
            self._participations[departement] = toutes[toutes.index.get_level_values(0).isin(communes)]
        return self._participations[departement]

    @cached_property
    def placees(self):
        """Séances placées par leurs coordonnées (EPSG:2154), dans l'ordre de la table."""
        seances = self.situee.seances
        return seances[seances["precision"] == "coordonnees"]

    @cached_property
    def lieux(self):
        """Un lieu par point (au mètre près) : premier nom, commune, nombre de séances."""
        import geopandas as gpd

        placees = self.placees
        if placees.empty:
            return gpd.GeoDataFrame({"nom": [], "nom_com": [], "seances": []}, geometry=[], crs=placees.crs)
        cle = placees.geometry.x.round(0).astype(str) + ";" + placees.geometry.y.round(0).astype(str)
        lieux = (
            placees.assign(cle=cle, nom=placees["lieu"].where(placees["lieu"] != "", placees["nom_com"]))
            .groupby("cle")
            .agg(
                nom=("nom", "first"),
                nom_com=("nom_com", "first"),
                seances=("id_seance", "size"),
                geometry=("geometry", "first"),
            )
        )
        return gpd.GeoDataFrame(lieux, geometry="geometry", crs=placees.crs)

    def classement(self, departement: str) -> pd.DataFrame:
        """Les QPV du département classés par séances dedans, puis dedans et à proximité, puis nom."""
        if departement not in self._classements:
            table = couverture_qpv(self.situee, self.referentiel, departement)
            table = table.assign(total=table["seances_dedans"] + table["seances_proximite"])
            table = table.sort_values(
                ["seances_dedans", "total", "lib_qp"], ascending=[False, False, True], kind="stable"
            )
            table["rang"] = np.arange(1, len(table) + 1)
            self._classements[departement] = table.reset_index(drop=True)
        return self._classements[departement]


def _morceau(nom: str, *valeurs) -> str:
    """Un morceau de fiche (macro de ``modeles/fiche.html.j2``, échappement automatique)."""
    from .gabarits import macro

    return str(macro("fiche.html.j2", nom)(*valeurs))


def _indices_des_plus_proches(
    index_spatial, forme, nombre: int, rayon_m: float = RAYON_VOISINAGE_M, echelle: float = 1.0
) -> np.ndarray:
    """Positions (croissantes) d'un sur-ensemble des ``nombre`` géométries les plus proches de ``forme``.

    Le rayon double jusqu'à ce que ``nombre`` géométries soient à moins de ``rayon`` ; la marge
    d'un mètre garde aussi celles qui, arrondies au mètre, sont à égalité avec la dernière retenue.
    """
    total = len(index_spatial.geometries)
    while True:
        candidats = np.sort(index_spatial.query(forme, predicate="dwithin", distance=(rayon_m + 1) * echelle))
        if len(candidats) == total:
            return candidats
        distances = shapely.distance(index_spatial.geometries.take(candidats), forme)
        if (distances <= rayon_m * echelle).sum() >= nombre:
            return candidats
        rayon_m *= 2

"""Fiche d'un quartier prioritaire : la page qu'une chargée de mission ouvre avant de rencontrer
une ville.

Pour un QPV : le quartier lui-même (population, pauvreté, emploi, logement, CAF, chacun à côté
des médianes des QPV du département et du territoire, avec sa source et son millésime ; son
statut 2024 et ses prédécesseurs de 2015), l'activité en bref, son périmètre et ses voisins sur
une carte, les séances tenues dedans ou à moins de D mètres, les participations venues de sa ou
ses communes, les lieux du centre les plus proches, et sa place parmi les QPV de son
département. ``FicheQPV`` donne chaque section (notebook ``fiche_qpv.ipynb``), ``ecrire_fiches``
toutes les pages d'un lot.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from markupsafe import Markup

from .activite.vocabulaires import libelle
from .commun.erreurs import ErreurParametre
from .commun.fichiers import ecrire_atomique
from .commun.parametres import Parametres
from .commun.typographie import format_date, format_distance, format_nombre, format_part, nombre_de
from .ensemble import Ensemble
from .indicateurs.couverture import couverture_qpv, seances_des_qpv
from .presentation.carte_quartier import page_carte_quartier
from .presentation.gabarits import Section, macro, paragraphe, rendre, rendre_page
from .presentation.leaflet import fichiers_leaflet
from .presentation.tableaux import lien, tableau_html
from .referentiel.projection import echelle_lambert93, emprise_en_degres
from .referentiel.quartiers import INDICATEURS_QUARTIER, NON_DIFFUSE, SOURCE_QUARTIERS, IndicateurQuartier

__all__ = ["SECTIONS_FICHE", "FicheQPV", "ecrire_fiches", "preparer_fiche"]

RAYON_VOISINAGE_M = 3_000.0  # voisins et lieux montrés sur la carte de la fiche
LIEUX_PROCHES = 5
# L'ordre des sections d'une fiche : la page publiée et le notebook ``fiche_qpv`` (un test).
SECTIONS_FICHE = (
    "titre", "quartier", "chiffres_cles", "carte", "seances_du_quartier", "participations_des_communes",
    "lieux_proches", "comparaison",
)  # fmt: skip
STATUTS = {
    "nouveau": "nouveau en 2024 (pas de QPV 2015 correspondant)",
    "modifie": "modifié en 2024 (QPV 2015 au périmètre changé, fusionné ou divisé)",
    "inchange": "inchangé en 2024 (périmètre de 2015)",
    "commune": "quartier à l'échelle de la commune (Mayotte)",
}


def preparer_fiche(code_qp: str, parametres: Parametres | None = None, **valeurs) -> FicheQPV:
    """Prépare la fiche d'un QPV : lit, valide et rattache l'année (comme un rapport).

    Parameters
    ----------
    code_qp : str
        Code du QPV 2024 (``QN09535M``).
    parametres : Parametres, optional
        Paramètres ; sinon construits à partir de ``valeurs`` (``annee``, ``donnees``,
        ``referentiel``, ``distance_proximite_m``…).

    Returns
    -------
    FicheQPV
    """
    valeurs = {cle: v for cle, v in valeurs.items() if v not in (None, "")}
    return FicheQPV(Ensemble.preparer(parametres or Parametres(**valeurs)), code_qp)


class FicheQPV:
    """Les sections de la fiche d'un QPV (chacune est une ``Section`` affichable).

    Parameters
    ----------
    ensemble : Ensemble
        L'année préparée.
    code_qp : str
        Code du QPV (``QN09531M``).
    leaflet_partage : bool
        La carte charge ``leaflet.js`` posé à côté de la page (fiches écrites par lot) au lieu de
        le contenir (fiche affichée seule).
    """

    def __init__(self, ensemble: Ensemble, code_qp: str, leaflet_partage: bool = False, alentours=None):
        self._alentours = alentours or _Alentours(ensemble)
        referentiel = ensemble.referentiel
        qpv = referentiel.qpv
        position = self._alentours.positions_qpv.get(str(code_qp).strip().upper())
        if position is None:
            raise ErreurParametre(
                f"QPV inconnu du référentiel : « {code_qp} ». Un code QPV 2024 s'écrit QN + département + "
                "numéro + lettre, par exemple QN09531M."
            )
        self.ensemble, self.situee, self.referentiel = ensemble, ensemble.situee, referentiel
        # Distances au sol : Lambert-93 est corrigé de son échelle hors métropole.
        self._position = position
        self.qpv = qpv.iloc[position]
        self._echelle = float(echelle_lambert93([self.qpv.geometry.representative_point()])[0])
        self.code = str(self.qpv["code_qp"])
        self.departement = str(self.qpv["insee_dep"])
        self.communes = [c.strip() for c in str(self.qpv.get("insee_com", "")).split(",") if c.strip()]
        self.seances = self._alentours.seances_du_qpv(self.code)
        self.leaflet_partage = leaflet_partage

    @property
    def annee(self) -> int:
        """Année de l'activité."""
        return self.ensemble.parametres.annee

    @property
    def distance(self) -> str:
        """La distance de proximité écrite (« 300 m »)."""
        return format_distance(self.situee.distance_proximite_m)

    # ---------------------------------------------------------------- sections
    def titre(self) -> Section:
        """Titre de la fiche : nom, code, communes, département, statut 2024."""
        communes = str(self.qpv.get("lib_com", "")).replace(",", ", ")
        noms = self.referentiel.departements.set_index("insee_dep")["nom_dep"]
        departement = f"{noms.get(self.departement, self.departement)} ({self.departement})"
        return Section(
            _morceau("titre", str(self.qpv["lib_qp"]), self.code, communes, departement, self.annee)
        )

    def quartier(self) -> Section:
        """Le quartier : population et indicateurs à côté des médianes, statut, QPV 2015."""
        morceaux = [self._statut()]
        if not self.referentiel.contexte_disponible:
            morceaux.append(
                paragraphe(
                    "Population et indicateurs du quartier indisponibles : "
                    f"{self.referentiel.raison_absence('qpv_contexte')}."
                )
            )
            return Section("".join(morceaux))
        contexte = self._alentours.contexte
        medianes_departement, n_departement = self._alentours.medianes(self.departement)
        medianes_territoire, n_territoire = self._alentours.medianes(None)
        lignes = []
        for indicateur in INDICATEURS_QUARTIER:
            if indicateur.colonne not in contexte.columns:
                continue
            valeur = contexte[indicateur.colonne].get(self.code, np.nan)
            lignes.append(
                {
                    "Indicateur": indicateur.libelle + (" *" if indicateur.note else ""),
                    "Ce quartier": _valeur_quartier(valeur, indicateur),
                    f"Médiane des QPV du département ({n_departement})": medianes_departement[
                        indicateur.colonne
                    ],
                    f"Médiane des QPV du territoire ({n_territoire})": medianes_territoire[
                        indicateur.colonne
                    ],
                    "Millésime": indicateur.millesime,
                }
            )
        notes = [f"* {i.libelle} : {i.note}." for i in INDICATEURS_QUARTIER if i.note]
        morceaux += [
            self._rang_population(),
            tableau_html(pd.DataFrame(lignes), "Le quartier et ses habitants", "donnees"),
            paragraphe(
                f"« {NON_DIFFUSE} » : valeur absente de la source, le plus souvent par secret statistique. "
                "Une médiane situe le quartier parmi les autres QPV ; ce n'est pas le taux de leur population.",
                classe="obs-note",
            ),
            *(paragraphe(note, classe="obs-note") for note in notes),
            paragraphe(
                f"Sources : {SOURCE_QUARTIERS}. Seule la population de la métropole est vérifiée sur les totaux "
                "publiés par l'INSEE ; les autres millésimes sont supposés, à vérifier auprès de l'INSEE avant "
                "publication.",
                classe="obs-note",
            ),
        ]
        return Section("".join(morceaux))

    def _statut(self) -> str:
        if not self.referentiel.correspondance_disponible:
            return paragraphe(
                f"Statut 2024 inconnu : {self.referentiel.raison_absence('qpv_correspondance')}. Il n'est jamais "
                "déduit de la lettre du code."
            )
        statut = str(self.qpv.get("statut_2024", ""))
        texte = f"Quartier {STATUTS.get(statut, statut or 'de statut inconnu')}, d'après la table de l'ANCT."
        precedents = [p for p in str(self.qpv.get("qpv_2015", "")).split(" ; ") if p]
        if precedents:
            texte += (
                f" {'Quartier' if len(precedents) == 1 else 'Quartiers'} de 2015 "
                f"{'correspondant' if len(precedents) == 1 else 'correspondants'} : {', '.join(precedents)}."
            )
        if self.annee < 2024:
            texte += (
                f" En {self.annee}, la géographie en vigueur était celle des QPV 2015 ; l'activité est rapportée "
                "ici aux périmètres de 2024."
            )
        return paragraphe(texte)

    def _rang_population(self) -> str:
        table = self._qpv_du_departement
        population = table.set_index("code_qp")["population"]
        mien = population.get(self.code, np.nan)
        if pd.isna(mien):
            return paragraphe("Population du quartier inconnue.")
        rang = int((population > mien).sum()) + 1
        return paragraphe(
            f"{format_nombre(mien)} habitants : {_rang_ex_aequo(rang, int((population == mien).sum()))} des "
            f"{len(population)} QPV du département par la population."
        )

    def chiffres_cles(self) -> Section:
        """Séances dedans et à proximité, participations des communes du QPV, rang départemental."""
        dedans = int((self.seances["distance_qpv_m"] == 0).sum())
        proches = int((self.seances["distance_qpv_m"] > 0).sum())
        rang, ex_aequo, total = self._rang()
        cartes = [
            (format_nombre(dedans), "séances dans le quartier" if dedans != 1 else "séance dans le quartier"),
            (
                format_nombre(proches),
                f"séances à moins de {self.distance}"
                if proches != 1
                else f"séance à moins de {self.distance}",
            ),
            (
                format_nombre(self._participations_par_public().sum()),
                "participations venues de sa ou ses communes",
            ),
            (
                f"{_rang_ex_aequo(rang, ex_aequo)} / {total}",
                "rang parmi les QPV du département (séances dedans, puis dedans et à proximité)",
            ),
        ]
        return Section(rendre("chiffres_cles.html.j2", cartes=cartes))

    def carte(self) -> Section:
        """Le périmètre, les QPV voisins, l'anneau de proximité et les lieux du centre alentour."""
        # Écrite en lot, la carte est un fichier à côté de la fiche (qui charge leaflet.js partagé) ;
        # affichée seule, elle est contenue dans la page.
        return Section(
            rendre(
                "carte.html.j2",
                titre=f"Carte du quartier {self.qpv['lib_qp']}",
                source=f"{self.code}.carte.html" if self.leaflet_partage else None,
                page="" if self.leaflet_partage else self.page_carte(),
                largeur_min=280,
                hauteur=460,
                statique="",
                liens=False,
            )
        )

    def seances_du_quartier(self) -> Section:
        """Tableau des séances dans le QPV ou à moins de D mètres."""
        if self.seances.empty:
            return Section(
                paragraphe(f"Aucune séance dans le quartier ni à moins de {self.distance} en {self.annee}.")
            )
        tableau = pd.DataFrame(
            {
                "Date": self.seances["date"].map(format_date),
                "Action": self.seances["intitule"],
                "Lieu": self.seances["lieu"].where(self.seances["lieu"] != "", self.seances["nom_com"]),
                "Situation": self.seances["situation"],
                "Distance": self.seances["distance_qpv_m"].map(
                    lambda d: "dedans" if d == 0 else format_distance(d)
                ),
                "Participations": self.seances["participants"].map(format_nombre),
            }
        )
        return Section(
            tableau_html(tableau, f"Séances dans le quartier ou à proximité ({len(tableau)})", "donnees")
        )

    def participations_des_communes(self) -> Section:
        """Participations venues de la ou des communes du QPV, par public."""
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
                total=["Total", format_nombre(total), format_part(1)],
            )
        )

    def lieux_proches(self) -> Section:
        """Les lieux où le centre a tenu des séances, du plus proche au plus loin."""
        lieux = self._lieux_proches()
        if lieux.empty:
            return Section(paragraphe("Aucun lieu de séance placé par ses coordonnées."))
        tableau = pd.DataFrame(
            {
                "Lieu": lieux["nom"],
                "Commune": lieux["nom_com"],
                "Distance au quartier": lieux["distance"].map(
                    lambda d: "dedans" if d == 0 else format_distance(d)
                ),
                "Séances": lieux["seances"].map(format_nombre),
            }
        )
        return Section(tableau_html(tableau, f"Les {len(lieux)} lieux du centre les plus proches", "donnees"))

    def comparaison(self) -> Section:
        """Le QPV parmi ceux de son département : rang (ex aequo dit), séances, population."""
        table = self._classement
        montrees = table.head(5)
        if self.code not in set(montrees["code_qp"]):
            montrees = pd.concat([montrees, table[table["code_qp"] == self.code]])
        tableau = pd.DataFrame(
            {
                "Rang": [
                    _rang_ex_aequo(r, n) for r, n in zip(montrees["rang"], montrees["ex_aequo"], strict=True)
                ],
                "QPV": [
                    ("▶ " if c == self.code else "") + n
                    for c, n in zip(montrees["code_qp"], montrees["lib_qp"], strict=True)
                ],
                "Population": montrees["population"].map(format_nombre),
                "Séances dedans": montrees["seances_dedans"].map(format_nombre),
                "Séances à proximité": montrees["seances_proximite"].map(format_nombre),
            }
        )
        atteints = int((table["atteinte"] != "non").sum())
        return Section(
            tableau_html(
                tableau,
                f"Parmi les {len(table)} QPV du département ({nombre_de(atteints, 'atteint')})",
                "donnees",
            )
        )

    def page(self, navigation: list[tuple[str, str]] | None = None) -> str:
        """La fiche entière, page HTML autonome."""
        sections = [getattr(self, nom)() for nom in SECTIONS_FICHE]
        intertitres = {
            "quartier": "Le quartier",
            "chiffres_cles": f"L'activité du centre en {self.annee}",
            "carte": "Le quartier et ses voisins",
            "seances_du_quartier": "Séances dans le quartier ou à proximité",
            "participations_des_communes": "Participations venues de sa ou ses communes",
            "lieux_proches": "Les lieux du centre les plus proches",
            "comparaison": "Parmi les quartiers du département",
        }
        corps = "".join(
            (f"<h2>{intertitres[nom]}</h2>" if nom in intertitres else "") + str(section)
            for nom, section in zip(SECTIONS_FICHE, sections, strict=True)
        )
        corps += _morceau("pied", self.referentiel.attribution)
        centre = self.ensemble.centre.libelle
        return rendre_page(
            f"Fiche QPV — {self.qpv['lib_qp']} ({self.code})",
            corps,
            entete=" · ".join(filter(None, (centre, f"Fiche QPV {self.qpv['lib_qp']}", str(self.annee)))),
            navigation=navigation or [("index.html", "← Toutes les fiches")],
        )

    def page_carte(self) -> str:
        """La carte du quartier, page HTML autonome (ou qui charge ``leaflet.js`` partagé)."""
        qpv, forme, alentours = self.referentiel.qpv, self.qpv.geometry, self._alentours
        rayon = RAYON_VOISINAGE_M * self._echelle  # en mètres projetés (voir echelle_lambert93)
        voisins = np.sort(qpv.sindex.query(forme, predicate="dwithin", distance=rayon))
        voisins = voisins[qpv["code_qp"].to_numpy()[voisins] != self.code]
        anneau = gpd.GeoDataFrame(
            geometry=qpv.geometry.iloc[[self._position]].buffer(
                self.situee.distance_proximite_m * self._echelle
            )
        )
        # Le cadre (le quartier et 800 m autour) et les communes alentour (2 km de plus) se lisent
        # sur l'emprise du quartier élargie : l'index spatial ne regarde que les emprises, et
        # élargir un polygone détaillé coûtait la moitié du temps d'une fiche.
        xmin, ymin, xmax, ymax = forme.bounds
        marge = 800 * self._echelle
        communes = self.referentiel.communes
        alentour = np.sort(
            communes.sindex.query(
                shapely.box(xmin, ymin, xmax, ymax).buffer(marge + 2_000 * self._echelle, join_style="mitre")
            )
        )
        cadre = emprise_en_degres(xmin - marge, ymin - marge, xmax + marge, ymax + marge)
        lieux = self._lieux_alentour(forme, rayon)
        return page_carte_quartier(
            titre=f"Carte du quartier {self.qpv['lib_qp']} ({self.code})",
            quartier=alentours.qpv_wgs84.iloc[[self._position]],
            anneau=anneau.to_crs("EPSG:4326"),
            voisins=alentours.qpv_wgs84.iloc[voisins],
            communes=alentours.limites_des_communes_wgs84.iloc[alentour],
            lieux=lieux,
            cadre=cadre,
            distance_m=self.situee.distance_proximite_m,
            sources=f"Sources : {self.referentiel.attribution} ; fond © contributeurs OpenStreetMap",
            partage=self.leaflet_partage,
        )

    # ---------------------------------------------------------------- calculs
    @property
    def _qpv_du_departement(self) -> pd.DataFrame:
        return self._alentours.couverture(self.departement)

    def _participations_par_public(self) -> pd.Series:
        """Participations venues de la ou des communes du QPV, sommées par public (ordre alphabétique)."""
        par_commune = self._alentours.participations_des_communes_des_qpv(self.departement)
        retenues = par_commune[par_commune.index.get_level_values(0).isin(self.communes)]
        return retenues.groupby(level=1).sum()

    @property
    def _classement(self) -> pd.DataFrame:
        return self._alentours.classement(self.departement)

    def _rang(self) -> tuple[int, int, int]:
        table = self._classement
        ligne = table.loc[table["code_qp"] == self.code].iloc[0]
        return int(ligne["rang"]), int(ligne["ex_aequo"]), len(table)

    def _lieux_alentour(self, forme, rayon: float) -> list[dict]:
        placees = self._alentours.placees
        alentour = self._alentours.placees_wgs84.iloc[
            np.sort(placees.sindex.query(forme, predicate="dwithin", distance=rayon))
        ]
        lat = alentour.geometry.y.round(5).to_numpy()
        lon = alentour.geometry.x.round(5).to_numpy()
        proche = alentour["id_seance"].isin(set(self.seances["id_seance"])).to_numpy()
        nom = alentour["lieu"].where(alentour["lieu"] != "", alentour["nom_com"]).astype(str).to_numpy()
        # Un marqueur par lieu (pas par séance) : la fiche ne grossit pas avec le nombre de séances.
        # Les points d'un lieu se suivent une fois triés (tri stable : le premier nomme le lieu).
        ordre = np.lexsort((lon, lat))
        lat, lon, proche, nom = lat[ordre], lon[ordre], proche[ordre], nom[ordre]
        debuts = (
            np.flatnonzero(np.r_[True, (lat[1:] != lat[:-1]) | (lon[1:] != lon[:-1])])
            if len(ordre)
            else ordre
        )
        comptes = np.diff(np.r_[debuts, len(ordre)])
        proches = np.logical_or.reduceat(proche, debuts) if len(debuts) else debuts
        return [
            {
                "lat": float(lat[d]),
                "lon": float(lon[d]),
                "proche": bool(p),
                "texte": f"{nom[d]} : {nombre_de(int(n), 'séance')}",
            }
            for d, n, p in zip(debuts, comptes, proches, strict=True)
        ]

    def _lieux_proches(self) -> pd.DataFrame:
        lieux = self._alentours.lieux
        if lieux.empty:
            return pd.DataFrame(columns=["nom", "nom_com", "distance", "seances", "geometry"])
        forme = self.qpv.geometry
        candidats = indices_des_plus_proches(lieux.sindex, forme, LIEUX_PROCHES, echelle=self._echelle)
        retenus = lieux.iloc[candidats]
        retenus = retenus.assign(
            distance=[round(forme.distance(g) / self._echelle) for g in retenus["geometry"]]
        )
        return (
            retenus.sort_values(["distance", "nom"], kind="stable").head(LIEUX_PROCHES).reset_index(drop=True)
        )


def _rang_ex_aequo(rang: int, ex_aequo: int) -> str:
    """« 3e », « 1er », « 24e ex aequo »."""
    texte = "1er" if rang == 1 else f"{rang}e"
    return f"{texte} ex aequo" if ex_aequo > 1 else texte


def _valeur_quartier(valeur: float, indicateur: IndicateurQuartier) -> str:
    if pd.isna(valeur):
        return NON_DIFFUSE
    return _forme(valeur, indicateur)


def _forme(valeur: float, indicateur: IndicateurQuartier) -> str:
    if indicateur.forme == "pourcentage":
        return format_part(valeur / 100)
    if indicateur.forme == "decimal":
        return format_nombre(valeur, 1)
    return format_nombre(valeur)


def _mediane(table: pd.DataFrame, indicateur: IndicateurQuartier) -> str:
    valeurs = table[indicateur.colonne].dropna()
    if valeurs.empty:
        return NON_DIFFUSE
    return f"{_forme(float(valeurs.median()), indicateur)} ({len(valeurs)} QPV)"


def ecrire_fiches(ensemble: Ensemble, dossier: str | Path, dans_un_lot: bool = True) -> list[Path]:
    """Écrit une fiche par QPV des départements du lot, et ``index.html`` qui les liste par
    département.

    Parameters
    ----------
    ensemble : Ensemble
        L'année préparée (ses départements sont ceux des fiches).
    dossier : str or Path
        Dossier des fiches (``reports/<annee>/fiches``).
    dans_un_lot : bool
        Les fiches sont publiées avec les rapports de l'année : elles renvoient à leur index.

    Returns
    -------
    list of Path
        Les fiches écrites (sans l'index).
    """
    referentiel = ensemble.referentiel
    dossier = Path(dossier)
    ecrites = []
    alentours = _Alentours(ensemble)
    noms = referentiel.departements.set_index("insee_dep")["nom_dep"]
    navigation = [("index.html", "← Toutes les fiches")]
    if dans_un_lot:
        navigation.append(("../index.html", "Rapports de l'année"))
    blocs = []
    for departement in ensemble.parametres.departements:
        couverture = alentours.couverture(departement)
        lignes = []
        for ligne in couverture.itertuples():
            fiche = FicheQPV(ensemble, ligne.code_qp, leaflet_partage=True, alentours=alentours)
            ecrites.append(
                ecrire_atomique(dossier / f"{ligne.code_qp}.html", fiche.page(navigation).encode("utf-8"))
            )
            ecrire_atomique(dossier / f"{ligne.code_qp}.carte.html", fiche.page_carte().encode("utf-8"))
            lignes.append(
                [
                    lien(f"{ligne.code_qp}.html", str(ligne.lib_qp)),
                    ligne.code_qp,
                    str(ligne.lib_com).replace(",", ", "),
                    format_nombre(ligne.population),
                    format_nombre(ligne.seances_dedans),
                    format_nombre(ligne.seances_proximite),
                ]
            )
        colonnes = ["QPV", "Code", "Communes", "Population", "Séances dedans", "Séances à proximité"]
        titre = (
            f"{noms.get(departement, departement)} ({departement}) : {nombre_de(len(lignes), 'QPV', 'QPV')}"
        )
        blocs.append(Markup(tableau_html(pd.DataFrame(lignes, columns=colonnes), titre, "donnees")))
    annee = ensemble.parametres.annee
    corps = _morceau("index", annee, Markup("".join(blocs)), dans_un_lot)
    page = rendre_page(
        f"Fiches des quartiers prioritaires — {annee}",
        corps,
        entete=" · ".join(filter(None, (ensemble.centre.libelle, f"Fiches des quartiers {annee}"))),
        navigation=[("../index.html", "← Rapports de l'année")] if dans_un_lot else None,
    )
    ecrire_atomique(dossier / "index.html", page.encode("utf-8"))
    css, js = fichiers_leaflet()
    ecrire_atomique(dossier / "leaflet.css", css.encode("utf-8"))
    ecrire_atomique(dossier / "leaflet.js", js.encode("utf-8"))
    return ecrites


class _Alentours:
    """Ce que toutes les fiches d'une activité partagent, calculé une fois (à la demande) :
    participations par commune d'origine et public, lieux des séances et leurs index spatiaux,
    classement des QPV de chaque département."""

    def __init__(self, ensemble: Ensemble):
        self.situee, self.referentiel = ensemble.situee, ensemble.referentiel
        self._classements: dict[str, pd.DataFrame] = {}
        self._participations: dict[str, pd.Series] = {}
        self._couvertures: dict[str, pd.DataFrame] = {}
        self._medianes: dict[str | None, tuple[dict[str, str], int]] = {}

    def couverture(self, departement: str) -> pd.DataFrame:
        """La couverture des QPV du département (``couverture_qpv``), calculée une fois."""
        if departement not in self._couvertures:
            self._couvertures[departement] = couverture_qpv(self.situee, self.referentiel, departement)
        return self._couvertures[departement]

    @cached_property
    def positions_qpv(self) -> dict[str, int]:
        """Position de chaque QPV dans le référentiel, par code (la première s'il se répète)."""
        positions: dict[str, int] = {}
        for position, code in enumerate(self.referentiel.qpv["code_qp"].astype(str)):
            positions.setdefault(code, position)
        return positions

    def seances_du_qpv(self, code_qp: str) -> pd.DataFrame:
        """Les séances du QPV (``seances_du_qpv``), à la fiche qui les demande."""
        return self._seances_par_qpv[code_qp].copy()

    @cached_property
    def _seances_par_qpv(self) -> dict[str, pd.DataFrame]:
        # Une jointure pour toutes les fiches au lieu d'une par QPV (la moitié du temps d'une
        # fiche quand chacune filtrait et joignait les séances).
        return seances_des_qpv(self.situee, self.positions_qpv)

    @cached_property
    def contexte(self) -> pd.DataFrame:
        """Le contexte des QPV du territoire, indexé par code."""
        return self.referentiel.contexte_qpv.set_index("code_qp")

    def medianes(self, departement: str | None) -> tuple[dict[str, str], int]:
        """Médiane écrite de chaque indicateur parmi les QPV du département (``None`` : du
        territoire), et le nombre de ces QPV."""
        if departement not in self._medianes:
            contexte = self.contexte
            if departement is not None:
                contexte = contexte[contexte.index.isin(set(self.couverture(departement)["code_qp"]))]
            medianes = {
                i.colonne: _mediane(contexte, i)
                for i in INDICATEURS_QUARTIER
                if i.colonne in contexte.columns
            }
            self._medianes[departement] = (medianes, len(contexte))
        return self._medianes[departement]

    @cached_property
    def qpv_wgs84(self) -> gpd.GeoDataFrame:
        """Les QPV du référentiel en degrés (cartes des fiches), projetés une fois."""
        return self.referentiel.qpv[["code_qp", "lib_qp", "geometry"]].to_crs("EPSG:4326")

    @cached_property
    def limites_des_communes_wgs84(self) -> gpd.GeoDataFrame:
        """Les limites des communes en degrés, projetées une fois."""
        communes = self.referentiel.communes
        return gpd.GeoDataFrame(geometry=communes.geometry.boundary).to_crs("EPSG:4326")

    @cached_property
    def placees_wgs84(self) -> gpd.GeoDataFrame:
        """Les séances placées par leurs coordonnées, en degrés, dans l'ordre de ``placees``."""
        return self.placees[["id_seance", "lieu", "nom_com", "geometry"]].to_crs("EPSG:4326")

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
    def placees(self) -> gpd.GeoDataFrame:
        """Séances placées par leurs coordonnées (EPSG:2154), dans l'ordre de la table."""
        seances = self.situee.seances
        return seances[seances["precision"] == "coordonnees"]

    @cached_property
    def lieux(self) -> gpd.GeoDataFrame:
        """Un lieu par point (au mètre près) : premier nom, commune, nombre de séances."""
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
        """Les QPV du département classés par séances dedans, puis dedans et à proximité ; les
        égalités partagent le même rang (« ex aequo »), les suivants sautent autant de places."""
        if departement not in self._classements:
            table = self.couverture(departement)
            table = table.assign(total=table["seances_dedans"] + table["seances_proximite"])
            table = table.sort_values(
                ["seances_dedans", "total", "lib_qp"], ascending=[False, False, True], kind="stable"
            )
            cles = list(zip(table["seances_dedans"], table["total"], strict=True))
            table["rang"] = [1 + sum(1 for autre in cles if autre > cle) for cle in cles]
            table["ex_aequo"] = table["rang"].map(table["rang"].value_counts())
            self._classements[departement] = table.reset_index(drop=True)
        return self._classements[departement]


def _morceau(nom: str, *valeurs) -> str:
    """Un morceau de fiche (macro de ``modeles/fiche.html.j2``, échappement automatique)."""
    return str(macro("fiche.html.j2", nom)(*valeurs))


def indices_des_plus_proches(
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

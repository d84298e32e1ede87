"""Chargement du référentiel installé : couches en Lambert-93, tables nationales, cache.

Les couches sont chargées en EPSG:2154 (Lambert-93) avec le millésime et la provenance dans
``.attrs`` ; la lecture est mise en cache (un notebook peut appeler ``charger_referentiel`` à
chaque section sans relire les fichiers), le cache est vidé à chaque installation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from ..commun.codes import normaliser_departements
from ..commun.erreurs import ErreurParametre, ErreurReferentiel
from ..commun.fichiers import dossier_referentiel_par_defaut, sha256_fichier
from ..commun.typographie import accord
from .couches import (
    COLONNES_COMMUNES_FRANCE,
    COUCHES,
    COUCHES_PAR_NOM,
    MILLESIME_COG,
    MILLESIME_QPV,
    NOM_MANIFESTE,
    colonne_population,
    lire_couche_brute,
)
from .projection import CRS_CALCUL

__all__ = ["Referentiel", "charger_referentiel", "exiger_sommes", "lire_manifeste", "vider_cache"]


@dataclass(frozen=True)
class Referentiel:
    """Couches de référence d'un territoire, en EPSG:2154, et tables nationales.

    Les tables sont partagées par le cache : les traiter en lecture seule (``.copy()`` avant
    toute modification).

    Attributes
    ----------
    departements_demandes : tuple of str
        Départements chargés (le territoire ou une partie).
    qpv, communes, epci, ept, departements : geopandas.GeoDataFrame
        Contours du territoire (l'EPT est vide hors de la Métropole du Grand Paris).
    communes_france : pandas.DataFrame
        Toutes les communes de France : code, nom, département, région, EPCI, EPT, population.
    communes_anciennes : pandas.DataFrame
        Anciens codes (fusions, communes déléguées, arrondissements municipaux…) → commune
        actuelle ; vide si la table n'est pas installée.
    departements_france : geopandas.GeoDataFrame
        Tous les départements (nom, région, point intérieur) : pour nommer et placer les origines.
    contexte_qpv : pandas.DataFrame
        Population et indicateurs de chaque QPV du territoire (``code_qp`` puis une colonne
        numérique par indicateur, ``NaN`` : non diffusé) ; vide si la table n'est pas installée.

    Les QPV portent aussi ``population`` (population municipale, ``NaN`` si inconnue),
    ``statut_2024`` (``nouveau``, ``modifie``, ``inchange``, ``commune`` d'après la table de
    l'ANCT ; vide si elle n'est pas installée : jamais déduit de la lettre du code) et
    ``qpv_2015`` (prédécesseurs « code libellé », séparés par « ; »).
    """

    departements_demandes: tuple[str, ...]
    qpv: gpd.GeoDataFrame
    communes: gpd.GeoDataFrame
    epci: gpd.GeoDataFrame
    ept: gpd.GeoDataFrame
    departements: gpd.GeoDataFrame
    communes_france: pd.DataFrame
    communes_anciennes: pd.DataFrame
    departements_france: gpd.GeoDataFrame
    contexte_qpv: pd.DataFrame
    millesime_qpv: int
    millesime_cog: int
    millesime_population: int
    provenance: dict = field(repr=False)

    @property
    def codes_communes(self) -> frozenset[str]:
        """Codes INSEE des communes chargées (territoire)."""
        return frozenset(self.communes["insee_com"])

    @property
    def contexte_disponible(self) -> bool:
        """La population et les indicateurs des QPV sont installés."""
        return "qpv_contexte" in self.provenance.get("couches", {})

    @property
    def correspondance_disponible(self) -> bool:
        """La table de correspondance QPV 2024 → 2015 de l'ANCT est installée."""
        return "qpv_correspondance" in self.provenance.get("couches", {})

    def raison_absence(self, couche: str) -> str:
        """Pourquoi une couche facultative manque (pour le dire dans les rapports)."""
        return str(self.provenance.get("absentes", {}).get(couche, "non installée avec ce référentiel"))

    @property
    def attribution(self) -> str:
        """Mention des sources à reprendre sous chaque document publié."""
        return (
            f"ANCT, QPV {self.millesime_qpv} ; INSEE, COG {self.millesime_cog} ; DGCL ; IGN ADMIN EXPRESS — "
            "Licence Ouverte 2.0 (Etalab)"
        )

    @cached_property
    def communes_pv_france(self) -> frozenset[str]:
        """Codes INSEE des communes de France qui accueillent au moins un QPV 2024."""
        table = self.communes_france
        return frozenset(table.loc[table["n_qpv_2024"] > 0, "insee_com"])

    @cached_property
    def codes_france(self) -> frozenset[str]:
        """Codes INSEE de toutes les communes actuelles de France."""
        return frozenset(self.communes_france["insee_com"])

    @cached_property
    def anciens_codes(self) -> dict[str, dict[str, str]]:
        """Ancien code → ``insee_com`` (code(s) actuel(s)), ``nom_com``, ``nom_ancien``,
        ``type_lien``, ``date_effet`` ; les codes encore en vigueur n'y sont pas."""
        anciennes = self.communes_anciennes
        anciennes = anciennes[~anciennes["code_ancien"].isin(self.codes_france)]
        colonnes = ["insee_com", "nom_com", "nom_ancien", "type_lien", "date_effet"]
        lignes = anciennes.reindex(columns=["code_ancien", *colonnes]).fillna("").astype(str)
        return {
            ligne[0]: dict(zip(colonnes, ligne[1:], strict=True)) for ligne in lignes.itertuples(index=False)
        }

    @cached_property
    def noms_departements_france(self) -> dict[str, str]:
        """Code → nom de chaque département de France."""
        return dict(
            zip(self.departements_france["insee_dep"], self.departements_france["nom_dep"], strict=True)
        )

    @cached_property
    def regions_des_departements(self) -> dict[str, tuple[str, str]]:
        """Code de département → (code, nom) de sa région."""
        table = self.departements_france
        return {
            dep: (reg, nom)
            for dep, reg, nom in zip(table["insee_dep"], table["insee_reg"], table["nom_reg"], strict=True)
        }


def lire_manifeste(dossier: Path) -> dict:
    chemin = dossier / NOM_MANIFESTE
    if not chemin.is_file():
        raise ErreurReferentiel(
            f"Référentiel géographique absent : {chemin} n'existe pas. Installez-le avec "
            "« observatoire referentiel installer --depuis ../shared/reference » (miroir local) "
            "ou « observatoire referentiel telecharger » (sources officielles, internet)."
        )
    try:
        return json.loads(chemin.read_text(encoding="utf-8"))
    except json.JSONDecodeError as erreur:
        raise ErreurReferentiel(
            f"Manifeste du référentiel corrompu : {chemin} (ligne {erreur.lineno}). "
            "Réinstallez le référentiel."
        ) from erreur


def exiger_sommes(dossier: Path, manifeste: dict) -> None:
    """Lève ``ErreurReferentiel`` si un fichier manque ou diffère de sa somme sha256."""
    ecarts = []
    for nom, description in manifeste["couches"].items():
        chemin = dossier / description["fichier"]
        if not chemin.is_file():
            ecarts.append(f"{nom} : fichier {chemin} absent")
        elif sha256_fichier(chemin) != description["sha256"]:
            ecarts.append(f"{nom} : {chemin} ne correspond pas à sa somme sha256")
    if ecarts:
        raise ErreurReferentiel(
            "Le référentiel installé a été modifié ou est corrompu (sommes sha256 du manifeste) : "
            + " ; ".join(ecarts)
            + ". Réinstallez-le (« observatoire referentiel installer --depuis DOSSIER »)."
        )


@lru_cache(maxsize=4)
def _lire_couches(dossier: Path, signature: float) -> tuple[dict[str, pd.DataFrame | None], dict]:
    manifeste = lire_manifeste(dossier)
    exiger_sommes(dossier, manifeste)
    manquantes = [c.nom for c in COUCHES if c.obligatoire and c.nom not in manifeste["couches"]]
    if manquantes:
        raise ErreurReferentiel(
            f"Référentiel d'une ancienne version dans {dossier} (couches absentes : "
            f"{', '.join(manquantes)}). Réinstallez-le : « observatoire referentiel installer "
            "--depuis ../shared/reference --departements … »."
        )
    couches: dict[str, pd.DataFrame | None] = {}
    for couche in COUCHES:
        if couche.nom not in manifeste["couches"]:
            couches[couche.nom] = None
            continue
        brute = lire_couche_brute(dossier / manifeste["couches"][couche.nom]["fichier"], couche)
        table = _standardiser(couche.nom, brute)
        couches[couche.nom] = table.to_crs(CRS_CALCUL) if isinstance(table, gpd.GeoDataFrame) else table
    return couches, manifeste


def _standardiser(nom: str, table: pd.DataFrame) -> pd.DataFrame:
    table = table.copy()
    for colonne in table.columns:
        if colonne != "geometry" and (
            colonne.startswith(("insee_", "siren_", "code_", "nom_")) or colonne in ("codes_qpv_2024",)
        ):
            table[colonne] = table[colonne].astype("string").fillna("").astype(object)
    if nom in ("communes", "communes_france"):
        population = colonne_population(table)
        table["population"] = pd.to_numeric(
            table[population] if population else table.get("population", float("nan")), errors="coerce"
        )
        for colonne in ("code_ept", "nom_ept", "nom_dep", "insee_reg", "nom_reg"):
            if colonne not in table.columns:
                table[colonne] = ""
        if "n_qpv_2024" not in table.columns:
            table["n_qpv_2024"] = 0
        table["n_qpv_2024"] = pd.to_numeric(table["n_qpv_2024"], errors="coerce").fillna(0).astype(int)
    if nom == "communes_france":
        table = table[[*COLONNES_COMMUNES_FRANCE, "population", "n_qpv_2024"]]
    if nom == "qpv_contexte":
        for colonne in table.columns:
            if colonne not in ("code_qp", "lib_qp", "insee_dep", "dans_qpv_2024_france", "insee_com_source"):
                table[colonne] = pd.to_numeric(table[colonne].replace("", None), errors="coerce")
    if nom == "departements_france":
        # Les origines sont nommées et placées en un point : le contour n'est pas dessiné.
        table = table.set_geometry(table.geometry.representative_point())
    if nom == "qpv":
        for colonne in ("lib_com", "siren_epci", "nom_epci", "code_ept", "nom_ept"):
            if colonne not in table.columns:
                table[colonne] = ""
    return table


def _qpv_en_contexte(qpv, contexte, correspondance) -> gpd.GeoDataFrame:
    """Les QPV avec leur population, leur statut 2024 et leurs prédécesseurs de 2015."""
    qpv = qpv.copy()
    if contexte is not None:
        population = contexte.set_index("code_qp")["population_municipale"]
        qpv["population"] = qpv["code_qp"].map(population).astype(float)
    else:
        qpv["population"] = np.nan
    if correspondance is not None:
        table = correspondance.set_index("code_qp")
        qpv["statut_2024"] = qpv["code_qp"].map(table["statut"].str.lower()).fillna("")
        predecesseurs = pd.Series("", index=table.index, dtype=object)
        for rang in (1, 2, 3):
            code, nom = table.get(f"code_qp_2015_{rang}"), table.get(f"lib_qp_2015_{rang}")
            if code is None:
                continue
            morceau = (code + " " + nom.fillna("")).where(code != "", "")
            predecesseurs = predecesseurs.str.cat(morceau, sep=" ; ").str.strip(" ;")
        qpv["qpv_2015"] = qpv["code_qp"].map(predecesseurs).fillna("")
    else:
        qpv["statut_2024"] = ""
        qpv["qpv_2015"] = ""
    return qpv


def charger_referentiel(
    departements: str | tuple[str, ...] | list[str] | None = None,
    dossier: str | Path | None = None,
) -> Referentiel:
    """Charge les couches de référence pour des départements, en EPSG:2154.

    La lecture des fichiers est mise en cache : un notebook peut appeler cette fonction à
    chaque section sans relire les fichiers.

    Parameters
    ----------
    departements : str or sequence of str, optional
        Codes des départements (``"95"``, ``("13", "83")``, ``"13 83 84"``) ; par défaut, tout
        le territoire installé.
    dossier : str or Path, optional
        Dossier du référentiel installé ; par défaut ``dossier_referentiel_par_defaut()``.

    Returns
    -------
    Referentiel
        Les couches filtrées ; chaque table porte ``attrs["millesime"]`` et
        ``attrs["provenance"]``.

    Raises
    ------
    ErreurReferentiel
        Référentiel absent, corrompu ou modifié depuis l'installation.
    ErreurParametre
        Département absent du référentiel (le message liste les codes installés).
    """
    racine = Path(dossier).resolve() if dossier else dossier_referentiel_par_defaut()
    manifeste_chemin = racine / NOM_MANIFESTE
    signature = manifeste_chemin.stat().st_mtime if manifeste_chemin.is_file() else 0.0
    couches, manifeste = _lire_couches(racine, signature)
    disponibles = _departements_installes(couches, manifeste)
    codes = normaliser_departements(departements) if departements else disponibles
    inconnus = [code for code in codes if code not in disponibles]
    if inconnus:
        raise ErreurParametre(
            f"{accord(len(inconnus), 'Département absent', 'Départements absents')} du référentiel : {', '.join(inconnus)}. "
            f"Codes disponibles : {', '.join(disponibles)}. Pour un autre territoire : "
            "« observatoire referentiel installer --depuis DOSSIER --departements … »."
        )
    return _assembler_referentiel(codes, couches, manifeste)


def _departements_installes(couches: dict, manifeste: dict) -> tuple[str, ...]:
    """Départements du territoire installé, dans l'ordre du manifeste."""
    if manifeste.get("departements"):
        return tuple(manifeste["departements"])
    return tuple(sorted(set(couches["communes"]["insee_dep"])))


def _assembler_referentiel(codes, couches, manifeste) -> Referentiel:
    communes = couches["communes"][couches["communes"]["insee_dep"].isin(codes)].copy()
    qpv = couches["qpv"][couches["qpv"]["insee_dep"].isin(codes)].copy()
    epci = couches["epci"][couches["epci"]["siren_epci"].isin(set(communes["siren_epci"]))].copy()
    if couches["ept"] is not None:
        ept = couches["ept"][couches["ept"]["code_ept"].isin(set(communes["code_ept"]) - {""})].copy()
    else:
        ept = gpd.GeoDataFrame({"code_ept": [], "nom_ept": []}, geometry=[], crs=CRS_CALCUL)
    departements = couches["departements"][couches["departements"]["insee_dep"].isin(codes)].copy()
    qpv = _qpv_en_contexte(qpv, couches["qpv_contexte"], couches["qpv_correspondance"])
    contexte = couches["qpv_contexte"]
    if contexte is None:
        contexte = pd.DataFrame({"code_qp": pd.Series(dtype=object)})
    else:
        contexte = contexte[contexte["code_qp"].isin(set(qpv["code_qp"]))].reset_index(drop=True)
    anciennes = couches["communes_anciennes"]
    if anciennes is None:
        anciennes = pd.DataFrame(
            columns=list(COUCHES_PAR_NOM["communes_anciennes"].colonnes) + ["date_effet"]
        )
    tables = {
        "qpv": qpv,
        "communes": communes,
        "epci": epci,
        "ept": ept,
        "departements": departements,
        "communes_france": couches["communes_france"],
        "communes_anciennes": anciennes,
        "departements_france": couches["departements_france"],
        "contexte_qpv": contexte,
    }
    for nom, table in tables.items():
        if nom in ("communes_france", "communes_anciennes", "departements_france", "contexte_qpv"):
            continue  # tables partagées telles quelles entre chargements
        table.attrs["millesime"] = MILLESIME_QPV if nom == "qpv" else MILLESIME_COG
        table.attrs["provenance"] = manifeste["couches"].get(nom, {})
        table.reset_index(drop=True, inplace=True)
    return Referentiel(
        departements_demandes=codes,
        millesime_qpv=int(manifeste.get("millesime_qpv", MILLESIME_QPV)),
        millesime_cog=int(manifeste.get("millesime_cog", MILLESIME_COG)),
        millesime_population=int(manifeste.get("millesime_population") or 0),
        provenance=manifeste,
        **tables,
    )


# --------------------------------------------------------------------------- vérification


def vider_cache() -> None:
    """Oublie les couches lues : à appeler après une installation."""
    _lire_couches.cache_clear()

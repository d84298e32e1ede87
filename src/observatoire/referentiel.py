"""Référentiel géographique : QPV 2024, communes (COG), EPCI, EPT, départements, tables nationales.

Les couches sont installées dans ``data/reference/`` (ignoré par git) depuis un dossier miroir
(``installer_referentiel``) ou depuis les sources officielles (``telecharger_referentiel`` du
module ``telechargement``), avec un manifeste (source, millésime, licence, sha256, date). Elles
sont chargées en EPSG:2154 (Lambert-93) avec le millésime et la provenance dans ``.attrs``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from .commun import appliquer_droits, racine_projet, remplacer_dossier, sha256_fichier
from .erreurs import ErreurParametre, ErreurReferentiel
from .territoires import normaliser_departements

__all__ = [
    "COLONNES_COMMUNES_FRANCE",
    "CRS_CALCUL",
    "MILLESIME_QPV",
    "Referentiel",
    "charger_referentiel",
    "completer_qpv",
    "dossier_referentiel_par_defaut",
    "echelle_lambert93",
    "installer_fichiers",
    "installer_referentiel",
    "verifier_referentiel",
]

CRS_CALCUL = "EPSG:2154"
# Au sud de cette latitude (les DROM), Lambert-93 déforme : les distances y sont corrigées de son
# facteur d'échelle local. La métropole (Corse comprise, 41,3° N au plus bas) garde les
# distances de Lambert-93, sa projection légale.
LATITUDE_MIN_METROPOLE = 40.0
MILLESIME_QPV = 2024
MILLESIME_COG = 2025
NOM_MANIFESTE = "manifest.json"
LICENCE_OUVERTE = "Licence Ouverte / Open Licence 2.0 (Etalab)"
# Part minimale de la surface d'un QPV dans ses communes d'accueil : les contours communaux
# sont simplifiés (PROVENANCE.md : 7 QPV de bord sous 0,9, le plus bas à 0,63).
PART_MIN_DANS_HOTES = 0.5
COLONNES_COMMUNES_FRANCE = (
    "insee_com",
    "nom_com",
    "insee_dep",
    "nom_dep",
    "insee_reg",
    "nom_reg",
    "siren_epci",
    "nom_epci",
    "code_ept",
    "nom_ept",
)


@dataclass(frozen=True)
class _Couche:
    nom: str
    fichier: str
    source: str
    colonnes: tuple[str, ...]
    obligatoire: bool = True


# Couches installées : celles du territoire (contours) puis les tables nationales (noms et
# codes de toutes les communes, anciens codes, départements pour nommer les origines).
COUCHES: tuple[_Couche, ...] = (
    _Couche(
        "qpv",
        "qpv_2024.geojson",
        "ANCT, Quartiers prioritaires de la politique de la ville (QPV 2024), data.gouv.fr",
        ("code_qp", "lib_qp", "insee_dep", "insee_com"),
    ),
    _Couche(
        "communes",
        "communes.geojson",
        "INSEE COG et DGCL (appartenances, populations légales) ; contours IGN ADMIN EXPRESS",
        ("insee_com", "nom_com", "insee_dep", "siren_epci", "nom_epci"),
    ),
    _Couche(
        "epci",
        "epci.geojson",
        "DGCL, EPCI à fiscalité propre ; contours par fusion des communes IGN",
        ("siren_epci", "nom_epci"),
    ),
    _Couche(
        "ept",
        "ept.geojson",
        "INSEE, établissements publics territoriaux (Métropole du Grand Paris)",
        ("code_ept", "nom_ept"),
        obligatoire=False,
    ),
    _Couche(
        "departements",
        "departements.geojson",
        "INSEE COG ; contours par fusion des communes IGN",
        ("insee_dep", "nom_dep"),
    ),
    _Couche(
        "communes_france",
        "communes_france.csv",
        "INSEE COG (toutes les communes de France), DGCL (EPCI), populations légales INSEE",
        COLONNES_COMMUNES_FRANCE,
    ),
    _Couche(
        "communes_anciennes",
        "communes_anciennes_france.csv",
        "INSEE COG, table des mouvements des communes (anciens codes → commune actuelle)",
        ("code_ancien", "nom_ancien", "type_lien", "insee_com", "nom_com"),
        obligatoire=False,
    ),
    _Couche(
        "departements_france",
        "departements_france.geojson",
        "INSEE COG ; contours par fusion des communes IGN (France entière)",
        ("insee_dep", "nom_dep", "insee_reg", "nom_reg"),
    ),
)
_COUCHES_PAR_NOM = {couche.nom: couche for couche in COUCHES}

# Fichiers du miroir national (dossier ``france/`` du miroir, voir PROVENANCE.md).
_MIROIR_NATIONAL = {
    "qpv": "qpv_2024_france.geojson",
    "communes": "communes_france.geojson",
    "epci": "epci_france.geojson",
    "ept": "ept_france.geojson",
    "departements": "departements_france.geojson",
    "communes_france": "communes_france.csv",
    "communes_anciennes": "communes_anciennes_france.csv",
}


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
    millesime_qpv: int
    millesime_cog: int
    millesime_population: int
    provenance: dict = field(repr=False)

    @property
    def codes_communes(self) -> frozenset[str]:
        """Codes INSEE des communes chargées (territoire)."""
        return frozenset(self.communes["insee_com"])

    @property
    def attribution(self) -> str:
        """Mention des sources à reprendre sous chaque document publié."""
        return (
            f"ANCT, QPV {self.millesime_qpv} ; INSEE, COG {self.millesime_cog} ; DGCL ; IGN ADMIN EXPRESS — "
            "Licence Ouverte 2.0 (Etalab)"
        )

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


def dossier_referentiel_par_defaut() -> Path:
    """Dossier où le référentiel est installé.

    ``$OBSERVATOIRE_REFERENTIEL`` s'il est défini, sinon ``data/reference`` du projet (dossier
    parent contenant ``pyproject.toml``, en partant du répertoire courant puis du paquet).
    """
    if os.environ.get("OBSERVATOIRE_REFERENTIEL"):
        return Path(os.environ["OBSERVATOIRE_REFERENTIEL"]).expanduser().resolve()
    return racine_projet() / "data" / "reference"


# --------------------------------------------------------------------------- installation


def installer_referentiel(
    depuis: str | Path,
    vers: str | Path | None = None,
    *,
    departements: str | Iterable[object] | None = None,
    region: str | None = None,
    origine: str | None = None,
) -> dict:
    """Installe le référentiel d'un territoire depuis un miroir national, le vérifie, le décrit.

    Les contours (QPV, communes, EPCI, EPT, départements) ne sont installés que pour les
    départements demandés ; les tables nationales (toutes les communes avec leur département,
    leur région et leur population, les anciens codes, les départements) le sont toujours,
    pour nommer et contrôler n'importe quelle commune. Rien n'est remplacé tant que tout n'a
    pas été écrit et relu : en cas d'erreur, le référentiel déjà installé reste intact.

    Parameters
    ----------
    depuis : str or Path
        Dossier miroir : celui qui contient ``france/`` (par exemple ``../shared/reference``)
        ou ``france/`` lui-même.
    vers : str or Path, optional
        Dossier d'installation ; par défaut ``dossier_referentiel_par_defaut()``.
    departements : str or iterable, optional
        Départements du territoire (``"13 83 84"``, ``("13", "83", "84")``).
    region : str, optional
        Code INSEE d'une région : tous ses départements (``"93"``).
    origine : str, optional
        Description de l'origine pour le manifeste (par défaut, le nom du miroir).

    Returns
    -------
    dict
        Le manifeste écrit.

    Raises
    ------
    ErreurParametre
        Ni départements ni région, ou un code inconnu (le message liste les codes valides).
    ErreurReferentiel
        Miroir absent, incomplet ou illisible.
    """
    national = _dossier_national(Path(depuis))
    communes_france = _lire_table(national / _MIROIR_NATIONAL["communes_france"], "communes_france")
    codes = _departements_a_installer(communes_france, departements, region)
    with tempfile.TemporaryDirectory(prefix=".extraction-") as dossier:
        fichiers = _extraire_territoire(national, communes_france, codes, Path(dossier))
        provenance = Path(depuis) / "PROVENANCE.md"
        if not provenance.is_file():
            provenance = national.parent / "PROVENANCE.md"
        return installer_fichiers(
            fichiers,
            Path(vers) if vers else dossier_referentiel_par_defaut(),
            mode="miroir",
            origine=origine or f"miroir {Path(depuis).name or depuis}",
            documents=[provenance] if provenance.is_file() else [],
            departements=codes,
        )


def _dossier_national(miroir: Path) -> Path:
    for candidat in (miroir / "france", miroir):
        if (candidat / _MIROIR_NATIONAL["communes_france"]).is_file():
            manquants = [
                fichier
                for nom, fichier in _MIROIR_NATIONAL.items()
                if _COUCHES_PAR_NOM[nom].obligatoire and not (candidat / fichier).is_file()
            ]
            if manquants:
                raise ErreurReferentiel(
                    f"Le dossier miroir {candidat} ne contient pas les couches : {', '.join(manquants)}. "
                    "Vérifiez le chemin ou complétez le miroir."
                )
            return candidat
    if not miroir.is_dir():
        raise ErreurReferentiel(
            f"Dossier miroir introuvable : {miroir}. Indiquez le dossier qui contient france/ "
            "(communes_france.csv, qpv_2024_france.geojson…), par exemple ../shared/reference, "
            "ou utilisez « observatoire referentiel telecharger »."
        )
    raise ErreurReferentiel(
        f"Le dossier miroir {miroir} ne contient pas les couches nationales (france/communes_france.csv, "
        "france/qpv_2024_france.geojson…). Vérifiez le chemin ou complétez le miroir."
    )


def _departements_a_installer(communes_france: pd.DataFrame, departements, region) -> tuple[str, ...]:
    disponibles = sorted(set(communes_france["insee_dep"]))
    if region not in (None, ""):
        code_region = str(region).strip().zfill(2)
        codes = tuple(
            sorted(set(communes_france.loc[communes_france["insee_reg"] == code_region, "insee_dep"]))
        )
        if not codes:
            regions = communes_france[["insee_reg", "nom_reg"]].drop_duplicates().sort_values("insee_reg")
            raise ErreurParametre(
                f"Région inconnue : {region!r}. Codes INSEE des régions : "
                + ", ".join(f"{c} ({n})" for c, n in regions.itertuples(index=False))
                + "."
            )
        return codes
    if departements in (None, "", (), []):
        raise ErreurParametre(
            "Indiquez le territoire à installer : --departements (par exemple 13 83 84) ou --region "
            "(par exemple 93), ou les départements du fichier observatoire.toml du centre (--donnees)."
        )
    codes = normaliser_departements(departements)
    inconnus = [code for code in codes if code not in disponibles]
    if inconnus:
        raise ErreurParametre(
            f"Département(s) inconnu(s) : {', '.join(inconnus)}. Codes disponibles : {', '.join(disponibles)}."
        )
    return codes


def _extraire_territoire(
    national: Path, communes_france: pd.DataFrame, codes: tuple[str, ...], dossier: Path
) -> dict[str, Path]:
    """Écrit dans ``dossier`` les couches du territoire ; renvoie couche → fichier à installer."""
    filtre = "insee_dep IN (" + ", ".join(f"'{code}'" for code in codes) + ")"
    communes = _lire_filtre(national / _MIROIR_NATIONAL["communes"], filtre)
    anciennes_chemin = national / _MIROIR_NATIONAL["communes_anciennes"]
    anciennes = _lire_table(anciennes_chemin, "communes_anciennes") if anciennes_chemin.is_file() else None
    qpv = _lire_filtre(national / _MIROIR_NATIONAL["qpv"], filtre)
    couches = {
        "qpv": completer_qpv(qpv, communes_france, anciennes),
        "communes": communes,
        "departements": _lire_filtre(national / _MIROIR_NATIONAL["departements"], filtre),
    }
    for nom, colonne in (("epci", "siren_epci"), ("ept", "code_ept")):
        membres = sorted(set(communes[colonne].dropna()) - {""})
        if membres:
            liste = ", ".join(f"'{code}'" for code in membres)
            couches[nom] = _lire_filtre(national / _MIROIR_NATIONAL[nom], f"{colonne} IN ({liste})")
    fichiers = {}
    for nom, table in couches.items():
        chemin = dossier / _COUCHES_PAR_NOM[nom].fichier
        pyogrio.write_dataframe(table, chemin, driver="GeoJSON", layer=nom, COORDINATE_PRECISION=6)
        fichiers[nom] = chemin
    fichiers["communes_france"] = national / _MIROIR_NATIONAL["communes_france"]
    fichiers["departements_france"] = national / _MIROIR_NATIONAL["departements"]
    if anciennes is not None:
        fichiers["communes_anciennes"] = anciennes_chemin
    return fichiers


def _lire_filtre(chemin: Path, filtre: str) -> gpd.GeoDataFrame:
    try:
        return pyogrio.read_dataframe(chemin, where=filtre)
    except Exception as erreur:  # pyogrio lève des erreurs GDAL variées
        raise ErreurReferentiel(
            f"Fichier de référence illisible ou tronqué : {chemin} ({erreur}). Vérifiez ou recopiez le miroir."
        ) from erreur


def completer_qpv(
    qpv: gpd.GeoDataFrame, communes_france: pd.DataFrame, anciennes: pd.DataFrame | None = None
) -> gpd.GeoDataFrame:
    """Ajoute aux QPV les noms, EPCI et EPT de leurs communes d'accueil (codes actuels).

    Les codes d'accueil qui ne sont plus des communes (fusion après la publication des QPV)
    sont remplacés par la commune actuelle (table des anciens codes).

    Parameters
    ----------
    qpv : geopandas.GeoDataFrame
        QPV avec ``code_qp``, ``lib_qp``, ``insee_com`` (codes d'accueil séparés par des virgules).
    communes_france : pandas.DataFrame
        Table nationale des communes.
    anciennes : pandas.DataFrame, optional
        Table des anciens codes.

    Returns
    -------
    geopandas.GeoDataFrame
        Copie avec ``insee_dep`` (tiré du code du QPV), ``insee_com``, ``lib_com``,
        ``n_communes``, ``siren_epci``, ``nom_epci``, ``code_ept``, ``nom_ept``.
    """
    table = communes_france.set_index("insee_com")
    actuels = (
        {} if anciennes is None else dict(zip(anciennes["code_ancien"], anciennes["insee_com"], strict=True))
    )

    def hotes(valeur) -> list[str]:
        codes = [c.strip() for c in str(valeur).split(",") if c.strip()]
        codes = [c if c in table.index else actuels.get(c, c) for c in codes]
        return list(dict.fromkeys(c for code in codes for c in code.split(",")))

    def joindre(codes: list[str], colonne: str) -> str:
        valeurs = [str(table[colonne].get(c, "") or "") for c in codes]
        return ",".join(dict.fromkeys(v for v in valeurs if v))

    resultat = qpv.copy()
    listes = resultat["insee_com"].map(hotes)
    resultat["insee_com"] = listes.map(",".join)
    resultat["insee_dep"] = resultat["code_qp"].str[2:5].str.lstrip("0").str.zfill(2)
    resultat["lib_com"] = listes.map(lambda c: ",".join(str(table["nom_com"].get(x, "")) for x in c))
    resultat["n_communes"] = listes.map(len)
    for colonne in ("siren_epci", "nom_epci", "code_ept", "nom_ept"):
        resultat[colonne] = listes.map(lambda c, colonne=colonne: joindre(c, colonne))
    return resultat


def installer_fichiers(
    fichiers: dict[str, Path],
    cible: Path,
    *,
    mode: str,
    origine: str,
    documents: list[Path],
    departements: tuple[str, ...],
) -> dict:
    """Copie, relit et installe des couches d'un coup (miroir ou téléchargement).

    Le référentiel en place n'est remplacé qu'une fois tout copié et relu sans erreur.

    Parameters
    ----------
    fichiers : dict
        Nom de couche → fichier source.
    cible : Path
        Dossier d'installation.
    mode, origine : str
        Pour le manifeste (``miroir`` ou ``telechargement`` ; d'où viennent les fichiers).
    documents : list of Path
        Documents copiés tels quels (``PROVENANCE.md``).
    departements : tuple of str
        Départements du territoire installé.

    Returns
    -------
    dict
        Le manifeste écrit.
    """
    manquantes = [c.nom for c in COUCHES if c.obligatoire and c.nom not in fichiers]
    if manquantes:
        raise ErreurReferentiel(f"Couches manquantes pour l'installation : {', '.join(manquantes)}.")
    cible.parent.mkdir(parents=True, exist_ok=True)
    temporaire = Path(tempfile.mkdtemp(prefix=".reference-", dir=cible.parent))
    try:
        couches = {}
        population = None
        for nom, chemin in fichiers.items():
            couche = _COUCHES_PAR_NOM[nom]
            destination = temporaire / couche.fichier
            shutil.copyfile(chemin, destination)
            table = _lire_couche_brute(destination, couche)
            if nom == "communes_france":
                population = _colonne_population(table)
            couches[nom] = {
                "fichier": couche.fichier,
                "source": couche.source,
                "origine": chemin.name if mode == "miroir" else origine,
                "licence": LICENCE_OUVERTE,
                "millesime": MILLESIME_QPV if nom == "qpv" else MILLESIME_COG,
                "entites": int(len(table)),
                "octets": destination.stat().st_size,
                "sha256": sha256_fichier(destination),
            }
        for document in documents:
            shutil.copyfile(document, temporaire / document.name)
        manifeste = {
            "mode": mode,
            "origine": origine,
            "installe_le": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
            "departements": list(departements),
            "millesime_qpv": MILLESIME_QPV,
            "millesime_cog": MILLESIME_COG,
            "millesime_population": int(population[len("pop_mun_") :]) if population else None,
            "couches": couches,
        }
        (temporaire / NOM_MANIFESTE).write_text(
            json.dumps(manifeste, ensure_ascii=False, indent=2), encoding="utf-8"
        )
        appliquer_droits(temporaire)
        remplacer_dossier(temporaire, cible)
    finally:
        shutil.rmtree(temporaire, ignore_errors=True)
    _lire_couches.cache_clear()
    return manifeste


def _colonne_population(table: pd.DataFrame) -> str | None:
    """La population municipale la plus récente (``pop_mun_AAAA``)."""
    colonnes = sorted(c for c in table.columns if re.fullmatch(r"pop_mun_\d{4}", c))
    return colonnes[-1] if colonnes else None


def _lire_table(chemin: Path, nom: str) -> pd.DataFrame:
    return _lire_couche_brute(chemin, _COUCHES_PAR_NOM[nom])


def _lire_couche_brute(chemin: Path, couche: _Couche) -> gpd.GeoDataFrame | pd.DataFrame:
    try:
        if chemin.suffix == ".csv":
            table = pd.read_csv(chemin, dtype=str, keep_default_na=False, encoding="utf-8")
        else:
            table = pyogrio.read_dataframe(chemin)
    except Exception as erreur:  # pyogrio et pandas lèvent des erreurs variées
        raise ErreurReferentiel(
            f"Fichier de référence illisible ou tronqué : {chemin} ({erreur}). "
            "Réinstallez le référentiel (« observatoire referentiel installer --depuis DOSSIER » "
            "ou « observatoire referentiel telecharger »)."
        ) from erreur
    manquantes = [c for c in couche.colonnes if c not in table.columns]
    sans_crs = isinstance(table, gpd.GeoDataFrame) and table.crs is None
    if manquantes or len(table) == 0 or sans_crs:
        raise ErreurReferentiel(
            f"Fichier de référence incomplet : {chemin} (colonnes manquantes : "
            f"{', '.join(manquantes) or 'aucune'} ; entités : {len(table)} ; "
            f"CRS : {'absent' if sans_crs else 'ok'}). Réinstallez le référentiel."
        )
    return table


# --------------------------------------------------------------------------- chargement


def _lire_manifeste(dossier: Path) -> dict:
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


def _exiger_sommes(dossier: Path, manifeste: dict) -> None:
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
    manifeste = _lire_manifeste(dossier)
    _exiger_sommes(dossier, manifeste)
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
        brute = _lire_couche_brute(dossier / manifeste["couches"][couche.nom]["fichier"], couche)
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
        population = _colonne_population(table)
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
        table = table[[*COLONNES_COMMUNES_FRANCE, "population"]]
    if nom == "departements_france":
        # Les origines sont nommées et placées en un point : le contour n'est pas dessiné.
        table = table.set_geometry(table.geometry.representative_point())
    if nom == "qpv":
        for colonne in ("lib_com", "siren_epci", "nom_epci", "code_ept", "nom_ept"):
            if colonne not in table.columns:
                table[colonne] = ""
    return table


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
            f"Département(s) absent(s) du référentiel : {', '.join(inconnus)}. "
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
    anciennes = couches["communes_anciennes"]
    if anciennes is None:
        anciennes = pd.DataFrame(
            columns=list(_COUCHES_PAR_NOM["communes_anciennes"].colonnes) + ["date_effet"]
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
    }
    for nom, table in tables.items():
        if nom in ("communes_france", "communes_anciennes", "departements_france"):
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


def verifier_referentiel(
    dossier: str | Path | None = None, departements: tuple[str, ...] | None = None
) -> pd.DataFrame:
    """Contrôle le référentiel installé et renvoie un tableau par département.

    Contrôles : sommes sha256 du manifeste, CRS, géométries valides et non vides, et chaque
    QPV dans ses communes d'accueil (point intérieur dans une commune listée et au moins la moitié
    de la surface dans ces communes, les contours communaux étant simplifiés).

    Parameters
    ----------
    dossier : str or Path, optional
        Dossier du référentiel installé.
    departements : tuple of str, optional
        Départements à contrôler ; par défaut tous ceux du référentiel.

    Returns
    -------
    pandas.DataFrame
        Colonnes ``departement, qpv, communes, epci, geometries_invalides,
        qpv_hors_communes, statut``.
    """
    racine = Path(dossier).resolve() if dossier else dossier_referentiel_par_defaut()
    # Toujours relire les sommes : le chargement, lui, peut venir du cache.
    _exiger_sommes(racine, _lire_manifeste(racine))
    referentiel = charger_referentiel(departements, racine)
    lignes = [_controler_departement(referentiel, code) for code in referentiel.departements_demandes]
    return pd.DataFrame(lignes)


def _controler_departement(referentiel: Referentiel, code: str) -> dict:
    qpv = referentiel.qpv[referentiel.qpv["insee_dep"] == code]
    communes = referentiel.communes[referentiel.communes["insee_dep"] == code]
    invalides = int((~qpv.geometry.is_valid | qpv.geometry.is_empty).sum()) + int(
        (~communes.geometry.is_valid | communes.geometry.is_empty).sum()
    )
    hors = _qpv_hors_communes(qpv, referentiel.communes)
    crs_ok = all(t.crs == CRS_CALCUL for t in (qpv, communes))
    statut = "ok" if invalides == 0 and not hors and crs_ok and len(qpv) and len(communes) else "à revoir"
    return {
        "departement": code,
        "qpv": len(qpv),
        "communes": len(communes),
        "epci": communes["siren_epci"].nunique(),
        "geometries_invalides": invalides,
        "qpv_hors_communes": ", ".join(hors),
        "crs": CRS_CALCUL if crs_ok else "incohérent",
        "statut": statut,
    }


def _qpv_hors_communes(qpv: gpd.GeoDataFrame, communes: gpd.GeoDataFrame) -> list[str]:
    contours = communes.set_index("insee_com").geometry
    hors = []
    for code_qp, hotes, geometrie in zip(qpv["code_qp"], qpv["insee_com"], qpv.geometry, strict=True):
        codes = [c.strip() for c in str(hotes).split(",") if c.strip() in contours.index]
        if not codes:
            hors.append(code_qp)
            continue
        union = contours.loc[codes].union_all()
        part = geometrie.intersection(union).area / geometrie.area
        if part < PART_MIN_DANS_HOTES or not union.contains(geometrie.representative_point()):
            hors.append(code_qp)
    return hors


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
    valides = np.flatnonzero(~(shapely.is_missing(geometries) | shapely.is_empty(geometries)))
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


@lru_cache(maxsize=1)
def _lambert93():
    """Transformation vers WGS84 et projection Lambert-93, construites une fois (2,8 ms chacune)."""
    from pyproj import Proj, Transformer

    return Transformer.from_crs(CRS_CALCUL, "EPSG:4326", always_xy=True), Proj(CRS_CALCUL)

"""Référentiel géographique : QPV 2024, communes (COG 2024), EPCI, EPT, départements.

Les couches sont installées dans ``data/reference/`` (ignoré par git) depuis un dossier miroir
(``installer_referentiel``) ou depuis les sources officielles (``telecharger_referentiel`` du
module ``telechargement``), avec un manifeste (source, millésime, licence, sha256, date). Elles
sont chargées en EPSG:2154 (Lambert-93) avec le millésime et la provenance dans ``.attrs``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from .commun import appliquer_droits, racine_projet, remplacer_dossier, sha256_fichier
from .erreurs import ErreurParametre, ErreurReferentiel
from .territoires import normaliser_departements

__all__ = [
    "CRS_CALCUL",
    "MILLESIME_QPV",
    "Referentiel",
    "charger_referentiel",
    "dossier_referentiel_par_defaut",
    "installer_fichiers",
    "installer_referentiel",
    "verifier_referentiel",
]

CRS_CALCUL = "EPSG:2154"
MILLESIME_QPV = 2024
MILLESIME_COG = 2024
NOM_MANIFESTE = "manifest.json"
LICENCE_OUVERTE = "Licence Ouverte / Open Licence 2.0 (Etalab)"


@dataclass(frozen=True)
class _Couche:
    nom: str
    fichier: str
    motif_miroir: str
    source: str
    colonnes: tuple[str, ...]
    obligatoire: bool = True


COUCHES: tuple[_Couche, ...] = (
    _Couche(
        "qpv",
        "qpv_2024.geojson",
        "qpv_2024_*.geojson",
        "ANCT, Quartiers prioritaires de la politique de la ville (QPV 2024), data.gouv.fr",
        ("code_qp", "lib_qp", "insee_dep", "insee_com"),
    ),
    _Couche(
        "communes",
        "communes.geojson",
        "communes_*.geojson",
        "INSEE COG 2024 et DGCL (appartenances, populations légales) ; contours IGN ADMIN EXPRESS",
        ("insee_com", "nom_com", "insee_dep", "siren_epci", "nom_epci"),
    ),
    _Couche(
        "epci",
        "epci.geojson",
        "epci_*.geojson",
        "DGCL, EPCI à fiscalité propre 2024 ; contours par fusion des communes IGN",
        ("siren_epci", "nom_epci"),
    ),
    _Couche(
        "ept",
        "ept.geojson",
        "ept_*.geojson",
        "INSEE, établissements publics territoriaux (Métropole du Grand Paris)",
        ("code_ept", "nom_ept"),
        obligatoire=False,
    ),
    _Couche(
        "departements",
        "departements.geojson",
        "departements_*.geojson",
        "INSEE COG 2024 ; contours par fusion des communes IGN",
        ("insee_dep", "nom_dep"),
    ),
    _Couche(
        "qpv_france",
        "qpv_2024_france.geojson",
        "france/qpv_2024_france.geojson",
        "ANCT, QPV 2024, France entière",
        ("code_qp", "lib_qp", "insee_dep"),
        obligatoire=False,
    ),
)
_COUCHES_PAR_NOM = {couche.nom: couche for couche in COUCHES}


@dataclass(frozen=True)
class Referentiel:
    """Couches de référence pour un ensemble de départements, en EPSG:2154.

    Les tables sont partagées par le cache : les traiter en lecture seule (``.copy()`` avant
    toute modification).
    """

    departements_demandes: tuple[str, ...]
    qpv: gpd.GeoDataFrame
    communes: gpd.GeoDataFrame
    epci: gpd.GeoDataFrame
    ept: gpd.GeoDataFrame
    departements: gpd.GeoDataFrame
    millesime_qpv: int
    millesime_cog: int
    provenance: dict = field(repr=False)

    @property
    def codes_communes(self) -> frozenset[str]:
        """Codes INSEE des communes du référentiel."""
        return frozenset(self.communes["insee_com"])


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
    depuis: str | Path, vers: str | Path | None = None, *, origine: str | None = None
) -> dict:
    """Installe le référentiel depuis un dossier miroir, le vérifie et écrit le manifeste.

    Rien n'est remplacé tant que tout n'a pas été copié et relu : en cas d'erreur, le
    référentiel déjà installé reste intact.

    Parameters
    ----------
    depuis : str or Path
        Dossier miroir (par exemple ``../shared/reference``).
    vers : str or Path, optional
        Dossier d'installation ; par défaut ``dossier_referentiel_par_defaut()``.
    origine : str, optional
        Description de l'origine pour le manifeste (par défaut, le chemin du miroir).

    Returns
    -------
    dict
        Le manifeste écrit.
    """
    miroir = Path(depuis)
    if not miroir.is_dir():
        raise ErreurReferentiel(
            f"Dossier miroir introuvable : {miroir}. Indiquez le dossier qui contient les "
            "fichiers qpv_2024_*.geojson, communes_*.geojson… (par exemple ../shared/reference), "
            "ou utilisez « observatoire referentiel telecharger »."
        )
    fichiers = _fichiers_du_miroir(miroir)
    provenance = miroir / "PROVENANCE.md"
    return installer_fichiers(
        fichiers,
        Path(vers) if vers else dossier_referentiel_par_defaut(),
        mode="miroir",
        origine=origine or str(miroir.resolve()),
        documents=[provenance] if provenance.is_file() else [],
    )


def _fichiers_du_miroir(miroir: Path) -> dict[str, Path]:
    fichiers: dict[str, Path] = {}
    manquantes = []
    for couche in COUCHES:
        candidats = sorted(miroir.glob(couche.motif_miroir))
        if candidats:
            fichiers[couche.nom] = candidats[0]
        elif couche.obligatoire:
            manquantes.append(f"{couche.nom} ({couche.motif_miroir})")
    if manquantes:
        raise ErreurReferentiel(
            f"Le dossier miroir {miroir} ne contient pas les couches : {', '.join(manquantes)}. "
            "Vérifiez le chemin ou complétez le miroir."
        )
    return fichiers


def installer_fichiers(
    fichiers: dict[str, Path], cible: Path, *, mode: str, origine: str, documents: list[Path]
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

    Returns
    -------
    dict
        Le manifeste écrit.
    """
    cible.parent.mkdir(parents=True, exist_ok=True)
    temporaire = Path(tempfile.mkdtemp(prefix=".reference-", dir=cible.parent))
    try:
        couches = {}
        for nom, chemin in fichiers.items():
            couche = _COUCHES_PAR_NOM[nom]
            destination = temporaire / couche.fichier
            shutil.copyfile(chemin, destination)
            table = _lire_couche_brute(destination, couche)
            couches[nom] = {
                "fichier": couche.fichier,
                "source": couche.source,
                "origine": str(chemin) if mode == "miroir" else origine,
                "licence": LICENCE_OUVERTE,
                "millesime": MILLESIME_QPV if nom.startswith("qpv") else MILLESIME_COG,
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
            "millesime_qpv": MILLESIME_QPV,
            "millesime_cog": MILLESIME_COG,
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


def _lire_couche_brute(chemin: Path, couche: _Couche) -> gpd.GeoDataFrame:
    try:
        table = pyogrio.read_dataframe(chemin)
    except Exception as erreur:  # pyogrio lève des erreurs GDAL variées
        raise ErreurReferentiel(
            f"Fichier de référence illisible ou tronqué : {chemin} ({erreur}). "
            "Réinstallez le référentiel (« observatoire referentiel installer --depuis DOSSIER » "
            "ou « observatoire referentiel telecharger »)."
        ) from erreur
    manquantes = [c for c in couche.colonnes if c not in table.columns]
    if manquantes or len(table) == 0 or table.crs is None:
        raise ErreurReferentiel(
            f"Fichier de référence incomplet : {chemin} (colonnes manquantes : "
            f"{', '.join(manquantes) or 'aucune'} ; entités : {len(table)} ; "
            f"CRS : {table.crs}). Réinstallez le référentiel."
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
def _lire_couches(dossier: Path, signature: float) -> tuple[dict[str, gpd.GeoDataFrame], dict]:
    manifeste = _lire_manifeste(dossier)
    _exiger_sommes(dossier, manifeste)
    couches: dict[str, gpd.GeoDataFrame | None] = {}
    for nom in ("qpv", "communes", "epci", "ept", "departements"):
        if nom not in manifeste["couches"]:
            couches[nom] = None
            continue
        brute = _lire_couche_brute(dossier / manifeste["couches"][nom]["fichier"], _COUCHES_PAR_NOM[nom])
        couches[nom] = _standardiser(nom, brute).to_crs(CRS_CALCUL)
    return couches, manifeste


def _standardiser(nom: str, table: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    table = table.copy()
    for colonne in table.columns:
        if colonne != "geometry" and (
            colonne.startswith(("insee_", "siren_", "code_")) or colonne in ("codes_qpv_2024",)
        ):
            table[colonne] = table[colonne].astype("string").fillna("").astype(object)
    if nom == "communes":
        if "pop_mun_2021" in table.columns:
            table["population"] = table["pop_mun_2021"]
        table["population"] = pd.to_numeric(table.get("population"), errors="coerce")
        for colonne in ("code_ept", "nom_ept", "nom_dep"):
            if colonne not in table.columns:
                table[colonne] = ""
        table["n_qpv_2024"] = table.get("n_qpv_2024", 0)
        table["nom_ept"] = table["nom_ept"].fillna("")
    if nom == "qpv" and "lib_com" not in table.columns:
        table["lib_com"] = ""
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
        Codes des départements (``"95"``, ``("78", "92", "95")``, ``"78 92 95"``) ; par
        défaut, tous ceux du référentiel installé.
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
        Département inconnu du référentiel (le message liste les codes valides).
    """
    racine = Path(dossier).resolve() if dossier else dossier_referentiel_par_defaut()
    manifeste_chemin = racine / NOM_MANIFESTE
    signature = manifeste_chemin.stat().st_mtime if manifeste_chemin.is_file() else 0.0
    couches, manifeste = _lire_couches(racine, signature)

    disponibles = sorted(set(couches["communes"]["insee_dep"]))
    codes = normaliser_departements(departements) if departements else tuple(disponibles)
    inconnus = [code for code in codes if code not in disponibles]
    if inconnus:
        raise ErreurParametre(
            f"Département(s) absent(s) du référentiel : {', '.join(inconnus)}. "
            f"Codes disponibles : {', '.join(disponibles)}."
        )
    return _assembler_referentiel(codes, couches, manifeste)


def _assembler_referentiel(codes, couches, manifeste) -> Referentiel:
    communes = couches["communes"][couches["communes"]["insee_dep"].isin(codes)].copy()
    qpv = couches["qpv"][couches["qpv"]["insee_dep"].isin(codes)].copy()
    epci = couches["epci"][couches["epci"]["siren_epci"].isin(set(communes["siren_epci"]))].copy()
    if couches["ept"] is not None:
        ept = couches["ept"][couches["ept"]["code_ept"].isin(set(communes["code_ept"]) - {""})].copy()
    else:
        ept = gpd.GeoDataFrame({"code_ept": [], "nom_ept": []}, geometry=[], crs=CRS_CALCUL)
    departements = couches["departements"][couches["departements"]["insee_dep"].isin(codes)].copy()
    tables = {"qpv": qpv, "communes": communes, "epci": epci, "ept": ept, "departements": departements}
    for nom, table in tables.items():
        table.attrs["millesime"] = MILLESIME_QPV if nom == "qpv" else MILLESIME_COG
        table.attrs["provenance"] = manifeste["couches"].get(nom, {})
        table.reset_index(drop=True, inplace=True)
    return Referentiel(
        departements_demandes=codes,
        millesime_qpv=int(manifeste.get("millesime_qpv", MILLESIME_QPV)),
        millesime_cog=int(manifeste.get("millesime_cog", MILLESIME_COG)),
        provenance=manifeste,
        **tables,
    )


# --------------------------------------------------------------------------- vérification


def verifier_referentiel(
    dossier: str | Path | None = None, departements: tuple[str, ...] | None = None
) -> pd.DataFrame:
    """Contrôle le référentiel installé et renvoie un tableau par département.

    Contrôles : sommes sha256 du manifeste, CRS, géométries valides et non vides, et chaque
    QPV dans ses communes d'accueil (point intérieur dans une commune listée et au moins 90 %
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
        if part < 0.9 or not union.contains(geometrie.representative_point()):
            hors.append(code_qp)
    return hors

"""Les couches du référentiel : fichiers installés, sources, colonnes attendues, lecture brute.

Une couche est un fichier de ``data/reference/`` décrit par ``Couche`` ; ``lire_couche_brute``
le lit et vérifie ses colonnes, sans rien transformer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from ..commun.erreurs import ErreurReferentiel

__all__ = [
    "COLONNES_COMMUNES_FRANCE",
    "COUCHES",
    "COUCHES_DU_TERRITOIRE",
    "COUCHES_PAR_NOM",
    "LICENCE_OUVERTE",
    "MILLESIME_COG",
    "MILLESIME_QPV",
    "MIROIR_NATIONAL",
    "NOM_MANIFESTE",
    "Couche",
    "colonne_population",
    "lire_couche_brute",
    "lire_table_de_reference",
]

MILLESIME_QPV = 2024
MILLESIME_COG = 2025
NOM_MANIFESTE = "manifest.json"
LICENCE_OUVERTE = "Licence Ouverte / Open Licence 2.0 (Etalab)"
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
class Couche:
    nom: str
    fichier: str
    source: str
    colonnes: tuple[str, ...]
    obligatoire: bool = True
    precautions: tuple[str, ...] = ()
    millesime: str = ""
    licence: str = ""


# Couches installées : celles du territoire (contours) puis les tables nationales (noms et
# codes de toutes les communes, anciens codes, départements pour nommer les origines).
COUCHES: tuple[Couche, ...] = (
    Couche(
        "qpv",
        "qpv_2024.geojson",
        "ANCT, Quartiers prioritaires de la politique de la ville (QPV 2024), data.gouv.fr",
        ("code_qp", "lib_qp", "insee_dep", "insee_com"),
    ),
    Couche(
        "communes",
        "communes.geojson",
        "INSEE COG et DGCL (appartenances, populations légales) ; contours IGN ADMIN EXPRESS",
        ("insee_com", "nom_com", "insee_dep", "siren_epci", "nom_epci"),
    ),
    Couche(
        "epci",
        "epci.geojson",
        "DGCL, EPCI à fiscalité propre ; contours par fusion des communes IGN",
        ("siren_epci", "nom_epci"),
    ),
    Couche(
        "ept",
        "ept.geojson",
        "INSEE, établissements publics territoriaux (Métropole du Grand Paris)",
        ("code_ept", "nom_ept"),
        obligatoire=False,
    ),
    Couche(
        "departements",
        "departements.geojson",
        "INSEE COG ; contours par fusion des communes IGN",
        ("insee_dep", "nom_dep"),
    ),
    Couche(
        "communes_france",
        "communes_france.csv",
        "INSEE COG (toutes les communes de France), DGCL (EPCI), populations légales INSEE",
        COLONNES_COMMUNES_FRANCE,
    ),
    Couche(
        "communes_anciennes",
        "communes_anciennes_france.csv",
        "INSEE COG, table des mouvements des communes (anciens codes → commune actuelle)",
        ("code_ancien", "nom_ancien", "type_lien", "insee_com", "nom_com"),
        obligatoire=False,
    ),
    Couche(
        "departements_france",
        "departements_france.geojson",
        "INSEE COG ; contours par fusion des communes IGN (France entière)",
        ("insee_dep", "nom_dep", "insee_reg", "nom_reg"),
    ),
    Couche(
        "qpv_contexte",
        "qpv_contexte.csv",
        "INSEE (recensement, FiLoSoFi) et CNAF, population et indicateurs des QPV 2024 ; compilation tierce "
        "(dépôt RemiG1984/MaFrance, d'après SIG Ville)",
        ("code_qp", "population_municipale"),
        obligatoire=False,
        millesime="population : recensement 2020 (vérifié en métropole) ; pauvreté : FiLoSoFi 2021 (supposé) ; "
        "emploi, ménages, jeunesse : recensement 2020 (supposé) ; CAF : fin 2023 (supposé)",
        licence="données INSEE et CNAF (Licence Ouverte, d'après l'INSEE) ; compilation sans licence de données déclarée",
        precautions=(
            "Compilation tierce de chiffres INSEE et CNAF, sans millésime déclaré : seule la population "
            "municipale de la métropole est vérifiée (recensement 2020) ; les autres millésimes sont supposés.",
            "Une case vide est le plus souvent un secret statistique, parfois une lacune de la compilation.",
            "La colonne « logements sociaux pour 100 ménages » divise un nombre de logements par un nombre de ménages : "
            "ce n'est pas une part de logements sociaux (il dépasse 100 dans 250 QPV).",
            "Les taux ne s'additionnent pas : une médiane de QPV n'est pas le taux de leur population.",
            "À remplacer par les fichiers de l'INSEE et de la CNAF dès qu'ils sont accessibles.",
        ),
    ),
    Couche(
        "qpv_correspondance",
        "qpv_correspondance.csv",
        "ANCT, table de correspondance QPV 2024 → QPV 2015 (liste-correspondance-qp2024-qp2015.csv)",
        ("code_qp", "statut"),
        obligatoire=False,
        millesime="QPV 2024 ← QPV 2015",
        precautions=(
            "Copie d'un dépôt public de la table de l'ANCT, retapée page par page : une substitution entre "
            "caractères semblables reste possible.",
            "Le statut 2024 est lu dans cette table, jamais dans la lettre du code : trois QPV ont une lettre "
            "qui la contredit (QN01325M, QN09219N, QN09442N).",
            "Deux paires de QPV semblent croisées (QN02611M/QN02612M, QN05956M/QN05957M).",
            "Les périmètres des QPV 2015 ne sont pas disponibles hors ligne : ils ne sont pas utilisés.",
        ),
    ),
)
# Couches propres au territoire, filtrées à l'installation (les autres sont nationales).
COUCHES_DU_TERRITOIRE = (
    "qpv",
    "communes",
    "epci",
    "ept",
    "departements",
    "qpv_contexte",
    "qpv_correspondance",
)
COUCHES_PAR_NOM = {couche.nom: couche for couche in COUCHES}

# Fichiers du miroir national (dossier ``france/`` du miroir, voir PROVENANCE.md).
MIROIR_NATIONAL = {
    "qpv": "qpv_2024_france.geojson",
    "communes": "communes_france.geojson",
    "epci": "epci_france.geojson",
    "ept": "ept_france.geojson",
    "departements": "departements_france.geojson",
    "communes_france": "communes_france.csv",
    "communes_anciennes": "communes_anciennes_france.csv",
    "qpv_contexte": "qpv_2024_contexte.csv",
    "qpv_correspondance": "qpv_2024_2015_correspondance.csv",
}


# --------------------------------------------------------------------------- installation


def colonne_population(table: pd.DataFrame) -> str | None:
    """La population municipale la plus récente (``pop_mun_AAAA``)."""
    colonnes = sorted(c for c in table.columns if re.fullmatch(r"pop_mun_\d{4}", c))
    return colonnes[-1] if colonnes else None


def lire_table_de_reference(chemin: Path, nom: str) -> pd.DataFrame:
    return lire_couche_brute(chemin, COUCHES_PAR_NOM[nom])


def lire_couche_brute(chemin: Path, couche: Couche) -> gpd.GeoDataFrame | pd.DataFrame:
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

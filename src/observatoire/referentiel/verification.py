"""Contrôle du référentiel installé : sommes, CRS, géométries, QPV dans leurs communes."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd

from ..commun.fichiers import dossier_referentiel_par_defaut
from .chargement import Referentiel, charger_referentiel, exiger_sommes, lire_manifeste
from .projection import CRS_CALCUL

__all__ = ["verifier_referentiel"]

# Part minimale de la surface d'un QPV dans ses communes d'accueil : les contours communaux
# sont simplifiés (PROVENANCE.md : 7 QPV de bord sous 0,9, le plus bas à 0,63).
PART_MIN_DANS_HOTES = 0.5


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
    exiger_sommes(racine, lire_manifeste(racine))
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

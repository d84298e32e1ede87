"""Le manifeste d'une année publiée : paramètres, empreintes de chaque entrée lue (données de
l'année et de la précédente, registre des lieux, cache du géocodage, configuration du centre),
référentiel et versions. Stable octet pour octet sur les mêmes entrées : aucun chemin de la
machine, aucune date (elle est dans ``execution.json``).
"""

from __future__ import annotations

import platform
from importlib import metadata

from ..activite.centre import NOM_FICHIER_CENTRE
from ..activite.donnees import chemin_donnees_annee
from ..activite.geocodage import NOM_CACHE
from ..activite.lieux import NOM_REGISTRE
from ..commun.fichiers import chemin_affichable, sha256_fichier, version_observatoire
from ..ensemble import Ensemble

__all__ = ["PAQUETS", "manifeste"]

PAQUETS = (
    "geopandas",
    "pandas",
    "numpy",
    "shapely",
    "pyogrio",
    "pyproj",
    "folium",
    "matplotlib",
    "pandera",
    "papermill",
    "nbconvert",
    "openpyxl",
)


def manifeste(ensemble: Ensemble) -> dict:
    """Paramètres, empreintes des entrées, référentiel et versions : de quoi refaire le calcul.

    Parameters
    ----------
    ensemble : Ensemble
        L'année préparée par le lot.

    Returns
    -------
    dict
        ``parametres``, ``entrees_sha256`` (chemin affichable → sha256), ``referentiel``,
        ``versions``, ``commit``.
    """
    parametres = ensemble.parametres
    entrees = {}
    racine = parametres.chemin_donnees
    for annee in (parametres.annee, parametres.annee - 1):
        chemin = chemin_donnees_annee(racine, annee)
        if chemin is None:
            continue
        fichiers = sorted(chemin.iterdir()) if chemin.is_dir() else [chemin]
        for fichier in fichiers:
            if fichier.is_file():
                entrees[_nom(chemin.parent, fichier)] = sha256_fichier(fichier)
    for nom in (NOM_REGISTRE, NOM_CACHE, NOM_FICHIER_CENTRE):
        annexe = racine / nom
        if annexe.is_file():
            entrees[_nom(racine, annexe)] = sha256_fichier(annexe)
    versions = {"python": platform.python_version()}
    for paquet in ("observatoire", *PAQUETS):
        try:
            versions[paquet] = metadata.version(paquet)
        except metadata.PackageNotFoundError:
            versions[paquet] = "absent"
    couches = ensemble.referentiel.provenance.get("couches", {})
    return {
        "parametres": parametres.pour_manifeste(),
        "entrees_sha256": dict(sorted(entrees.items())),
        "referentiel": {
            nom: {"sha256": c["sha256"], "millesime": c["millesime"], "source": c["source"]}
            for nom, c in couches.items()
        },
        "versions": versions,
        "commit": version_observatoire(),
    }


def _nom(parent, fichier) -> str:
    return chemin_affichable(parent) + "/" + fichier.relative_to(parent).as_posix()

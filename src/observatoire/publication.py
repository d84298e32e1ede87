"""Ce qui accompagne les rapports d'une année : l'index et le manifeste.

Les deux sont stables octet pour octet d'un lot à l'autre sur les mêmes entrées : aucun chemin
de la machine (entrées nommées relativement au projet et identifiées par sha256), aucune date
(elle est dans ``execution.json``).
"""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path

import pandas as pd

from .activite import chemin_donnees_annee
from .commun import chemin_affichable, ecrire_atomique, sha256_fichier, version_observatoire
from .formats import format_nombre, format_part
from .gabarits import rendre, rendre_page
from .indicateurs import SYNTHESE, valeur
from .parametres import Parametres

__all__ = ["ecrire_index", "manifeste"]

PAQUETS = (
    "geopandas",
    "pandas",
    "shapely",
    "pyogrio",
    "pyproj",
    "folium",
    "matplotlib",
    "pandera",
    "papermill",
    "nbconvert",
)
SANS_PDF = (
    "Les rapports PDF n'ont pas été produits : Chromium est introuvable sur la machine qui a fait le "
    "lot (paquet Debian « chromium »). Chaque rapport HTML s'imprime aussi depuis un navigateur."
)


def ecrire_index(dossier_annee: Path, parametres: Parametres, ensemble: dict, avec_pdf: list[str]) -> Path:
    """Écrit ``index.html`` : chiffres clés et liens de chaque territoire du lot."""
    noms = ensemble["referentiel"].departements.set_index("insee_dep")["nom_dep"]
    lignes = []
    for territoire in [*parametres.departements, SYNTHESE]:
        indicateurs = pd.read_csv(
            dossier_annee / territoire / "indicateurs.csv",
            sep=";",
            encoding="utf-8-sig",
            dtype={"modalite": str},
        )

        def v(cle, colonne="valeur", table=indicateurs):
            return valeur(table, cle, colonne=colonne)

        lignes.append(
            {
                "code": territoire,
                "nom": "Synthèse du territoire"
                if territoire == SYNTHESE
                else f"{noms.get(territoire, '')} ({territoire})",
                "participations": format_nombre(v("participations")),
                "actions": format_nombre(v("actions")),
                "demi_journees": format_nombre(v("demi_journees")),
                "qpv": f"{format_nombre(v('qpv_atteints'))} / {format_nombre(v('qpv'))} "
                f"({format_part(v('qpv_atteints', colonne='part'))})",
                "communes_pv": f"{format_nombre(v('communes_pv_atteintes'))} / {format_nombre(v('communes_pv'))}",
                "demandes": format_nombre(v("demandes")),
                "pdf": territoire in avec_pdf,
            }
        )
    corps = rendre(
        "index.html.j2",
        annee=parametres.annee,
        centre=ensemble["centre"].nom,
        attribution=ensemble["referentiel"].attribution,
        demonstration=ensemble["activite"].demonstration,
        distance=format_nombre(parametres.distance_proximite_m),
        lignes=lignes,
        pdf=bool(avec_pdf),
        sans_pdf=SANS_PDF,
    )
    page = rendre_page(f"Rapports d'activité {parametres.annee}", corps)
    return ecrire_atomique(dossier_annee / "index.html", page.encode("utf-8"))


def manifeste(parametres: Parametres, ensemble: dict) -> dict:
    """Paramètres, empreintes des entrées, référentiel et versions : de quoi refaire le calcul."""
    entrees = {}
    for annee in (parametres.annee, parametres.annee - 1):
        chemin = chemin_donnees_annee(parametres.chemin_donnees, annee)
        if chemin is None:
            continue
        fichiers = sorted(chemin.iterdir()) if chemin.is_dir() else [chemin]
        for fichier in fichiers:
            if fichier.is_file():
                entrees[
                    chemin_affichable(chemin.parent) + "/" + fichier.relative_to(chemin.parent).as_posix()
                ] = sha256_fichier(fichier)
    versions = {"python": platform.python_version()}
    for paquet in ("observatoire", *PAQUETS):
        try:
            versions[paquet] = metadata.version(paquet)
        except metadata.PackageNotFoundError:
            versions[paquet] = "absent"
    couches = ensemble["referentiel"].provenance.get("couches", {})
    return {
        "parametres": parametres.pour_manifeste(),
        "entrees_sha256": entrees,
        "referentiel": {
            nom: {"sha256": c["sha256"], "millesime": c["millesime"], "source": c["source"]}
            for nom, c in couches.items()
        },
        "versions": versions,
        "commit": version_observatoire(),
    }

"""L'index d'une année publiée : chaque territoire, ses chiffres clés (catalogue), ses documents
(registre des exports), les lignes écartées, les fiches des quartiers et les sources.

Stable octet pour octet d'un lot à l'autre sur les mêmes entrées (aucune date : elle est dans
``execution.json``).
"""

from __future__ import annotations

from pathlib import Path

from ..commun.codes import SYNTHESE
from ..commun.fichiers import ecrire_atomique
from ..commun.typographie import format_nombre, format_part, nombre_de
from ..ensemble import Ensemble
from ..indicateurs.calcul import lire_indicateurs
from ..indicateurs.catalogue import CHIFFRES_CLES
from ..presentation.chiffres import texte_chiffre_cle
from ..presentation.gabarits import rendre, rendre_page
from .exports import EXPORTEURS

__all__ = ["ecrire_index"]


def ecrire_index(dossier_annee: Path, ensemble: Ensemble, formats: dict[str, dict[str, str]]) -> Path:
    """Écrit ``index.html``.

    Parameters
    ----------
    dossier_annee : Path
        Le dossier de l'année en préparation (chaque territoire y a son ``indicateurs.csv``).
    ensemble : Ensemble
        L'année préparée.
    formats : dict
        Territoire → format → ``produit`` ou la raison de son absence (``execution.json``).
    """
    parametres = ensemble.parametres
    noms = ensemble.referentiel.departements.set_index("insee_dep")["nom_dep"]
    chiffres = [c for c in CHIFFRES_CLES if c.index]
    lignes = []
    for territoire in [*parametres.departements, SYNTHESE]:
        indicateurs = lire_indicateurs(dossier_annee / territoire / "indicateurs.csv")
        valables = [
            c
            for c in chiffres
            if c.territoires in ("tous", "synthese" if territoire == SYNTHESE else "departements")
        ]
        lignes.append(
            {
                "code": territoire,
                "nom": "Synthèse du territoire"
                if territoire == SYNTHESE
                else f"{noms.get(territoire, '')} ({territoire})",
                "chiffres": {c.cle: texte_chiffre_cle(c, indicateurs) for c in valables},
                "documents": [
                    (f"{territoire}/{e.fichier}", e.libelle)
                    for nom, e in EXPORTEURS.items()
                    if formats.get(territoire, {}).get(nom) == "produit"
                ],
            }
        )
    ecartees = ensemble.activite.ecartees()
    absences = sorted(
        {motif for par_format in formats.values() for nom, motif in par_format.items() if motif != "produit"}
    )
    corps = rendre(
        "index.html.j2",
        annee=parametres.annee,
        centre=ensemble.centre.nom,
        attribution=ensemble.referentiel.attribution,
        demonstration=ensemble.activite.demonstration,
        distance=format_nombre(parametres.distance_proximite_m),
        colonnes=[(c.cle, c.entete) for c in chiffres],
        lignes=lignes,
        ecartees=_phrase_ecartees(ecartees),
        absences=absences,
    )
    page = rendre_page(
        f"Rapports d'activité {parametres.annee}"
        + (f" — {ensemble.centre.libelle}" if ensemble.centre.libelle else ""),
        corps,
        entete=" · ".join(filter(None, (ensemble.centre.libelle, f"Rapports {parametres.annee}"))),
    )
    return ecrire_atomique(dossier_annee / "index.html", page.encode("utf-8"))


def _phrase_ecartees(ecartees: dict[str, int]) -> str:
    """« 12 lignes sur 4 875 (322 participations sur 4 686, 7 %) écartées… », vide sinon."""
    if not ecartees["lignes"]:
        return ""
    part = (
        ecartees["participations"] / ecartees["participations_lues"] if ecartees["participations_lues"] else 0
    )
    return (
        f"Mode tolérant : {nombre_de(ecartees['lignes'], 'ligne')} sur {format_nombre(ecartees['lignes_lues'])} "
        f"{'écartée' if ecartees['lignes'] < 2 else 'écartées'}, dont {nombre_de(ecartees['participations'], 'participation')} "
        f"sur {format_nombre(ecartees['participations_lues'])} ({format_part(part)}) : les chiffres ci-dessous ne les comptent pas."
    )

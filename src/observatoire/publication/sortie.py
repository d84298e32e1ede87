"""La sortie d'un lot, contrôlée avant tout calcul : jamais une entrée ni autour d'une entrée,
un dossier où l'on peut écrire, une année en place que l'outil a publiée, aucun autre lot en
cours. La commande la contrôle avant même de démarrer ses noyaux : un refus est dit tout de suite,
sans rien lancer (ce module n'importe ni le lot ni les notebooks)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from ..commun.erreurs import ErreurParametre
from ..commun.fichiers import (
    MARQUEUR,
    chemin_pour_message,
    dossier_referentiel_par_defaut,
    marquer_dossier,
    usage_du_dossier,
)
from ..commun.garde import entrees_des_donnees, verifier_sorties
from ..commun.parametres import Parametres
from .verrou import Verrou

__all__ = ["verifier_sortie"]


def verifier_sortie(parametres: Parametres) -> Path:
    """Contrôle la sortie d'un lot et la crée au besoin ; rend son dossier, absolu.

    Parameters
    ----------
    parametres : Parametres
        Paramètres du lot (``sortie``, ``annee``, ``donnees``, ``referentiel``).

    Returns
    -------
    Path
        Le dossier de sortie (``reports``), qui contiendra l'année.

    Raises
    ------
    ErreurParametre
        Sortie parmi les entrées, racine ou fichier, dossier où l'on ne peut écrire, année en place
        que l'outil n'a pas publiée, ou un autre lot en cours sur la même sortie.
    """
    racine = _racine_sortie(parametres)
    _annee_remplacable(racine / str(parametres.annee))
    Verrou(racine).verifier_libre()
    return racine


def _racine_sortie(parametres: Parametres) -> Path:
    sortie = Path(parametres.sortie)
    racine = sortie.expanduser().resolve()
    annees = (parametres.annee, parametres.annee - 1)
    referentiel = parametres.chemin_referentiel or dossier_referentiel_par_defaut()
    entrees = entrees_des_donnees(parametres.chemin_donnees, annees, referentiel=referentiel)
    verifier_sorties([("le dossier de sortie (--sortie)", racine)], entrees)
    if racine == Path(racine.anchor) or racine.is_file():
        raise ErreurParametre(
            f"Dossier de sortie refusé : {sortie} (donnez un dossier, par exemple reports)."
        )
    try:
        racine.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=racine, prefix=".sonde-"):
            pass
    except OSError as erreur:
        raise ErreurParametre(
            f"Impossible d'écrire dans le dossier de sortie {sortie} ({erreur.strerror}). Choisissez un "
            "dossier où vous avez le droit d'écrire (--sortie)."
        ) from erreur
    return racine


def _annee_remplacable(dossier_annee: Path) -> None:
    """Refuse d'emblée (avant tout calcul) une année en place que l'outil n'a pas publiée."""
    if dossier_annee.is_dir() and any(dossier_annee.iterdir()) and usage_du_dossier(dossier_annee) != "annee":
        if _ancienne_publication(dossier_annee):
            return
        raise ErreurParametre(
            f"Le dossier {chemin_pour_message(dossier_annee)} existe et n'a pas été publié par l'observatoire "
            f"(pas de marqueur {MARQUEUR}) : il n'est jamais remplacé. Choisissez un autre dossier de sortie (--sortie), ou videz celui-ci vous-même."
        )


def _ancienne_publication(dossier_annee: Path) -> bool:
    """Une année publiée par une version sans marqueur : son manifeste et son index le disent."""
    try:
        contenu = json.loads((dossier_annee / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    reconnue = isinstance(contenu, dict) and {"parametres", "entrees_sha256"} <= set(contenu)
    if reconnue and (dossier_annee / "index.html").is_file():
        marquer_dossier(dossier_annee, "annee")
        return True
    return False

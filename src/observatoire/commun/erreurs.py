"""Exceptions de l'observatoire : messages en français qui disent quoi faire."""

from __future__ import annotations

import errno
from pathlib import Path

from .typographie import typographier

__all__ = [
    "ErreurDonnees",
    "ErreurObservatoire",
    "ErreurParametre",
    "ErreurReferentiel",
    "ErreurSysteme",
    "message_systeme",
]


class ErreurObservatoire(Exception):
    """Erreur générale de l'observatoire ; le message dit comment corriger, en typographie
    française (il est montré tel quel dans un notebook comme dans un terminal)."""

    def __init__(self, message: str = "", *arguments):
        super().__init__(typographier(str(message)), *arguments)


class ErreurReferentiel(ErreurObservatoire):
    """Référentiel géographique absent, incomplet, corrompu ou introuvable."""


class ErreurParametre(ErreurObservatoire):
    """Paramètre invalide (département inconnu, chemin hors du dossier de sortie…)."""


class ErreurDonnees(ErreurObservatoire):
    """Données d'activité invalides : porte la liste complète des problèmes.

    Parameters
    ----------
    message : str
        Résumé en français.
    problemes : pandas.DataFrame
        Un problème par ligne (fichier, ligne, colonne, valeur, message, correction).
    """

    def __init__(self, message: str, problemes=None):
        super().__init__(message)
        self.problemes = problemes


class ErreurSysteme(ErreurObservatoire):
    """Le système a refusé une lecture ou une écriture (disque plein, droits, lecture seule)."""


_CAUSES = {
    errno.ENOSPC: ("plus de place sur le disque", "Libérez de la place, ou choisissez un autre dossier."),
    errno.EDQUOT: ("quota de disque dépassé", "Libérez de la place, ou choisissez un autre dossier."),
    errno.EACCES: (
        "permission refusée",
        "Choisissez un dossier où vous avez le droit d'écrire, ou demandez ce droit.",
    ),
    errno.EPERM: ("opération non permise", "Choisissez un dossier où vous avez le droit d'écrire."),
    errno.EROFS: ("disque en lecture seule", "Choisissez un dossier sur un disque où l'on peut écrire."),
    errno.ENOENT: ("fichier ou dossier introuvable", "Vérifiez le chemin."),
    errno.ENAMETOOLONG: ("nom de fichier trop long", "Choisissez un chemin plus court."),
    errno.EMFILE: ("trop de fichiers ouverts", "Relancez la commande."),
}


def message_systeme(erreur: OSError) -> str:
    """Une erreur du système en français, avec le chemin en cause et ce qu'on peut faire."""
    cause, conseil = _CAUSES.get(
        erreur.errno or -1, (erreur.strerror or "erreur du système", "Relancez la commande.")
    )
    chemin = erreur.filename if erreur.filename is not None else ""
    ou = f" ({Path(str(chemin))})" if chemin else ""
    return f"Écriture ou lecture impossible{ou} : {cause}. {conseil} Vos données d’entrée n’ont pas été modifiées."

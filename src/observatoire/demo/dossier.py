"""Où une démonstration peut s'écrire : un dossier vide ou nouveau, ou une démonstration que
l'outil a déjà écrite (son ``demonstration.json`` le dit) — jamais le dossier d'un centre."""

from __future__ import annotations

import json
from pathlib import Path

from ..commun.erreurs import ErreurParametre
from ..commun.fichiers import chemin_affichable

__all__ = ["DRAPEAU", "dossier_de_demonstration"]

DRAPEAU = "demonstration.json"


def dossier_de_demonstration(dossier: str | Path) -> Path:
    """Le dossier où écrire une démonstration, créé s'il manque.

    Raises
    ------
    ErreurParametre
        Le dossier existe, n'est pas vide et n'est pas une démonstration écrite par l'outil.
    """
    dossier = Path(dossier)
    if dossier.exists() and not dossier.is_dir():
        raise ErreurParametre(
            f"{chemin_affichable(dossier)} est un fichier : donnez un dossier pour la démonstration."
        )
    if dossier.is_dir() and any(dossier.iterdir()) and not _est_une_demonstration(dossier):
        raise ErreurParametre(
            f"{chemin_affichable(dossier)} n'est ni vide ni un dossier de démonstration (pas de {DRAPEAU} qui le "
            "dise) : la démonstration ne s'y écrit pas, pour ne rien remplacer des données d'un centre. "
            "Choisissez un dossier vide ou nouveau (--sortie)."
        )
    dossier.mkdir(parents=True, exist_ok=True)
    return dossier


def _est_une_demonstration(dossier: Path) -> bool:
    try:
        contenu = json.loads((dossier / DRAPEAU).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(contenu, dict) and contenu.get("demonstration") is True

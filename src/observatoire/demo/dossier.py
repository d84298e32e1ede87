"""Où une démonstration peut s'écrire : un dossier vide ou nouveau, ou une démonstration que
l'outil a déjà écrite (son ``demonstration.json`` le dit) — jamais le dossier d'un centre."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd

from ..commun.erreurs import ErreurParametre
from ..commun.fichiers import chemin_pour_message, classeur_reproductible, ecrire_atomique, ecrire_csv
from ..commun.garde import refuser_dans_un_dossier_protege

__all__ = [
    "DRAPEAU",
    "dossier_de_demonstration",
    "ecrire_classeur_demo",
    "ecrire_drapeau",
    "ecrire_table_demo",
]

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
            f"{chemin_pour_message(dossier)} est un fichier : donnez un dossier pour la démonstration."
        )
    if dossier.is_dir() and any(dossier.iterdir()) and not _est_une_demonstration(dossier):
        raise ErreurParametre(
            f"{chemin_pour_message(dossier)} n'est ni vide ni un dossier de démonstration (pas de {DRAPEAU} qui le "
            "dise) : la démonstration ne s'y écrit pas, pour ne rien remplacer des données d'un centre. "
            "Choisissez un dossier vide ou nouveau (--sortie)."
        )
    refuser_dans_un_dossier_protege(dossier, "une démonstration")
    dossier.mkdir(parents=True, exist_ok=True)
    return dossier


def _est_une_demonstration(dossier: Path) -> bool:
    try:
        contenu = json.loads((dossier / DRAPEAU).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(contenu, dict) and contenu.get("demonstration") is True


# Chaque fichier d'une démonstration s'écrit d'un coup (fichier temporaire puis renommage) : qui
# la lit pendant qu'on la régénère voit l'ancienne version ou la nouvelle, jamais un fichier à moitié.


def ecrire_table_demo(table: pd.DataFrame, chemin: Path, *, pour_excel: bool = False) -> Path:
    """Une table de démonstration en CSV ``;`` (UTF-8 ; avec BOM et formules neutralisées pour Excel)."""
    chemin.parent.mkdir(parents=True, exist_ok=True)
    if pour_excel:
        return ecrire_csv(table, chemin)
    return ecrire_atomique(chemin, table.to_csv(sep=";", index=False).encode("utf-8"))


def ecrire_drapeau(dossier: Path, drapeau: dict) -> Path:
    """Le ``demonstration.json`` qui dit qu'un dossier est une démonstration écrite par l'outil."""
    contenu = json.dumps(drapeau, ensure_ascii=False, indent=2) + "\n"
    return ecrire_atomique(dossier / DRAPEAU, contenu.encode("utf-8"))


def ecrire_classeur_demo(chemin: Path, feuilles: dict[str, pd.DataFrame]) -> Path:
    """Un classeur de démonstration, une feuille par table, octets reproductibles."""
    tampon = io.BytesIO()
    with pd.ExcelWriter(tampon, engine="openpyxl") as classeur:
        for nom, table in feuilles.items():
            table.to_excel(classeur, sheet_name=nom, index=False)
    return ecrire_atomique(chemin, classeur_reproductible(tampon.getvalue()))

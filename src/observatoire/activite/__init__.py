"""Données d'activité du centre : contrat des tables, lecture des exports, validation, registre
des lieux, géocodage et configuration du centre (``observatoire.toml``).

``lire_activite`` est chargé à la première demande (``activite.lire_activite``) : la lecture
importe pandera et openpyxl, dont n'ont pas besoin les noyaux d'un lot, qui reçoivent
l'activité déjà lue.
"""

from importlib import import_module
from typing import TYPE_CHECKING

__all__ = ["lire_activite"]


def __getattr__(nom: str):
    if nom == "lire_activite":
        return import_module(".lecture", __name__).lire_activite
    raise AttributeError(f"module {__name__!r} has no attribute {nom!r}")


if TYPE_CHECKING:  # pour les vérificateurs de types et les éditeurs
    from .lecture import lire_activite

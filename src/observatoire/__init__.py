"""Observatoire : cartographie et indicateurs de l'activité d'un centre de ressources
politique de la ville (CRPV) dans ses territoires et ses quartiers prioritaires (QPV 2024).

API publique ; les notebooks n'appellent que ces fonctions. Importer le paquet ne charge rien
de lourd et ne change aucun réglage (ni le moteur de matplotlib, ni rien d'autre) : chaque nom
est importé de son module au premier usage.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# Nom public → module qui le définit, dans l'ordre du traitement.
_MODULES = {
    "ErreurDonnees": "erreurs",
    "ErreurObservatoire": "erreurs",
    "ErreurParametre": "erreurs",
    "ErreurReferentiel": "erreurs",
    "Parametres": "parametres",
    "normaliser_departement": "territoires",
    "Referentiel": "referentiel",
    "charger_referentiel": "referentiel",
    "installer_referentiel": "referentiel",
    "verifier_referentiel": "referentiel",
    "telecharger_referentiel": "telechargement",
    "Activite": "activite",
    "lire_activite": "activite",
    "ActiviteSituee": "jointures",
    "apparier_qpv": "jointures",
    "rattacher_qpv": "jointures",
    "situer_activite": "jointures",
    "situer_demandes": "jointures",
    "situer_origines": "jointures",
    "situer_seances": "jointures",
    "calculer_indicateurs": "indicateurs",
    "couverture_communes_pv": "indicateurs",
    "couverture_qpv": "indicateurs",
    "ecrire_indicateurs": "indicateurs",
    "valeur": "indicateurs",
    "Rapport": "rapport",
    "preparer_rapport": "rapport",
    "produire_rapports": "lot",
}

__all__ = [
    "Activite",
    "ActiviteSituee",
    "ErreurDonnees",
    "ErreurObservatoire",
    "ErreurParametre",
    "ErreurReferentiel",
    "Parametres",
    "Rapport",
    "Referentiel",
    "apparier_qpv",
    "calculer_indicateurs",
    "charger_referentiel",
    "couverture_communes_pv",
    "couverture_qpv",
    "ecrire_indicateurs",
    "installer_referentiel",
    "lire_activite",
    "normaliser_departement",
    "preparer_rapport",
    "produire_rapports",
    "rattacher_qpv",
    "situer_activite",
    "situer_demandes",
    "situer_origines",
    "situer_seances",
    "telecharger_referentiel",
    "valeur",
    "verifier_referentiel",
]


def __getattr__(nom: str):
    if nom in _MODULES:
        objet = getattr(import_module(f".{_MODULES[nom]}", __name__), nom)
        globals()[nom] = objet
        return objet
    raise AttributeError(f"module 'observatoire' has no attribute {nom!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])


if TYPE_CHECKING:  # pour les vérificateurs de types et les éditeurs
    from .activite import Activite, lire_activite
    from .erreurs import ErreurDonnees, ErreurObservatoire, ErreurParametre, ErreurReferentiel
    from .indicateurs import (
        calculer_indicateurs,
        couverture_communes_pv,
        couverture_qpv,
        ecrire_indicateurs,
        valeur,
    )
    from .jointures import (
        ActiviteSituee,
        apparier_qpv,
        rattacher_qpv,
        situer_activite,
        situer_demandes,
        situer_origines,
        situer_seances,
    )
    from .lot import produire_rapports
    from .parametres import Parametres
    from .rapport import Rapport, preparer_rapport
    from .referentiel import Referentiel, charger_referentiel, installer_referentiel, verifier_referentiel
    from .telechargement import telecharger_referentiel
    from .territoires import normaliser_departement

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
    "ErreurDonnees": "commun.erreurs",
    "ErreurObservatoire": "commun.erreurs",
    "ErreurParametre": "commun.erreurs",
    "ErreurReferentiel": "commun.erreurs",
    "Parametres": "commun.parametres",
    "normaliser_departement": "commun.codes",
    "Referentiel": "referentiel.chargement",
    "charger_referentiel": "referentiel.chargement",
    "installer_referentiel": "referentiel.installation",
    "verifier_referentiel": "referentiel.verification",
    "telecharger_referentiel": "referentiel.telechargement",
    "Activite": "activite.donnees",
    "lire_activite": "activite.lecture",
    "ActiviteSituee": "jointures",
    "apparier_qpv": "jointures",
    "rattacher_qpv": "jointures",
    "situer_activite": "jointures",
    "situer_demandes": "jointures",
    "situer_origines": "jointures",
    "situer_seances": "jointures",
    "calculer_indicateurs": "indicateurs.calcul",
    "ecrire_indicateurs": "indicateurs.calcul",
    "valeur": "indicateurs.calcul",
    "couverture_communes_pv": "indicateurs.couverture",
    "couverture_qpv": "indicateurs.couverture",
    "Ensemble": "ensemble",
    "Rapport": "rapport",
    "preparer_rapport": "rapport",
    "FicheQPV": "fiches",
    "preparer_fiche": "fiches",
    "Exploration": "exploration",
    "explorer": "exploration",
    "produire_rapports": "publication.lot",
}

__all__ = [
    "Activite",
    "ActiviteSituee",
    "Ensemble",
    "ErreurDonnees",
    "ErreurObservatoire",
    "ErreurParametre",
    "ErreurReferentiel",
    "Exploration",
    "FicheQPV",
    "Parametres",
    "Rapport",
    "Referentiel",
    "apparier_qpv",
    "calculer_indicateurs",
    "charger_referentiel",
    "couverture_communes_pv",
    "couverture_qpv",
    "ecrire_indicateurs",
    "explorer",
    "installer_referentiel",
    "lire_activite",
    "normaliser_departement",
    "preparer_fiche",
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
    from .activite.donnees import Activite
    from .activite.lecture import lire_activite
    from .commun.codes import normaliser_departement
    from .commun.erreurs import ErreurDonnees, ErreurObservatoire, ErreurParametre, ErreurReferentiel
    from .commun.parametres import Parametres
    from .ensemble import Ensemble
    from .exploration import Exploration, explorer
    from .fiches import FicheQPV, preparer_fiche
    from .indicateurs.calcul import calculer_indicateurs, ecrire_indicateurs, valeur
    from .indicateurs.couverture import couverture_communes_pv, couverture_qpv
    from .jointures import (
        ActiviteSituee,
        apparier_qpv,
        rattacher_qpv,
        situer_activite,
        situer_demandes,
        situer_origines,
        situer_seances,
    )
    from .publication.lot import produire_rapports
    from .rapport import Rapport, preparer_rapport
    from .referentiel.chargement import Referentiel, charger_referentiel
    from .referentiel.installation import installer_referentiel
    from .referentiel.telechargement import telecharger_referentiel
    from .referentiel.verification import verifier_referentiel

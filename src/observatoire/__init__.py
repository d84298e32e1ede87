"""Observatoire : cartographie et indicateurs de l'activité d'un centre de ressources
politique de la ville (CRPV) dans ses territoires et ses quartiers prioritaires (QPV 2024).

API publique ; les notebooks n'appellent que ces fonctions.
"""

from .activite import Activite, chemin_donnees_annee, lire_activite
from .demo import ecrire_demo, generer_demo
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
from .rapport import Rapport, preparer_rapport
from .referentiel import (
    Referentiel,
    charger_referentiel,
    installer_referentiel,
    verifier_referentiel,
)
from .telechargement import telecharger_referentiel
from .territoires import normaliser_departement, normaliser_departements

__all__ = [
    "Activite",
    "ActiviteSituee",
    "ErreurDonnees",
    "ErreurObservatoire",
    "ErreurParametre",
    "ErreurReferentiel",
    "Rapport",
    "Referentiel",
    "apparier_qpv",
    "calculer_indicateurs",
    "charger_referentiel",
    "chemin_donnees_annee",
    "couverture_communes_pv",
    "couverture_qpv",
    "ecrire_demo",
    "ecrire_indicateurs",
    "generer_demo",
    "installer_referentiel",
    "lire_activite",
    "normaliser_departement",
    "normaliser_departements",
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

__version__ = "0.1.0"

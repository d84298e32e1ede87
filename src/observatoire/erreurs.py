"""Exceptions de l'observatoire : messages en français qui disent quoi faire."""

from __future__ import annotations

__all__ = ["ErreurObservatoire", "ErreurReferentiel", "ErreurDonnees", "ErreurParametre"]


class ErreurObservatoire(Exception):
    """Erreur générale de l'observatoire ; le message dit comment corriger."""


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

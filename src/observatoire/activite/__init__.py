"""Données d'activité du centre : contrat des tables, lecture des exports, validation, registre
des lieux, géocodage et configuration du centre (``observatoire.toml``).
"""

__all__: list[str] = []

"""Socle partagé par toutes les étapes : erreurs, fichiers et écritures sûres, garde des
entrées, lecture des tables, typographie française, codes officiels, paramètres.

Rien ici ne connaît le référentiel, l'activité ni les rapports.
"""

__all__: list[str] = []

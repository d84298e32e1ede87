"""Référentiel géographique : QPV 2024, communes (COG), EPCI, EPT, départements, tables
nationales et contexte des quartiers, installés depuis un miroir ou téléchargés, puis chargés
en Lambert-93.

Modules : ``couches`` (fichiers et sources), ``installation``, ``telechargement``,
``chargement`` (``Referentiel``), ``verification``, ``projection`` (Lambert-93 et son échelle).
"""

__all__: list[str] = []

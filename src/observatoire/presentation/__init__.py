"""Présentation : gabarits HTML et feuille de style uniques, sections affichables, tableaux,
graphiques matplotlib et cartes (interactives et statiques).
"""

__all__: list[str] = []

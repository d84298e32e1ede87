"""Jeux de démonstration : celui du Pôle ressources (chiffres publiés de 2023) et celui d'un
centre fictif tiré au sort (Provence).
"""

__all__: list[str] = []

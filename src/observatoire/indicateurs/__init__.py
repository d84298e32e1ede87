"""Indicateurs : catalogue des clés publiques, calcul des tables au format long, couverture des
quartiers prioritaires, des communes en politique de la ville et des adhérents.
"""

__all__: list[str] = []

"""Les couleurs des cartes et des graphiques : un rôle par couleur, jamais deux rôles pour une.

- **taux** (aplats, participations pour 10 000 habitants) : bleus séquentiels (ColorBrewer
  « Blues », sûrs pour les daltoniens), gris clair pour « aucune participation », blanc pour
  « pas de donnée » ;
- **comptes** (cercles proportionnels) : rose pourpre (Okabe-Ito) ;
- **situations des séances** : vermillon (dans un QPV), orange (à proximité), vert bleuté (hors
  QPV), jamais repris par une autre couche ;
- **périmètres des QPV** : contour sombre ; **groupes de lieux** : ardoise ;
- **barres des graphiques** : bleu Okabe-Ito.
"""

from __future__ import annotations

__all__ = [
    "BARRES",
    "COMMUNE",
    "COMPTES",
    "COMPTES_CONTOUR",
    "GROUPES",
    "QPV",
    "QPV_FOND",
    "SANS_DONNEE",
    "SITUATIONS",
    "TAUX",
    "TAUX_ZERO",
    "VOISIN",
]

TAUX = ("#eff3ff", "#bdd7e7", "#6baed6", "#3182bd", "#08519c")
TAUX_ZERO = "#e3e3e3"
SANS_DONNEE = "#ffffff"
COMPTES = "#cc79a7"
COMPTES_CONTOUR = "#7a2c5a"
SITUATIONS = {"dans_qpv": "#d55e00", "proximite_qpv": "#e69f00", "hors_qpv": "#009e73"}
QPV = "#1a1a1a"
QPV_FOND = "#1a1a1a"
VOISIN = "#8c8c8c"
COMMUNE = "#9a9a9a"
GROUPES = "#37474f"
BARRES = "#0072b2"

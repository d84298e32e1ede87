"""Classes des aplats de taux : seuils naturels de Fisher-Jenks, bornes arrondies au dixième.

``fisher_jenks`` fait le calcul de ``mapclassify.FisherJenks`` (en float32 comme lui), vectorisé
par ligne de la programmation dynamique : 0,06 s au lieu de 1,7 s pour 1 000 valeurs, et sans
importer scipy (2 s par noyau). mapclassify reste l'oracle des tests.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["NOMBRE_DE_CLASSES", "VALEURS_JENKS_MAX", "classes_des_taux", "fisher_jenks"]

NOMBRE_DE_CLASSES = 5
VALEURS_JENKS_MAX = 1_000


def classes_des_taux(taux: pd.Series) -> list[tuple[float, float]]:
    """Classes de Fisher-Jenks des taux positifs, bornes arrondies au dixième supérieur.

    Arrondir la borne haute vers le haut garde chaque commune dans la classe que la légende
    annonce : une commune à 12,34 est bien « jusqu'à 12,4 ».
    """
    positifs = taux[taux > 0].dropna().to_numpy(dtype=float)
    if len(positifs) == 0:
        return []
    if len(positifs) > VALEURS_JENKS_MAX:
        # Fisher-Jenks est quadratique : au-delà, il est calculé sur des quantiles régulièrement
        # espacés, ce qui reste déterministe.
        positifs = np.quantile(positifs, np.linspace(0, 1, VALEURS_JENKS_MAX))
    minimum, maximum = _dixieme_bas(positifs.min()), _dixieme_haut(positifs.max())
    k = min(NOMBRE_DE_CLASSES, len(np.unique(positifs)))
    if k <= 1:
        return [(minimum, maximum)]
    bornes = sorted({_dixieme_haut(b) for b in fisher_jenks(positifs, k)})
    classes, debut = [], minimum
    for fin in bornes:
        classes.append((debut, fin))
        debut = fin
    return classes


def fisher_jenks(valeurs: np.ndarray, k: int) -> np.ndarray:
    """Bornes hautes des ``k`` classes de Fisher-Jenks (seuils naturels optimaux).

    Même calcul, en float32 comme lui, que ``mapclassify.FisherJenks`` (un test compare les deux
    sur des milliers de séries), mais vectorisé par ligne de la programmation dynamique : 0,06 s
    au lieu de 1,7 s pour 1 000 valeurs, et sans importer scipy (2 s par noyau).
    """
    x = np.sort(np.asarray(valeurs, dtype="f8"))
    n = len(x)
    x32 = x.astype(np.float32)
    debut_optimal = np.zeros((n + 1, k + 1), dtype=np.int64)  # 1 + début de la dernière classe
    cout = np.zeros((n + 1, k + 1), dtype=np.float32)  # somme des variances intra-classes
    debut_optimal[1, 1:] = 1
    cout[2:, 1:] = np.inf
    for fin in range(2, n + 1):
        # variance[m - 1] : somme des carrés des écarts de x[fin - m : fin] (m valeurs), cumulées
        # de la droite vers la gauche comme dans la boucle de mapclassify.
        inverses = x32[fin - 1 :: -1]
        sommes = np.cumsum(inverses, dtype=np.float32)
        carres = np.cumsum(inverses * inverses, dtype=np.float32)
        variance = carres - (sommes * sommes) / np.arange(1, fin + 1, dtype=np.float32)
        for classe in range(2, k + 1):
            candidats = variance[: fin - 1] + cout[fin - 1 : 0 : -1, classe - 1]
            meilleur = candidats.min()
            # À égalité, le plus long dernier segment (le dernier candidat vu par mapclassify).
            m = fin - 1 - int(np.argmin(candidats[::-1] != meilleur))
            debut_optimal[fin, classe] = fin - m + 1
            cout[fin, classe] = meilleur
        debut_optimal[fin, 1] = 1
        cout[fin, 1] = variance[-1]
    bornes = np.empty(k)
    bornes[k - 1] = x[-1]
    fin = n
    for classe in range(k, 1, -1):
        pivot = int(debut_optimal[fin, classe])
        bornes[classe - 2] = x[pivot - 2]
        fin = pivot - 1
    return bornes


def _dixieme_haut(valeur: float) -> float:
    return float(np.ceil(round(valeur * 10, 6)) / 10)


def _dixieme_bas(valeur: float) -> float:
    return float(np.floor(round(valeur * 10, 6)) / 10)

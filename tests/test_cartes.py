"""Classes de la carte : Fisher-Jenks recalculé par mapclassify (l'oracle), bornes de la légende."""

from __future__ import annotations

import importlib
import warnings

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from observatoire.presentation.classes import classes_des_taux, fisher_jenks

TAUX = st.lists(
    st.one_of(
        st.floats(min_value=0.01, max_value=5_000, allow_nan=False, allow_infinity=False),
        st.sampled_from([1.0, 2.5, 2.5000001, 10.0, 33.3]),  # des égalités et des quasi-égalités
    ),
    min_size=2,
    max_size=60,
)


def _jenks_de_mapclassify(valeurs: np.ndarray, k: int) -> np.ndarray:
    # Importé au premier appel : mapclassify importe scikit-learn et scipy.stats (4,6 s), que
    # chaque processus de pytest-xdist payait à la collecte pour les trois tests de ce fichier.
    mapclassify = importlib.import_module("mapclassify")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # « numba absent : calcul en Python pur »
        return mapclassify.FisherJenks(valeurs, k=k).bins


@settings(max_examples=300, deadline=None)
@given(TAUX, st.integers(min_value=2, max_value=5))
def test_fisher_jenks_identique_a_mapclassify(valeurs, k):
    valeurs = np.asarray(valeurs)
    k = min(k, len(np.unique(valeurs)))
    if k < 2:
        return
    assert np.array_equal(fisher_jenks(valeurs, k), _jenks_de_mapclassify(valeurs, k))


def test_fisher_jenks_sur_mille_valeurs_comme_mapclassify():
    valeurs = np.random.default_rng(7).lognormal(2, 1.5, 1_000)
    assert np.array_equal(fisher_jenks(valeurs, 5), _jenks_de_mapclassify(valeurs, 5))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        # 0,001 pour 10 000 habitants : en deçà d'une participation dans une commune de 10 millions
        st.one_of(st.just(0.0), st.floats(min_value=0.001, max_value=5_000, allow_nan=False)),
        min_size=1,
        max_size=80,
    )
)
def test_chaque_taux_est_dans_la_classe_que_la_legende_annonce(valeurs):
    import pandas as pd

    classes = classes_des_taux(pd.Series(valeurs, dtype=float))
    positifs = [v for v in valeurs if v > 0]
    if not positifs:
        assert classes == []
        return
    # Les bornes absorbent le bruit des flottants (1,9999999999991 s'annonce 2,0) : 1e-6 près.
    assert classes[0][0] <= min(positifs) + 1e-6
    assert classes[-1][1] >= max(positifs) - 1e-6
    assert classes[0][0] <= classes[0][1]  # la première peut n'être qu'une valeur (« 1,0 à 1,0 »)
    for (_, fin), (suivant, fin_suivante) in zip(classes, classes[1:], strict=False):
        assert fin == suivant < fin_suivante  # classes contiguës, croissantes

"""L'analyste : une mise à jour du panneau de filtres (cible < 1 s sur la démonstration), et
les 83 fiches QPV de la démonstration.

    .venv/bin/python benchmarks/bench_exploration.py
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from observatoire import Ensemble, explorer
from observatoire.commun.parametres import Parametres
from observatoire.fiches import ecrire_fiches


def main() -> None:
    for territoire in ("synthese", "95"):
        exploration = explorer(territoire)
        debut = time.perf_counter()
        panneau = exploration.panneau()
        premiere = time.perf_counter() - debut
        mesures = []
        for filtre, valeur in (
            ("public", ("elu",)),
            ("public", ()),
            ("distance", 500),
            ("distance", 300),
            ("periode", ("2023-03", "2023-06")),
            ("axe", ("developpement_social",)),
        ):
            debut = time.perf_counter()
            panneau.filtres[filtre].value = valeur
            mesures.append(time.perf_counter() - debut)
        print(
            f"panneau {territoire} : ouverture {premiere:.2f} s ; un filtre : médiane "
            f"{statistics.median(mesures):.2f} s, pire {max(mesures):.2f} s (cible < 1 s)"
        )
    ensemble = Ensemble.preparer(Parametres(departements=("78", "92", "95")))
    with tempfile.TemporaryDirectory() as dossier:
        debut = time.perf_counter()
        fiches = ecrire_fiches(ensemble, Path(dossier), dans_un_lot=False)
        duree = time.perf_counter() - debut
        taille = sum(f.stat().st_size for f in Path(dossier).iterdir())
        print(f"{len(fiches)} fiches QPV : {duree:.1f} s, {taille / 1e6:.1f} Mo en tout")


if __name__ == "__main__":
    main()

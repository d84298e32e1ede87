"""Durée de ``ecrire_fiches`` (une fiche et sa carte par QPV de 78, 92 et 95) sur la
démonstration 2023, l'année déjà préparée : temps total, par fiche, et les cinq fonctions
d'observatoire qui coûtent le plus (profil cumulé du dernier passage).

    .venv/bin/python benchmarks/bench_fiches.py [REPETITIONS]
"""

from __future__ import annotations

import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

from observatoire.commun.parametres import Parametres
from observatoire.ensemble import Ensemble
from observatoire.fiches import ecrire_fiches


def main(repetitions: int = 3) -> None:
    ensemble = Ensemble.preparer(Parametres(annee=2023, departements=("78", "92", "95")))
    durees, cpu = [], []
    profil = cProfile.Profile()
    with tempfile.TemporaryDirectory() as dossier:
        for passage in range(repetitions):
            debut, debut_cpu = time.perf_counter(), time.process_time()
            if passage == repetitions - 1:
                profil.enable()
            ecrites = ecrire_fiches(ensemble, Path(dossier) / str(passage))
            profil.disable()
            durees.append(time.perf_counter() - debut)
            cpu.append(time.process_time() - debut_cpu)
    nombre = len(ecrites)
    print(f"{nombre} fiches (78, 92, 95), {repetitions} passages")
    print(f"meilleur : {min(durees):.2f} s ({1000 * min(durees) / nombre:.0f} ms par fiche et sa carte)")
    print(f"processeur, meilleur passage : {min(cpu):.2f} s")
    print("dernier passage, profil (temps cumulé, fonctions d'observatoire) :")
    statistiques = pstats.Stats(profil)
    lignes = [
        (cumul, f"{Path(fichier).name}:{ligne} {nom}")
        for (fichier, ligne, nom), (_, _, _, cumul, _) in statistiques.stats.items()  # type: ignore[attr-defined]
        if "observatoire" in fichier and nom not in ("ecrire_fiches", "<module>")
    ]
    for cumul, libelle in sorted(lignes, reverse=True)[:5]:
        print(f"  {cumul:6.2f} s  {libelle}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)

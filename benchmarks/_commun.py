"""Outils partagés des mesures : jeu de participations agrandi à partir de la démonstration."""

from __future__ import annotations

import resource
import shutil
import time
from pathlib import Path

import pandas as pd

RACINE = Path(__file__).resolve().parents[1]
DEMO_2023 = RACINE / "data" / "demo" / "2023"


def memoire_max_mio() -> float:
    """Mémoire résidente maximale du processus (Mio)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def jeu_agrandi(dossier: Path, lignes_participations: int) -> Path:
    """Copie la démonstration 2023 et répète ses participations jusqu'au nombre de lignes voulu."""
    dossier.mkdir(parents=True, exist_ok=True)
    for fichier in DEMO_2023.iterdir():
        shutil.copy(fichier, dossier / fichier.name)
    participations = pd.read_csv(DEMO_2023 / "participations.csv", sep=";", dtype=str, keep_default_na=False)
    repetitions = -(-lignes_participations // len(participations))
    grand = pd.concat([participations] * repetitions, ignore_index=True).head(lignes_participations)
    grand.to_csv(dossier / "participations.csv", sep=";", index=False)
    return dossier


def chronometrer(fonction, repetitions: int = 3) -> tuple[list[float], object]:
    """Durées (s) de ``repetitions`` appels et dernier résultat."""
    durees, resultat = [], None
    for _ in range(repetitions):
        debut = time.perf_counter()
        resultat = fonction()
        durees.append(time.perf_counter() - debut)
    return durees, resultat

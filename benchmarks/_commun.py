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


def jeu_seances_agrandi(dossier: Path, facteur: int) -> Path:
    """Dossier de données (``dossier/2023`` et ``lieux.csv``) dont chaque séance est répétée
    ``facteur`` fois (mêmes lieux, nouveaux identifiants), avec ses participations."""
    annee = dossier / "2023"
    annee.mkdir(parents=True, exist_ok=True)
    for fichier in DEMO_2023.iterdir():
        shutil.copy(fichier, annee / fichier.name)
    shutil.copy(DEMO_2023.parent / "lieux.csv", dossier / "lieux.csv")
    seances = pd.read_csv(DEMO_2023 / "seances.csv", sep=";", dtype=str, keep_default_na=False)
    participations = pd.read_csv(DEMO_2023 / "participations.csv", sep=";", dtype=str, keep_default_na=False)
    copies_s, copies_p = [], []
    for k in range(facteur):
        copies_s.append(seances.assign(id_seance=seances["id_seance"] + f"-{k}"))
        copies_p.append(participations.assign(id_seance=participations["id_seance"] + f"-{k}"))
    pd.concat(copies_s).to_csv(annee / "seances.csv", sep=";", index=False)
    pd.concat(copies_p).to_csv(annee / "participations.csv", sep=";", index=False)
    return dossier

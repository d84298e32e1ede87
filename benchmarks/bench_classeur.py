"""Un classeur .xlsx de 1 000 000 de participations : lecture seule, puis lot du 95 et de la
synthèse (sans PDF, --jobs 2) qui le lit une fois et confie le résultat aux notebooks.
Cibles : le lot ≤ 2 × la lecture seule ; mémoire de pointe ≤ 2 Go.

    .venv/bin/python benchmarks/bench_classeur.py [lignes]
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

RACINE = Path(__file__).resolve().parents[1]
DEMO = RACINE / "data" / "demo"


def _classeur(chemin: Path, lignes: int) -> None:
    from openpyxl import Workbook

    classeur = Workbook(write_only=True)
    for table in ("actions", "seances", "participations", "demandes"):
        donnees = pd.read_csv(DEMO / "2023" / f"{table}.csv", sep=";", dtype=str, keep_default_na=False)
        if table == "participations":
            donnees = pd.concat([donnees] * (-(-lignes // len(donnees))), ignore_index=True).head(lignes)
        feuille = classeur.create_sheet(table)
        feuille.append(list(donnees.columns))
        for ligne in donnees.itertuples(index=False):
            feuille.append(list(ligne))
    classeur.save(chemin)


def main() -> None:
    lignes = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as dossier:
        donnees = Path(dossier) / "donnees"
        donnees.mkdir()
        (donnees / "lieux.csv").write_bytes((DEMO / "lieux.csv").read_bytes())
        debut = time.perf_counter()
        _classeur(donnees / "activite_2023.xlsx", lignes)
        taille = (donnees / "activite_2023.xlsx").stat().st_size / 1e6
        print(
            f"classeur de {lignes:,} participations : {taille:.0f} Mo, écrit en {time.perf_counter() - debut:.0f} s"
        )
        code = (
            "import time; from observatoire import lire_activite; d = time.perf_counter(); "
            f"lire_activite(r'{donnees / 'activite_2023.xlsx'}', annee=2023); print(time.perf_counter() - d)"
        )
        lecture = float(
            subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        )
        print(f"lecture et validation seules : {lecture:.0f} s")
        debut = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "observatoire", "rapports", "--departements", "95", "--donnees", str(donnees),
             "--sortie", str(Path(dossier) / "sortie"), "--jobs", "2", "--sans-pdf"],
            check=True, capture_output=True,
        )  # fmt: skip
        lot = time.perf_counter() - debut
        pointe = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"lot 95 + synthèse : {lot:.0f} s, soit {lot / lecture:.2f} × la lecture (cible ≤ 2)")
        print(f"mémoire de pointe d'un processus du lot : {pointe:.0f} Mio (cible ≤ 2 048)")


if __name__ == "__main__":
    main()

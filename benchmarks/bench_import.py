"""Durée de ``import observatoire`` dans un processus neuf (cible ≤ 0,3 s), et ce qu'il charge.

.venv/bin/python benchmarks/bench_import.py
"""

from __future__ import annotations

import subprocess
import sys

CODE = (
    "import time, sys; debut = time.perf_counter(); import observatoire; "
    "print(time.perf_counter() - debut, sum(m in sys.modules for m in ('pandas', 'geopandas', 'matplotlib', 'folium')))"
)


def main() -> None:
    mesures = []
    for _ in range(7):
        sortie = subprocess.run(
            [sys.executable, "-c", CODE], capture_output=True, text=True, check=True
        ).stdout.split()
        mesures.append((float(sortie[0]), int(sortie[1])))
    durees = sorted(d for d, _ in mesures)
    print(
        f"import observatoire : meilleur {durees[0] * 1000:.1f} ms, médiane {durees[3] * 1000:.1f} ms (cible ≤ 300 ms)"
    )
    print(f"modules lourds chargés par l'import : {mesures[0][1]} (pandas, geopandas, matplotlib, folium)")


if __name__ == "__main__":
    main()

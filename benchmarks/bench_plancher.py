"""Le lot de démonstration (78, 92, 95, synthèse, avec PDF, --jobs 2) contre le plancher naïf de
ses propres outils, mesurés côte à côte dans la même exécution : quatre processus papermill d'un
notebook qui ne fait qu'importer ce que le rapport importe, puis quatre impressions PDF des
rapports produits par ``chromium --headless --print-to-pdf`` (un Chromium par page), deux à la
fois (cible : le lot coûte au plus ce plancher).

    .venv/bin/python benchmarks/bench_plancher.py [ESSAIS]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat

from observatoire.publication.exports import chromium_disponible, page_a_imprimer
from observatoire.publication.impression import OPTIONS_CHROMIUM

RACINE = Path(__file__).resolve().parents[1]
OBSERVATOIRE = Path(sys.executable).with_name("observatoire")
PAPERMILL = Path(sys.executable).with_name("papermill")
TERRITOIRES = ("78", "92", "95", "synthese")
IMPORTS = "import observatoire.rapport, geopandas, folium, matplotlib.pyplot, pandas"


def _lot(sortie: Path) -> float:
    debut = time.perf_counter()
    subprocess.run(
        [str(OBSERVATOIRE), "rapports", "--annee", "2023", "--departements", "78", "92", "95",
         "--donnees", str(RACINE / "data" / "demo"), "--sortie", str(sortie), "--jobs", "2"],
        check=True, capture_output=True, cwd=RACINE,
    )  # fmt: skip
    return time.perf_counter() - debut


def _plancher(dossier: Path, publie: Path) -> tuple[float, float]:
    """Durées (papermill, Chromium) du plancher : chacun quatre fois, deux à la fois."""
    carnet = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(IMPORTS)])
    carnet.metadata["kernelspec"] = {
        "name": "observatoire",
        "display_name": "Observatoire",
        "language": "python",
    }
    modele = dossier / "imports.ipynb"
    nbformat.write(carnet, modele)

    def papermill(rang: int) -> None:
        subprocess.run(
            [str(PAPERMILL), "--no-progress-bar", "--log-level", "ERROR", str(modele), str(dossier / f"sortie-{rang}.ipynb")],
            check=True, capture_output=True,
        )  # fmt: skip

    def imprimer(territoire: str) -> None:
        page = dossier / f"{territoire}.html"
        page.write_text(page_a_imprimer((publie / territoire / "rapport.html").read_text(encoding="utf-8")))
        with tempfile.TemporaryDirectory(prefix="bench-chromium-") as profil:
            subprocess.run(
                [chromium_disponible(), *OPTIONS_CHROMIUM, f"--user-data-dir={profil}", "--no-pdf-header-footer",
                 f"--print-to-pdf={dossier / f'{territoire}.pdf'}", page.as_uri()],
                check=True, capture_output=True,
            )  # fmt: skip

    with ThreadPoolExecutor(2) as deux:
        debut = time.perf_counter()
        list(deux.map(papermill, range(4)))
        papermill_s = time.perf_counter() - debut
        debut = time.perf_counter()
        list(deux.map(imprimer, TERRITOIRES))
        chromium_s = time.perf_counter() - debut
    return papermill_s, chromium_s


def main(essais: int = 2) -> None:
    if chromium_disponible() is None:
        sys.exit("Chromium absent : le plancher compte quatre impressions PDF (paquet Debian chromium).")
    lots, planchers = [], []
    with tempfile.TemporaryDirectory(prefix="bench-plancher-") as temporaire:
        racine = Path(temporaire)
        for essai in range(essais):
            lots.append(_lot(racine / f"lot-{essai}"))
            planchers.append(_plancher(racine, racine / f"lot-{essai}" / "2023"))
            papermill_s, chromium_s = planchers[-1]
            print(
                f"essai {essai + 1} : lot {lots[-1]:.1f} s ; plancher {papermill_s + chromium_s:.1f} s "
                f"(papermill ×4 {papermill_s:.1f} s + Chromium ×4 {chromium_s:.1f} s)"
            )
    lot, plancher = min(lots), min(p + c for p, c in planchers)
    # Chaque essai mesure le lot puis son plancher coup sur coup : leur rapport, essai par essai,
    # souffre moins des variations de la machine que le rapport des meilleurs.
    rapports = [duree / (p + c) for duree, (p, c) in zip(lots, planchers, strict=True)]
    print(
        f"meilleurs : lot {lot:.1f} s, plancher {plancher:.1f} s ; rapport ×{lot / plancher:.2f} ; "
        f"rapport médian des essais ×{statistics.median(rapports):.2f} (cible ×1 au plus)"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2)

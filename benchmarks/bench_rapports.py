"""Durée du lot ``observatoire rapports`` (78, 92, 95 et synthèse), --jobs 1 contre --jobs 2,
avec et sans PDF, et taille de chaque rapport.html et carte.html, sur la démonstration et à 50
fois ses séances (cibles : ≤ 2 Mo et ≤ 1 Mo).

    .venv/bin/python benchmarks/bench_rapports.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RACINE = Path(__file__).resolve().parents[1]
OBSERVATOIRE = Path(sys.executable).with_name("observatoire")


def _lot(sortie: Path, jobs: int, *options: str, donnees: Path | None = None) -> float:
    debut = time.perf_counter()
    subprocess.run(
        [
            str(OBSERVATOIRE),
            "rapports",
            "--annee",
            "2023",
            "--departements",
            "78",
            "92",
            "95",
            "--donnees",
            str(donnees or RACINE / "data" / "demo"),
            "--sortie",
            str(sortie),
            "--jobs",
            str(jobs),
            *options,
        ],
        check=True,
        capture_output=True,
        cwd=RACINE,
    )
    return time.perf_counter() - debut


def main() -> None:
    sys.path.insert(0, str(RACINE / "benchmarks"))
    from _commun import jeu_seances_agrandi

    with tempfile.TemporaryDirectory() as dossier:
        racine = Path(dossier)
        sans_pdf = {jobs: _lot(racine / f"jobs{jobs}", jobs, "--sans-pdf") for jobs in (1, 2)}
        for jobs, duree in sans_pdf.items():
            print(f"observatoire rapports --jobs {jobs} --sans-pdf : {duree:.1f} s")
        print(f"accélération --jobs 2 / --jobs 1 : ×{sans_pdf[1] / sans_pdf[2]:.2f}")
        print(f"observatoire rapports --jobs 2 (avec PDF) : {_lot(racine / 'pdf', 2):.1f} s")
        _tailles(racine / "pdf" / "2023", "démonstration")
        donnees = jeu_seances_agrandi(racine / "x50", 50)
        print(
            f"×50 séances, --jobs 2 --sans-pdf : {_lot(racine / 'x50-sortie', 2, '--sans-pdf', donnees=donnees):.1f} s"
        )
        _tailles(racine / "x50-sortie" / "2023", "×50 séances")
        _capture(
            racine / "pdf" / "2023" / "95" / "rapport.html",
            RACINE / "benchmarks" / "resultats" / "rapport_95.png",
        )


def _tailles(annee: Path, titre: str) -> None:
    for territoire in ("78", "92", "95", "synthese"):
        tailles = {
            nom: (annee / territoire / nom).stat().st_size / 1e6
            for nom in ("rapport.html", "carte.html", "rapport.ipynb", "indicateurs.csv", "rapport.pdf")
            if (annee / territoire / nom).exists()
        }
        print(
            f"{titre} {territoire:>8} : "
            + ", ".join(f"{nom} {taille:.2f} Mo" for nom, taille in tailles.items())
        )
    fiches = sum(f.stat().st_size for f in (annee / "fiches").iterdir()) / 1e6
    print(f"{titre} fiches/ : {fiches:.1f} Mo")


def _capture(page: Path, image: Path) -> None:
    """Capture d'écran hors ligne du rapport (Chromium headless), si Chromium est installé."""
    chromium = shutil.which("chromium")
    if chromium is None:
        print("capture d'écran : chromium absent")
        return
    image.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profil:
        subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--proxy-server=http://127.0.0.1:9",
                f"--user-data-dir={profil}",
                "--window-size=1280,2400",
                "--virtual-time-budget=5000",
                f"--screenshot={image}",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    print(f"capture d'écran du rapport 95 (hors ligne) : {image}")


if __name__ == "__main__":
    main()

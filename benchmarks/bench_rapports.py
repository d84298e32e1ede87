"""Durée du lot ``observatoire rapports`` (78, 92, 95 et synthèse), --jobs 1 contre --jobs 2,
et taille de chaque rapport.html et carte.html (cibles : ≤ 30 s ; ≤ 2 Mo et ≤ 1 Mo).

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


def _lot(sortie: Path, jobs: int) -> float:
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
            str(RACINE / "data" / "demo"),
            "--sortie",
            str(sortie),
            "--jobs",
            str(jobs),
        ],
        check=True,
        capture_output=True,
        cwd=RACINE,
    )
    return time.perf_counter() - debut


def main() -> None:
    with tempfile.TemporaryDirectory() as dossier:
        durees = {jobs: _lot(Path(dossier) / f"jobs{jobs}", jobs) for jobs in (1, 2)}
        for jobs, duree in durees.items():
            print(f"observatoire rapports --jobs {jobs} : {duree:.1f} s (cible ≤ 30 s)")
        print(f"accélération --jobs 2 / --jobs 1 : ×{durees[1] / durees[2]:.2f}")
        annee = Path(dossier) / "jobs2" / "2023"
        for territoire in ("78", "92", "95", "synthese"):
            rapport = (annee / territoire / "rapport.html").stat().st_size
            carte = (annee / territoire / "carte.html").stat().st_size
            print(f"{territoire:>8} : rapport.html {rapport / 1e6:.2f} Mo, carte.html {carte / 1e6:.2f} Mo")
        _capture(annee / "95" / "rapport.html", RACINE / "benchmarks" / "resultats" / "rapport_95.png")


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

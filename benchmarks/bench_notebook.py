"""Où passe le temps d'un notebook du lot : démarrage du noyau, lecture de l'ensemble, chaque
section, export HTML ; pour un département et pour la synthèse, à l'échelle de N départements.

L'année synthétique est celle de ``bench_national.py`` (1 M de participations à 101
départements). Les fichiers d'ensemble sont écrits comme le lot les écrit (``ecrire_ensemble``) ;
le notebook est exécuté par papermill avec le noyau du projet, hors concurrence.

    .venv/bin/python benchmarks/bench_notebook.py 101 80   # 101 départements, rapport de la Somme
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import papermill
from bench_national import MIROIR, OBSERVATOIRE, _annee, _departements

from observatoire import Ensemble
from observatoire.commun.parametres import Parametres
from observatoire.publication.exports import exporter_html

RACINE = Path(__file__).resolve().parents[1]


def mesurer(n: int, departement: str) -> list[dict]:
    departements = _departements(n)
    resultats = []
    with tempfile.TemporaryDirectory(prefix="bench-notebook-") as temporaire:
        racine = Path(temporaire)
        subprocess.run(
            [str(OBSERVATOIRE), "referentiel", "installer", "--depuis", str(MIROIR), "--vers", str(racine / "ref"),
             "--departements", *departements],
            check=True, capture_output=True,
        )  # fmt: skip
        _annee(racine / "donnees", racine / "ref", departements)
        debut = time.perf_counter()
        ensemble = Ensemble.preparer(
            Parametres(annee=2023, donnees=racine / "donnees", referentiel=racine / "ref")
        )
        preparation = time.perf_counter() - debut
        debut = time.perf_counter()
        (racine / "ensembles").mkdir()
        fichiers = ensemble.ecrire(racine / "ensembles", [departement, "synthese"])
        ecriture = time.perf_counter() - debut
        print(json.dumps({"lecture_validation_jointures_s": round(preparation, 1), "ecriture_ensembles_s":
              round(ecriture, 1), "taille_ensembles_mo": {t: round(f.stat().st_size / 1e6, 1)
              for t, f in fichiers.items()}}, ensure_ascii=False))  # fmt: skip
        for territoire in (departement, "synthese"):
            sortie = racine / f"sortie-{territoire}"
            sortie.mkdir()
            modele = "synthese.ipynb" if territoire == "synthese" else "rapport_departement.ipynb"
            valeurs = {
                **ensemble.parametres.pour_notebook(),
                "sortie": str(sortie),
                "ensemble": str(fichiers[territoire]),
            }
            if territoire != "synthese":
                valeurs["departement"] = territoire
            debut = time.perf_counter()
            notebook = papermill.execute_notebook(
                str(RACINE / "notebooks" / modele), str(sortie / "rapport.ipynb"), parameters=valeurs,
                progress_bar=False, kernel_name="observatoire",
                extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
            )  # fmt: skip
            total = time.perf_counter() - debut
            cellules = {
                c.source.splitlines()[-1][:40]: round(c.metadata["papermill"]["duration"], 2)
                for c in notebook.cells
                if c.cell_type == "code" and c.metadata.get("papermill", {}).get("duration", 0) > 0.05
            }
            debut = time.perf_counter()
            exporter_html(sortie / "rapport.ipynb", sortie / "rapport.html")
            export = time.perf_counter() - debut
            resultats.append(
                {
                    "territoire": territoire,
                    "papermill_s": round(total, 1),
                    "noyau_et_imports_s": round(total - sum(cellules.values()), 1),
                    "cellules_s": cellules,
                    "export_html_s": round(export, 1),
                    "rapport_html_mo": round((sortie / "rapport.html").stat().st_size / 1e6, 2),
                    "carte_html_mo": round((sortie / "carte.html").stat().st_size / 1e6, 2),
                }
            )
            print(json.dumps(resultats[-1], ensure_ascii=False))
    return resultats


if __name__ == "__main__":
    arguments = sys.argv[1:]
    mesurer(int(arguments[0]) if arguments else 10, arguments[1] if len(arguments) > 1 else "80")

"""Lecture et validation d'une année à 200 000 participations, rapportée à un ``pandas.read_csv``
nu des quatre mêmes fichiers (cible : ×40 au plus).

.venv/bin/python benchmarks/bench_validation.py [LIGNES]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pandas as pd
from _commun import chronometrer, jeu_agrandi, memoire_max_mio

from observatoire import charger_referentiel, lire_activite


def main(lignes: int = 200_000) -> None:
    referentiel = charger_referentiel()
    with tempfile.TemporaryDirectory() as dossier:
        jeu = jeu_agrandi(Path(dossier), lignes)
        memoire_avant = memoire_max_mio()
        mesures, activite = chronometrer(lambda: lire_activite(jeu, annee=2023, referentiel=referentiel))
        assert len(activite.participations) == lignes
        nus, _ = chronometrer(lambda: [pd.read_csv(f, sep=";") for f in sorted(jeu.glob("*.csv"))])
    print(
        f"lecture + validation de {lignes} participations : "
        f"meilleur {min(mesures):.2f} s, médiane {sorted(mesures)[1]:.2f} s (3 essais)"
    )
    print(
        f"pandas.read_csv nu des quatre fichiers : meilleur {min(nus):.3f} s ; "
        f"rapport ×{min(mesures) / min(nus):.1f} (cible ×40 au plus)"
    )
    print(f"mémoire résidente max : {memoire_max_mio():.0f} Mio (avant lecture : {memoire_avant:.0f} Mio)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000)

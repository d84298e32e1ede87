"""Calcul des indicateurs (synthèse et trois départements) sur 200 000 participations.

.venv/bin/python benchmarks/bench_indicateurs.py [LIGNES]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from _commun import chronometrer, jeu_agrandi, memoire_max_mio

from observatoire import calculer_indicateurs, charger_referentiel, lire_activite, situer_activite


def main(lignes: int = 200_000) -> None:
    referentiel = charger_referentiel()
    with tempfile.TemporaryDirectory() as dossier:
        activite = lire_activite(jeu_agrandi(Path(dossier), lignes), referentiel=referentiel)
    mesures_jointures, situee = chronometrer(lambda: situer_activite(activite, referentiel))
    mesures_indicateurs, tables = chronometrer(
        lambda: [calculer_indicateurs(situee, referentiel, t) for t in ("synthese", "78", "92", "95")]
    )
    print(f"{lignes} participations ({int(activite.participations['nombre'].sum())} présences)")
    print(f"jointures territoriales : meilleur {min(mesures_jointures):.2f} s")
    print(
        f"indicateurs synthèse + 78 + 92 + 95 ({sum(len(t) for t in tables)} lignes) : "
        f"meilleur {min(mesures_indicateurs):.2f} s"
    )
    print(f"mémoire résidente max : {memoire_max_mio():.0f} Mio")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000)

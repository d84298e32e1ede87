"""Échelle nationale : une année synthétique sur N départements, puis tout le lot (--jobs 2).

À 101 départements : environ 1 M de participations et 20 000 séances (proportionnellement moins
pour N plus petit). Le référentiel des N départements est installé depuis le miroir national
dans un dossier temporaire. Affiche : durée du lot, mémoire résidente maximale (lot et
noyaux), durée par territoire (execution.json), tailles de la synthèse (carte.html,
rapport.html) et du plus gros rapport de département.

    .venv/bin/python benchmarks/bench_national.py            # 10 départements
    .venv/bin/python benchmarks/bench_national.py 10 30 101  # courbe de croissance
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

RACINE = Path(__file__).resolve().parents[1]
MIROIR = RACINE.parent / "shared" / "reference"
OBSERVATOIRE = Path(sys.executable).with_name("observatoire")
PARTICIPATIONS_FRANCE = 1_000_000
SEANCES_FRANCE = 20_000


def _departements(n: int) -> list[str]:
    france = pd.read_csv(MIROIR / "france" / "communes_france.csv", dtype=str, keep_default_na=False)
    tous = sorted(set(france["insee_dep"]))
    pas = max(len(tous) // n, 1)
    return tous[::pas][:n]


def _annee(dossier: Path, reference: Path, departements: list[str], graine: int = 1) -> None:
    """Une année : séances aux points intérieurs des communes (et dans des QPV), origines variées."""
    import geopandas as gpd

    hasard = np.random.default_rng(graine)
    part = len(departements) / 101
    n_seances = int(SEANCES_FRANCE * part)
    n_participations = int(PARTICIPATIONS_FRANCE * part)
    france = pd.read_csv(reference / "communes_france.csv", dtype=str, keep_default_na=False)
    communes = france[france["insee_dep"].isin(departements)]
    qpv = gpd.read_file(reference / "qpv_2024.geojson")
    points_qpv = qpv.geometry.representative_point()
    dans_qpv = hasard.random(n_seances) < 0.5
    rang_commune = hasard.integers(len(communes), size=n_seances)
    rang_qpv = hasard.integers(len(qpv), size=n_seances)
    hotes = qpv["insee_com"].str.split(",").str[0].to_numpy()
    code = np.where(dans_qpv, hotes[rang_qpv], communes["insee_com"].to_numpy()[rang_commune])
    latitude = np.where(
        dans_qpv,
        points_qpv.y.to_numpy()[rang_qpv],
        communes["lat_point_interieur"].astype(float).to_numpy()[rang_commune],
    )
    longitude = np.where(
        dans_qpv,
        points_qpv.x.to_numpy()[rang_qpv],
        communes["lon_point_interieur"].astype(float).to_numpy()[rang_commune],
    )
    annee = dossier / "2023"
    annee.mkdir(parents=True)
    actions = pd.DataFrame(
        {
            "id_action": [f"A{i}" for i in range(400)],
            "intitule": [f"Action {i}" for i in range(400)],
            "axe": "developpement_social",
            "thematique": hasard.choice(["sante", "education", "emploi_economie"], 400),
            "format": "rencontre",
        }
    )
    seances = pd.DataFrame(
        {
            "id_seance": [f"S{i}" for i in range(n_seances)],
            "id_action": hasard.choice(actions["id_action"], n_seances),
            "date": pd.Timestamp("2023-01-02")
            + pd.to_timedelta(hasard.integers(0, 360, n_seances), unit="D"),
            "demi_journees": 1,
            "code_commune": code,
            "latitude": np.round(latitude, 5),
            "longitude": np.round(longitude, 5),
            "distanciel": "non",
        }
    )
    seances["date"] = seances["date"].dt.strftime("%Y-%m-%d")
    origines = np.concatenate(
        [france["insee_com"].to_numpy()[hasard.integers(len(france), size=2000)], communes["insee_com"]]
    )
    participations = pd.DataFrame(
        {
            "id_seance": seances["id_seance"].to_numpy()[hasard.integers(n_seances, size=n_participations)],
            "public": hasard.choice(["elu", "association", "habitant"], n_participations),
            "code_commune_origine": origines[hasard.integers(len(origines), size=n_participations)],
            "departement_origine": "",
            "nombre": hasard.integers(1, 5, n_participations),
        }
    )
    demandes = pd.DataFrame(
        {
            "id_demande": [f"D{i}" for i in range(2000)],
            "date": "15/06/2023",
            "type_demandeur": "ville",
            "code_commune": origines[hasard.integers(len(origines), size=2000)],
            "thematique": "sante",
        }
    )
    for nom, table in (
        ("actions", actions),
        ("seances", seances),
        ("participations", participations),
        ("demandes", demandes),
    ):
        table.to_csv(annee / f"{nom}.csv", sep=";", index=False)


def mesurer(n: int) -> dict:
    departements = _departements(n)
    with tempfile.TemporaryDirectory(prefix="bench-national-") as temporaire:
        racine = Path(temporaire)
        debut = time.perf_counter()
        subprocess.run(
            [str(OBSERVATOIRE), "referentiel", "installer", "--depuis", str(MIROIR), "--vers", str(racine / "ref"),
             "--departements", *departements],
            check=True, capture_output=True,
        )  # fmt: skip
        installation = time.perf_counter() - debut
        _annee(racine / "donnees", racine / "ref", departements)
        debut = time.perf_counter()
        lot = subprocess.run(
            [str(OBSERVATOIRE), "rapports", "--annee", "2023", "--donnees", str(racine / "donnees"),
             "--referentiel", str(racine / "ref"), "--sortie", str(racine / "reports"), "--jobs", "2", "--sans-pdf"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        duree = time.perf_counter() - debut
        if lot.returncode:
            print(lot.stdout[-3000:], lot.stderr[-3000:])
            raise SystemExit(f"lot en échec pour {n} départements")
        sortie = racine / "reports" / "2023"
        execution = json.loads((sortie / "execution.json").read_text(encoding="utf-8"))["durees_s"]
        tailles_dep = {d: (sortie / d / "rapport.html").stat().st_size for d in departements}
        return {
            "departements": n,
            "participations": int(PARTICIPATIONS_FRANCE * n / 101),
            "seances": int(SEANCES_FRANCE * n / 101),
            "installation_s": round(installation, 1),
            "lot_s": round(duree, 1),
            "memoire_max_noyau_ou_lot_mio": round(
                resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            ),
            "synthese_carte_mo": round((sortie / "synthese" / "carte.html").stat().st_size / 1e6, 2),
            "synthese_rapport_mo": round((sortie / "synthese" / "rapport.html").stat().st_size / 1e6, 2),
            "plus_gros_rapport_departement_mo": round(max(tailles_dep.values()) / 1e6, 2),
            "synthese_s": execution.get("synthese"),
            "fiches_s": execution.get("fiches"),
            "departement_median_s": float(np.median([execution[d] for d in departements])),
        }


if __name__ == "__main__":
    for n in [int(a) for a in sys.argv[1:]] or [10]:
        print(json.dumps(mesurer(n), ensure_ascii=False))

"""Le paquet installé comme un paquet : ``pip install .`` (non éditable) dans une venv neuve, puis
les commandes « un centre » du README lancées d'un dossier hors du dépôt."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import DEMO, MIROIR, RACINE

SECTION = "## Un centre, son territoire, en trois commandes"


def _commandes_un_centre() -> list[str]:
    texte = (RACINE / "README.md").read_text(encoding="utf-8")
    section = texte[texte.index(SECTION) :]
    bloc = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    return [ligne.split("  #", 1)[0].strip() for ligne in bloc.splitlines() if ligne.strip()]


def test_la_section_un_centre_a_ses_trois_commandes():
    commandes = [c for c in _commandes_un_centre() if c.startswith(".venv/bin/observatoire")]
    assert [c.split()[1] for c in commandes] == ["centre", "referentiel", "rapports"]


def _copie_des_sources(destination: Path) -> Path:
    """Ce que git versionne pour construire le paquet : pas de build/ ni d'egg-info du dépôt."""
    for nom in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(RACINE / nom, destination / nom)
    shutil.copytree(
        RACINE / "src", destination / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    return destination


@pytest.mark.lent
def test_paquet_installe_non_editable_lance_son_lot_hors_du_depot(tmp_path):
    if not MIROIR.is_dir():
        pytest.skip("miroir ../shared/reference absent")
    (tmp_path / "sources").mkdir()
    sources = _copie_des_sources(tmp_path / "sources")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    # pip de la venv des tests, appliqué à la venv neuve (--python) : le paquet et ses seules
    # dépendances déclarées, aux versions du verrou ; rien d'éditable, rien de la venv des tests.
    installation = subprocess.run(
        [
            sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--quiet",
            "--no-compile", "-c", str(RACINE / "constraints.txt"), str(sources),
        ],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert installation.returncode == 0, installation.stderr[-3000:]

    # Un dossier de travail hors du dépôt, avec ../shared à côté comme le README le suppose.
    ailleurs = tmp_path / "ailleurs"
    (ailleurs / "data" / "centre").mkdir(parents=True)
    (tmp_path / "shared").symlink_to(MIROIR.parent)
    shutil.copytree(DEMO / "2023", ailleurs / "data" / "centre" / "2023")
    # Python tel qu'un utilisateur l'a, qui écrit le bytecode : la venv neuve est installée sans
    # lui (--no-compile) et chaque processus des commandes (la commande, ses deux noyaux)
    # recompilait pandas, geopandas, matplotlib… depuis les sources (4,6 s de calcul chacun).
    environnement = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST", "VIRTUAL_ENV")) and k != "PYTHONDONTWRITEBYTECODE"
    }
    environnement["PATH"] = f"{venv / 'bin'}{os.pathsep}{environnement.get('PATH', '')}"
    for commande in _commandes_un_centre():
        commande = commande.replace(".venv/bin/", f"{venv / 'bin'}/")
        resultat = subprocess.run(
            ["bash", "-c", commande],
            cwd=ailleurs,
            capture_output=True,
            text=True,
            timeout=900,
            env=environnement,
        )
        assert resultat.returncode == 0, f"{commande}\n{resultat.stdout[-2000:]}\n{resultat.stderr[-3000:]}"
        assert "Traceback" not in resultat.stderr

    # Le paquet utilisé est bien la copie installée, pas le dépôt.
    code = "import observatoire, pathlib; print(pathlib.Path(observatoire.__file__).resolve())"
    emplacement = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code], cwd=ailleurs, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert emplacement.startswith(str(venv.resolve())), emplacement
    publie = ailleurs / "reports" / "2023"
    assert (publie / "index.html").is_file()
    assert {p.name for p in publie.iterdir() if p.is_dir()} >= {"78", "92", "95", "synthese", "fiches"}
    assert (ailleurs / "data" / "reference" / "manifest.json").is_file(), (
        "référentiel installé là où l'on est"
    )

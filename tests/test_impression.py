"""Le Chromium du lot (``publication.impression``) : deux fils impriment dans le même navigateur,
un Chromium qui s'arrête ou qui manque donne une phrase en français, jamais un lot bloqué, et
aucun Chromium ne survit à son lot."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from observatoire.publication.exports import chromium_disponible, exporter_pdf
from observatoire.publication.impression import Imprimante

pytestmark = pytest.mark.navigateur

CHROMIUM = chromium_disponible()
sans_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Chromium absent (paquet Debian chromium)")


def _page(dossier: Path, nom: str, texte: str) -> Path:
    page = dossier / f"{nom}.html"
    page.write_text(
        f'<!doctype html><html lang="fr"><head><meta charset="utf-8"><style>@page {{ size: A4; }}</style>'
        f"</head><body><h1>{texte}</h1><p>Quartier prioritaire QN09531M</p></body></html>",
        encoding="utf-8",
    )
    return page


def _texte(pdf: Path) -> str:
    return subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def _vivant(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # Un processus fini mais pas encore relevé par son parent n'imprime plus rien.
    etat = Path(f"/proc/{pid}/stat")
    return not (etat.exists() and etat.read_text().split(")")[-1].split()[0] == "Z")


@sans_chromium
def test_deux_fils_impriment_dans_le_meme_chromium_puis_il_s_arrete(tmp_path):
    pages = [_page(tmp_path, f"page{n}", f"Rapport numéro {n}") for n in range(4)]
    with Imprimante(CHROMIUM) as imprimante:
        with ThreadPoolExecutor(2) as deux:
            list(deux.map(lambda p: imprimante.imprimer(p, p.with_suffix(".pdf")), pages))
        pid = imprimante.pid
        assert pid is not None and _vivant(pid)
    for n, page in enumerate(pages):
        pdf = page.with_suffix(".pdf")
        assert pdf.read_bytes().startswith(b"%PDF")
        if shutil.which("pdftotext"):
            assert f"Rapport numéro {n}" in _texte(pdf)
    assert imprimante.pid is None
    assert not _vivant(pid), "Chromium survit à son lot"


@sans_chromium
def test_chromium_arrete_pendant_le_lot_phrase_francaise_sans_attendre(tmp_path):
    page = _page(tmp_path, "page", "Rapport")
    with Imprimante(CHROMIUM) as imprimante:
        imprimante.imprimer(page, tmp_path / "premier.pdf")
        os.kill(imprimante.pid, signal.SIGKILL)
        debut = time.monotonic()
        with pytest.raises(RuntimeError, match="Chromium s'est arrêté pendant le lot"):
            imprimante.imprimer(page, tmp_path / "second.pdf")
        assert time.monotonic() - debut < 30
    assert not (tmp_path / "second.pdf").exists()


def test_chromium_qui_echoue_ou_manque_phrase_francaise(tmp_path, monkeypatch):
    page = _page(tmp_path, "page", "Rapport")
    faux = tmp_path / "chromium"
    faux.write_text("#!/bin/sh\nexit 1\n")
    faux.chmod(0o755)
    monkeypatch.setenv("OBSERVATOIRE_CHROMIUM", str(faux))
    with pytest.raises(RuntimeError, match="Chromium s'est arrêté"):
        exporter_pdf(page, tmp_path / "rapport.pdf")
    monkeypatch.setenv("OBSERVATOIRE_CHROMIUM", str(tmp_path / "absent"))
    with pytest.raises(RuntimeError, match="Chromium est introuvable"):
        exporter_pdf(page, tmp_path / "rapport.pdf")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chromium", "page.html"], (
        "copie d'impression restée"
    )


@sans_chromium
def test_chromium_ne_survit_pas_a_un_lot_tue(tmp_path):
    """``kill -9`` du processus qui imprime : Chromium voit ses tubes fermés et s'arrête seul."""
    page = _page(tmp_path, "page", "Rapport")
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from observatoire.publication.impression import Imprimante
        imprimante = Imprimante({CHROMIUM!r})
        imprimante.imprimer(Path({str(page)!r}), Path({str(tmp_path / "p.pdf")!r}))
        print(imprimante.pid, flush=True)
        time.sleep(120)
        """
    )
    # Le profil d'un Chromium tué reste dans ce dossier temporaire, effacé ensuite ; court, car
    # Chromium y crée un socket Unix (108 caractères au plus), que tmp_path sous xdist dépasse.
    temporaire = tempfile.mkdtemp(prefix="obs-")
    processus = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": temporaire},
    )
    try:
        pid = int(processus.stdout.readline())
        assert _vivant(pid)
    finally:
        processus.kill()
        processus.wait()
    limite = time.monotonic() + 20
    while _vivant(pid) and time.monotonic() < limite:
        time.sleep(0.2)
    shutil.rmtree(temporaire, ignore_errors=True)
    assert not _vivant(pid), "Chromium orphelin après kill -9 du lot"

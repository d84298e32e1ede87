"""L'analyste dans un vrai JupyterLab (celui de la venv, sur la boucle locale), piloté par
Chromium sans interface : le notebook d'exploration s'exécute en entier sans erreur, la carte
a sa taille, un filtre met à jour les chiffres clés, et ``plt`` affiche encore ses figures
après ``import observatoire``.

JupyterLab travaille sur une copie des notebooks (son enregistrement automatique ne touche
jamais les notebooks versionnés) ; il est arrêté par son PID."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from .conftest import RACINE, lisible

pytestmark = [pytest.mark.navigateur, pytest.mark.lent]

webdriver = pytest.importorskip("selenium.webdriver")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def _port_libre() -> int:
    with socket.socket() as prise:
        prise.bind(("127.0.0.1", 0))
        return prise.getsockname()[1]


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory):
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("chromium et chromedriver absents (paquets Debian chromium, chromium-driver)")
    dossier = tmp_path_factory.mktemp("lab")
    shutil.copy(RACINE / "notebooks" / "exploration.ipynb", dossier / "exploration.ipynb")
    port, jeton = _port_libre(), secrets.token_hex(16)
    environnement = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(dossier / ".config"),
        "JUPYTER_RUNTIME_DIR": str(dossier / ".runtime"),
        "JUPYTER_DATA_DIR": str(RACINE / ".venv" / "share" / "jupyter"),
    }
    journal = open(dossier / "jupyterlab.log", "w")  # noqa: SIM115 - fermé à l'arrêt
    serveur = subprocess.Popen(
        [
            sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
            f"--IdentityProvider.token={jeton}", f"--ServerApp.root_dir={dossier}",
            "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--ServerApp.open_browser=False", "--LabApp.extension_manager=readonly",
            *(["--allow-root"] if os.geteuid() == 0 else []),
        ],
        cwd=dossier, env=environnement, stdout=journal, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    adresse = f"http://127.0.0.1:{port}"
    try:
        fin = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{adresse}/api/status?token={jeton}", timeout=2) as reponse:
                    if reponse.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > fin or serveur.poll() is not None:
                pytest.fail(
                    "JupyterLab n'a pas démarré :\n" + (dossier / "jupyterlab.log").read_text()[-3000:]
                )
            time.sleep(0.5)
        yield adresse, jeton, dossier
    finally:
        if serveur.poll() is None:
            os.killpg(serveur.pid, signal.SIGTERM)
            try:
                serveur.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(serveur.pid, signal.SIGKILL)
        journal.close()


@pytest.fixture(scope="module")
def navigateur():
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--window-size=1500,1000",
        # Réseau coupé sauf la boucle locale (contournée d'office) : le JupyterLab du test.
        "--proxy-server=http://127.0.0.1:9",
    ):  # fmt: skip
        options.add_argument(argument)
    pilote = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield pilote
    pilote.quit()


def _attendre(condition, attente: float, message: str):
    fin = time.monotonic() + attente
    while True:
        resultat = condition()
        if resultat:
            return resultat
        if time.monotonic() > fin:
            pytest.fail(message)
        time.sleep(0.5)


ETAT_CELLULES = """
const cellules = Array.from(document.querySelectorAll('.jp-Notebook .jp-CodeCell'));
return cellules.map(c => {
  const invite = c.querySelector('.jp-InputArea-prompt');
  return {invite: invite ? invite.textContent : '', source: c.querySelector('.jp-InputArea-editor').textContent,
          sorties: Array.from(c.querySelectorAll('.jp-OutputArea-output')).map(o => o.textContent).join('\\n'),
          images: c.querySelectorAll('.jp-OutputArea-output img').length,
          erreurs: c.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').length};
});
"""


def _menu(pilote, menu: str, entree: str) -> None:
    pilote.find_element("xpath", f"//li[contains(@class,'lm-MenuBar-item')][.//div[text()='{menu}']]").click()
    _attendre(
        lambda: pilote.find_elements(
            "xpath", f"//li[contains(@class,'lm-Menu-item')][.//div[text()='{entree}']]"
        ),
        10,
        f"entrée de menu « {entree} » introuvable",
    )[0].click()


def test_exploration_dans_jupyterlab(jupyterlab, navigateur, tmp_path):
    from selenium.webdriver.support.ui import Select

    adresse, jeton, dossier = jupyterlab
    pilote = navigateur
    pilote.get(f"{adresse}/lab/tree/exploration.ipynb?token={jeton}")
    _attendre(
        lambda: pilote.execute_script(
            "const s = document.querySelector('.jp-Notebook-ExecutionIndicator, .jp-Toolbar-kernelStatus');"
            "return document.querySelectorAll('.jp-Notebook .jp-CodeCell').length > 0 && "
            "document.body.textContent.includes('Observatoire');"
        ),
        120,
        "le notebook ne s'ouvre pas avec le noyau « Observatoire »",
    )
    time.sleep(3)  # laisser le noyau démarrer
    _menu(pilote, "Run", "Run All Cells")

    def termine():
        cellules = pilote.execute_script(ETAT_CELLULES)
        invites = [c["invite"] for c in cellules]
        return cellules if all(i.strip() not in ("", "[ ]:", "[*]:") for i in invites) else None

    cellules = _attendre(termine, 300, "toutes les cellules ne se sont pas exécutées")
    pilote.save_screenshot(str(tmp_path / "exploration.png"))
    for cellule in cellules:
        assert "Traceback" not in cellule["sorties"] and "Error" not in cellule["sorties"], cellule[
            "sorties"
        ][-2000:]
    # La carte du rapport, seule dans sa cellule, a sa taille (et non 300 × 150).
    largeurs = pilote.execute_script(
        "return Array.from(document.querySelectorAll('iframe.obs-carte-interactive'))"
        ".map(f => [f.getBoundingClientRect().width, f.getBoundingClientRect().height]);"
    )
    assert len(largeurs) >= 2, "la carte du panneau et celle du rapport"
    assert all(largeur >= 600 and hauteur >= 400 for largeur, hauteur in largeurs), largeurs
    # plt après import observatoire : une image.
    graphique = next(c for c in cellules if "plt.show()" in c["source"])
    assert graphique["images"] == 1
    # Un filtre change les chiffres clés.
    avant = pilote.execute_script("return document.querySelector('[data-role=chiffres-cles]').textContent")
    public = pilote.find_element(
        "xpath",
        "//div[contains(@class,'widget-select-multiple')][.//label[normalize-space()='Public']]//select",
    )
    debut = time.monotonic()
    Select(public).select_by_index(0)
    apres = _attendre(
        lambda: (
            texte
            if (
                texte := pilote.execute_script(
                    "return document.querySelector('[data-role=chiffres-cles]').textContent"
                )
            )
            != avant
            else None
        ),
        30,
        "les chiffres clés ne changent pas quand on filtre",
    )
    print(f"mise à jour après un filtre, vue dans le navigateur : {time.monotonic() - debut:.2f} s")
    assert apres != avant
    pilote.save_screenshot(str(tmp_path / "exploration_filtree.png"))
    # La période se lit en entier (le curseur d'ipywidgets la coupait dans sa case).
    periode = pilote.execute_script(
        "return Array.from(document.querySelectorAll('.widget-html-content'))"
        ".map(e => e.textContent).find(t => t.startsWith('de ') && t.includes(' à ')) || '';"
    )
    assert lisible(periode) == "de janvier 2023 à décembre 2023", periode

"""Vrai navigateur (Chromium headless, réseau coupé) : la carte Leaflet et la couche QPV sont
dessinées, aucune erreur JavaScript hors tuiles bloquées, la charge XSS ne s'exécute pas."""

from __future__ import annotations

import shutil
import time

import pytest

from .conftest import lisible

pytestmark = [pytest.mark.navigateur, pytest.mark.lent]

webdriver = pytest.importorskip("selenium.webdriver")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

ETAT_CARTE = """
const cartes = Object.values(window).filter(v => v instanceof L.Map);
const couches = Object.values(window).filter(v => v instanceof L.GeoJSON && v._map);
const tailles = couches.map(c => c.getLayers().length);
const regroupes = Object.values(window).filter(v => v instanceof L.MarkerClusterGroup && v._map);
return {cartes: cartes.length, tailles: tailles, regroupes: regroupes.length,
        lieux: regroupes.map(r => r.getLayers().length),
        canevas: document.querySelectorAll('.leaflet-overlay-pane canvas').length,
        legende: !!document.querySelector('.legende-carte')};
"""


@pytest.fixture(scope="module")
def navigateur():
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("chromium et chromedriver absents (paquets Debian chromium, chromium-driver)")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,900",
        # Réseau coupé : toute requête http(s) passe par un mandataire qui n'existe pas.
        "--proxy-server=http://127.0.0.1:9",
        "--proxy-bypass-list=<-loopback>",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    pilote = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield pilote
    pilote.quit()


def _erreurs_js(pilote) -> list[str]:
    journal = pilote.get_log("browser")
    return [
        e["message"]
        for e in journal
        if e["level"] == "SEVERE"
        and "tile.openstreetmap.org" not in e["message"]
        and "ERR_PROXY_CONNECTION_FAILED" not in e["message"]
    ]


def _attendre_carte(pilote, attente=15.0) -> dict:
    fin = time.monotonic() + attente
    while True:
        etat = pilote.execute_script(
            "return (typeof L === 'undefined') ? null : (function(){" + ETAT_CARTE + "})()"
        )
        if etat and etat["cartes"] and etat["tailles"] or time.monotonic() > fin:
            return etat
        time.sleep(0.2)


def _pas_d_alerte(pilote) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    with pytest.raises(NoAlertPresentException):
        pilote.switch_to.alert.text  # noqa: B018 - la lecture lève s'il n'y a pas d'alerte


@pytest.mark.parametrize("territoire", ["95", "synthese"])
def test_carte_seule_hors_ligne(navigateur, lot, referentiel, territoire):
    chemin = lot[0]["dossier"] / territoire / "carte.html"
    navigateur.get(chemin.as_uri())
    etat = _attendre_carte(navigateur)
    qpv = (
        len(referentiel.qpv)
        if territoire == "synthese"
        else int((referentiel.qpv["insee_dep"] == "95").sum())
    )
    assert etat["cartes"] == 1
    assert qpv in etat["tailles"], f"couche QPV ({qpv} périmètres) dessinée : {etat['tailles']}"
    assert etat["canevas"] >= 1 and etat["regroupes"] == 1 and etat["lieux"][0] > 0
    assert etat["legende"]
    _pas_d_alerte(navigateur)
    assert _erreurs_js(navigateur) == []


def test_rapport_hors_ligne_avec_carte_dans_son_cadre(navigateur, lot, tmp_path):
    chemin = lot[0]["dossier"] / "95" / "rapport.html"
    navigateur.get(chemin.as_uri())
    assert navigateur.execute_script("return document.documentElement.lang") == "fr"
    assert lisible(navigateur.find_element("tag name", "h1").text).startswith(
        "Activité 2023 — Val-d'Oise (95)"
    )
    texte = navigateur.find_element("tag name", "body").text
    assert ".obs-bandeau{" not in texte and "<style" not in texte, "du balisage affiché comme du texte"
    images = navigateur.execute_script(
        "return Array.from(document.images).map(i => [i.naturalWidth, i.alt.length])"
    )
    assert len(images) >= 7 and all(largeur > 0 and alt > 0 for largeur, alt in images)
    _pas_d_alerte(navigateur)
    cadre = navigateur.find_element("css selector", "iframe.obs-carte-interactive")
    navigateur.switch_to.frame(cadre)
    try:
        etat = _attendre_carte(navigateur)
        assert etat["cartes"] == 1 and 42 in etat["tailles"]
        _pas_d_alerte(navigateur)
    finally:
        navigateur.switch_to.default_content()
    navigateur.save_screenshot(str(tmp_path / "rapport.png"))
    assert _erreurs_js(navigateur) == []


@pytest.mark.parametrize(
    "page",
    ["index.html", "95/rapport.html", "synthese/rapport.html", "95/carte.html", "fiches/QN09535M.html"],
)
def test_accessibilite_axe_core(navigateur, lot, page):
    """axe-core, venu du paquet axe-selenium-python (2.1.6, le dernier servi par PyPI ici) :
    aucune violation sérieuse ou critique des règles WCAG 2 A et AA (sa version d'axe-core n'a pas
    encore les étiquettes WCAG 2.1)."""
    axe_module = pytest.importorskip("axe_selenium_python")
    navigateur.get((lot[0]["dossier"] / page).as_uri())
    time.sleep(1)
    axe_module.Axe(navigateur).inject()
    navigateur.set_script_timeout(120)
    # Seules les violations reviennent du navigateur : le résultat complet d'axe est trop lourd.
    resultats = navigateur.execute_async_script(
        "var fin = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}})"
        ".then(r => fin({version: axe.version, violations: r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 3).map(n => ({html: n.html}))}))}))"
        ".catch(e => fin({erreur: String(e)}));"
    )
    assert "erreur" not in resultats, resultats
    graves = [
        f"{v['id']} ({v['impact']}) : {v['help']} — ex. {v['nodes'][0]['html'][:160]}"
        for v in resultats["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not graves, "\n".join(graves)


DEBORDEMENTS = """
const largeur = document.documentElement.clientWidth;
const defile = [...document.querySelectorAll('.obs-tableau')]
    .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.querySelector('caption, table')?.textContent.slice(0, 60));
return {page: document.documentElement.scrollWidth - largeur, tableaux: defile};
"""

CHEVAUCHEMENT = """
const a = document.querySelector('.legende-carte').getBoundingClientRect();
const b = document.querySelector('.leaflet-control-zoom').getBoundingClientRect();
const c = document.querySelector('.obs-carte-navigation')?.getBoundingClientRect();
const croise = (p, q) => p.left < q.right && q.left < p.right && p.top < q.bottom && q.top < p.bottom;
return {zoom: croise(a, b), titre_sous_bandeau: c ? croise(document.querySelector('.carte-titre span').getBoundingClientRect(), c) : false};
"""


@pytest.mark.parametrize("largeur", [1400, 360])
def test_pages_sans_debordement(navigateur, lot, largeur):
    """À 1 400 px, aucun tableau de l'index ni du rapport ne défile ; à 360 px (téléphone),
    aucune page n'est plus large que l'écran (un tableau large défile dans son cadre). Sur la
    carte seule, la légende ouverte ne couvre pas le zoom, le bandeau ne couvre pas le titre."""
    dossier = lot[0]["dossier"]
    navigateur.set_window_size(largeur, 900)
    try:
        for page in ("index.html", "95/rapport.html", "fiches/index.html", "fiches/QN09501M.html"):
            navigateur.get((dossier / page).as_uri())
            etat = navigateur.execute_script(DEBORDEMENTS)
            assert etat["page"] <= 0, (page, largeur, etat)
            if largeur == 1400 and page in ("index.html", "95/rapport.html"):
                assert not etat["tableaux"], (page, etat["tableaux"])
        navigateur.get((dossier / "95" / "carte.html").as_uri())
        _attendre_carte(navigateur)
        etat = navigateur.execute_script(CHEVAUCHEMENT)
        assert etat == {"zoom": False, "titre_sous_bandeau": False}, (largeur, etat)
    finally:
        navigateur.set_window_size(1280, 900)

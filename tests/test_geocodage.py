"""Géocodage par la Base Adresse Nationale, testé contre un géocodeur CSV sur la boucle locale
(jamais le vrai service) : réponses normales, 429 avec Retry-After, 503, réponse tronquée, CSV
mal formé, service injoignable ; cache, lieux à vérifier, registre intact en cas d'échec."""

from __future__ import annotations

import csv
import email.parser
import email.policy
import io
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import geopandas as gpd
import pandas as pd
import pytest

from observatoire import lire_activite
from observatoire.activite.geocodage import ErreurGeocodage, geocoder

from .conftest import DEMO, RACINE, leve, lisible


class _Geocodeur:
    """Le sous-ensemble de /search/csv/ qu'utilise le client : colonnes en entrée, résultats en plus."""

    def __init__(self):
        communes = gpd.read_file(RACINE / "data" / "reference" / "communes.geojson").to_crs(2154)
        centres = communes.set_index("insee_com").geometry.representative_point().to_crs(4326)
        self.centres = {code: (round(p.y, 6), round(p.x, 6)) for code, p in centres.items()}
        self.modes: list[str] = []  # réponses imposées, dans l'ordre, avant les réponses normales
        self.requetes: list[list[dict]] = []
        self.champs: list[dict] = []  # champs de formulaire de chaque requête (sauf data)
        self.en_panne: set[str] = set()  # adresses auxquelles le service répond result_status=error
        geocodeur = self

        class Gestionnaire(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                corps = self.rfile.read(int(self.headers["Content-Length"]))
                message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                    f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode() + corps
                )
                champs = {
                    p.get_param("name", header="content-disposition"): p.get_content()
                    for p in message.iter_parts()
                }
                assert champs["columns"].strip() == "adresse" and champs["citycode"].strip() == "code_commune"
                geocodeur.champs.append({k: str(v).strip() for k, v in champs.items() if k != "data"})
                donnees = champs["data"]
                lignes = list(
                    csv.DictReader(io.StringIO(donnees.decode() if isinstance(donnees, bytes) else donnees))
                )
                geocodeur.requetes.append(lignes)
                mode = geocodeur.modes.pop(0) if geocodeur.modes else "ok"
                if mode in ("429", "503"):
                    self.send_response(int(mode))
                    self.send_header("Retry-After", "0")
                    self.end_headers()
                    return
                texte = geocodeur.repondre(lignes)
                if mode == "tronque":
                    texte = texte[: len(texte) // 2]
                elif mode == "mal_forme":
                    texte = 'cle,latitude\n"non fermé,1\n'
                octets = texte.encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "text/csv; charset=utf-8")
                self.send_header("Content-Length", str(len(octets)))
                self.end_headers()
                self.wfile.write(octets)

        self.serveur = ThreadingHTTPServer(("127.0.0.1", 0), Gestionnaire)
        self.url = f"http://127.0.0.1:{self.serveur.server_address[1]}/search/csv/"
        threading.Thread(target=self.serveur.serve_forever, daemon=True).start()

    def repondre(self, lignes: list[dict]) -> str:
        tampon = io.StringIO()
        colonnes = ["cle", "adresse", "code_commune", "latitude", "longitude", "result_label", "result_score",
                    "result_type", "result_citycode", "result_status"]  # fmt: skip
        ecrivain = csv.DictWriter(tampon, colonnes, lineterminator="\n")
        ecrivain.writeheader()
        for ligne in lignes:
            adresse, code = ligne["adresse"], ligne["code_commune"]
            resultat = {**ligne, "latitude": "", "longitude": "", "result_label": "", "result_score": "",
                        "result_type": "", "result_citycode": "", "result_status": "not-found"}  # fmt: skip
            if adresse in self.en_panne:
                resultat["result_status"] = "error"  # panne du moteur pour cette ligne
            elif len(adresse.strip()) < 3:
                resultat["result_status"] = "skipped"  # requête trop courte
            elif "Inconnue" not in adresse and code in self.centres:
                lat, lon = self.centres[code]
                douteux = "Douteux" in adresse
                ailleurs = "Voisine" in adresse
                resultat.update(
                    result_status="ok", latitude=str(lat), longitude=str(lon), result_label=f"{adresse} {code}",
                    result_score="0.41" if douteux else "0.93", result_type="street" if douteux else "housenumber",
                    result_citycode="95063" if ailleurs else code,
                )  # fmt: skip
            ecrivain.writerow(resultat)
        return tampon.getvalue()

    def arreter(self):
        self.serveur.shutdown()
        self.serveur.server_close()


@pytest.fixture
def geocodeur():
    serveur = _Geocodeur()
    yield serveur
    serveur.arreter()


@pytest.fixture
def donnees(tmp_path):
    dossier = tmp_path / "donnees"
    shutil.copytree(DEMO, dossier)
    seances = dossier / "2023" / "seances.csv"
    texte = seances.read_text(encoding="utf-8")
    texte += (
        "S-T1;A2023-01;2023-05-02;1;95018;Maison de quartier;99 rue Inconnue;;;;non\n"
        "S-T2;A2023-01;2023-05-03;1;95018;Salle des fêtes;7 chemin Douteux;;;;non\n"
        "S-T3;A2023-01;2023-05-04;1;95018;Gymnase;5 rue Voisine;;;;non\n"
    )
    seances.write_text(texte, encoding="utf-8")
    return dossier


def test_geocodage_de_bout_en_bout(geocodeur, donnees, referentiel, monkeypatch):
    monkeypatch.setattr("observatoire.activite.geocodage.time.sleep", lambda s: None)
    avant = lire_activite(donnees / "2023", annee=2023, referentiel=referentiel)
    sans_coordonnees = int((avant.seances["placement"] == "non_placee").sum())
    assert sans_coordonnees == 20  # les 17 de la démonstration et les 3 ajoutées

    bilan = geocoder(donnees / "2023", url=geocodeur.url, taille_lot=10)
    assert bilan.ajoutes == 3, "les lieux des séances sans id_lieu entrent au registre"
    assert bilan.lots == len(geocodeur.requetes) and bilan.lots >= 2, "par lots"
    assert all(len(lot) <= 10 for lot in geocodeur.requetes)
    assert [v["id_lieu"] for v in bilan.a_verifier] and len(bilan.a_verifier) == 2
    assert any("score 0,41 inférieur à 0,70" in v["motif"] for v in bilan.a_verifier)
    assert any("commune 95063, et non 95018" in v["motif"] for v in bilan.a_verifier)
    assert [v["adresse"] for v in bilan.non_trouves] == ["99 rue Inconnue"]
    registre = (donnees / "lieux.csv").read_text(encoding="utf-8-sig")
    assert "BAN" in registre and "numero" in registre and "a_verifier" in registre

    apres = lire_activite(donnees / "2023", annee=2023, referentiel=referentiel)
    placements = apres.seances["placement"].value_counts()
    assert placements["numero"] >= 17 and placements["commune"] == 2 and placements["non_placee"] == 1
    # Des coordonnées saisies à la main ne sont jamais remplacées.
    saisies = [ligne for ligne in registre.splitlines() if ";saisie;" in ligne]
    assert saisies and all(";BAN;" not in ligne for ligne in saisies)

    # Le cache : la même adresse n'est jamais envoyée deux fois.
    envoyees = sum(len(lot) for lot in geocodeur.requetes)
    bilan = geocoder(donnees / "2023", url=geocodeur.url)
    assert bilan.envoyes == 0 and sum(len(lot) for lot in geocodeur.requetes) == envoyees

    bilan = geocoder(donnees / "2023", url=geocodeur.url, accepter=True)
    assert bilan.acceptes == 2
    accepte = lire_activite(donnees / "2023", annee=2023, referentiel=referentiel)
    assert (accepte.seances["placement"] == "commune").sum() == 0


def test_429_puis_503_avec_retry_after(geocodeur, donnees, monkeypatch):
    attentes = []
    monkeypatch.setattr("observatoire.activite.geocodage.time.sleep", attentes.append)
    geocodeur.modes = ["429", "503"]
    bilan = geocoder(donnees / "2023", url=geocodeur.url)
    assert bilan.lots == 1 and len(geocodeur.requetes) == 3 and attentes == [0.0, 0.0]


@pytest.mark.parametrize("mode", ["503", "tronque", "mal_forme"])
def test_reponse_mauvaise_rien_n_est_modifie(geocodeur, donnees, monkeypatch, mode):
    monkeypatch.setattr("observatoire.activite.geocodage.time.sleep", lambda s: None)
    registre = (donnees / "lieux.csv").read_bytes()
    geocodeur.modes = [mode] * 4
    with leve(ErreurGeocodage, "après 4 essais.*rien n'a été modifié"):
        geocoder(donnees / "2023", url=geocodeur.url)
    assert (donnees / "lieux.csv").read_bytes() == registre
    assert not (donnees / "geocodage_cache.csv").exists()


def test_hors_ligne_le_dit_et_ne_change_rien(donnees):
    registre = (donnees / "lieux.csv").read_bytes()
    resultat = subprocess.run(
        [sys.executable, "-m", "observatoire", "geocoder", str(donnees / "2023"), "--url", "http://127.0.0.1:9/search/csv/"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert resultat.returncode == 2
    assert "Géocodeur injoignable" in resultat.stderr and "Rien n'a été modifié" in lisible(resultat.stderr)
    assert "Traceback" not in resultat.stderr
    assert (donnees / "lieux.csv").read_bytes() == registre


def test_commande_geocoder(geocodeur, donnees):
    resultat = subprocess.run(
        [sys.executable, "-m", "observatoire", "geocoder", str(donnees / "2023"), "--url", geocodeur.url],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert resultat.returncode == 0, resultat.stderr
    assert "À vérifier (2)" in resultat.stdout and "Sans résultat (1)" in resultat.stdout


def test_result_status_error_et_skipped_renvoyes_au_lancement_suivant(geocodeur, donnees, monkeypatch):
    """Le service marque ``error`` une ligne que son moteur n'a pas traitée, ``skipped`` une
    requête trop courte : ni l'une ni l'autre n'est gardée comme « sans résultat »."""
    monkeypatch.setattr("observatoire.activite.geocodage.time.sleep", lambda s: None)
    seances = donnees / "2023" / "seances.csv"
    seances.write_text(
        seances.read_text(encoding="utf-8") + "S-T4;A2023-01;2023-05-05;1;95018;Local;12;;;;non\n",
        encoding="utf-8",
    )
    geocodeur.en_panne = {"5 rue Voisine"}
    bilan = geocoder(donnees / "2023", url=geocodeur.url)
    assert bilan.a_reessayer == 2, "error et skipped comptés à part"
    cache = (donnees / "geocodage_cache.csv").read_text(encoding="utf-8-sig").lower()
    assert "5 rue voisine" not in cache and "|12|" not in cache, "rien de gardé pour eux"
    assert "99 rue inconnue" in cache, "not-found reste en cache : l'adresse est à corriger"

    geocodeur.requetes.clear()
    geocodeur.en_panne = set()
    bilan = geocoder(donnees / "2023", url=geocodeur.url)
    renvoyees = sorted(ligne["adresse"] for lot in geocodeur.requetes for ligne in lot)
    assert renvoyees == ["12", "5 rue Voisine"], "seules les lignes en panne ou sautées repartent"
    cache = (donnees / "geocodage_cache.csv").read_text(encoding="utf-8-sig").lower()
    assert bilan.a_reessayer == 1 and "5 rue voisine" in cache, (
        "« 12 » reste trop court ; la panne est passée"
    )


def test_separateur_et_encodage_dits_au_service(geocodeur, donnees, monkeypatch):
    """La clé des lieux contient « | » : le séparateur n'est jamais laissé à deviner."""
    monkeypatch.setattr("observatoire.activite.geocodage.time.sleep", lambda s: None)
    geocoder(donnees / "2023", url=geocodeur.url)
    assert geocodeur.champs and all(
        c["delimiter"] == "," and c["encoding"] == "utf-8" for c in geocodeur.champs
    )


def test_adresse_par_defaut_celle_de_la_geoplateforme_et_url_dans_l_aide():
    from observatoire.activite.geocodage import URL_BAN, URL_BAN_ANCIENNE

    assert URL_BAN == "https://data.geopf.fr/geocodage/search/csv"
    assert "api-adresse.data.gouv.fr" in URL_BAN_ANCIENNE
    aide = subprocess.run(
        [sys.executable, "-m", "observatoire", "geocoder", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "--url" in aide and "data.geopf.fr" in aide


def test_registre_garde_les_colonnes_et_l_encodage_de_l_utilisateur(geocodeur, donnees, monkeypatch):
    """Une colonne à lui, son séparateur « , » et cp1252 : tout reste, seuls les lieux placés changent."""
    monkeypatch.setattr("observatoire.activite.geocodage.time.sleep", lambda s: None)
    registre = donnees / "lieux.csv"
    table = pd.read_csv(registre, sep=";", dtype=str, keep_default_na=False).assign(
        remarque="à revoir en été"
    )
    registre.write_bytes(table.to_csv(index=False, lineterminator="\r\n").encode("cp1252"))
    geocoder(donnees / "2023", url=geocodeur.url)
    octets = registre.read_bytes()
    relu = octets.decode("cp1252")
    assert "remarque" in relu.splitlines()[0] and relu.count("à revoir en été") >= len(table)
    assert "\r\n" in relu and relu.splitlines()[0].count(",") > 3, "séparateur et fin de ligne gardés"

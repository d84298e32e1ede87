"""Impression des pages en PDF A4 par un Chromium sans interface, démarré une fois par lot.

Chromium est piloté par son protocole DevTools sur deux tubes (``--remote-debugging-pipe`` :
il lit les commandes sur son descripteur 3, répond sur le 4, messages JSON terminés par un
octet nul) : ni port réseau ni bibliothèque de plus. Chaque page s'ouvre dans un onglet neuf,
s'imprime (``Page.printToPDF``, mêmes réglages que ``--print-to-pdf`` : fond imprimé, format de
page de la feuille de style, ni en-tête ni pied de Chromium, PDF balisé) et se referme. Lancer
Chromium pour chaque PDF coûtait une seconde de démarrage par page ; deux fils peuvent imprimer
en même temps dans le même navigateur.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import BinaryIO

__all__ = ["DELAI_PDF_S", "Imprimante"]

DELAI_PDF_S = 120
OPTIONS_CHROMIUM = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
)
REGLAGES_PDF = {
    "printBackground": True,
    "preferCSSPageSize": True,
    "displayHeaderFooter": False,
    "generateTaggedPDF": True,
}
# Chromium attend ses tubes sur les descripteurs 3 et 4 ; sans ``preexec_fn`` (dangereux dans un
# processus à plusieurs fils), un relais Python les y place puis devient Chromium (``execv``).
_RELAIS = (
    "import fcntl, os, sys\n"
    "lecture, ecriture = (fcntl.fcntl(int(d), fcntl.F_DUPFD, 10) for d in sys.argv[1:3])\n"
    "os.dup2(lecture, 3)\n"
    "os.dup2(ecriture, 4)\n"
    "os.execv(sys.argv[3], sys.argv[3:])\n"
)


class Imprimante:
    """Un Chromium sans interface qui imprime des pages HTML en PDF ; démarré à la première page,
    arrêté par ``fermer`` (ou à la sortie du bloc ``with``).

    Parameters
    ----------
    executable : str
        Le programme Chromium.
    """

    def __init__(self, executable: str):
        self._executable = executable
        self._demarrage = threading.Lock()
        self._ecriture = threading.Lock()
        self._messages = threading.Condition()
        self._processus: subprocess.Popen | None = None
        self._profil: Path | None = None
        self._vers_chromium: BinaryIO | None = None
        self._reponses: dict[int, dict] = {}
        self._evenements: dict[str, list[str]] = {}
        self._numero = 0
        self._arrete = False

    def __enter__(self) -> Imprimante:
        return self

    def __exit__(self, *exception) -> None:
        self.fermer()

    @property
    def pid(self) -> int | None:
        """Le processus de Chromium, ``None`` tant qu'il n'a pas démarré ou une fois arrêté."""
        return self._processus.pid if self._processus is not None else None

    def imprimer(self, page: Path, pdf: Path) -> None:
        """Imprime ``page`` (fichier HTML) dans ``pdf``.

        Raises
        ------
        RuntimeError
            Chromium ne démarre pas, s'arrête, refuse la page ou ne répond pas à temps.
        """
        self._demarrer()
        cible = self._commande("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = ""
        try:
            session = self._commande("Target.attachToTarget", {"targetId": cible, "flatten": True})[
                "sessionId"
            ]
            self._commande("Page.enable", session=session)
            with self._messages:
                self._evenements[session] = []
            navigation = self._commande("Page.navigate", {"url": page.resolve().as_uri()}, session=session)
            if navigation.get("errorText"):
                raise RuntimeError(f"Chromium n'a pas ouvert la page : {navigation['errorText']}")
            self._attendre(lambda: "Page.loadEventFired" in self._evenements.get(session, []))
            donnees = self._commande("Page.printToPDF", REGLAGES_PDF, session=session)["data"]
        finally:
            with self._messages:
                self._evenements.pop(session, None)
            with contextlib.suppress(RuntimeError):
                self._commande("Target.closeTarget", {"targetId": cible})
        pdf.write_bytes(base64.b64decode(donnees))

    def fermer(self) -> None:
        """Arrête Chromium (s'il a démarré) et efface son profil temporaire."""
        with self._demarrage:
            processus, self._processus = self._processus, None
            if processus is not None:
                with contextlib.suppress(RuntimeError, OSError):
                    self._commande("Browser.close", delai=5)
                if self._vers_chromium is not None:
                    with contextlib.suppress(OSError):
                        self._vers_chromium.close()
                    self._vers_chromium = None
                try:
                    processus.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    processus.kill()
                    processus.wait()
                # Ses processus d'aide (rendu, zygote) avec lui : ils écrivent encore dans le profil.
                with contextlib.suppress(OSError):
                    os.killpg(processus.pid, signal.SIGKILL)
            if self._profil is not None:
                _effacer(self._profil)
                self._profil = None

    # ------------------------------------------------------------------ protocole
    def _demarrer(self) -> None:
        with self._demarrage:
            if self._processus is not None:
                if self._arrete:
                    raise RuntimeError("Chromium s'est arrêté pendant le lot.")
                return
            self._profil = Path(tempfile.mkdtemp(prefix="observatoire-chromium-"))
            lecture_chromium, ecriture_nous = os.pipe()
            lecture_nous, ecriture_chromium = os.pipe()
            commande = [
                *(sys.executable, "-I", "-S", "-c", _RELAIS, str(lecture_chromium), str(ecriture_chromium)),
                self._executable,
                *OPTIONS_CHROMIUM,
                f"--user-data-dir={self._profil}",
                "--remote-debugging-pipe",
                "about:blank",
            ]
            try:
                self._processus = subprocess.Popen(
                    commande,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    pass_fds=(lecture_chromium, ecriture_chromium),
                    start_new_session=True,
                )
            except OSError as erreur:
                os.close(ecriture_nous)
                os.close(lecture_nous)
                _effacer(self._profil)
                self._profil = None
                raise RuntimeError(f"Chromium ne démarre pas ({erreur.strerror}).") from erreur
            finally:
                os.close(lecture_chromium)
                os.close(ecriture_chromium)
            self._vers_chromium = os.fdopen(ecriture_nous, "wb", buffering=0)
            self._arrete = False
            threading.Thread(
                target=self._lire, args=(os.fdopen(lecture_nous, "rb", buffering=0),), daemon=True
            ).start()

    def _lire(self, depuis_chromium) -> None:
        """Fil de lecture : chaque réponse à son numéro, chaque événement à sa session."""
        debut: list[bytes] = []  # le message en cours, par morceaux (un PDF en base64 : des Mo)
        with depuis_chromium:
            while morceau := depuis_chromium.read(1 << 16):
                if b"\0" not in morceau:
                    debut.append(morceau)
                    continue
                *messages, reste = b"".join([*debut, morceau]).split(b"\0")
                debut = [reste]
                with self._messages:
                    for message in map(json.loads, messages):
                        if "id" in message:
                            self._reponses[message["id"]] = message
                        elif message.get("sessionId") in self._evenements:
                            self._evenements[message["sessionId"]].append(message.get("method", ""))
                    self._messages.notify_all()
        with self._messages:
            self._arrete = True
            self._messages.notify_all()

    def _commande(
        self,
        methode: str,
        parametres: dict | None = None,
        *,
        session: str | None = None,
        delai: float = DELAI_PDF_S,
    ) -> dict:
        with self._ecriture:
            self._numero += 1
            numero = self._numero
            message = {"id": numero, "method": methode, "params": parametres or {}}
            if session is not None:
                message["sessionId"] = session
            try:
                if self._vers_chromium is None:
                    raise OSError("tube fermé")
                self._vers_chromium.write(json.dumps(message).encode("utf-8") + b"\0")
            except OSError as erreur:
                raise RuntimeError("Chromium s'est arrêté pendant le lot.") from erreur
        self._attendre(lambda: numero in self._reponses, delai)
        with self._messages:
            reponse = self._reponses.pop(numero)
        if "error" in reponse:
            raise RuntimeError(
                f"Chromium a refusé {methode} : {reponse['error'].get('message', reponse['error'])}"
            )
        return reponse.get("result", {})

    def _attendre(self, condition, delai: float = DELAI_PDF_S) -> None:
        limite = time.monotonic() + delai
        with self._messages:
            while not condition():
                if self._arrete:
                    raise RuntimeError("Chromium s'est arrêté pendant le lot.")
                reste = limite - time.monotonic()
                if reste <= 0:
                    raise RuntimeError(f"Chromium n'a pas produit le PDF en {round(delai)} s.")
                self._messages.wait(reste)


def _effacer(profil: Path) -> None:
    """Efface le profil de Chromium ; un processus d'aide qui finit d'y écrire laisse réessayer."""
    for _ in range(20):
        try:
            shutil.rmtree(profil)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.1)
    shutil.rmtree(profil, ignore_errors=True)

"""Un lot à la fois par dossier de sortie : le verrou et le ménage d'un lot interrompu."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
from pathlib import Path

from ..commun.erreurs import ErreurParametre

__all__ = ["NOM_VERROU", "PREFIXES_TEMPORAIRES", "Verrou", "nettoyer_restes"]

NOM_VERROU = ".observatoire.verrou"
PREFIXES_TEMPORAIRES = (".travail-", ".publication-", ".ancien-", ".fiches-")


class Verrou:
    """Fichier verrou créé en ``O_EXCL`` : PID, hôte et début du lot ; repris s'il est périmé.

    Parameters
    ----------
    racine : Path
        Dossier de sortie du lot.
    """

    def __init__(self, racine: Path):
        self.chemin = racine / NOM_VERROU

    def __enter__(self):
        contenu = json.dumps(
            {
                "pid": os.getpid(),
                "hote": socket.gethostname(),
                "debut": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
            }
        ).encode("utf-8")
        for _ in range(2):
            try:
                descripteur = os.open(self.chemin, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                if self._perime():
                    self.chemin.unlink(missing_ok=True)
                    continue
                raise ErreurParametre(self._message()) from None
            with os.fdopen(descripteur, "wb") as flux:
                flux.write(contenu)
            return self
        raise ErreurParametre(self._message())

    def verifier_libre(self) -> None:
        """Refuse d'emblée, sans le prendre, un verrou tenu par un lot vivant (``ErreurParametre``)."""
        if self.chemin.exists() and not self._perime():
            raise ErreurParametre(self._message())

    def __exit__(self, *exception):
        self.chemin.unlink(missing_ok=True)
        return False

    def _lire(self) -> dict:
        try:
            return json.loads(self.chemin.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def _perime(self) -> bool:
        occupant = self._lire()
        if occupant.get("hote") not in (None, socket.gethostname()):
            return False  # un autre hôte : on ne peut pas savoir, on ne touche à rien
        pid = occupant.get("pid")
        if not isinstance(pid, int):
            return True
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    def _message(self) -> str:
        occupant = self._lire()
        return (
            f"Un autre lot écrit déjà dans ce dossier de sortie (processus {occupant.get('pid', '?')}, "
            f"commencé le {occupant.get('debut', '?')}). Attendez qu'il se termine ; s'il a été arrêté sur "
            f"une autre machine, supprimez le fichier {NOM_VERROU} du dossier de sortie."
        )


def nettoyer_restes(racine: Path) -> None:
    """Efface les dossiers temporaires d'un lot interrompu (nous tenons le verrou)."""
    for chemin in racine.iterdir():
        if chemin.is_dir() and chemin.name.startswith(PREFIXES_TEMPORAIRES):
            shutil.rmtree(chemin, ignore_errors=True)
        elif chemin.is_file() and chemin.name.startswith(".") and chemin.name.endswith(".tmp"):
            chemin.unlink(missing_ok=True)

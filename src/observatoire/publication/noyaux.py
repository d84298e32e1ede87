"""Les noyaux Jupyter du lot : démarrés tôt, gardés d'un territoire à l'autre, vidés entre deux
notebooks, fermés à la fin ; et l'exécution d'un notebook par papermill dans l'un d'eux.

Papermill est appelé par son API publique (``papermill.execute_notebook`` avec ``km=``) et son
moteur ordinaire. Le client qu'il ouvre sur un noyau qu'il ne possède pas reste ouvert après
coup : ``NoyauPartage`` est un ``KernelManager`` qui garde la trace des clients qu'il donne, et
le lot les ferme après chaque notebook. Aucune méthode de papermill n'est recopiée.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
import uuid
from importlib.resources import as_file, files
from pathlib import Path

import papermill
import zmq
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from jupyter_client.manager import KernelManager

from ..commun.codes import SYNTHESE

__all__ = ["NOM_NOYAU", "NoyauPartage", "Noyaux", "executer_notebook", "notebook_du_lot"]

NOM_NOYAU = "observatoire"
NOTEBOOKS = {SYNTHESE: "synthese.ipynb", "departement": "rapport_departement.ipynb"}
# CRITICAL : un noyau arrêté sous charge journalise « KeyboardInterrupt caught in kernel » en
# ERROR, sans rapport avec le notebook ; les erreurs de cellule, elles, remontent par papermill.
# Sans historique : deux noyaux qui écrivent la même base SQLite d'IPython se la disputent
# (« database is locked », imprimé dans la cellule en cours, donc dans le rapport).
ARGUMENTS_NOYAU = ["--IPKernelApp.log_level=CRITICAL", "--HistoryManager.enabled=False"]
# Sans nom dans l'espace du notebook (``__import__``) ; puis ``gc.freeze()`` : les objets des
# modules importés ne sont plus parcourus par le ramasse-miettes, ni pendant les notebooks ni par
# le ``gc.collect()`` qui vide le noyau entre deux (0,35 s chacun sinon).
PRECHARGEMENT = (
    '__import__("observatoire.rapport"); __import__("observatoire.fiches"); __import__("gc").freeze()'
)
VIDAGE = "%reset -f\nimport gc\ngc.collect()\ndel gc"


def notebook_du_lot(territoire: str):
    """Le notebook que le lot exécute pour un territoire : une donnée du paquet (``Traversable``)."""
    nom = NOTEBOOKS[SYNTHESE] if territoire == SYNTHESE else NOTEBOOKS["departement"]
    return files("observatoire.publication").joinpath("notebooks", nom)


def nom_du_noyau() -> str:
    """Le noyau « observatoire » enregistré par ``make installer``, sinon ``python3``."""
    try:
        KernelSpecManager().get_kernel_spec(NOM_NOYAU)
        return NOM_NOYAU
    except NoSuchKernel:
        return "python3"


class NoyauPartage(KernelManager):
    """Un noyau servi à plusieurs notebooks : il retient les clients qu'il ouvre pour qu'on les
    ferme (``fermer_clients``) quand un notebook est fini."""

    servi = False  # a déjà exécuté un notebook du lot : à vider avant le suivant

    def client(self, **kwargs):
        """Un client du noyau (``KernelManager.client``), retenu pour être fermé après coup."""
        client = super().client(**kwargs)
        with _VERROU_CLIENTS:
            self._clients_ouverts = [*getattr(self, "_clients_ouverts", []), client]
        return client

    def fermer_clients(self) -> None:
        """Ferme les canaux de tous les clients ouverts depuis le dernier appel."""
        with _VERROU_CLIENTS:
            clients, self._clients_ouverts = getattr(self, "_clients_ouverts", []), []
        for client in clients:
            with contextlib.suppress(Exception):
                client.stop_channels()


_VERROU_CLIENTS = threading.Lock()


def executer_notebook(territoire: str, sortie: Path, valeurs: dict, noyau: NoyauPartage) -> None:
    """Exécute le notebook du lot d'un territoire dans ``noyau`` (papermill, API publique).

    Raises
    ------
    papermill.PapermillExecutionError
        Une cellule a échoué (le notebook exécuté est écrit quand même).
    """
    with as_file(
        files("observatoire.publication").joinpath("notebooks", notebook_du_lot(territoire))
    ) as modele:
        try:
            # Pas de ``cwd`` : papermill ferait un chdir du processus entier, non sûr entre fils
            # d'exécution ; les chemins passés en paramètres sont absolus.
            papermill.execute_notebook(
                str(modele),
                str(sortie),
                parameters=valeurs,
                progress_bar=False,
                log_output=False,
                kernel_name=nom_du_noyau(),
                language="python",
                km=noyau,
                # Écrit une fois à la fin (ou à l'erreur), pas avant et après chaque cellule :
                # 24 écritures validées d'un notebook d'1 Mo, autant de calcul perdu pour le lot.
                request_save_on_cell_execute=False,
            )
        finally:
            noyau.fermer_clients()


class Noyaux:
    """Les noyaux Jupyter du lot : démarrés dès le début, puis un par fil, gardé d'un territoire à
    l'autre.

    Démarrer un noyau et y importer pandas, geopandas, folium et matplotlib coûte environ 3 s.
    Les ``nombre`` noyaux démarrent (et importent) pendant que le lot lit les données, puis
    chacun sert tous les territoires de son fil : 3 s payées une fois par fil au lieu d'une
    fois par territoire (102 à l'échelle nationale). Avant chaque notebook, l'espace de noms
    est vidé (``%reset -f``) : aucun notebook ne voit une variable d'un autre ni du
    préchargement ; un noyau mort ou qui ne répond plus est remplacé. Tous sont arrêtés à la
    sortie du bloc ``with``, même en cas d'erreur ou d'interruption.

    Parameters
    ----------
    nombre : int
        Noyaux démarrés d'avance (``--jobs``).
    """

    def __init__(self, nombre: int):
        self.nombre = nombre
        self._local = threading.local()
        self._ouverts: list[NoyauPartage] = []
        self._verrou = threading.Lock()
        self._arret = threading.Event()
        self._prets: queue.Queue = queue.Queue()
        self._demarrages = [
            threading.Thread(target=self._demarrer_d_avance, daemon=True) for _ in range(nombre)
        ]

    def __enter__(self) -> Noyaux:
        for demarrage in self._demarrages:
            demarrage.start()
        return self

    def __exit__(self, *exception) -> None:
        self.arreter()

    def arreter(self) -> None:
        """Arrête tous les noyaux (un notebook en cours y échoue aussitôt).

        Un démarrage en cours est d'abord attendu (il s'abandonne dès qu'il voit l'arrêt, sans
        payer le préchargement) : un noyau n'est jamais arrêté pendant qu'un autre fil le démarre.
        """
        self._arret.set()
        for demarrage in self._demarrages:
            if demarrage.is_alive():
                demarrage.join(timeout=120)
        with self._verrou:
            ouverts, self._ouverts = list(self._ouverts), []
        for km in ouverts:
            with contextlib.suppress(Exception):  # un noyau déjà mort n'empêche pas d'arrêter les autres
                km.shutdown_kernel(now=True)

    def du_fil(self) -> NoyauPartage:
        """Le noyau de ce fil, vidé, prêt pour un notebook."""
        km = getattr(self._local, "km", None)
        if km is None:
            km = self._prets.get()  # un des noyaux démarrés d'avance (None s'il a échoué)
        # Préchargé sans rien nommer, un noyau neuf n'a rien à vider avant son premier notebook.
        if km is not None and km.is_alive() and (not km.servi or self.executer(km, VIDAGE, self._arret)):
            km.servi = True
            self._local.km = km
            return km
        if km is not None:
            with contextlib.suppress(Exception):
                km.shutdown_kernel(now=True)
        self._local.km = km = self._demarrer()
        return km

    def _demarrer(self) -> NoyauPartage:
        km = NoyauPartage(kernel_name=nom_du_noyau())
        km.start_kernel(extra_arguments=ARGUMENTS_NOYAU)
        with self._verrou:
            if not self._arret.is_set():
                self._ouverts.append(km)
                return km
        km.shutdown_kernel(now=True)  # arrêt demandé pendant le démarrage
        raise RuntimeError("noyaux arrêtés")

    def _demarrer_d_avance(self) -> None:
        pret: NoyauPartage | None = None
        try:
            km = self._demarrer()
            if self.executer(km, PRECHARGEMENT, self._arret):
                pret = km
        except Exception:  # noqa: BLE001, S110 - le fil qui le prendra en démarrera un autre
            pass
        self._prets.put(pret)

    @staticmethod
    def executer(km: NoyauPartage, code: str, arret: threading.Event | None = None) -> bool:
        """Exécute du code dans un noyau, sans rien afficher ; ``True`` s'il a réussi.
        ``arret`` posé, ou le noyau mort : abandonné aussitôt (``False``)."""
        try:
            with _client_shell(km) as client:
                demande = client.execute(code, silent=True, store_history=False)
                limite = time.monotonic() + 120
                while time.monotonic() < limite:
                    if (arret is not None and arret.is_set()) or not km.is_alive():
                        return False
                    try:
                        reponse = client.get_shell_msg(timeout=0.25)
                    except queue.Empty:
                        continue
                    if reponse["parent_header"].get("msg_id") == demande:
                        return reponse["content"]["status"] == "ok"
                return False
        except Exception:  # noqa: BLE001 - un noyau qui ne répond pas est remplacé
            return False


@contextlib.contextmanager
def _client_shell(km: NoyauPartage):
    """Un client du seul canal ``shell``, ouvert et fermé dans le fil qui l'emploie.

    Sans ``wait_for_ready`` (au moins 0,2 s à attendre la diffusion du noyau) : une demande envoyée
    avant que le noyau écoute lui parvient quand il écoute (ZeroMQ). Une session à lui : deux
    clients de même session ont la même identité ZeroMQ, et le noyau ne répond qu'au dernier
    connecté. Un contexte à lui, sans attente à la fermeture (LINGER 0) : une demande restée
    pour un noyau mort ne bloque jamais.
    """
    session = km.session.clone()
    session.session = str(uuid.uuid4())
    contexte = zmq.Context()
    contexte.setsockopt(zmq.LINGER, 0)
    client = KernelManager.client(km, session=session, context=contexte)
    client.start_channels(shell=True, iopub=False, stdin=False, hb=False, control=False)
    try:
        yield client
    finally:
        client.stop_channels()
        contexte.destroy(linger=0)

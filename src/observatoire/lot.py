"""Lot annuel : un rapport par département et une synthèse, publiés ensemble ou pas du tout.

Déroulé :
1. un verrou (``SORTIE/.observatoire.verrou`` : PID, début) arrête tout second lot sur la même
   sortie ; un verrou dont le processus n'existe plus est repris ; les dossiers temporaires
   d'un lot interrompu (même par ``kill -9``) sont effacés au lot suivant ;
2. les données sont lues, validées et rattachées **une fois** (``preparer_ensemble``) et
   confiées aux notebooks par des fichiers hors de l'arbre publié (``ecrire_ensemble`` : le
   référentiel une fois, et pour chaque département les seules participations qui le concernent) ;
3. chaque territoire est exécuté (papermill) dans un dossier de publication temporaire à côté
   de ``SORTIE/<annee>``, normalisé (aucun chemin de la machine, octets stables), exporté en
   HTML et en PDF ;
4. si tous ont réussi : index, manifeste, ``execution.json``, droits 0644/0755, puis l'année
   entière remplace l'ancienne d'un coup. Un territoire en échec n'arrête pas les autres (toutes
   les erreurs sont dites), mais rien n'est publié : l'année en place reste intacte.

Une année publiée contient exactement les territoires du lot qui l'a produite : relancer pour
le seul 95 publie une année qui ne contient que 95 (et sa synthèse).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import queue
import re
import shutil
import socket
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from .commun import (
    appliquer_droits,
    chemin_affichable,
    ecrire_atomique,
    ecrire_csv,
    racine_projet,
    remplacer_dossier,
)
from .erreurs import ErreurParametre
from .formats import format_nombre
from .indicateurs import SYNTHESE
from .parametres import Parametres
from .publication import ecrire_index, manifeste

__all__ = ["NOM_VERROU", "produire_rapports"]

NOTEBOOK_DEPARTEMENT = "rapport_departement.ipynb"
NOTEBOOK_SYNTHESE = "synthese.ipynb"
NOYAU = "observatoire"
NOM_VERROU = ".observatoire.verrou"
PREFIXES_TEMPORAIRES = (".travail-", ".publication-", ".ancien-")


def produire_rapports(
    parametres: Parametres | None = None, /, *, progression: bool = False, pdf: bool = True, **valeurs
) -> dict:
    """Produit et publie les rapports d'une année : un par département, la synthèse, l'index.

    Parameters
    ----------
    parametres : Parametres, optional
        Paramètres du lot ; sinon construits à partir de ``valeurs`` (``annee``,
        ``departements``, ``donnees``, ``sortie``, ``referentiel``, ``jobs``, ``tolerant``,
        ``distance_proximite_m``).
    progression : bool
        Afficher l'avancement.
    pdf : bool
        Produire ``rapport.pdf`` (Chromium) ; sans Chromium, l'index le dit.
    **valeurs
        Champs de ``Parametres``.

    Returns
    -------
    dict
        ``dossier`` (l'année publiée), ``publie`` (bool), ``reussis``, ``echecs`` (territoire,
        cellule, erreur), ``durees``, ``pdf`` (territoires dont le PDF existe).

    Raises
    ------
    ErreurParametre
        Paramètres invalides, sortie refusée, ou un autre lot en cours sur la même sortie.
    ErreurDonnees
        Données illisibles ou invalides (mode strict).
    """
    from .rapport import ecrire_ensemble, preparer_ensemble

    parametres = parametres or Parametres(**valeurs)
    racine_sortie = _racine_sortie(parametres.sortie)
    afficher = _afficheur(progression)
    debut = time.perf_counter()
    with _Verrou(racine_sortie), _Noyaux(parametres.jobs) as noyaux:
        _nettoyer_restes(racine_sortie)
        ensemble = preparer_ensemble(parametres)
        parametres = ensemble["parametres"]  # les départements du centre si aucun n'est demandé
        activite = ensemble["activite"]
        afficher(
            f"Données validées : {chemin_affichable(activite.source)} ({activite.nombre_avertissements} "
            f"avertissement(s), {len(activite.rejets)} ligne(s) écartée(s))."
        )
        travail = Path(tempfile.mkdtemp(prefix=f".travail-{parametres.annee}-", dir=racine_sortie))
        publication = Path(tempfile.mkdtemp(prefix=f".publication-{parametres.annee}-", dir=racine_sortie))
        try:
            territoires = [*parametres.departements, SYNTHESE]
            ensembles = ecrire_ensemble(ensemble, travail, territoires)
            ecrire_csv(activite.rejets, publication / "rejets.csv")
            fiches = _fiches_en_parallele(ensemble, publication / "fiches", parametres.departements)
            resultats = _executer_territoires(
                territoires,
                parametres,
                noyaux,
                ensembles,
                publication,
                pdf and _pdf_possible(afficher),
                afficher,
            )
            durees = {t: r["duree"] for t, r in resultats.items()}
            echecs = [{"territoire": t, **r["echec"]} for t, r in resultats.items() if r["echec"]]
            try:
                durees["fiches"] = fiches.result()
            except Exception as erreur:  # une fiche en échec : rien n'est publié, comme un rapport
                echecs.append(
                    {"territoire": "fiches", "cellule": None, "erreur": f"{type(erreur).__name__}: {erreur}"}
                )
            avec_pdf = [t for t in territoires if resultats[t]["pdf"]]
            dossier_annee = racine_sortie / str(parametres.annee)
            if echecs:
                _dire_echecs(echecs, dossier_annee)
                return _bilan(dossier_annee, False, [], echecs, durees, [])
            ecrire_index(publication, parametres, ensemble, avec_pdf)
            contenu = manifeste(parametres, ensemble)
            ecrire_atomique(
                publication / "manifest.json",
                json.dumps(contenu, ensure_ascii=False, indent=2).encode("utf-8"),
            )
            execution = {
                "produit_le": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
                "durees_s": {**durees, "total": round(time.perf_counter() - debut, 2)},
                "pdf": {t: resultats[t]["pdf_motif"] for t in territoires},
            }
            ecrire_atomique(
                publication / "execution.json",
                json.dumps(execution, ensure_ascii=False, indent=2).encode("utf-8"),
            )
            appliquer_droits(publication)
            remplacer_dossier(publication, dossier_annee)
        finally:
            shutil.rmtree(travail, ignore_errors=True)
            shutil.rmtree(publication, ignore_errors=True)
    afficher(
        f"Rapports {parametres.annee} publiés : {dossier_annee / 'index.html'} ({time.perf_counter() - debut:.1f} s)."
    )
    return _bilan(dossier_annee, True, territoires, [], durees, avec_pdf)


def _bilan(dossier, publie, reussis, echecs, durees, avec_pdf) -> dict:
    return {
        "dossier": dossier,
        "publie": publie,
        "reussis": reussis,
        "echecs": echecs,
        "durees": durees,
        "pdf": avec_pdf,
    }


def _fiches_en_parallele(ensemble: dict, dossier: Path, departements: tuple[str, ...]):
    """Les fiches QPV s'écrivent dans ce processus pendant que les noyaux font les rapports."""
    from concurrent.futures import ThreadPoolExecutor

    from .fiches import ecrire_fiches

    def ecrire() -> float:
        debut = time.perf_counter()
        ecrire_fiches(ensemble["situee"], ensemble["referentiel"], dossier, departements)
        return round(time.perf_counter() - debut, 2)

    executeur = ThreadPoolExecutor(max_workers=1)
    futur = executeur.submit(ecrire)
    executeur.shutdown(wait=False)
    return futur


def _afficheur(progression: bool):
    def afficher(*morceaux, file=None):
        if progression:
            print(*morceaux, file=file or sys.stdout, flush=True)

    return afficher


def _racine_sortie(sortie: Path) -> Path:
    racine = Path(sortie).expanduser().resolve()
    if racine == Path(racine.anchor) or racine.is_file():
        raise ErreurParametre(
            f"Dossier de sortie refusé : {sortie} (donnez un dossier, par exemple reports)."
        )
    try:
        racine.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=racine, prefix=".sonde-"):
            pass
    except OSError as erreur:
        raise ErreurParametre(
            f"Impossible d'écrire dans le dossier de sortie {sortie} ({erreur.strerror}). Choisissez un "
            "dossier où vous avez le droit d'écrire (--sortie)."
        ) from erreur
    return racine


class _Verrou:
    """Fichier verrou créé en ``O_EXCL`` : PID, hôte et début du lot ; repris s'il est périmé."""

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


def _nettoyer_restes(racine: Path) -> None:
    """Efface les dossiers temporaires d'un lot interrompu (nous tenons le verrou)."""
    for chemin in racine.iterdir():
        if chemin.is_dir() and chemin.name.startswith(PREFIXES_TEMPORAIRES):
            shutil.rmtree(chemin, ignore_errors=True)
        elif chemin.is_file() and chemin.name.startswith(".") and chemin.name.endswith(".tmp"):
            chemin.unlink(missing_ok=True)


def _pdf_possible(afficher) -> bool:
    from .export import chromium_disponible

    if chromium_disponible() is None:
        afficher(
            "Chromium est introuvable : les rapports PDF ne seront pas produits (paquet Debian chromium)."
        )
        return False
    return True


def _executer_territoires(territoires, parametres, noyaux, ensembles, publication, pdf, afficher) -> dict:
    resultats, total = {}, len(territoires)
    # La synthèse, le plus long (toute l'activité), part la première : les départements se
    # partagent les autres processus pendant ce temps, et aucun ne finit seul à la fin.
    ordre = sorted(territoires, key=lambda t: t != SYNTHESE)
    with ThreadPoolExecutor(max_workers=parametres.jobs) as pool:
        futurs = {
            pool.submit(_produire_territoire, t, parametres, ensembles[t], publication, pdf, noyaux): t
            for t in ordre
        }
        for rang, futur in enumerate(as_completed(futurs), start=1):
            territoire = futurs[futur]
            resultats[territoire] = futur.result()
            echec = resultats[territoire]["echec"]
            if echec:
                afficher(f"[{rang}/{total}] {territoire} : ÉCHEC ({echec['erreur']})")
            else:
                afficher(
                    f"[{rang}/{total}] {territoire} : terminé en {format_nombre(resultats[territoire]['duree'], 1)} s"
                )
    return resultats


_MOTEUR = "observatoire-noyau-partage"
# CRITICAL : un noyau arrêté sous charge journalise « KeyboardInterrupt caught in kernel » en
# ERROR, sans rapport avec le notebook ; les erreurs de cellule, elles, remontent par papermill.
_ARGUMENTS_NOYAU = ["--IPKernelApp.log_level=CRITICAL"]


class _Noyaux:
    """Les noyaux Jupyter du lot : démarrés dès le début, puis un par fil, gardé d'un territoire à
    l'autre.

    Démarrer un noyau et y importer pandas, geopandas, folium et matplotlib coûte environ 3 s.
    Les ``nombre`` noyaux démarrent (et importent) pendant que le lot lit les données, puis
    chacun sert tous les territoires de son fil : 3 s payées une fois par fil au lieu d'une
    fois par territoire (102 à l'échelle nationale). Avant chaque notebook, l'espace de noms
    est vidé (``%reset -f``) : aucun notebook ne voit une variable d'un autre ni du
    préchargement ; un noyau mort ou qui ne répond plus est remplacé. Tous sont arrêtés à la
    sortie du bloc ``with``, même en cas d'erreur.
    """

    PRECHARGEMENT = "import observatoire.rapport, observatoire.fiches"

    def __init__(self, nombre: int):
        self._local = threading.local()
        self._ouverts: list = []
        self._verrou = threading.Lock()
        self._prets: queue.Queue = queue.Queue()
        self._demarrages = [
            threading.Thread(target=self._demarrer_d_avance, daemon=True) for _ in range(nombre)
        ]

    def __enter__(self) -> _Noyaux:
        for demarrage in self._demarrages:
            demarrage.start()
        _enregistrer_moteur()
        return self

    def __exit__(self, *exception) -> None:
        for demarrage in self._demarrages:
            demarrage.join(timeout=120)  # un noyau en cours de démarrage est arrêté aussi
        for km in self._ouverts:
            # Un noyau déjà mort n'empêche pas d'arrêter les autres.
            with contextlib.suppress(Exception):
                km.shutdown_kernel(now=True)

    def du_fil(self):
        """Le noyau de ce fil, vidé, prêt pour un notebook."""
        km = getattr(self._local, "km", None)
        if km is None:
            km = self._prets.get()  # un des noyaux démarrés d'avance (None s'il a échoué)
        if km is not None and km.is_alive() and self._executer(km, "%reset -f\nimport gc\ngc.collect()"):
            self._local.km = km
            return km
        if km is not None:
            with contextlib.suppress(Exception):
                km.shutdown_kernel(now=True)
        self._local.km = km = self._demarrer()
        return km

    def _demarrer(self):
        from jupyter_client.manager import KernelManager

        km = KernelManager(kernel_name=_noyau())
        with self._verrou:
            self._ouverts.append(km)
        km.start_kernel(extra_arguments=_ARGUMENTS_NOYAU)
        return km

    def _demarrer_d_avance(self) -> None:
        try:
            km = self._demarrer()
            self._executer(km, self.PRECHARGEMENT)
        except Exception:  # noqa: BLE001 - le fil qui le prendra en démarrera un autre
            km = None
        self._prets.put(km)

    @staticmethod
    def _executer(km, code: str) -> bool:
        client = km.client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=60)
            reponse = client.execute_interactive(
                code, store_history=False, timeout=120, output_hook=lambda _: None
            )
            return reponse["content"]["status"] == "ok"
        except Exception:  # noqa: BLE001 - un noyau qui ne répond pas est remplacé
            return False
        finally:
            client.stop_channels()


def _enregistrer_moteur() -> None:
    """Moteur papermill qui exécute dans un noyau fourni et ferme son client après coup
    (papermill, qui ne possède pas le noyau, le laisserait ouvert)."""
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines
    from papermill.log import logger
    from papermill.utils import merge_kwargs, remove_args

    class MoteurNoyauPartage(NBClientEngine):
        @classmethod
        def execute_managed_notebook(
            cls,
            nb_man,
            kernel_name,
            log_output=False,
            stdout_file=None,
            stderr_file=None,
            start_timeout=60,
            execution_timeout=None,
            **kwargs,
        ):
            # Mêmes arguments que NBClientEngine ; seule différence : le client est fermé.
            kwargs = remove_args(["input_path"], **kwargs)
            client = PapermillNotebookClient(
                nb_man,
                **merge_kwargs(
                    remove_args(["timeout", "startup_timeout"], **kwargs),
                    timeout=execution_timeout if execution_timeout else kwargs.get("timeout"),
                    startup_timeout=start_timeout,
                    kernel_name=kernel_name,
                    log=logger,
                    log_output=log_output,
                    stdout_file=stdout_file,
                    stderr_file=stderr_file,
                ),
            )
            try:
                return client.execute()
            finally:
                if client.kc is not None:
                    client.kc.stop_channels()

    papermill_engines.register(_MOTEUR, MoteurNoyauPartage)


def _noyau() -> str:
    """Le noyau « observatoire » enregistré par ``make installer``, sinon ``python3``."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(NOYAU)
        return NOYAU
    except NoSuchKernel:
        return "python3"


def _produire_territoire(
    territoire: str,
    parametres: Parametres,
    chemin_ensemble: Path,
    publication: Path,
    pdf: bool,
    noyaux: _Noyaux,
) -> dict:
    import papermill

    from .export import exporter_html, exporter_pdf, normaliser_notebook

    debut = time.perf_counter()
    dossier = publication / territoire
    dossier.mkdir()
    modele = (
        racine_projet()
        / "notebooks"
        / (NOTEBOOK_SYNTHESE if territoire == SYNTHESE else NOTEBOOK_DEPARTEMENT)
    )
    valeurs = {**parametres.pour_notebook(), "sortie": str(dossier), "ensemble": str(chemin_ensemble)}
    if territoire != SYNTHESE:
        valeurs["departement"] = territoire
    resultat: dict[str, Any] = {"duree": 0.0, "echec": None, "pdf": False, "pdf_motif": "non demandé"}
    try:
        # Pas de ``cwd`` : papermill ferait un chdir du processus entier, non sûr entre fils
        # d'exécution ; les chemins passés en paramètres sont absolus.
        papermill.execute_notebook(
            str(modele),
            str(dossier / "rapport.ipynb"),
            parameters=valeurs,
            progress_bar=False,
            log_output=False,
            kernel_name=_noyau(),
            language="python",
            engine_name=_MOTEUR,
            km=noyaux.du_fil(),
        )
        normaliser_notebook(dossier / "rapport.ipynb", _remplacements(valeurs, parametres))
        exporter_html(dossier / "rapport.ipynb", dossier / "rapport.html")
        if pdf:
            try:
                exporter_pdf(dossier / "rapport.html", dossier / "rapport.pdf")
                resultat.update(pdf=True, pdf_motif="produit")
            except RuntimeError as erreur:
                resultat["pdf_motif"] = str(erreur)
    except papermill.PapermillExecutionError as erreur:
        resultat["echec"] = {
            "cellule": erreur.exec_count,
            "erreur": f"{erreur.ename}: {_sans_ansi(erreur.evalue)}",
        }
    except Exception as erreur:  # un territoire en échec ne doit pas arrêter les autres
        resultat["echec"] = {"cellule": None, "erreur": f"{type(erreur).__name__}: {erreur}"}
    resultat["duree"] = round(time.perf_counter() - debut, 2)
    return resultat


def _remplacements(valeurs: dict, parametres: Parametres) -> dict[str, str]:
    """Chemins absolus des paramètres injectés → forme publiable (ou vide : relire soi-même)."""
    remplacements = {
        f'"{valeurs["ensemble"]}"': '""',
        f'"{valeurs["sortie"]}"': '""',
        f'"{valeurs["donnees"]}"': json.dumps(chemin_affichable(parametres.chemin_donnees)),
    }
    if valeurs["referentiel"]:
        remplacements[f'"{valeurs["referentiel"]}"'] = json.dumps(chemin_affichable(valeurs["referentiel"]))
    return remplacements


def _sans_ansi(texte: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", str(texte))


def _dire_echecs(echecs: list[dict], dossier_annee: Path) -> None:
    print(
        f"{len(echecs)} rapport(s) en échec ; rien n'a été publié"
        + (f" (l'année en place, {dossier_annee}, reste intacte)" if dossier_annee.exists() else "")
        + " :",
        file=sys.stderr,
    )
    for echec in echecs:
        cellule = f"cellule {echec['cellule']}" if echec["cellule"] is not None else "hors notebook"
        print(f"  {echec['territoire']} : {cellule} — {echec['erreur']}", file=sys.stderr)

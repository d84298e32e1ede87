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

import datetime as dt
import json
import os
import re
import shutil
import socket
import sys
import tempfile
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
    with _Verrou(racine_sortie):
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


def _executer_territoires(territoires, parametres, ensembles, publication, pdf, afficher) -> dict:
    resultats, total = {}, len(territoires)
    # La synthèse, le plus long (toute l'activité), part la première : les départements se
    # partagent les autres processus pendant ce temps, et aucun ne finit seul à la fin.
    ordre = sorted(territoires, key=lambda t: t != SYNTHESE)
    with ThreadPoolExecutor(max_workers=parametres.jobs) as pool:
        futurs = {
            pool.submit(_produire_territoire, t, parametres, ensembles[t], publication, pdf): t for t in ordre
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


def _noyau() -> str:
    """Le noyau « observatoire » enregistré par ``make installer``, sinon ``python3``."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(NOYAU)
        return NOYAU
    except NoSuchKernel:
        return "python3"


def _produire_territoire(
    territoire: str, parametres: Parametres, chemin_ensemble: Path, publication: Path, pdf: bool
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
            # CRITICAL : un noyau arrêté sous charge journalise « KeyboardInterrupt caught in
            # kernel » en ERROR, sans rapport avec le notebook ; les erreurs de cellule, elles,
            # remontent par papermill.
            extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
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

"""Lot annuel : un rapport par département et une synthèse, publiés ensemble ou pas du tout.

Déroulé :

1. la sortie est contrôlée (jamais une entrée, ni un dossier qui en contient une) ; un verrou
   (``SORTIE/.observatoire.verrou`` : PID, début) arrête tout second lot sur la même sortie ; les
   dossiers temporaires d'un lot interrompu (même par ``kill -9``) sont effacés ;
2. les données sont lues, validées et rattachées **une fois** (``Ensemble.preparer``) et
   confiées aux notebooks par des fichiers hors de l'arbre publié ;
3. chaque territoire est exécuté (papermill, notebooks du paquet) dans un dossier de
   publication temporaire, normalisé, puis exporté dans les formats demandés (``EXPORTEURS``) ;
   les fiches QPV s'écrivent pendant ce temps dans ce processus ;
4. si tous ont réussi : index, manifeste, ``execution.json``, droits 0644/0755, puis l'année
   entière remplace l'ancienne d'un coup (seulement si l'ancienne a été publiée par l'outil).
   Un territoire en échec n'arrête pas les autres (toutes les erreurs sont dites), mais rien
   n'est publié : l'année en place reste intacte. Une interruption (Ctrl-C, SIGTERM) arrête les
   noyaux, efface les dossiers temporaires et rend le verrou.

Une année publiée contient exactement les territoires du lot qui l'a produite.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import shutil
import sys
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import papermill

from ..commun.codes import SYNTHESE
from ..commun.fichiers import (
    appliquer_droits,
    chemin_affichable,
    ecrire_atomique,
    ecrire_csv,
    remplacer_dossier,
)
from ..commun.parametres import Parametres
from ..commun.typographie import format_duree, nombre_de
from ..ensemble import Ensemble
from ..fiches import ecrire_fiches
from ..presentation.gabarits import NAVIGATION_TERRITOIRE
from .exports import (
    EXPORTEURS,
    Contexte,
    chromium_disponible,
    exporter_html,
    formats_demandes,
    normaliser_notebook,
)
from .impression import Imprimante
from .index import ecrire_index
from .manifeste import manifeste
from .noyaux import Noyaux, executer_notebook
from .sortie import verifier_sortie
from .verrou import Verrou, nettoyer_restes

__all__ = ["produire_rapports"]


def produire_rapports(
    parametres: Parametres | None = None,
    /,
    *,
    progression: bool = False,
    pdf: bool = True,
    formats: list[str] | tuple[str, ...] | None = None,
    noyaux: Noyaux | None = None,
    **valeurs,
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
        Produire ``rapport.pdf`` (``False`` : comme ``--sans-pdf``).
    formats : sequence of str, optional
        Formats à produire (``EXPORTEURS`` : ``pdf``, ``xlsx``…) ; tous par défaut. Les formats
        requis (page HTML, carte, CSV) le sont toujours.
    noyaux : Noyaux, optional
        Noyaux déjà démarrés (``with Noyaux(jobs) as noyaux``), autant que ``jobs`` : la commande
        les démarre avant d'importer le lot ; sinon démarrés ici. L'appelant les arrête.
    **valeurs
        Champs de ``Parametres``.

    Returns
    -------
    dict
        ``dossier`` (l'année publiée), ``publie`` (bool), ``reussis``, ``echecs`` (territoire,
        cellule, erreur), ``durees``, ``pdf`` (territoires dont le PDF existe), ``formats``
        (territoire → format → ``produit`` ou la raison de son absence).

    Raises
    ------
    ErreurParametre
        Paramètres invalides, sortie refusée, ou un autre lot en cours sur la même sortie.
    ErreurDonnees
        Données illisibles ou invalides (mode strict).
    """
    parametres = parametres or Parametres(**valeurs)
    choisis = formats_demandes(formats, sans_pdf=not pdf)
    racine_sortie = verifier_sortie(parametres)  # refusée avant tout calcul
    afficher = _afficheur(progression)
    debut = time.perf_counter()
    dossier_annee = racine_sortie / str(parametres.annee)
    if noyaux is not None and noyaux.nombre != parametres.jobs:
        raise ValueError(f"{noyaux.nombre} noyaux démarrés pour --jobs {parametres.jobs}")
    demarres = contextlib.nullcontext(noyaux) if noyaux is not None else Noyaux(parametres.jobs)
    chromium = chromium_disponible() if "pdf" in choisis else None
    imprimante = Imprimante(chromium) if chromium else None
    with Verrou(racine_sortie), demarres as noyaux, imprimante or contextlib.nullcontext():
        nettoyer_restes(racine_sortie)
        ensemble = Ensemble.preparer(parametres)
        parametres = ensemble.parametres  # les départements du centre si aucun n'est demandé
        afficher(_phrase_donnees(ensemble))
        travail = Path(tempfile.mkdtemp(prefix=f".travail-{parametres.annee}-", dir=racine_sortie))
        publication = Path(tempfile.mkdtemp(prefix=f".publication-{parametres.annee}-", dir=racine_sortie))
        try:
            territoires = [*parametres.departements, SYNTHESE]
            ensembles = ensemble.ecrire(travail, territoires)
            ecrire_csv(ensemble.activite.rejets, publication / "rejets.csv")
            fiches = _fiches_en_parallele(ensemble, publication / "fiches")
            resultats = _executer_territoires(
                territoires,
                ensemble,
                noyaux,
                ensembles,
                publication,
                _formats_possibles(choisis),
                afficher,
                imprimante,
            )
            durees = {t: r["duree"] for t, r in resultats.items()}
            echecs = [{"territoire": t, **r["echec"]} for t, r in resultats.items() if r["echec"]]
            try:
                durees["fiches"] = fiches.result()
            except Exception as erreur:  # une fiche en échec : rien n'est publié, comme un rapport
                echecs.append(
                    {"territoire": "fiches", "cellule": None, "erreur": f"{type(erreur).__name__}: {erreur}"}
                )
            produits = {t: r["formats"] for t, r in resultats.items()}
            messages = {t: r["messages"] for t, r in resultats.items() if r.get("messages")}
            _dire_messages(messages, afficher)
            if echecs:
                _dire_echecs(echecs, dossier_annee)
                return _bilan(dossier_annee, False, [], echecs, durees, produits)
            ecrire_index(publication, ensemble, produits)
            _ecrire_json(publication / "manifest.json", manifeste(ensemble))
            _ecrire_json(
                publication / "execution.json",
                {
                    "produit_le": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
                    "durees_s": {**durees, "total": round(time.perf_counter() - debut, 2)},
                    "formats": produits,
                    "messages_ecartes": messages,
                },
            )
            appliquer_droits(publication)
            remplacer_dossier(publication, dossier_annee, "annee")
        finally:
            shutil.rmtree(travail, ignore_errors=True)
            shutil.rmtree(publication, ignore_errors=True)
    afficher(
        f"Rapports {parametres.annee} publiés : {dossier_annee / 'index.html'} "
        f"({format_duree(time.perf_counter() - debut)})."
    )
    return _bilan(dossier_annee, True, territoires, [], durees, produits)


def _dire_messages(messages: dict[str, list[str]], afficher) -> None:
    """Les sorties de flux retirées des rapports : comptées ici, écrites dans ``execution.json``."""
    for territoire, textes in messages.items():
        afficher(
            f"{territoire} : {nombre_de(len(textes), 'message')} du noyau "
            f"{'retiré' if len(textes) == 1 else 'retirés'} du rapport publié "
            f"(écrits dans execution.json) : {textes[0][:200]}"
        )


def _bilan(dossier, publie, reussis, echecs, durees, produits) -> dict:
    return {
        "dossier": dossier,
        "publie": publie,
        "reussis": reussis,
        "echecs": echecs,
        "durees": durees,
        "pdf": [t for t, f in produits.items() if f.get("pdf") == "produit"],
        "formats": produits,
    }


def _ecrire_json(chemin: Path, contenu: dict) -> None:
    ecrire_atomique(chemin, json.dumps(contenu, ensure_ascii=False, indent=2).encode("utf-8"))


def _phrase_donnees(ensemble: Ensemble) -> str:
    activite = ensemble.activite
    return (
        f"Données validées : {chemin_affichable(activite.source)} ({nombre_de(activite.nombre_avertissements, 'avertissement')}, "
        f"{nombre_de(len(activite.rejets), 'ligne écartée', 'lignes écartées')})."
    )


def _fiches_en_parallele(ensemble: Ensemble, dossier: Path) -> Future:
    """Les fiches QPV s'écrivent dans ce processus pendant que les noyaux font les rapports."""

    def ecrire() -> float:
        debut = time.perf_counter()
        ecrire_fiches(ensemble, dossier)
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


def _formats_possibles(choisis: tuple[str, ...]) -> dict[str, str]:
    """Format → ``""`` s'il sera produit, sinon la phrase qui dit pourquoi il ne l'est pas."""
    raisons = {}
    for nom, exporteur in EXPORTEURS.items():
        if nom not in choisis:
            raisons[nom] = f"{exporteur.libelle} : non demandé (option --sans-pdf ou --formats)"
        else:
            indisponible = exporteur.indisponible()
            raisons[nom] = f"{exporteur.libelle} : non produit, {indisponible}" if indisponible else ""
    return raisons


def _executer_territoires(
    territoires, ensemble: Ensemble, noyaux, ensembles, publication, formats, afficher, imprimante
) -> dict:
    """Les notebooks des territoires sur ``jobs`` noyaux, puis leurs exports (HTML, PDF,
    classeur) sur autant de fils à part : un noyau libéré passe au territoire suivant pendant
    que Chromium imprime le précédent."""
    resultats: dict[str, dict] = {}
    total = len(territoires)
    # Le plus long d'abord (ordonnancement LPT) : la synthèse (toute l'activité), puis les
    # départements du plus gros au plus petit, estimés par la taille de ce que leur notebook lit ;
    # aucun noyau ne finit seul à la fin pendant que l'autre attend.
    ordre = sorted(territoires, key=lambda t: (t != SYNTHESE, -Path(ensembles[t]).stat().st_size, t))
    jobs = ensemble.parametres.jobs
    notebooks, exports = ThreadPoolExecutor(max_workers=jobs), ThreadPoolExecutor(max_workers=jobs)

    def dire(rang: int, territoire: str) -> None:
        echec = resultats[territoire]["echec"]
        if echec:
            afficher(f"[{rang}/{total}] {territoire} : ÉCHEC ({echec['erreur']})")
        else:
            afficher(
                f"[{rang}/{total}] {territoire} : terminé en {format_duree(resultats[territoire]['duree'])}"
            )

    try:
        executes = {
            notebooks.submit(_executer_territoire, t, ensemble, ensembles[t], publication, noyaux): t
            for t in ordre
        }
        exportes = {}
        for futur in as_completed(executes):
            territoire, etat = executes[futur], futur.result()
            if etat["echec"]:
                resultats[territoire] = etat
                dire(len(resultats), territoire)
            else:
                exportes[
                    exports.submit(_exporter_territoire, territoire, ensemble, etat, formats, imprimante)
                ] = territoire
        for futur in as_completed(exportes):
            territoire = exportes[futur]
            resultats[territoire] = futur.result()
            dire(len(resultats), territoire)
    except BaseException:
        # Interruption : les noyaux s'arrêtent, les notebooks en cours échouent aussitôt.
        noyaux.arreter()
        notebooks.shutdown(wait=True, cancel_futures=True)
        exports.shutdown(wait=True, cancel_futures=True)
        raise
    notebooks.shutdown(wait=True)
    exports.shutdown(wait=True)
    return resultats


def _valeurs_du_notebook(
    territoire: str, parametres: Parametres, dossier: Path, chemin_ensemble: Path
) -> dict:
    valeurs = {**parametres.pour_notebook(), "sortie": str(dossier), "ensemble": str(chemin_ensemble)}
    if territoire != SYNTHESE:
        valeurs["departement"] = territoire
    return valeurs


def _executer_territoire(
    territoire, ensemble: Ensemble, chemin_ensemble: Path, publication: Path, noyaux
) -> dict:
    """Le notebook d'un territoire, exécuté puis rendu publiable (chemins de la machine retirés)."""
    debut = time.perf_counter()
    parametres = ensemble.parametres
    dossier = publication / territoire
    dossier.mkdir()
    valeurs = _valeurs_du_notebook(territoire, parametres, dossier, chemin_ensemble)
    etat: dict[str, Any] = {
        "debut": debut,
        "dossier": dossier,
        "duree": 0.0,
        "echec": None,
        "formats": {},
        "messages": [],
    }
    try:
        executer_notebook(territoire, dossier / "rapport.ipynb", valeurs, noyaux.du_fil())
        etat["messages"] = normaliser_notebook(dossier / "rapport.ipynb", _remplacements(valeurs, parametres))
    except papermill.PapermillExecutionError as erreur:
        etat["echec"] = {
            "cellule": erreur.exec_count,
            "erreur": f"{erreur.ename}: {_sans_ansi(erreur.evalue)}",
        }
    except Exception as erreur:  # un territoire en échec ne doit pas arrêter les autres
        etat["echec"] = {"cellule": None, "erreur": f"{type(erreur).__name__}: {erreur}"}
    etat["duree"] = round(time.perf_counter() - debut, 2)
    return etat


def _exporter_territoire(territoire, ensemble: Ensemble, etat: dict, formats, imprimante) -> dict:
    """Les documents d'un territoire depuis son notebook exécuté : page HTML, puis chaque format
    du registre (un format qui échoue est dit, le rapport HTML reste publié)."""
    dossier = etat["dossier"]
    resultat: dict[str, Any] = {"duree": 0.0, "echec": None, "formats": {}, "messages": etat["messages"]}
    try:
        contexte = Contexte(dossier, _entete(ensemble, territoire), NAVIGATION_TERRITOIRE, imprimante)
        exporter_html(
            dossier / "rapport.ipynb",
            dossier / "rapport.html",
            entete=contexte.entete,
            navigation=contexte.navigation,
        )
        for nom, exporteur in EXPORTEURS.items():
            raison = formats[nom]
            if raison:
                resultat["formats"][nom] = raison
                continue
            try:
                if exporteur.produire is not None:
                    exporteur.produire(contexte)
                resultat["formats"][nom] = "produit"
            except RuntimeError as erreur:  # Chromium qui échoue : le rapport HTML reste publié
                resultat["formats"][nom] = f"{exporteur.libelle} : non produit, {erreur}"
    except Exception as erreur:  # un territoire en échec ne doit pas arrêter les autres
        resultat["echec"] = {"cellule": None, "erreur": f"{type(erreur).__name__}: {erreur}"}
    resultat["duree"] = round(time.perf_counter() - etat["debut"], 2)
    return resultat


def _entete(ensemble: Ensemble, territoire: str) -> str:
    """Titre courant des pages imprimées : centre · territoire · année."""
    if territoire == SYNTHESE:
        nom = "Synthèse du territoire"
    else:
        noms = ensemble.referentiel.departements.set_index("insee_dep")["nom_dep"]
        nom = f"{noms.get(territoire, territoire)} ({territoire})"
    return " · ".join(filter(None, (ensemble.centre.libelle, nom, str(ensemble.parametres.annee))))


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
        f"{nombre_de(len(echecs), 'rapport en échec', 'rapports en échec')} : rien n'a été publié"
        + (f" (l'année en place, {dossier_annee}, reste intacte)" if dossier_annee.exists() else "")
        + ".",
        file=sys.stderr,
    )
    for echec in echecs:
        cellule = f"cellule {echec['cellule']}" if echec["cellule"] is not None else "hors notebook"
        print(f"  {echec['territoire']} : {cellule} — {echec['erreur']}", file=sys.stderr)

"""Lot annuel : un rapport par département et une synthèse (papermill, nbconvert), un index.

Chaque rapport est produit dans un dossier temporaire puis mis en place d'un coup : aucun
rapport à moitié écrit ne reste. Un département en échec n'arrête pas les autres ; la liste des
échecs (avec la cellule fautive) est affichée à la fin et le code de sortie est non nul.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from importlib import metadata
from pathlib import Path

import pandas as pd

from .activite import chemin_donnees_annee, lire_activite
from .erreurs import ErreurParametre
from .graphiques import format_nombre, format_part
from .indicateurs import SYNTHESE, valeur
from .jointures import DISTANCE_PROXIMITE_M
from .referentiel import _racine_projet, _sha256, charger_referentiel, dossier_referentiel_par_defaut
from .territoires import normaliser_departements

__all__ = ["exporter_html", "produire_rapports"]

NOTEBOOK_DEPARTEMENT = "rapport_departement.ipynb"
NOTEBOOK_SYNTHESE = "synthese.ipynb"
ETIQUETTE_MASQUEE = "masquer-export"
PAQUETS = (
    "geopandas",
    "pandas",
    "shapely",
    "pyogrio",
    "pyproj",
    "folium",
    "matplotlib",
    "mapclassify",
    "pandera",
    "papermill",
    "nbconvert",
)

PAGE = """<!DOCTYPE html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{titre}</title>
<style>
body{{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
color:#1f2328;line-height:1.5;margin:0;background:#fff}}
main{{max-width:1120px;margin:0 auto;padding:1.5em 2em 3em}}
h1{{font-size:1.9em;margin:.4em 0}} h2{{border-bottom:1px solid #d0d7de;padding-bottom:.2em;margin-top:1.6em}}
a.anchor-link{{display:none}} .jp-InputArea,.jp-InputPrompt,.jp-OutputPrompt{{display:none}}
table{{border-collapse:collapse}} img{{max-width:100%}}
@media print{{iframe{{display:none}}}}
</style>
</head>
<body>
<main>
{corps}
</main>
</body>
</html>
"""


def produire_rapports(
    annee: int = 2023,
    departements=("78", "92", "95"),
    donnees: str | Path = "data/demo",
    sortie: str | Path = "reports",
    referentiel: str | Path | None = None,
    jobs: int = 2,
    tolerant: bool = False,
    distance_proximite_m: float = DISTANCE_PROXIMITE_M,
    progression: bool = False,
) -> dict:
    """Produit les rapports HTML d'une année : un par département, la synthèse, l'index.

    Parameters
    ----------
    annee : int
        Année des rapports.
    departements : sequence of str
        Départements (codes ; ``"095"`` ou ``95`` acceptés).
    donnees : str or Path
        Dossier de données (``DONNEES/<annee>/`` ou ``DONNEES/activite_<annee>.xlsx``).
    sortie : str or Path
        Dossier racine des rapports ; tout est écrit dans ``SORTIE/<annee>/``.
    referentiel : str or Path, optional
        Dossier du référentiel installé.
    jobs : int
        Départements exécutés en parallèle.
    tolerant : bool
        Écarter les lignes en erreur (``rejets.csv``) au lieu d'arrêter.
    distance_proximite_m : float
        Distance de proximité aux QPV (mètres).
    progression : bool
        Afficher l'avancement.

    Returns
    -------
    dict
        ``dossier``, ``reussis`` (territoires), ``echecs`` (territoire, cellule, erreur), ``durees``.
    """
    parametres = _valider_parametres(
        annee, departements, donnees, sortie, referentiel, jobs, distance_proximite_m
    )
    dossier_annee = parametres["dossier_annee"]
    dossier_annee.mkdir(parents=True, exist_ok=True)
    debut = time.perf_counter()
    afficher = print if progression else (lambda *a, **k: None)

    activite = lire_activite(
        parametres["chemin_donnees"],
        annee=parametres["annee"],
        tolerant=tolerant,
        referentiel=parametres["referentiel_charge"],
    )
    _ecrire_atomique(
        dossier_annee / "rejets.csv", activite.rejets.to_csv(sep=";", index=False).encode("utf-8-sig")
    )
    afficher(
        f"Données validées : {activite.source} ({activite.nombre_avertissements} avertissement(s), "
        f"{len(activite.rejets)} ligne(s) écartée(s))."
    )

    territoires = [*parametres["departements"], SYNTHESE]
    durees, echecs, reussis = {}, [], []
    total = len(territoires)

    def executer(territoire: str):
        return territoire, _produire_territoire(territoire, parametres, tolerant)

    # La synthèse est mise en file après les départements : elle ne dépend pas de leurs
    # sorties (elle recalcule tout une fois), elle prend donc le premier processus libre.
    with ThreadPoolExecutor(max_workers=parametres["jobs"]) as pool:
        futurs = [pool.submit(executer, t) for t in territoires]
        for rang, futur in enumerate(as_completed(futurs), start=1):
            territoire, resultat = futur.result()
            _noter(territoire, resultat, durees, echecs, reussis, afficher, rang, total)
    reussis.sort(key=territoires.index)

    _ecrire_atomique(
        dossier_annee / "index.html",
        _index(dossier_annee, parametres, reussis, echecs, activite.demonstration).encode("utf-8"),
    )
    manifeste = _manifeste(parametres, tolerant, durees, echecs, time.perf_counter() - debut)
    _ecrire_atomique(
        dossier_annee / "manifest.json", json.dumps(manifeste, ensure_ascii=False, indent=2).encode("utf-8")
    )
    afficher(
        f"Rapports {parametres['annee']} : {dossier_annee / 'index.html'} "
        f"({time.perf_counter() - debut:.1f} s)."
    )
    if echecs:
        afficher(f"{len(echecs)} rapport(s) en échec :", file=sys.stderr)
        for echec in echecs:
            afficher(
                f"  {echec['territoire']} : cellule {echec['cellule']} — {echec['erreur']}", file=sys.stderr
            )
    return {"dossier": dossier_annee, "reussis": reussis, "echecs": echecs, "durees": durees}


def _noter(territoire, resultat, durees, echecs, reussis, afficher, rang, total) -> None:
    duree, echec = resultat
    durees[territoire] = round(duree, 2)
    if echec:
        echecs.append({"territoire": territoire, **echec})
        afficher(f"[{rang}/{total}] {territoire} : ÉCHEC ({echec['erreur']})")
    else:
        reussis.append(territoire)
        afficher(f"[{rang}/{total}] {territoire} : terminé en {format_nombre(duree, 1)} s")


def _valider_parametres(annee, departements, donnees, sortie, referentiel, jobs, distance) -> dict:
    try:
        annee = int(annee)
    except (TypeError, ValueError) as erreur:
        raise ErreurParametre(f"Année invalide : {annee!r} (exemple : 2023).") from erreur
    if not 1990 <= annee <= 2100:
        raise ErreurParametre(f"Année hors limites : {annee} (attendue entre 1990 et 2100).")
    codes = normaliser_departements(departements)
    charge = charger_referentiel(None, referentiel)
    inconnus = [c for c in codes if c not in charge.departements_demandes]
    if inconnus:
        raise ErreurParametre(
            f"Département(s) absent(s) du référentiel : {', '.join(inconnus)}. Codes disponibles : "
            f"{', '.join(charge.departements_demandes)}."
        )
    if int(jobs) < 1:
        raise ErreurParametre(f"--jobs doit être au moins 1 (reçu {jobs}).")
    if float(distance) < 0:
        raise ErreurParametre(f"La distance de proximité doit être positive (reçu {distance}).")
    chemin = chemin_donnees_annee(donnees, annee)
    if chemin is None:
        raise ErreurParametre(
            f"Aucune donnée pour {annee} dans {donnees} : attendu {donnees}/{annee}/ (CSV) ou "
            f"{donnees}/activite_{annee}.xlsx."
        )
    racine_sortie = Path(sortie).resolve()
    if racine_sortie == Path(racine_sortie.anchor) or racine_sortie.is_file():
        raise ErreurParametre(f"Dossier de sortie refusé : {sortie}.")
    dossier_annee = (racine_sortie / str(annee)).resolve()
    if racine_sortie not in dossier_annee.parents:
        raise ErreurParametre(f"Écriture hors du dossier de sortie refusée : {dossier_annee}.")
    return {
        "annee": annee,
        "departements": codes,
        "donnees": Path(donnees).resolve(),
        "chemin_donnees": chemin.resolve(),
        "sortie": racine_sortie,
        "dossier_annee": dossier_annee,
        "referentiel": Path(referentiel).resolve() if referentiel else dossier_referentiel_par_defaut(),
        "referentiel_charge": charge,
        "jobs": int(jobs),
        "distance_proximite_m": float(distance),
    }


def _produire_territoire(territoire: str, parametres: dict, tolerant: bool) -> tuple[float, dict | None]:
    import papermill

    debut = time.perf_counter()
    dossier_annee = parametres["dossier_annee"]
    temporaire = Path(tempfile.mkdtemp(prefix=f".en-cours-{territoire}-", dir=dossier_annee))
    notebooks = _racine_projet() / "notebooks"
    modele = notebooks / (NOTEBOOK_SYNTHESE if territoire == SYNTHESE else NOTEBOOK_DEPARTEMENT)
    valeurs = {
        "annee": parametres["annee"],
        "donnees": str(parametres["donnees"]),
        "referentiel": str(parametres["referentiel"]),
        "sortie": str(temporaire),
        "tolerant": bool(tolerant),
        "distance_proximite_m": parametres["distance_proximite_m"],
    }
    if territoire != SYNTHESE:
        valeurs["departement"] = territoire
    try:
        # Pas de ``cwd`` : papermill ferait un chdir du processus entier, non sûr entre fils
        # d'exécution ; les chemins passés en paramètres sont absolus.
        papermill.execute_notebook(
            str(modele),
            str(temporaire / "rapport.ipynb"),
            parameters=valeurs,
            progress_bar=False,
            log_output=False,
            kernel_name="python3",
            language="python",
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
        )
        exporter_html(temporaire / "rapport.ipynb", temporaire / "rapport.html")
        _mettre_en_place(temporaire, dossier_annee / territoire)
        return time.perf_counter() - debut, None
    except papermill.PapermillExecutionError as erreur:
        return time.perf_counter() - debut, {
            "cellule": erreur.exec_count,
            "erreur": f"{erreur.ename}: {_sans_ansi(erreur.evalue)}",
        }
    except Exception as erreur:  # un territoire en échec ne doit pas arrêter le lot
        return time.perf_counter() - debut, {"cellule": None, "erreur": f"{type(erreur).__name__}: {erreur}"}
    finally:
        shutil.rmtree(temporaire, ignore_errors=True)


def _sans_ansi(texte: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", str(texte))


def _mettre_en_place(temporaire: Path, cible: Path) -> None:
    ancien = cible.with_name(f".ancien-{cible.name}")
    shutil.rmtree(ancien, ignore_errors=True)
    if cible.exists():
        cible.rename(ancien)
    temporaire.rename(cible)
    shutil.rmtree(ancien, ignore_errors=True)


def _ecrire_atomique(chemin: Path, contenu: bytes) -> None:
    temporaire = chemin.with_name(f".{chemin.name}.tmp")
    temporaire.write_bytes(contenu)
    os.replace(temporaire, chemin)


def exporter_html(notebook: str | Path, chemin_html: str | Path) -> Path:
    """Exporte un notebook exécuté en page HTML autonome, sans code, ``lang="fr"``.

    Les cellules étiquetées ``masquer-export`` et les sorties d'erreur standard sont retirées ;
    le titre de la page est celui du premier ``<h1>``.
    """
    import nbformat
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    carnet = nbformat.read(str(notebook), as_version=4)
    for cellule in carnet.cells:
        if cellule.get("cell_type") == "code":
            cellule["outputs"] = [
                o
                for o in cellule.get("outputs", [])
                if not (o.get("output_type") == "stream" and o.get("name") == "stderr")
            ]
    configuration = Config()
    configuration.TagRemovePreprocessor.enabled = True
    configuration.TagRemovePreprocessor.remove_cell_tags = {ETIQUETTE_MASQUEE}
    exportateur = HTMLExporter(config=configuration, template_name="basic")
    exportateur.exclude_input = True
    exportateur.exclude_input_prompt = True
    exportateur.exclude_output_prompt = True
    corps, _ = exportateur.from_notebook_node(carnet)
    titre = re.search(r"<h1[^>]*>(.*?)</h1>", corps, re.S)
    texte_titre = re.sub(r"<[^>]+>", "", titre[1]).strip() if titre else "Rapport"
    page = PAGE.format(titre=html.escape(html.unescape(texte_titre)), corps=corps)
    chemin = Path(chemin_html)
    chemin.write_text(page, encoding="utf-8")
    return chemin


def _index(dossier_annee: Path, parametres: dict, reussis, echecs, demonstration: bool) -> str:
    lignes = []
    noms = parametres["referentiel_charge"].departements.set_index("insee_dep")["nom_dep"]
    for territoire in [*parametres["departements"], SYNTHESE]:
        nom = (
            "Synthèse du territoire"
            if territoire == SYNTHESE
            else f"{noms.get(territoire, '')} ({territoire})"
        )
        if territoire not in reussis:
            lignes.append(
                f"<tr><th scope='row'>{html.escape(nom)}</th><td colspan='6'>échec : voir "
                "manifest.json</td><td></td></tr>"
            )
            continue
        indicateurs = pd.read_csv(
            dossier_annee / territoire / "indicateurs.csv",
            sep=";",
            encoding="utf-8-sig",
            dtype={"modalite": str},
        )

        def v(cle, colonne="valeur", table=indicateurs):
            return valeur(table, cle, colonne=colonne)

        lignes.append(
            f"<tr><th scope='row'>{html.escape(nom)}</th><td>{format_nombre(v('participations'))}</td>"
            f"<td>{format_nombre(v('actions'))}</td><td>{format_nombre(v('demi_journees'))}</td>"
            f"<td>{format_nombre(v('qpv_atteints'))} / {format_nombre(v('qpv'))} "
            f"({format_part(v('qpv_atteints', colonne='part'))})</td>"
            f"<td>{format_nombre(v('communes_pv_atteintes'))} / {format_nombre(v('communes_pv'))}</td>"
            f"<td>{format_nombre(v('demandes'))}</td>"
            f"<td><a href='{territoire}/rapport.html'>rapport</a> · <a href='{territoire}/carte.html'>carte</a> · "
            f"<a href='{territoire}/indicateurs.csv'>indicateurs (CSV)</a></td></tr>"
        )
    bandeau = (
        "<p class='bandeau'><strong>Données de démonstration</strong> : jeu illustratif reproduisant les "
        "chiffres publiés du rapport d'activité 2023 ; ni les lieux ni les personnes ne sont réels.</p>"
        if demonstration
        else ""
    )
    corps = (
        f"<h1>Rapports d'activité {parametres['annee']}</h1>{bandeau}"
        "<table class='index'><caption>Chiffres clés par territoire (un département compte les "
        "participations qui en viennent, les séances qui s'y tiennent et les demandes qui en viennent)"
        "</caption><thead><tr><th scope='col'>Territoire</th><th scope='col'>Participations</th>"
        "<th scope='col'>Actions</th><th scope='col'>Demi-journées</th><th scope='col'>QPV atteints</th>"
        "<th scope='col'>Communes PV atteintes</th><th scope='col'>Demandes info-doc</th>"
        f"<th scope='col'>Documents</th></tr></thead><tbody>{''.join(lignes)}</tbody></table>"
        "<p><a href='rejets.csv'>Lignes écartées (rejets.csv)</a> · <a href='manifest.json'>manifeste du "
        "calcul</a></p><p>Sources : ANCT, QPV 2024 ; INSEE, COG 2024 ; DGCL ; IGN ADMIN EXPRESS — "
        "Licence Ouverte 2.0 (Etalab).</p>"
        "<style>.index td,.index th{border:1px solid #d0d7de;padding:.35em .7em;text-align:left}"
        ".index caption{text-align:left;color:#444;padding:.4em 0}.bandeau{background:#fff4e5;"
        "border-left:5px solid #e69f00;padding:.6em 1em}</style>"
    )
    if echecs:
        corps += (
            "<h2>Échecs</h2><ul>"
            + "".join(
                f"<li>{html.escape(e['territoire'])} : cellule {e['cellule']} — {html.escape(e['erreur'])}</li>"
                for e in echecs
            )
            + "</ul>"
        )
    return PAGE.format(titre=f"Rapports d'activité {parametres['annee']}", corps=corps)


def _manifeste(parametres: dict, tolerant: bool, durees: dict, echecs: list, duree_totale: float) -> dict:
    entrees = {}
    for annee in (parametres["annee"], parametres["annee"] - 1):
        chemin = chemin_donnees_annee(parametres["donnees"], annee)
        if chemin is None:
            continue
        fichiers = sorted(chemin.iterdir()) if chemin.is_dir() else [chemin]
        for fichier in fichiers:
            if fichier.is_file():
                entrees[str(fichier)] = _sha256(fichier)
    referentiel = parametres["referentiel_charge"].provenance
    versions = {"python": platform.python_version()}
    for paquet in ("observatoire", *PAQUETS):
        try:
            versions[paquet] = metadata.version(paquet)
        except metadata.PackageNotFoundError:
            versions[paquet] = "absent"
    from .rapport import _version

    return {
        "parametres": {
            "annee": parametres["annee"],
            "departements": list(parametres["departements"]),
            "donnees": str(parametres["donnees"]),
            "referentiel": str(parametres["referentiel"]),
            "jobs": parametres["jobs"],
            "tolerant": tolerant,
            "distance_proximite_m": parametres["distance_proximite_m"],
        },
        "entrees_sha256": entrees,
        "referentiel": {
            nom: {"sha256": c["sha256"], "millesime": c["millesime"], "source": c["source"]}
            for nom, c in referentiel.get("couches", {}).items()
        },
        "versions": versions,
        "commit": _version(),
        "produit_le": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "durees_s": {**durees, "total": round(duree_totale, 2)},
        "echecs": echecs,
    }

"""Ligne de commande ``observatoire`` (messages en français)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .erreurs import ErreurDonnees, ErreurObservatoire

__all__ = ["main"]


def _parseur() -> argparse.ArgumentParser:
    parseur = argparse.ArgumentParser(
        prog="observatoire",
        description="Observatoire de l'activité d'un centre de ressources politique de la ville.",
    )
    commandes = parseur.add_subparsers(dest="commande", required=True, metavar="COMMANDE")

    referentiel = commandes.add_parser("referentiel", help="référentiel géographique (QPV, communes…)")
    actions = referentiel.add_subparsers(dest="action", required=True, metavar="ACTION")
    installer = actions.add_parser("installer", help="installer depuis un dossier miroir")
    installer.add_argument("--depuis", required=True, type=Path, help="dossier miroir")
    installer.add_argument("--vers", type=Path, help="dossier d'installation (data/reference)")
    telecharger = actions.add_parser("telecharger", help="télécharger depuis les sources officielles")
    telecharger.add_argument("--departements", nargs="+", default=["78", "92", "95"])
    telecharger.add_argument("--vers", type=Path)
    telecharger.add_argument("--url-datagouv", default=None, help=argparse.SUPPRESS)
    telecharger.add_argument("--url-geoapi", default=None, help=argparse.SUPPRESS)
    verifier = actions.add_parser("verifier", help="contrôler le référentiel installé")
    verifier.add_argument("--dossier", type=Path)

    valider = commandes.add_parser("valider", help="valider un dossier (ou classeur) d'activité")
    valider.add_argument("donnees", type=Path, help="dossier de CSV ou classeur .xlsx")
    valider.add_argument("--annee", type=int, help="année attendue des dates (avertissement sinon)")
    valider.add_argument("--tolerant", action="store_true", help="écarter les lignes en erreur")
    valider.add_argument("--sortie", type=Path, help="CSV de la liste complète des problèmes")
    valider.add_argument("--referentiel", type=Path, help="dossier du référentiel installé")

    demo = commandes.add_parser("demo", help="écrire le jeu de démonstration")
    demo.add_argument("--annee", type=int, default=2023)
    demo.add_argument("--sortie", type=Path, default=Path("data/demo"))
    demo.add_argument("--referentiel", type=Path)

    rapports = commandes.add_parser("rapports", help="produire les rapports HTML")
    rapports.add_argument("--annee", type=int, default=2023)
    rapports.add_argument("--departements", nargs="+", default=["78", "92", "95"])
    rapports.add_argument("--donnees", type=Path, default=Path("data/demo"))
    rapports.add_argument("--sortie", type=Path, default=Path("reports"))
    rapports.add_argument("--referentiel", type=Path)
    rapports.add_argument("--jobs", type=int, default=2, help="départements traités en parallèle")
    rapports.add_argument("--tolerant", action="store_true")
    rapports.add_argument("--distance", type=float, default=300.0, help="distance de proximité (m)")
    return parseur


def main(argv: list[str] | None = None) -> int:
    """Point d'entrée de la commande ``observatoire``."""
    arguments = _parseur().parse_args(argv)
    try:
        return _executer(arguments)
    except ErreurDonnees as erreur:
        print(f"Erreur : {erreur}", file=sys.stderr)
        return 1
    except ErreurObservatoire as erreur:
        print(f"Erreur : {erreur}", file=sys.stderr)
        return 2


def _executer(arguments) -> int:
    if arguments.commande == "referentiel":
        return _referentiel(arguments)
    if arguments.commande == "valider":
        return _valider(arguments)
    if arguments.commande == "demo":
        from .demo import ecrire_demo

        dossier = ecrire_demo(arguments.sortie, referentiel=arguments.referentiel)
        print(f"Jeu de démonstration écrit dans {dossier} (CSV et classeur .xlsx).")
        return 0
    if arguments.commande == "rapports":
        from .lot import produire_rapports

        bilan = produire_rapports(
            annee=arguments.annee,
            departements=arguments.departements,
            donnees=arguments.donnees,
            sortie=arguments.sortie,
            referentiel=arguments.referentiel,
            jobs=arguments.jobs,
            tolerant=arguments.tolerant,
            distance_proximite_m=arguments.distance,
            progression=True,
        )
        return 0 if not bilan["echecs"] else 1
    raise AssertionError(arguments.commande)


def _referentiel(arguments) -> int:
    from . import referentiel

    if arguments.action == "installer":
        manifeste = referentiel.installer_referentiel(arguments.depuis, arguments.vers)
        print(f"Référentiel installé depuis {arguments.depuis} :")
        for nom, couche in manifeste["couches"].items():
            print(f"  {nom:<13} {couche['entites']:>6} entités  sha256 {couche['sha256'][:12]}…")
        return 0
    if arguments.action == "telecharger":
        from .telechargement import URL_DATAGOUV, URL_GEOAPI, telecharger_referentiel

        manifeste = telecharger_referentiel(
            arguments.departements,
            arguments.vers,
            url_datagouv=arguments.url_datagouv or URL_DATAGOUV,
            url_geoapi=arguments.url_geoapi or URL_GEOAPI,
        )
        print(f"Référentiel téléchargé et installé ({len(manifeste['couches'])} couches).")
        return 0
    tableau = referentiel.verifier_referentiel(arguments.dossier)
    print("Contrôle du référentiel (QPV 2024, COG 2024) :")
    print(tableau.to_string(index=False))
    return 0 if (tableau["statut"] == "ok").all() else 1


def _valider(arguments) -> int:
    from .activite import lire_activite

    sortie = arguments.sortie or Path("problemes_validation.csv")
    try:
        activite = lire_activite(
            arguments.donnees, annee=arguments.annee, tolerant=True, referentiel=arguments.referentiel
        )
    except ErreurDonnees as erreur:  # structure illisible : rien n'est lu
        if erreur.problemes is not None:
            erreur.problemes.to_csv(sortie, sep=";", index=False, encoding="utf-8-sig")
            print(f"Liste complète des problèmes : {sortie}", file=sys.stderr)
        raise
    print(activite.resume())
    activite.problemes.to_csv(sortie, sep=";", index=False, encoding="utf-8-sig")
    print(f"Liste complète des problèmes : {sortie}")
    if arguments.tolerant:
        rejets = sortie.with_name("rejets.csv")
        activite.rejets.to_csv(rejets, sep=";", index=False, encoding="utf-8-sig")
        print(f"Mode tolérant : {len(activite.rejets)} ligne(s) écartée(s), détail dans {rejets}")
        return 0
    return 1 if activite.nombre_erreurs else 0

"""Ligne de commande ``observatoire`` : messages en français, jamais de trace Python.

Codes de sortie : 0 réussi ; 1 données invalides ou rapport en échec ; 2 usage ou paramètre
invalide ; 130 interrompu. Une erreur inattendue est résumée en une phrase et son détail
technique écrit dans un journal dont le chemin est affiché.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import traceback
from pathlib import Path

from .erreurs import ErreurDonnees, ErreurObservatoire, ErreurParametre
from .parametres import (
    ANNEE_PAR_DEFAUT,
    DISTANCE_PROXIMITE_M,
    DONNEES_PAR_DEFAUT,
    JOBS_PAR_DEFAUT,
    SORTIE_PAR_DEFAUT,
)

__all__ = ["main"]

PROBLEMES_AFFICHES = 20
LONGUEUR_VALEUR = 80

# argparse écrit ses messages en anglais (gettext) : ceux qu'un utilisateur peut voir, traduits.
_TRADUCTIONS = {
    "usage: ": "usage : ",
    "the following arguments are required: %s": "arguments obligatoires manquants : %s",
    "unrecognized arguments: %s": "arguments inconnus : %s",
    "invalid choice: %(value)r (choose from %(choices)s)": "choix invalide : %(value)r (possibles : %(choices)s)",
    "argument %(argument_name)s: %(message)s": "argument %(argument_name)s : %(message)s",
    "expected one argument": "une valeur attendue",
    "expected at least one argument": "au moins une valeur attendue",
    "invalid %(type)s value: %(value)r": "valeur invalide pour %(type)s : %(value)r",
    "show this help message and exit": "afficher cette aide et quitter",
    "options": "options",
    "positional arguments": "arguments",
    "%(prog)s: error: %(message)s\n": "%(prog)s : erreur : %(message)s\n",
    "ambiguous option: %(option)s could match %(matches)s": "option ambiguë : %(option)s peut désigner %(matches)s",
    "not allowed with argument %s": "incompatible avec l'argument %s",
}


def _traduire(message: str) -> str:
    return _TRADUCTIONS.get(message, message)


class _Parseur(argparse.ArgumentParser):
    """Analyseur dont les erreurs sont en français (code 2)."""

    def error(self, message: str):  # noqa: D102 - même contrat qu'argparse
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog} : erreur : {message}\nAide : {self.prog} --help\n")


def _parseur() -> argparse.ArgumentParser:
    argparse._ = _traduire  # type: ignore[attr-defined]  # les messages internes d'argparse
    parseur = _Parseur(
        prog="observatoire",
        description="Observatoire de l'activité d'un centre de ressources politique de la ville.",
    )
    commandes = parseur.add_subparsers(
        dest="commande", required=True, metavar="COMMANDE", parser_class=_Parseur
    )

    referentiel = commandes.add_parser("referentiel", help="référentiel géographique (QPV, communes…)")
    actions = referentiel.add_subparsers(
        dest="action", required=True, metavar="ACTION", parser_class=_Parseur
    )
    installer = actions.add_parser("installer", help="installer depuis un dossier miroir")
    installer.add_argument("--depuis", required=True, type=Path, help="dossier miroir")
    installer.add_argument("--vers", type=Path, help="dossier d'installation (data/reference)")
    _options_territoire(installer)
    telecharger = actions.add_parser("telecharger", help="télécharger depuis les sources officielles")
    telecharger.add_argument("--vers", type=Path)
    _options_territoire(telecharger, region=False)
    telecharger.add_argument("--url-datagouv", default=None, help=argparse.SUPPRESS)
    telecharger.add_argument("--url-geoapi", default=None, help=argparse.SUPPRESS)
    verifier = actions.add_parser("verifier", help="contrôler le référentiel installé")
    verifier.add_argument("--dossier", type=Path)

    valider = commandes.add_parser("valider", help="valider les données d'activité d'une année")
    valider.add_argument(
        "chemin", nargs="?", type=Path, help="dossier de CSV, classeur .xlsx ou dossier de données"
    )
    valider.add_argument("--donnees", type=Path, help="dossier de données (comme pour « rapports »)")
    valider.add_argument(
        "--annee", help="année des données (cherche DONNEES/<annee>/ ou activite_<annee>.xlsx)"
    )
    valider.add_argument("--tolerant", action="store_true", help="écarter les lignes en erreur")
    valider.add_argument("--sortie", type=Path, help="dossier où écrire la liste des problèmes (CSV)")
    valider.add_argument("--referentiel", type=Path, help="dossier du référentiel installé")

    demo = commandes.add_parser("demo", help="écrire un jeu de démonstration")
    demo.add_argument(
        "--territoire",
        default="",
        help="autre centre fictif (provence : Bouches-du-Rhône, Var, Vaucluse) ; par défaut, la "
        "démonstration qui reproduit un rapport publié",
    )
    demo.add_argument("--sortie", type=Path, help="dossier (data/demo ou data/demo-TERRITOIRE)")
    demo.add_argument("--referentiel", type=Path)

    centre = commandes.add_parser("centre", help="créer la configuration d'un centre (observatoire.toml)")
    centre.add_argument("--donnees", type=Path, required=True, help="dossier de données du centre")
    centre.add_argument("--nom", required=True, help="nom du centre")
    centre.add_argument("--libelle", help="nom court pour les titres")
    centre.add_argument("--departements", nargs="+", required=True, help="codes INSEE (13 83 84)")
    centre.add_argument("--adherents", nargs="*", default=[], help="codes INSEE ou SIREN adhérents")

    geocoder = commandes.add_parser("geocoder", help="placer les lieux par la Base Adresse Nationale")
    geocoder.add_argument(
        "annee_donnees", type=Path, metavar="DONNEES/ANNEE", help="dossier de l'année (data/centre/2023)"
    )
    geocoder.add_argument("--accepter", action="store_true", help="accepter les résultats à vérifier")
    geocoder.add_argument("--score-min", default="0.7", help="score minimal d'un résultat sûr (0 à 1)")
    geocoder.add_argument("--url", default=None, help=argparse.SUPPRESS)

    fiches = commandes.add_parser("fiches", help="une page HTML par quartier prioritaire (fiche QPV)")
    fiches.add_argument("--annee", default=ANNEE_PAR_DEFAUT)
    fiches.add_argument("--departements", nargs="+", help="par défaut, tout le territoire du centre")
    fiches.add_argument("--donnees", type=Path, default=Path(DONNEES_PAR_DEFAUT))
    fiches.add_argument("--sortie", type=Path, default=Path(SORTIE_PAR_DEFAUT) / "fiches")
    fiches.add_argument("--referentiel", type=Path)
    fiches.add_argument(
        "--distance", default=DISTANCE_PROXIMITE_M, help="distance de proximité (m, 0 à 5 000)"
    )

    rapports = commandes.add_parser("rapports", help="produire et publier les rapports d'une année")
    rapports.add_argument("--annee", default=ANNEE_PAR_DEFAUT)
    rapports.add_argument("--departements", nargs="+", help="par défaut, tout le territoire du centre")
    rapports.add_argument("--donnees", type=Path, default=Path(DONNEES_PAR_DEFAUT))
    rapports.add_argument("--sortie", type=Path, default=Path(SORTIE_PAR_DEFAUT))
    rapports.add_argument("--referentiel", type=Path)
    rapports.add_argument("--jobs", default=JOBS_PAR_DEFAUT, help="territoires traités en parallèle")
    rapports.add_argument("--tolerant", action="store_true")
    rapports.add_argument(
        "--distance", default=DISTANCE_PROXIMITE_M, help="distance de proximité (m, 0 à 5 000)"
    )
    rapports.add_argument("--sans-pdf", action="store_true", help="ne pas produire les PDF")
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
    except KeyboardInterrupt:
        print("Interrompu.", file=sys.stderr)
        return 130
    except Exception as erreur:  # dernier filet : une phrase, le détail dans un journal
        journal = _journal(erreur)
        print(
            f"Erreur inattendue ({type(erreur).__name__}) : {_abreger(str(erreur))}\n"
            f"Détail technique dans {journal} (à joindre à un signalement).",
            file=sys.stderr,
        )
        return 1


def _journal(erreur: BaseException) -> Path:
    descripteur, chemin = tempfile.mkstemp(prefix="observatoire-erreur-", suffix=".log")
    with open(descripteur, "w", encoding="utf-8") as flux:
        flux.write("".join(traceback.format_exception(erreur)))
    return Path(chemin)


def _abreger(texte: str, longueur: int = LONGUEUR_VALEUR) -> str:
    texte = " ".join(str(texte).split())
    return texte if len(texte) <= longueur else texte[: longueur - 1] + "…"


def _options_territoire(parseur, region: bool = True) -> None:
    groupe = parseur.add_mutually_exclusive_group()
    groupe.add_argument("--departements", nargs="+", help="codes INSEE des départements (13 83 84)")
    if region:
        groupe.add_argument("--region", help="code INSEE d'une région : tous ses départements (93)")
    groupe.add_argument(
        "--donnees",
        type=Path,
        help="dossier de données d'un centre : les départements de son observatoire.toml",
    )


def _departements_du_territoire(arguments):
    """Départements demandés, sinon ceux du centre (``--donnees``), sinon rien (la fonction le dit)."""
    if arguments.departements:
        return arguments.departements
    if arguments.donnees:
        from .centre import NOM_FICHIER_CENTRE, trouver_centre
        from .parametres import resoudre_chemin

        centre = trouver_centre(resoudre_chemin(arguments.donnees))
        if centre is None:
            raise ErreurParametre(
                f"Pas de {NOM_FICHIER_CENTRE} dans {arguments.donnees} : créez-le avec « observatoire centre "
                "--donnees DOSSIER --nom … --departements … »."
            )
        return centre.departements
    return None


def _executer(arguments) -> int:
    if arguments.commande == "referentiel":
        return _referentiel(arguments)
    if arguments.commande == "valider":
        return _valider(arguments)
    if arguments.commande == "demo":
        return _demo(arguments)
    if arguments.commande == "centre":
        from .centre import creer_centre

        chemin = creer_centre(
            arguments.donnees,
            arguments.nom,
            arguments.departements,
            libelle=arguments.libelle,
            adherents=arguments.adherents,
        )
        print(
            f"Configuration du centre écrite : {chemin}. Relisez-la (adhérents), puis installez son référentiel."
        )
        return 0
    if arguments.commande == "geocoder":
        return _geocoder(arguments)
    if arguments.commande == "fiches":
        return _fiches(arguments)
    if arguments.commande == "rapports":
        from .lot import produire_rapports

        bilan = produire_rapports(_parametres(arguments), progression=True, pdf=not arguments.sans_pdf)
        return 0 if bilan["publie"] else 1
    raise AssertionError(arguments.commande)


def _demo(arguments) -> int:
    if not arguments.territoire:
        from .demo import ecrire_demo

        dossier = ecrire_demo(arguments.sortie or Path("data/demo"), referentiel=arguments.referentiel)
        print(f"Jeu de démonstration écrit dans {dossier} (CSV et classeur .xlsx).")
        return 0
    from .demo_territoire import TERRITOIRES_DEMO, ecrire_demo_territoire

    if arguments.territoire not in TERRITOIRES_DEMO:
        raise ErreurParametre(
            f"Territoire de démonstration inconnu : {arguments.territoire!r} (disponibles : "
            f"{', '.join(TERRITOIRES_DEMO)})."
        )
    sortie = arguments.sortie or Path(f"data/demo-{arguments.territoire}")
    dossier = ecrire_demo_territoire(arguments.territoire, sortie, referentiel=arguments.referentiel)
    print(f"Jeu de démonstration « {arguments.territoire} » écrit dans {dossier} (observatoire.toml et CSV).")
    return 0


def _parametres(arguments):
    """Les ``Parametres`` d'une commande : ses options de même nom (les autres par défaut)."""
    from .parametres import Parametres

    champs = {
        nom: getattr(arguments, nom)
        for nom in ("annee", "donnees", "sortie", "referentiel", "jobs", "tolerant")
        if hasattr(arguments, nom)
    }
    return Parametres(
        departements=tuple(arguments.departements or ()), distance_proximite_m=arguments.distance, **champs
    )


def _referentiel(arguments) -> int:
    from . import referentiel

    if arguments.action == "installer":
        manifeste = referentiel.installer_referentiel(
            arguments.depuis,
            arguments.vers,
            departements=_departements_du_territoire(arguments),
            region=arguments.region,
        )
        print(f"Référentiel installé depuis {arguments.depuis} pour {', '.join(manifeste['departements'])} :")
        for nom, couche in manifeste["couches"].items():
            print(f"  {nom:<13} {couche['entites']:>6} entités  sha256 {couche['sha256'][:12]}…")
        return 0
    if arguments.action == "telecharger":
        from .telechargement import URL_DATAGOUV, URL_GEOAPI, telecharger_referentiel

        departements = _departements_du_territoire(arguments)
        if not departements:
            raise ErreurParametre(
                "Indiquez --departements (par exemple 13 83 84) ou --donnees DOSSIER_DU_CENTRE."
            )
        manifeste = telecharger_referentiel(
            departements,
            arguments.vers,
            url_datagouv=arguments.url_datagouv or URL_DATAGOUV,
            url_geoapi=arguments.url_geoapi or URL_GEOAPI,
        )
        print(f"Référentiel téléchargé et installé ({len(manifeste['couches'])} couches).")
        return 0
    tableau = referentiel.verifier_referentiel(arguments.dossier)
    charge = referentiel.charger_referentiel(None, arguments.dossier)
    print(
        f"Contrôle du référentiel (QPV {charge.millesime_qpv}, COG {charge.millesime_cog}) : territoire "
        f"{', '.join(charge.departements_demandes)}"
    )
    print(tableau.to_string(index=False))
    print(
        f"Tables nationales : {len(charge.communes_france)} communes, {len(charge.departements_france)} "
        f"départements, {len(charge.communes_anciennes)} anciens codes de communes."
    )
    return 0 if (tableau["statut"] == "ok").all() else 1


def _source_a_valider(arguments) -> tuple[Path, int | None]:
    """Le dossier ou classeur à lire, comme ``rapports`` le trouverait, et l'année."""
    from .activite import chemin_donnees_annee
    from .parametres import Parametres, resoudre_chemin

    if arguments.chemin and arguments.donnees:
        raise ErreurParametre("Donnez le chemin des données une seule fois (argument ou --donnees).")
    chemin = arguments.chemin or arguments.donnees
    if chemin is None:
        raise ErreurParametre(
            "Indiquez les données à valider, par exemple : observatoire valider data/demo --annee 2023."
        )
    annee = Parametres(annee=arguments.annee).annee if arguments.annee is not None else None
    chemin = resoudre_chemin(chemin)
    if not chemin.exists():
        raise ErreurParametre(f"Données introuvables : {chemin}.")
    if annee is None:
        return chemin, None
    trouve = chemin_donnees_annee(chemin, annee)
    if trouve is None:
        raise ErreurParametre(
            f"Aucune donnée pour {annee} dans {chemin} : attendu {annee}/ (dossier de CSV) ou activite_{annee}.xlsx."
        )
    classeur = chemin / f"activite_{annee}.xlsx"
    if trouve == chemin / str(annee) and classeur.exists():
        print(
            f"Le dossier {trouve.name}/ et le classeur {classeur.name} existent tous deux : le dossier de CSV est "
            "lu (c'est lui que « rapports » utilise)."
        )
    return trouve, annee


def _valider(arguments) -> int:
    from .activite import lire_activite
    from .commun import ecrire_csv

    source, annee = _source_a_valider(arguments)
    try:
        activite = lire_activite(source, annee=annee, tolerant=True, referentiel=arguments.referentiel)
    except ErreurDonnees as erreur:  # structure illisible : rien n'est lu
        if erreur.problemes is not None:
            _afficher_problemes(erreur.problemes)
            _ecrire_problemes(erreur.problemes, arguments.sortie, ecrire_csv)
        raise
    print(activite.resume())
    _afficher_problemes(activite.problemes)
    _ecrire_problemes(activite.problemes, arguments.sortie, ecrire_csv)
    if arguments.tolerant:
        if arguments.sortie:
            ecrire_csv(activite.rejets, arguments.sortie / "rejets.csv")
            print(
                f"Mode tolérant : {len(activite.rejets)} ligne(s) écartée(s), détail dans {arguments.sortie / 'rejets.csv'}"
            )
        else:
            print(
                f"Mode tolérant : {len(activite.rejets)} ligne(s) seraient écartées (--sortie pour les lister)."
            )
        return 0
    return 1 if activite.nombre_erreurs else 0


def _afficher_problemes(problemes) -> None:
    if problemes is None or not len(problemes):
        return
    for gravite, titre in (("erreur", "Erreurs"), ("avertissement", "Avertissements")):
        partie = problemes[problemes["gravite"] == gravite]
        if not len(partie):
            continue
        print(f"{titre} ({len(partie)}) :")
        for probleme in partie.head(PROBLEMES_AFFICHES).itertuples():
            lieu = (
                f"{probleme.fichier}, ligne {probleme.ligne}"
                if str(probleme.ligne) not in ("", "nan")
                else probleme.fichier
            )
            colonne = f", colonne « {probleme.colonne} »" if str(probleme.colonne) not in ("", "nan") else ""
            valeur = (
                f", valeur « {_abreger(probleme.valeur)} »" if str(probleme.valeur) not in ("", "nan") else ""
            )
            print(f"  - {lieu}{colonne}{valeur} : {probleme.message} {probleme.correction}".rstrip())
        if len(partie) > PROBLEMES_AFFICHES:
            print(f"  … et {len(partie) - PROBLEMES_AFFICHES} autre(s) (liste complète avec --sortie).")


def _ecrire_problemes(problemes, sortie: Path | None, ecrire_csv) -> None:
    if sortie is None or problemes is None:
        return
    if sortie.exists() and not sortie.is_dir():
        raise ErreurParametre(f"--sortie doit être un dossier : {sortie} est un fichier.")
    try:
        chemin = ecrire_csv(problemes, sortie / "problemes_validation.csv")
    except OSError as erreur:
        raise ErreurParametre(f"Impossible d'écrire dans {sortie} ({erreur.strerror}).") from erreur
    print(f"Liste complète des problèmes : {chemin}")


def _fiches(arguments) -> int:
    import shutil
    import time

    from .commun import appliquer_droits, remplacer_dossier
    from .fiches import ecrire_fiches
    from .rapport import preparer_ensemble

    parametres = _parametres(arguments)
    debut = time.perf_counter()
    ensemble = preparer_ensemble(parametres)
    cible = arguments.sortie.expanduser().resolve()
    try:
        cible.parent.mkdir(parents=True, exist_ok=True)
        temporaire = Path(tempfile.mkdtemp(prefix=f".fiches-{parametres.annee}-", dir=cible.parent))
    except OSError as erreur:
        raise ErreurParametre(f"Impossible d'écrire dans {arguments.sortie} ({erreur.strerror}).") from erreur
    try:
        ecrites = ecrire_fiches(
            ensemble["situee"], ensemble["referentiel"], temporaire, ensemble["parametres"].departements
        )
        appliquer_droits(temporaire)
        remplacer_dossier(temporaire, cible)
    finally:
        shutil.rmtree(temporaire, ignore_errors=True)
    print(
        f"{len(ecrites)} fiche(s) QPV écrite(s) dans {cible} ({time.perf_counter() - debut:.1f} s) : "
        f"ouvrir {cible / 'index.html'}."
    )
    return 0


def _geocoder(arguments) -> int:
    from .geocodage import SCORE_MIN, URL_BAN, geocoder

    try:
        score_min = float(str(arguments.score_min).replace(",", "."))
    except ValueError:
        score_min = -1.0
    if not 0 <= score_min <= 1:
        raise ErreurParametre(
            f"--score-min doit être un nombre de 0 à 1 (reçu {arguments.score_min}) ; {SCORE_MIN} par défaut."
        )
    bilan = geocoder(
        arguments.annee_donnees,
        url=arguments.url or os.environ.get("OBSERVATOIRE_URL_BAN") or URL_BAN,
        accepter=arguments.accepter,
        score_min=score_min,
    )
    print(bilan.resume())
    print(f"Registre des lieux : {bilan.registre}")
    return 0

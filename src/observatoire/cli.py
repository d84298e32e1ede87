"""Ligne de commande ``observatoire`` : messages en français, jamais de trace Python.

Codes de sortie : 0 réussi ; 1 données invalides, rapport en échec, disque plein ou droits
refusés ; 2 usage ou paramètre invalide (dont une sortie qui toucherait une entrée) ; 130
interrompu (Ctrl-C), 143 arrêté (SIGTERM). Une erreur inattendue est résumée en une phrase et
son détail technique écrit dans un journal dont le chemin est affiché.

Chaque commande importe ses modules au moment de s'exécuter : ``observatoire --help`` et une
erreur d'usage répondent sans charger pandas, geopandas ni papermill.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import sys
import tempfile
import traceback
from pathlib import Path

from .commun.erreurs import ErreurDonnees, ErreurObservatoire, ErreurParametre, message_systeme
from .commun.parametres import (
    ANNEE_PAR_DEFAUT,
    DISTANCE_PROXIMITE_M,
    DONNEES_PAR_DEFAUT,
    JOBS_PAR_DEFAUT,
    SORTIE_PAR_DEFAUT,
)
from .commun.typographie import typographier

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
    # argparse ajoute « : » au titre de section : l'espace fine vient du titre.
    "options": "options\u202f",
    "positional arguments": "arguments\u202f",
    "%(prog)s: error: %(message)s\n": "%(prog)s : erreur : %(message)s\n",
    "ambiguous option: %(option)s could match %(matches)s": "option ambiguë : %(option)s peut désigner %(matches)s",
    "not allowed with argument %s": "incompatible avec l'argument %s",
}


def _traduire(message: str) -> str:
    return _TRADUCTIONS.get(message, message)


def dire(*morceaux: object, erreur: bool = False) -> None:
    """Écrit un message en typographie française (sortie standard, ou d'erreur)."""
    print(
        typographier(" ".join(str(m) for m in morceaux)),
        file=sys.stderr if erreur else sys.stdout,
        flush=True,
    )


class _Parseur(argparse.ArgumentParser):
    """Analyseur dont les erreurs sont en français (code 2)."""

    def format_help(self) -> str:  # noqa: D102 - même contrat qu'argparse
        return typographier(super().format_help())

    def format_usage(self) -> str:  # noqa: D102 - même contrat qu'argparse
        return typographier(super().format_usage())

    def error(self, message: str):  # noqa: D102 - même contrat qu'argparse
        self.print_usage(sys.stderr)
        self.exit(2, typographier(f"{self.prog} : erreur : {message}\nAide : {self.prog} --help") + "\n")


def _parseur() -> argparse.ArgumentParser:
    argparse._ = _traduire  # type: ignore[attr-defined]  # les messages internes d'argparse
    parseur = _Parseur(
        prog="observatoire",
        description="Observatoire de l'activité d'un centre de ressources politique de la ville.",
    )
    commandes = parseur.add_subparsers(
        dest="commande",
        required=True,
        metavar="COMMANDE",
        parser_class=_Parseur,
        help="l'une des commandes suivantes (ses options : observatoire COMMANDE --help)",
    )

    referentiel = commandes.add_parser("referentiel", help="référentiel géographique (QPV, communes…)")
    actions = referentiel.add_subparsers(
        dest="action",
        required=True,
        metavar="ACTION",
        parser_class=_Parseur,
        help="l'une des actions suivantes (ses options : observatoire referentiel ACTION --help)",
    )
    installer = actions.add_parser("installer", help="installer depuis un dossier miroir")
    installer.add_argument(
        "--depuis", required=True, type=Path, help="dossier miroir (../shared/reference, ou sa copie)"
    )
    installer.add_argument("--vers", type=Path, help="dossier d'installation (data/reference)")
    _options_territoire(installer)
    telecharger = actions.add_parser("telecharger", help="télécharger depuis les sources officielles")
    telecharger.add_argument("--vers", type=Path, help="dossier d'installation (data/reference)")
    _options_territoire(telecharger, region=False)
    telecharger.add_argument("--url-datagouv", default=None, help=argparse.SUPPRESS)
    telecharger.add_argument("--url-geoapi", default=None, help=argparse.SUPPRESS)
    verifier = actions.add_parser("verifier", help="contrôler le référentiel installé")
    verifier.add_argument("--dossier", type=Path, help="référentiel à contrôler (data/reference)")

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

    demo = commandes.add_parser(
        "demo", help="écrire un jeu de démonstration (dans un dossier vide ou de démonstration)"
    )
    demo.add_argument(
        "--territoire",
        default="",
        help="autre centre fictif (provence : Bouches-du-Rhône, Var, Vaucluse) ; par défaut, la "
        "démonstration qui reproduit un rapport publié",
    )
    demo.add_argument("--sortie", type=Path, help="dossier (data/demo ou data/demo-TERRITOIRE)")
    demo.add_argument("--referentiel", type=Path, help="dossier du référentiel installé (data/reference)")

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
    geocoder.add_argument(
        "--url",
        default=None,
        help="géocodeur CSV (par défaut celui de l'IGN Géoplateforme, https://data.geopf.fr/geocodage/search/csv ; "
        "ancienne adresse : https://api-adresse.data.gouv.fr/search/csv/ ; aussi OBSERVATOIRE_URL_BAN)",
    )
    geocoder.add_argument("--referentiel", type=Path, help="dossier du référentiel installé")

    fiches = commandes.add_parser("fiches", help="une page HTML par quartier prioritaire (fiche QPV)")
    _options_de_l_annee(
        fiches,
        Path(SORTIE_PAR_DEFAUT) / "fiches",
        f"dossier des fiches (par défaut {SORTIE_PAR_DEFAUT}/fiches)",
    )

    rapports = commandes.add_parser("rapports", help="produire et publier les rapports d'une année")
    _options_de_l_annee(
        rapports,
        Path(SORTIE_PAR_DEFAUT),
        f"dossier de publication : l'année y est écrite dans SORTIE/ANNEE (par défaut {SORTIE_PAR_DEFAUT})",
    )
    rapports.add_argument(
        "--jobs",
        default=JOBS_PAR_DEFAUT,
        help=f"territoires traités en parallèle (par défaut {JOBS_PAR_DEFAUT})",
    )
    rapports.add_argument(
        "--tolerant",
        action="store_true",
        help="écarter les lignes en erreur (comptées, écrites dans rejets.csv) au lieu de s'arrêter",
    )
    rapports.add_argument(
        "--formats",
        nargs="+",
        help="formats à produire en plus de la page HTML, de la carte et du CSV : pdf, xlsx (par défaut, tous)",
    )
    rapports.add_argument("--sans-pdf", action="store_true", help="ne pas produire les PDF")
    return parseur


def _options_de_l_annee(parseur: argparse.ArgumentParser, sortie: Path, aide_sortie: str) -> None:
    """Les options communes à ``fiches`` et ``rapports`` : l'année, ses données, sa sortie."""
    parseur.add_argument(
        "--annee", default=ANNEE_PAR_DEFAUT, help=f"année de l'activité (par défaut {ANNEE_PAR_DEFAUT})"
    )
    parseur.add_argument(
        "--departements", nargs="+", help="codes INSEE (78 92 95) ; par défaut, tout le territoire du centre"
    )
    parseur.add_argument(
        "--donnees",
        type=Path,
        default=Path(DONNEES_PAR_DEFAUT),
        help=f"dossier de données du centre : dossiers d'année, observatoire.toml (par défaut {DONNEES_PAR_DEFAUT})",
    )
    parseur.add_argument("--sortie", type=Path, default=sortie, help=aide_sortie)
    parseur.add_argument("--referentiel", type=Path, help="dossier du référentiel installé (data/reference)")
    parseur.add_argument(
        "--distance", default=DISTANCE_PROXIMITE_M, help="distance de proximité (m, 0 à 5 000)"
    )


class _Arret(KeyboardInterrupt):
    """SIGTERM reçu : traité comme Ctrl-C (le lot rend son verrou et efface ses dossiers temporaires)."""


def _arreter(signal_recu, _cadre) -> None:
    raise _Arret(signal_recu)


# jsonschema (importé par nbformat, donc par papermill) importe rfc3987_syntax s'il est installé
# (jupyterlab l'installe) : 38 grammaires Lark compilées à l'import, 1,5 à 4 s de calcul à chaque
# lot, pour valider un format (« iri ») qu'aucun schéma de notebook n'emploie
# (python-jsonschema/jsonschema#1428). La commande, qui possède son processus, s'en passe.
# De même, pandera importe hypothesis s'il est installé (dépendance des tests) pour ses
# stratégies de génération de données, que la commande n'emploie pas : 0,75 s à chaque validation.
SANS_IMPORTS_INUTILES = ("rfc3987_syntax", "hypothesis")


def main(argv: list[str] | None = None) -> int:
    """Point d'entrée de la commande ``observatoire``."""
    # Rendus à la fin : ``main`` appelé dans un processus Python (tests, script) ne l'en prive pas.
    bloques = [module for module in SANS_IMPORTS_INUTILES if module not in sys.modules]
    for module in bloques:
        sys.modules[module] = None  # type: ignore[assignment]
    try:
        return _main(argv)
    finally:
        for module in bloques:
            if module in sys.modules and sys.modules[module] is None:
                del sys.modules[module]


def _main(argv: list[str] | None) -> int:
    arguments = _parseur().parse_args(argv)
    precedent = signal.signal(signal.SIGTERM, _arreter)
    try:
        return _executer(arguments)
    except ErreurDonnees as erreur:
        dire(f"Erreur : {erreur}", erreur=True)
        return 1
    except ErreurObservatoire as erreur:
        dire(f"Erreur : {erreur}", erreur=True)
        return 2
    except OSError as erreur:
        dire(f"Erreur : {message_systeme(erreur)}", erreur=True)
        return 1
    except KeyboardInterrupt as interruption:
        arret = isinstance(interruption, _Arret)
        dire(
            f"{'Arrêté (signal TERM)' if arret else 'Interrompu'} : rien n'a été publié ni modifié ; l'année en place "
            "et les données d'entrée sont intactes.",
            erreur=True,
        )
        return 143 if arret else 130
    except Exception as erreur:  # dernier filet : une phrase, le détail dans un journal
        journal = _journal(erreur)
        dire(
            f"Erreur inattendue ({type(erreur).__name__}) : {_abreger(str(erreur))}\n"
            f"Détail technique dans {journal} (à joindre à un signalement).",
            erreur=True,
        )
        return 1
    finally:
        signal.signal(signal.SIGTERM, precedent)


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
    from .activite.centre import NOM_FICHIER_CENTRE, trouver_centre  # import différé : --help reste rapide
    from .commun.parametres import resoudre_chemin

    if arguments.departements:
        return arguments.departements
    if arguments.donnees:
        centre = trouver_centre(resoudre_chemin(arguments.donnees))
        if centre is None:
            raise ErreurParametre(
                f"Pas de {NOM_FICHIER_CENTRE} dans {arguments.donnees} : créez-le avec « observatoire centre "
                "--donnees DOSSIER --nom … --departements … »."
            )
        return centre.departements
    return None


def _executer(arguments) -> int:
    commandes = {
        "referentiel": _referentiel,
        "valider": _valider,
        "demo": _demo,
        "centre": _centre,
        "geocoder": _geocoder,
        "fiches": _fiches,
        "rapports": _rapports,
    }
    return commandes[arguments.commande](arguments)


def _centre(arguments) -> int:
    from .activite.centre import creer_centre  # import différé : --help reste rapide

    chemin = creer_centre(
        arguments.donnees,
        arguments.nom,
        arguments.departements,
        libelle=arguments.libelle,
        adherents=arguments.adherents,
    )
    dire(
        f"Configuration du centre écrite : {chemin}. Relisez-la (adhérents), puis installez son référentiel."
    )
    return 0


def _rapports(arguments) -> int:
    parametres = _parametres(arguments)  # paramètres invalides : dit tout de suite, avant le lot
    from .activite.centre import refuser_hors_du_centre, trouver_centre  # import différé : --help rapide
    from .publication.sortie import verifier_sortie

    # Refus dits avant de démarrer les noyaux (chacun coûte 2 s de processeur) : un département
    # hors du centre (observatoire.toml ; sans ce fichier, le territoire est celui du référentiel,
    # contrôlé à la lecture), une sortie interdite, un autre lot en cours.
    centre = trouver_centre(parametres.chemin_donnees)
    if centre is not None:
        refuser_hors_du_centre(parametres.departements, centre)
    verifier_sortie(parametres)
    from .publication.noyaux import Noyaux

    # Les noyaux démarrent (et préchargent) pendant que le lot s'importe (0,7 s) et lit les données.
    with Noyaux(parametres.jobs) as noyaux:
        from .publication.lot import produire_rapports

        bilan = produire_rapports(
            parametres, progression=True, pdf=not arguments.sans_pdf, formats=arguments.formats, noyaux=noyaux
        )
    return 0 if bilan["publie"] else 1


def _demo(arguments) -> int:
    from .demo.pole_ressources import ecrire_demo  # import différé : --help reste rapide
    from .demo.territoire import TERRITOIRES_DEMO, ecrire_demo_territoire

    if not arguments.territoire:
        dossier = ecrire_demo(arguments.sortie or Path("data/demo"), referentiel=arguments.referentiel)
        dire(f"Jeu de démonstration écrit dans {dossier} (CSV et classeur .xlsx).")
        return 0
    if arguments.territoire not in TERRITOIRES_DEMO:
        raise ErreurParametre(
            f"Territoire de démonstration inconnu : « {arguments.territoire} » (disponibles : "
            f"{', '.join(TERRITOIRES_DEMO)})."
        )
    sortie = arguments.sortie or Path(f"data/demo-{arguments.territoire}")
    dossier = ecrire_demo_territoire(arguments.territoire, sortie, referentiel=arguments.referentiel)
    dire(f"Jeu de démonstration « {arguments.territoire} » écrit dans {dossier} (observatoire.toml et CSV).")
    return 0


def _parametres(arguments):
    """Les ``Parametres`` d'une commande : ses options de même nom (les autres par défaut)."""
    from .commun.parametres import Parametres  # import différé : --help reste rapide

    champs = {
        nom: getattr(arguments, nom)
        for nom in ("annee", "donnees", "sortie", "referentiel", "jobs", "tolerant")
        if hasattr(arguments, nom)
    }
    return Parametres(
        departements=tuple(arguments.departements or ()), distance_proximite_m=arguments.distance, **champs
    )


def _referentiel(arguments) -> int:
    from .commun.fichiers import dossier_referentiel_par_defaut  # import différé : --help reste rapide
    from .commun.garde import entrees_des_donnees, verifier_sorties
    from .commun.typographie import format_date, format_nombre, tableau_texte
    from .referentiel.chargement import charger_referentiel
    from .referentiel.installation import installer_referentiel
    from .referentiel.verification import verifier_referentiel

    if arguments.action == "installer":
        departements = _departements_du_territoire(arguments)
        if arguments.donnees:
            verifier_sorties(
                [("le dossier du référentiel (--vers)", arguments.vers or dossier_referentiel_par_defaut())],
                entrees_des_donnees(arguments.donnees),
            )
        debut = dt.datetime.now(dt.UTC).replace(microsecond=0)
        manifeste = installer_referentiel(
            arguments.depuis, arguments.vers, departements=departements, region=arguments.region
        )
        territoire = ", ".join(manifeste["departements"])
        if dt.datetime.fromisoformat(manifeste["installe_le"]) < debut:
            dire(
                f"Référentiel déjà installé pour {territoire}, identique à {arguments.depuis} : rien n'a "
                f"changé (installé le {format_date(manifeste['installe_le'][:10])})."
            )
        else:
            dire(f"Référentiel installé depuis {arguments.depuis} pour {territoire} :")
        print(
            tableau_texte(
                ["Couche", "Entités", "sha256"],
                [
                    [nom, format_nombre(c["entites"]), c["sha256"][:12] + "…"]
                    for nom, c in manifeste["couches"].items()
                ],
            )
        )
        for nom, raison in manifeste.get("absentes", {}).items():
            dire(f"Couche {nom} non installée : {raison}.")
        return 0
    if arguments.action == "telecharger":
        from .referentiel.telechargement import URL_DATAGOUV, URL_GEOAPI, telecharger_referentiel

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
        dire(f"Référentiel téléchargé et installé ({len(manifeste['couches'])} couches).")
        for nom, raison in manifeste.get("absentes", {}).items():
            dire(f"Couche {nom} non installée : {raison}.")
        return 0
    tableau = verifier_referentiel(arguments.dossier)
    charge = charger_referentiel(None, arguments.dossier)
    dire(
        f"Contrôle du référentiel (QPV {charge.millesime_qpv}, COG {charge.millesime_cog}) : territoire "
        f"{', '.join(charge.departements_demandes)}"
    )
    colonnes = {
        "departement": "Département",
        "qpv": "QPV",
        "communes": "Communes",
        "epci": "EPCI",
        "population_qpv": "Habitants des QPV",
        "qpv_avec_contexte": "QPV avec contexte",
        "qpv_avec_statut": "QPV avec statut 2024",
        "geometries_invalides": "Géométries invalides",
        "qpv_hors_communes": "QPV hors de leurs communes",
        "statut": "Statut",
    }
    print(
        tableau_texte(
            [colonnes[c] for c in colonnes if c in tableau.columns],
            [
                [
                    format_nombre(v) if isinstance(v, int | float) and not isinstance(v, bool) else str(v)
                    for v in ligne
                ]
                for ligne in tableau[[c for c in colonnes if c in tableau.columns]].itertuples(index=False)
            ],
        )
    )
    dire(
        f"Tables nationales : {format_nombre(len(charge.communes_france))} communes, "
        f"{format_nombre(len(charge.departements_france))} départements, "
        f"{format_nombre(len(charge.communes_anciennes))} anciens codes de communes."
    )
    for couche, nom in (
        ("qpv_contexte", "Population et indicateurs des QPV"),
        ("qpv_correspondance", "Correspondance QPV 2024 → 2015"),
    ):
        if couche not in charge.provenance.get("couches", {}):
            dire(f"{nom} : non installée ({charge.raison_absence(couche)}).")
    return 0 if (tableau["statut"] == "ok").all() else 1


def _source_a_valider(arguments) -> tuple[Path, int | None, Path]:
    """Le dossier ou classeur à lire, comme ``rapports`` le trouverait, l'année et le chemin donné."""
    from .activite.donnees import (  # import différé : --help reste rapide
        annees_disponibles,
        chemin_donnees_annee,
    )
    from .commun.parametres import Parametres, resoudre_chemin

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
    trouvees = annees_disponibles(chemin)
    if annee is None:
        if trouvees and not (chemin / "actions.csv").is_file():
            raise ErreurParametre(
                f"{chemin.name} est un dossier de données qui contient plusieurs années : "
                f"{', '.join(map(str, trouvees))}. Choisissez-en une avec --annee (par exemple --annee {trouvees[-1]})."
            )
        return chemin, None, chemin
    trouve = chemin_donnees_annee(chemin, annee)
    if trouve is None:
        ailleurs = f" Années trouvées : {', '.join(map(str, trouvees))}." if trouvees else ""
        raise ErreurParametre(
            f"Aucune donnée pour {annee} dans {chemin} : attendu {annee}/ (dossier de CSV) ou activite_{annee}.xlsx.{ailleurs}"
        )
    classeur = chemin / f"activite_{annee}.xlsx"
    if trouve == chemin / str(annee) and classeur.exists():
        dire(
            f"Le dossier {trouve.name}/ et le classeur {classeur.name} existent tous deux : le dossier de CSV est "
            "lu (c'est lui que « rapports » utilise)."
        )
    return trouve, annee, chemin


def _valider(arguments) -> int:
    from .activite.lecture import lire_activite  # import différé : --help reste rapide
    from .commun.fichiers import dossier_referentiel_par_defaut, ecrire_csv
    from .commun.garde import entrees_des_donnees, verifier_sorties
    from .commun.typographie import nombre_de

    source, annee, donne = _source_a_valider(arguments)
    if arguments.sortie:
        verifier_sorties(
            [("le dossier de sortie (--sortie)", arguments.sortie)],
            entrees_des_donnees(donne, referentiel=arguments.referentiel or dossier_referentiel_par_defaut())
            + entrees_des_donnees(source),
        )
    try:
        activite = lire_activite(source, annee=annee, tolerant=True, referentiel=arguments.referentiel)
    except ErreurDonnees as erreur:  # structure illisible : rien n'est lu
        if erreur.problemes is not None:
            _afficher_problemes(erreur.problemes)
            _ecrire_problemes(erreur.problemes, arguments.sortie, ecrire_csv)
        raise
    print(typographier(activite.resume()))
    _afficher_problemes(activite.problemes)
    _ecrire_problemes(activite.problemes, arguments.sortie, ecrire_csv)
    if arguments.tolerant:
        ecartees = len(activite.rejets)
        if arguments.sortie:
            ecrire_csv(activite.rejets, arguments.sortie / "rejets.csv")
            dire(
                f"Mode tolérant : {nombre_de(ecartees, 'ligne écartée', 'lignes écartées')} ; le détail est dans "
                f"{arguments.sortie / 'rejets.csv'}."
            )
        else:
            verbe = "serait écartée" if ecartees < 2 else "seraient écartées"
            dire(f"Mode tolérant : {nombre_de(ecartees, 'ligne')} {verbe} (--sortie pour les lister).")
        return 0
    return 1 if activite.nombre_erreurs else 0


def _afficher_problemes(problemes) -> None:
    from .activite.lecture import decrire_probleme  # import différé : --help reste rapide
    from .commun.typographie import format_nombre

    if problemes is None or not len(problemes):
        return
    for gravite, titre in (("erreur", "Erreurs"), ("avertissement", "Avertissements")):
        partie = problemes[problemes["gravite"] == gravite]
        if not len(partie):
            continue
        dire(f"{titre} ({format_nombre(len(partie))}) :")
        for probleme in partie.head(PROBLEMES_AFFICHES).itertuples():
            dire(f"  - {decrire_probleme(probleme)}")
        if len(partie) > PROBLEMES_AFFICHES:
            dire(
                f"  … et {format_nombre(len(partie) - PROBLEMES_AFFICHES)} autres : la liste complète est écrite avec --sortie."
            )


def _ecrire_problemes(problemes, sortie: Path | None, ecrire_csv) -> None:
    if sortie is None or problemes is None:
        return
    if sortie.exists() and not sortie.is_dir():
        raise ErreurParametre(f"--sortie doit être un dossier : {sortie} est un fichier.")
    chemin = ecrire_csv(problemes, sortie / "problemes_validation.csv")
    dire(f"Liste complète des problèmes : {chemin}")


def _fiches(arguments) -> int:
    import shutil  # import différé : --help reste rapide
    import time

    from .commun.fichiers import appliquer_droits, remplacer_dossier
    from .commun.garde import Entree, entrees_des_donnees, verifier_sorties
    from .commun.typographie import format_duree, nombre_de
    from .ensemble import Ensemble
    from .fiches import ecrire_fiches

    parametres = _parametres(arguments)
    debut = time.perf_counter()
    cible = arguments.sortie.expanduser().resolve()
    verifier_sorties(
        [("le dossier des fiches (--sortie)", cible)],
        entrees_des_donnees(parametres.chemin_donnees, (parametres.annee, parametres.annee - 1)),
    )
    ensemble = Ensemble.preparer(parametres)
    verifier_sorties(
        [("le dossier des fiches (--sortie)", cible)],
        [Entree(ensemble.dossier_referentiel, "référentiel installé")],
    )
    cible.parent.mkdir(parents=True, exist_ok=True)
    temporaire = Path(tempfile.mkdtemp(prefix=f".fiches-{parametres.annee}-", dir=cible.parent))
    try:
        ecrites = ecrire_fiches(ensemble, temporaire, dans_un_lot=False)
        appliquer_droits(temporaire)
        remplacer_dossier(temporaire, cible, "fiches")
    finally:
        shutil.rmtree(temporaire, ignore_errors=True)
    dire(
        f"{nombre_de(len(ecrites), 'fiche QPV écrite', 'fiches QPV écrites')} dans {cible} "
        f"({format_duree(time.perf_counter() - debut)}) : ouvrir {cible / 'index.html'}."
    )
    return 0


def _geocoder(arguments) -> int:
    from .activite.geocodage import SCORE_MIN, URL_BAN, geocoder  # import différé : --help reste rapide
    from .referentiel.chargement import charger_referentiel

    try:
        score_min = float(str(arguments.score_min).replace(",", "."))
    except ValueError:
        score_min = -1.0
    if not 0 <= score_min <= 1:
        raise ErreurParametre(
            f"--score-min doit être un nombre de 0 à 1 (reçu {arguments.score_min}) ; {SCORE_MIN} par défaut."
        )
    try:
        referentiel = charger_referentiel(None, arguments.referentiel)
    except ErreurObservatoire:
        referentiel = (
            None  # sans référentiel, seules la lecture et les bornes des coordonnées sont contrôlées
        )
    bilan = geocoder(
        arguments.annee_donnees,
        url=arguments.url or os.environ.get("OBSERVATOIRE_URL_BAN") or URL_BAN,
        accepter=arguments.accepter,
        score_min=score_min,
        referentiel=referentiel,
    )
    dire(bilan.resume())
    dire(f"Registre des lieux : {bilan.registre}")
    return 0

"""Géocodage des lieux avec la Base Adresse Nationale (géocodeur CSV de l'IGN Géoplateforme).

``geocoder`` complète le registre des lieux (``lieux.csv``) : les lieux des séances sans
coordonnées y sont ajoutés, puis ceux qui n'ont ni coordonnées saisies ni résultat en cache
sont envoyés par lots au géocodeur CSV (colonne ``adresse`` filtrée par le code INSEE
``citycode``, séparateur et encodage dits explicitement). Le service répond ligne par ligne
avec un ``result_status`` :

- ``ok`` : un résultat, gardé en cache ; au score inférieur à ``SCORE_MIN``, dans une autre
  commune que celle déclarée ou hors de son département, il est « à vérifier » : listé, pas
  utilisé, jusqu'à ``accepter`` ;
- ``not-found`` : aucun résultat, gardé en cache (l'adresse est à corriger) ;
- ``error`` (panne du service) et ``skipped`` (requête trop courte) : rien n'est gardé, la
  ligne est renvoyée au lancement suivant ; ils sont comptés à part.

Des coordonnées saisies à la main ne sont jamais remplacées. Le registre et le cache gardent
toutes les colonnes, lignes et valeurs de l'utilisateur, dans son encodage et son séparateur,
et sont remplacés d'un coup.

Limites du service respectées : fichiers de ``TAILLE_LOT`` lignes au plus, un lot à la fois,
délai ``DELAI_S``, ``ESSAIS`` essais avec attente croissante, ``Retry-After`` respecté sur 429
et 503. L'adresse de l'API Adresse de la DINUM (``URL_BAN_ANCIENNE``) reste utilisable avec
``--url`` tant qu'elle répond.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..commun.erreurs import ErreurDonnees, ErreurObservatoire
from ..commun.fichiers import ecrire_atomique, neutraliser_formules
from ..commun.garde import entrees_des_donnees, verifier_sorties
from ..commun.lecture import TableBrute, lire_table, reecrire_table
from ..commun.typographie import format_nombre, nombre_de
from ..referentiel.chargement import Referentiel
from .coordonnees import controler_coordonnees
from .lieux import COLONNES_LIEUX, NOM_REGISTRE, TYPES_BAN, cle_lieu, lire_registre
from .valeurs import VRAI, decimaux

__all__ = [
    "NOM_CACHE",
    "SCORE_MIN",
    "URL_BAN",
    "URL_BAN_ANCIENNE",
    "BilanGeocodage",
    "ErreurGeocodage",
    "geocoder",
]

URL_BAN = "https://data.geopf.fr/geocodage/search/csv"
URL_BAN_ANCIENNE = "https://api-adresse.data.gouv.fr/search/csv/"
SCORE_MIN = 0.7
TAILLE_LOT = 1_000
DELAI_S = 60.0
ESSAIS = 4
ATTENTE_MAX_S = 30.0
NOM_CACHE = "geocodage_cache.csv"
COLONNES_CACHE = ["cle", "latitude", "longitude", "score", "type", "citycode", "label", "statut"]
STATUTS_GARDES = ("ok", "not-found")  # réponses du service gardées en cache ; les autres sont renvoyées


class ErreurGeocodage(ErreurObservatoire):
    """Le géocodeur est injoignable ou répond mal : rien n'a été modifié."""


@dataclass
class BilanGeocodage:
    """Ce que ``geocoder`` a fait : comptes, lots envoyés, lieux à vérifier."""

    lieux: int = 0
    ajoutes: int = 0
    deja_places: int = 0
    en_cache: int = 0
    envoyes: int = 0
    lots: int = 0
    acceptes: int = 0
    a_reessayer: int = 0
    a_verifier: list[dict] = field(default_factory=list)
    non_trouves: list[dict] = field(default_factory=list)
    a_corriger: list[str] = field(default_factory=list)
    registre: Path | None = None

    def resume(self) -> str:
        """Résumé en français."""
        lignes = [
            f"{nombre_de(self.lieux, 'lieu')} dans le registre ({format_nombre(self.ajoutes)} "
            f"{'ajouté' if self.ajoutes < 2 else 'ajoutés'} depuis les séances), "
            f"{format_nombre(self.deja_places)} déjà {'placé' if self.deja_places < 2 else 'placés'}, "
            f"{format_nombre(self.en_cache)} repris du cache, {format_nombre(self.envoyes)} "
            f"{'envoyé' if self.envoyes < 2 else 'envoyés'} au géocodeur en {nombre_de(self.lots, 'lot')}, "
            f"{format_nombre(self.acceptes)} {'accepté' if self.acceptes < 2 else 'acceptés'}."
        ]
        if self.a_reessayer:
            lignes.append(
                f"{nombre_de(self.a_reessayer, 'adresse')} sans réponse du service (panne passagère ou requête "
                "trop courte) : elles seront renvoyées au prochain lancement."
            )
        if self.a_verifier:
            lignes.append(
                f"À vérifier ({format_nombre(len(self.a_verifier))}) : non utilisés tant que vous ne les "
                "acceptez pas (--accepter)."
            )
            lignes += [
                f"  - {lieu['id_lieu']} « {lieu['nom']} », {lieu['adresse']} ({lieu['code_commune']}) : {lieu['motif']}"
                for lieu in self.a_verifier
            ]
        if self.non_trouves:
            lignes.append(
                f"Sans résultat ({format_nombre(len(self.non_trouves))}) : corrigez l'adresse dans {NOM_REGISTRE}."
            )
            lignes += [
                f"  - {lieu['id_lieu']} « {lieu['nom']} », {lieu['adresse']} ({lieu['code_commune']})"
                for lieu in self.non_trouves
            ]
        if self.a_corriger:
            lignes.append(f"Lieux à corriger à la main dans {NOM_REGISTRE} (non modifiés) :")
            lignes += [f"  - {probleme}" for probleme in self.a_corriger]
        return "\n".join(lignes)


def geocoder(
    source: str | Path,
    *,
    url: str = URL_BAN,
    accepter: bool = False,
    score_min: float = SCORE_MIN,
    taille_lot: int = TAILLE_LOT,
    aujourd_hui: dt.date | None = None,
    referentiel: Referentiel | None = None,
) -> BilanGeocodage:
    """Complète le registre des lieux d'une année par la Base Adresse Nationale.

    Parameters
    ----------
    source : str or Path
        Dossier de l'année (``data/centre/2023``) ; le registre est ``lieux.csv`` à côté.
    url : str
        Adresse du géocodeur CSV (celle de la Géoplateforme par défaut).
    accepter : bool
        Accepter les résultats « à vérifier » déjà obtenus (après les avoir regardés).
    score_min : float
        Score en deçà duquel un résultat est à vérifier.
    taille_lot : int
        Lignes par requête.
    aujourd_hui : date, optional
        Date écrite dans ``date_geocodage`` (aujourd'hui par défaut).
    referentiel : Referentiel, optional
        Pour contrôler que chaque résultat tombe dans le département de sa commune.

    Returns
    -------
    BilanGeocodage

    Raises
    ------
    ErreurGeocodage
        Service injoignable ou réponse illisible : le registre et le cache sont inchangés.
    """
    source = Path(source)
    if not source.is_dir():
        raise ErreurDonnees(f"Dossier de l'année introuvable : {source} (exemple : data/centre/2023).")
    chemin_registre = source.parent / NOM_REGISTRE
    chemin_cache = source.parent / NOM_CACHE
    verifier_sorties(
        [("le registre des lieux", chemin_registre), ("le cache du géocodage", chemin_cache)],
        entrees_des_donnees(source.parent, dossier_entier=False)
        + entrees_des_donnees(source, dossier_entier=False),
    )
    lu = lire_registre(chemin_registre, referentiel)
    bilan = BilanGeocodage(registre=chemin_registre)
    bilan.a_corriger = [
        f"ligne {p['ligne']} : {p['message']}" for p in lu.problemes if p["gravite"] == "erreur"
    ]
    registre, bilan.ajoutes = _ajouter_lieux_des_seances(lu.lieux, source)
    cache_brut, cache = _lire_cache(chemin_cache)
    date = (aujourd_hui or dt.date.today()).isoformat()

    places = (registre["latitude"] != "") & (registre["statut"] != "a_verifier")
    bilan.deja_places = int(places.sum())
    if accepter:
        a_accepter = registre["statut"] == "a_verifier"
        registre.loc[a_accepter, "statut"] = "accepte"
        bilan.acceptes = int(a_accepter.sum())
    a_geocoder = registre[(registre["latitude"] == "") & (registre["adresse"] != "")]
    cles = _cles_adresses(a_geocoder)
    gardees = cache[_gardee(cache)]
    nouvelles = sorted(set(cles) - set(gardees["cle"]))
    bilan.en_cache = int(cles.isin(gardees["cle"]).sum())
    if nouvelles:
        demandes = a_geocoder.assign(cle=cles).drop_duplicates("cle").set_index("cle").loc[nouvelles]
        reponses = []
        for debut in range(0, len(demandes), taille_lot):
            lot = demandes.iloc[debut : debut + taille_lot]
            reponses.append(_envoyer(url, lot))
            bilan.lots += 1
            bilan.envoyes += len(lot)
        recues = pd.concat(reponses, ignore_index=True)
        a_garder = _gardee(recues)
        bilan.a_reessayer = int((~a_garder).sum())
        cache = pd.concat([cache[~cache["cle"].isin(recues["cle"])], recues[a_garder]], ignore_index=True)
    resultats = cache[_gardee(cache)].drop_duplicates("cle", keep="last")
    _appliquer(
        registre, a_geocoder.assign(cle=cles), resultats.set_index("cle"), score_min, date, referentiel, bilan
    )
    bilan.lieux = len(registre)
    octets_cache = _octets_cache(cache_brut, cache)
    octets_registre = lu.octets(registre)
    ecrire_atomique(chemin_cache, octets_cache)
    ecrire_atomique(chemin_registre, octets_registre)
    return bilan


def _gardee(cache: pd.DataFrame) -> pd.Series:
    """Les réponses qui valent résultat : ``ok`` et ``not-found`` ; une ligne sans statut (cache
    d'une version précédente) vaut par ses coordonnées ou leur absence."""
    return cache["statut"].isin(STATUTS_GARDES) | (cache["statut"] == "")


def _appliquer(registre, a_geocoder, resultats, score_min, date, referentiel, bilan) -> None:
    """Écrit dans le registre les résultats du cache ; les douteux restent « à vérifier »."""
    trouves = a_geocoder[a_geocoder["cle"].isin(resultats.index)]
    if trouves.empty:
        return
    reponses = resultats.loc[trouves["cle"]]
    reponses.index = trouves.index
    hors_departement = {
        d.index: d.message
        for d in controler_coordonnees(
            reponses["latitude"], reponses["longitude"], trouves["code_commune"], referentiel
        )
        if d.gravite == "erreur"
    }
    for index, ligne in trouves.iterrows():
        reponse = reponses.loc[index]
        if not reponse["latitude"]:
            bilan.non_trouves.append(dict(ligne))
            continue
        motif = _motif_a_verifier(reponse, ligne["code_commune"], score_min, hors_departement.get(index))
        registre.loc[index, ["latitude", "longitude", "score", "type", "date_geocodage", "source"]] = [
            reponse["latitude"], reponse["longitude"], reponse["score"],
            TYPES_BAN.get(reponse["type"], reponse["type"]), date, "BAN",
        ]  # fmt: skip
        registre.loc[index, "statut"] = "a_verifier" if motif else "accepte"
        if motif:
            bilan.a_verifier.append({**dict(ligne), "motif": motif})


def _cles_adresses(table: pd.DataFrame) -> pd.Series:
    return cle_lieu(pd.Series("", index=table.index), table["adresse"], table["code_commune"])


def _motif_a_verifier(reponse, code_commune: str, score_min: float, hors_departement: str | None) -> str:
    motifs = []
    score = float(decimaux(pd.Series([reponse["score"] or "0"])).fillna(0).iloc[0])
    if score < score_min:
        motifs.append(f"score {format_nombre(score, 2)} inférieur à {format_nombre(score_min, 2)}")
    if code_commune and reponse["citycode"] and reponse["citycode"] != code_commune:
        motifs.append(f"trouvé dans la commune {reponse['citycode']}, et non {code_commune}")
    if hors_departement:
        motifs.append(hors_departement.rstrip("."))
    if reponse["label"] and motifs:
        motifs.append(f"adresse trouvée : {reponse['label']}")
    return " ; ".join(motifs)


def _ajouter_lieux_des_seances(registre: pd.DataFrame, source: Path) -> tuple[pd.DataFrame, int]:
    """Ajoute au registre les lieux des séances en présentiel sans coordonnées qu'il ne connaît pas."""
    chemin = source / "seances.csv"
    registre = registre.copy()
    if not chemin.is_file():
        return registre, 0
    colonnes = ("lieu", "adresse", "code_commune", "latitude", "id_lieu", "distanciel")
    seances = lire_table(chemin, colonnes, table="seances", texte_libre=("lieu", "adresse")).donnees
    seances = (
        seances.reindex(columns=list(colonnes), fill_value="").astype(str).apply(lambda s: s.str.strip())
    )
    sans = seances[
        (seances["latitude"] == "")
        & ~seances["distanciel"].str.lower().isin(VRAI)
        & (seances["id_lieu"] == "")
        & (seances["adresse"] != "")
    ]
    connues = set(cle_lieu(registre["nom"], registre["adresse"], registre["code_commune"]))
    cles = cle_lieu(sans["lieu"], sans["adresse"], sans["code_commune"])
    nouveaux = sans.assign(cle=cles)[~cles.isin(connues)].drop_duplicates("cle")
    numeros = [int(i[1:]) for i in registre["id_lieu"] if i[:1] == "L" and i[1:].isdigit()]
    suivant = max(numeros, default=0) + 1
    if nouveaux.empty:
        return registre, 0
    index_libre = int(registre.index.max()) + 1 if len(registre) else 0
    lignes = pd.DataFrame(
        [
            {
                **dict.fromkeys(COLONNES_LIEUX, ""),
                "id_lieu": f"L{suivant + rang:04d}",
                "nom": ligne.lieu,
                "adresse": ligne.adresse,
                "code_commune": ligne.code_commune,
            }
            for rang, ligne in enumerate(nouveaux.itertuples())
        ],
        index=pd.RangeIndex(index_libre, index_libre + len(nouveaux)),
    )
    return pd.concat([registre, lignes]), len(lignes)


def _lire_cache(chemin: Path) -> tuple[TableBrute | None, pd.DataFrame]:
    if not chemin.is_file():
        return None, pd.DataFrame({c: pd.Series(dtype=object) for c in COLONNES_CACHE})
    brute = lire_table(chemin, COLONNES_CACHE, ("cle",), table="cache", texte_libre=("label",))
    cache = brute.donnees.reindex(columns=COLONNES_CACHE, fill_value="").astype(str)
    return brute, cache.apply(lambda s: s.str.strip())


def _octets_cache(brute: TableBrute | None, cache: pd.DataFrame) -> bytes:
    if brute is None:
        return neutraliser_formules(cache[COLONNES_CACHE]).to_csv(sep=";", index=False).encode("utf-8-sig")
    return reecrire_table(brute, neutraliser_formules(cache))


def _envoyer(url: str, lot: pd.DataFrame) -> pd.DataFrame:
    """Un lot au géocodeur CSV, avec essais ; renvoie les lignes du cache correspondantes."""
    tampon = io.StringIO()
    ecrivain = csv.writer(tampon, delimiter=",", lineterminator="\n")
    ecrivain.writerow(["cle", "adresse", "code_commune"])
    for cle, ligne in lot.iterrows():
        ecrivain.writerow([cle, ligne["adresse"], ligne["code_commune"]])
    corps, type_contenu = _multipart(
        {"columns": "adresse", "citycode": "code_commune", "delimiter": ",", "encoding": "utf-8"},
        "lieux.csv",
        tampon.getvalue().encode("utf-8"),
    )
    derniere = ""
    for essai in range(1, ESSAIS + 1):
        requete = urllib.request.Request(
            url, data=corps, method="POST", headers={"Content-Type": type_contenu}
        )
        try:
            with urllib.request.urlopen(requete, timeout=DELAI_S) as reponse:
                texte = reponse.read().decode("utf-8-sig")
            return _lire_reponse(texte, set(lot.index))
        except urllib.error.HTTPError as erreur:
            derniere = f"HTTP {erreur.code}"
            if erreur.code not in (429, 500, 502, 503, 504):
                raise ErreurGeocodage(
                    f"Le géocodeur a refusé la requête ({derniere}) : rien n'a été modifié."
                ) from None
            attente = _retry_after(erreur.headers.get("Retry-After"), essai)
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as erreur:
            raison = getattr(erreur, "reason", erreur)
            raise ErreurGeocodage(
                f"Géocodeur injoignable ({raison}) : hors ligne ou service arrêté. Rien n'a été modifié ; "
                "relancez quand le réseau est là."
            ) from None
        except _ReponseIllisible as erreur:
            derniere = str(erreur)
            attente = _retry_after(None, essai)
        if essai < ESSAIS:
            time.sleep(attente)
    raise ErreurGeocodage(
        f"Le géocodeur ne répond pas correctement après {ESSAIS} essais ({derniere}) : rien n'a été modifié."
    )


class _ReponseIllisible(Exception):
    pass


def _retry_after(valeur: str | None, essai: int) -> float:
    try:
        return min(float(valeur), ATTENTE_MAX_S) if valeur else min(2.0 ** (essai - 1), ATTENTE_MAX_S)
    except ValueError:
        return min(2.0 ** (essai - 1), ATTENTE_MAX_S)


def _lire_reponse(texte: str, attendues: set[str]) -> pd.DataFrame:
    """Réponse CSV du géocodeur → lignes du cache ; une réponse tronquée ou mal formée est rejetée."""
    try:
        lignes = list(csv.DictReader(io.StringIO(texte, newline="")))
    except csv.Error as erreur:
        raise _ReponseIllisible(f"CSV mal formé : {erreur}") from None
    colonnes = {"cle", "latitude", "longitude", "result_score", "result_type", "result_citycode"}
    if not lignes or not colonnes <= set(lignes[0]):
        raise _ReponseIllisible("colonnes attendues absentes")
    recues = {ligne["cle"] for ligne in lignes}
    if recues != attendues or any(None in ligne.values() or None in ligne for ligne in lignes):
        raise _ReponseIllisible(f"réponse incomplète ({len(recues & attendues)} lignes sur {len(attendues)})")
    return pd.DataFrame(
        [
            {
                "cle": ligne["cle"],
                "latitude": ligne["latitude"],
                "longitude": ligne["longitude"],
                "score": ligne["result_score"],
                "type": ligne["result_type"],
                "citycode": ligne["result_citycode"],
                "label": ligne.get("result_label", ""),
                "statut": ligne.get("result_status", "") or ("ok" if ligne["latitude"] else "not-found"),
            }
            for ligne in lignes
        ],
        columns=COLONNES_CACHE,
    )


def _multipart(champs: dict[str, str], nom_fichier: str, contenu: bytes) -> tuple[bytes, str]:
    frontiere = uuid.uuid4().hex
    morceaux = []
    for nom, valeur in champs.items():
        morceaux.append(
            f'--{frontiere}\r\nContent-Disposition: form-data; name="{nom}"\r\n\r\n{valeur}\r\n'.encode()
        )
    morceaux.append(
        f'--{frontiere}\r\nContent-Disposition: form-data; name="data"; filename="{nom_fichier}"\r\n'
        "Content-Type: text/csv\r\n\r\n".encode()
        + contenu
        + b"\r\n"
    )
    morceaux.append(f"--{frontiere}--\r\n".encode())
    return b"".join(morceaux), f"multipart/form-data; boundary={frontiere}"

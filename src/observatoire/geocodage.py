"""Géocodage des lieux avec la Base Adresse Nationale (géocodeur CSV de l'API Adresse).

``geocoder`` complète le registre des lieux (``lieux.csv``) : les lieux des séances sans
coordonnées y sont ajoutés, puis ceux qui n'ont ni coordonnées saisies ni résultat en cache
sont envoyés par lots au géocodeur CSV (``/search/csv/``, colonne ``adresse`` filtrée par le
code INSEE ``citycode``). Un résultat au score inférieur à ``SCORE_MIN`` ou dans une autre
commune que celle déclarée est « à vérifier » : listé, pas utilisé, jusqu'à ``accepter``. Des
coordonnées saisies à la main ne sont jamais remplacées. Chaque adresse n'est envoyée qu'une
fois : les réponses sont gardées dans ``geocodage_cache.csv`` à côté du registre.

Limites du service respectées : fichiers de ``TAILLE_LOT`` lignes au plus (bien en deçà des
50 Mo acceptés), un lot à la fois, délai d'attente ``DELAI_S``, ``ESSAIS`` essais avec attente
croissante, ``Retry-After`` respecté sur 429 et 503.
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

from .commun import ecrire_csv, lire_table
from .erreurs import ErreurDonnees, ErreurObservatoire
from .lieux import COLONNES_LIEUX, NOM_REGISTRE, TYPES_BAN, cle_lieu, ecrire_registre, lire_registre

__all__ = ["SCORE_MIN", "URL_BAN", "BilanGeocodage", "ErreurGeocodage", "geocoder"]

URL_BAN = "https://api-adresse.data.gouv.fr/search/csv/"
SCORE_MIN = 0.7
TAILLE_LOT = 1_000
DELAI_S = 60.0
ESSAIS = 4
ATTENTE_MAX_S = 30.0
NOM_CACHE = "geocodage_cache.csv"
COLONNES_CACHE = ["cle", "latitude", "longitude", "score", "type", "citycode", "label"]


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
    a_verifier: list[dict] = field(default_factory=list)
    non_trouves: list[dict] = field(default_factory=list)
    registre: Path | None = None

    def resume(self) -> str:
        """Résumé en français."""
        lignes = [
            f"{self.lieux} lieu(x) dans le registre ({self.ajoutes} ajouté(s) depuis les séances), "
            f"{self.deja_places} déjà placé(s), {self.en_cache} repris du cache, {self.envoyes} envoyé(s) "
            f"au géocodeur en {self.lots} lot(s), {self.acceptes} accepté(s)."
        ]
        if self.a_verifier:
            lignes.append(
                f"À vérifier ({len(self.a_verifier)}) — non utilisés tant que vous ne les acceptez pas (--accepter) :"
            )
            lignes += [
                f"  - {lieu['id_lieu']} « {lieu['nom']} », {lieu['adresse']} ({lieu['code_commune']}) : {lieu['motif']}"
                for lieu in self.a_verifier
            ]
        if self.non_trouves:
            lignes.append(
                f"Sans résultat ({len(self.non_trouves)}) : corrigez l'adresse dans {NOM_REGISTRE} :"
            )
            lignes += [
                f"  - {lieu['id_lieu']} « {lieu['nom']} », {lieu['adresse']} ({lieu['code_commune']})"
                for lieu in self.non_trouves
            ]
        return "\n".join(lignes)


def geocoder(
    source: str | Path,
    *,
    url: str = URL_BAN,
    accepter: bool = False,
    score_min: float = SCORE_MIN,
    taille_lot: int = TAILLE_LOT,
    aujourd_hui: dt.date | None = None,
) -> BilanGeocodage:
    """Complète le registre des lieux d'une année par la Base Adresse Nationale.

    Parameters
    ----------
    source : str or Path
        Dossier de l'année (``data/centre/2023``) ; le registre est ``lieux.csv`` à côté.
    url : str
        Adresse du géocodeur CSV (celle de l'API Adresse par défaut).
    accepter : bool
        Accepter les résultats « à vérifier » déjà obtenus (après les avoir regardés).
    score_min : float
        Score en deçà duquel un résultat est à vérifier.
    taille_lot : int
        Lignes par requête.
    aujourd_hui : date, optional
        Date écrite dans ``date_geocodage`` (aujourd'hui par défaut).

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
    registre = lire_registre(chemin_registre)
    bilan = BilanGeocodage(registre=chemin_registre)
    registre, bilan.ajoutes = _ajouter_lieux_des_seances(registre, source)
    cache = _lire_cache(chemin_cache)
    date = (aujourd_hui or dt.date.today()).isoformat()

    places = (registre["latitude"] != "") & (registre["statut"] != "a_verifier")
    bilan.deja_places = int(places.sum())
    if accepter:
        a_accepter = registre["statut"] == "a_verifier"
        registre.loc[a_accepter, "statut"] = "accepte"
        bilan.acceptes = int(a_accepter.sum())
    a_geocoder = registre[(registre["latitude"] == "") & (registre["adresse"] != "")]
    cles = _cles_adresses(a_geocoder)
    nouvelles = sorted(set(cles) - set(cache["cle"]))
    bilan.en_cache = int(cles.isin(cache["cle"]).sum())
    if nouvelles:
        demandes = a_geocoder.assign(cle=cles).drop_duplicates("cle").set_index("cle").loc[nouvelles]
        reponses = []
        for debut in range(0, len(demandes), taille_lot):
            lot = demandes.iloc[debut : debut + taille_lot]
            reponses.append(_envoyer(url, lot))
            bilan.lots += 1
            bilan.envoyes += len(lot)
        cache = pd.concat([cache, *reponses], ignore_index=True).drop_duplicates("cle", keep="last")
    resultats = cache.set_index("cle")
    for index, ligne in a_geocoder.assign(cle=cles).iterrows():
        if ligne["cle"] not in resultats.index:
            continue
        reponse = resultats.loc[ligne["cle"]]
        if not reponse["latitude"]:
            bilan.non_trouves.append(dict(ligne))
            continue
        motif = _motif_a_verifier(reponse, ligne["code_commune"], score_min)
        registre.loc[index, ["latitude", "longitude", "score", "type", "date_geocodage", "source"]] = [
            reponse["latitude"], reponse["longitude"], reponse["score"], TYPES_BAN.get(reponse["type"], reponse["type"]),
            date, "BAN",
        ]  # fmt: skip
        registre.loc[index, "statut"] = "a_verifier" if motif else "accepte"
        if motif:
            bilan.a_verifier.append({**dict(ligne), "motif": motif})
    bilan.lieux = len(registre)
    ecrire_csv(cache[COLONNES_CACHE], chemin_cache)
    ecrire_registre(registre, chemin_registre)
    return bilan


def _cles_adresses(table: pd.DataFrame) -> pd.Series:
    return cle_lieu(pd.Series("", index=table.index), table["adresse"], table["code_commune"])


def _motif_a_verifier(reponse, code_commune: str, score_min: float) -> str:
    motifs = []
    score = float(reponse["score"] or 0)
    if score < score_min:
        motifs.append(f"score {score:.2f} < {score_min:.2f}")
    if code_commune and reponse["citycode"] and reponse["citycode"] != code_commune:
        motifs.append(f"trouvé dans la commune {reponse['citycode']}, et non {code_commune}")
    if reponse["label"] and motifs:
        motifs.append(f"adresse trouvée : {reponse['label']}")
    return " ; ".join(motifs)


def _ajouter_lieux_des_seances(registre: pd.DataFrame, source: Path) -> tuple[pd.DataFrame, int]:
    """Ajoute au registre les lieux des séances en présentiel sans coordonnées qu'il ne connaît pas."""
    chemin = source / "seances.csv"
    if not chemin.is_file():
        return registre, 0
    seances = lire_table(chemin)
    for colonne in ("lieu", "adresse", "code_commune", "latitude", "id_lieu", "distanciel"):
        if colonne not in seances.columns:
            seances[colonne] = ""
    sans = seances[
        (seances["latitude"].str.strip() == "")
        & ~seances["distanciel"].str.strip().str.lower().isin(["oui", "o", "1", "vrai", "x"])
        & (seances["id_lieu"].str.strip() == "")
        & (seances["adresse"].str.strip() != "")
    ]
    connues = set(cle_lieu(registre["nom"], registre["adresse"], registre["code_commune"]))
    cles = cle_lieu(sans["lieu"], sans["adresse"], sans["code_commune"])
    nouveaux = sans.assign(cle=cles)[~cles.isin(connues)].drop_duplicates("cle")
    numeros = [int(i[1:]) for i in registre["id_lieu"] if i[:1] == "L" and i[1:].isdigit()]
    suivant = max(numeros, default=0) + 1
    lignes = [
        {
            **dict.fromkeys(COLONNES_LIEUX, ""),
            "id_lieu": f"L{suivant + rang:04d}",
            "nom": ligne.lieu,
            "adresse": ligne.adresse,
            "code_commune": ligne.code_commune,
        }
        for rang, ligne in enumerate(nouveaux.itertuples())
    ]
    if not lignes:
        return registre, 0
    return pd.concat([registre, pd.DataFrame(lignes)], ignore_index=True), len(lignes)


def _lire_cache(chemin: Path) -> pd.DataFrame:
    if not chemin.is_file():
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLONNES_CACHE})
    cache = lire_table(chemin)
    return cache.reindex(columns=COLONNES_CACHE, fill_value="")


def _envoyer(url: str, lot: pd.DataFrame) -> pd.DataFrame:
    """Un lot au géocodeur CSV, avec essais ; renvoie les lignes du cache correspondantes."""
    tampon = io.StringIO()
    ecrivain = csv.writer(tampon, lineterminator="\n")
    ecrivain.writerow(["cle", "adresse", "code_commune"])
    for cle, ligne in lot.iterrows():
        ecrivain.writerow([cle, ligne["adresse"], ligne["code_commune"]])
    corps, type_contenu = _multipart(
        {"columns": "adresse", "citycode": "code_commune"}, "lieux.csv", tampon.getvalue().encode("utf-8")
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

"""Un seul lecteur pour toutes les tables que l'outil lit : activité, registre des lieux, cache
du géocodage, configuration du centre.

Mêmes règles partout :

- **décodage** : UTF-8 avec ou sans BOM, UTF-16 avec BOM (« Texte Unicode » d'Excel), sinon
  cp1252 si tout le fichier l'est ; jamais de remplacement silencieux d'un octet ;
- **guillemets** : un guillemet ouvert et jamais fermé est une erreur qui dit la ligne où il
  s'ouvre ; un enregistrement qui s'étend sur plusieurs lignes hors d'une colonne de texte
  libre est nommé (un texte libre peut, lui, contenir des retours à la ligne) ;
- **caractères de contrôle** (NUL, contrôles C0 et C1, marques et surcharges bidirectionnelles)
  refusés avec leur ligne, leur colonne et leur point de code ; jamais recopiés tels quels
  dans un message (``montrer``).
- **en-têtes** comparés sans casse, sans accents et sans espaces autour ; les messages
  nomment la colonne comme l'utilisateur l'a écrite.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, overload

import pandas as pd

from .erreurs import ErreurDonnees
from .typographie import accord, nombre_de, typographier

__all__ = [
    "COLONNES_PROBLEMES",
    "Enregistrement",
    "Enregistrements",
    "TableBrute",
    "caracteres_interdits",
    "cle_colonne",
    "decoder",
    "decoder_avec_encodage",
    "decouper_csv",
    "lire_table",
    "lire_texte",
    "montrer",
    "probleme",
    "reecrire_table",
    "separateur_csv",
    "table_depuis_enregistrements",
]

COLONNES_PROBLEMES = ["table", "fichier", "ligne", "colonne", "valeur", "gravite", "message", "correction"]
LONGUEUR_VALEUR_MAX = 80  # au-delà, une valeur citée dans un message est abrégée par « … »
INTERDITS_AFFICHES_MAX = 20
_MULTIOCTET_UTF8 = re.compile(rb"[\xc2-\xf4][\x80-\xbf]+")
# Contrôles C0 (sauf tabulation, retour chariot, saut de ligne), DEL, contrôles C1, marques et
# surcharges bidirectionnelles (attaques « Trojan Source »), séparateurs de ligne Unicode.
_INTERDITS = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]"
)


def probleme(table, fichier, ligne, colonne, valeur, gravite, message, correction) -> dict:
    """Un problème à afficher et à lister ; la valeur citée est rendue sûre et abrégée."""
    return {
        "table": table,
        "fichier": fichier,
        "ligne": ligne,
        "colonne": colonne,
        "valeur": montrer(valeur),
        "gravite": gravite,
        "message": typographier(message),
        "correction": typographier(correction),
    }


def montrer(valeur: object, longueur: int = LONGUEUR_VALEUR_MAX) -> str:
    """Une valeur citable dans un message : caractères de contrôle nommés, texte abrégé."""
    texte = "" if valeur is None else str(valeur)
    texte = _INTERDITS.sub(lambda m: f"⟨U+{ord(m[0]):04X}⟩", texte).replace("\n", "⏎").replace("\r", "")
    return texte if len(texte) <= longueur else texte[: longueur - 1] + "…"


# --------------------------------------------------------------------------- décodage


def decoder(octets: bytes, fichier: str) -> str:
    """Texte d'un fichier : UTF-16 (BOM), UTF-8 (avec ou sans BOM), sinon cp1252 entier.

    Raises
    ------
    ErreurDonnees
        Encodages mélangés ou octet invalide, avec le fichier, la ligne et l'octet.
    """
    return decoder_avec_encodage(octets, fichier)[0]


def decoder_avec_encodage(octets: bytes, fichier: str) -> tuple[str, str]:
    """Le texte et l'encodage lu (``utf-16``, ``utf-8-sig`` avec BOM, ``utf-8``, ``cp1252``) : un
    fichier que l'outil met à jour est réécrit dans l'encodage de l'utilisateur."""
    if octets.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return octets.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as erreur:
            raise _erreur_encodage(fichier, octets, erreur.start, "UTF-16 (Texte Unicode)") from None
    try:
        texte = octets.decode("utf-8-sig")
        return texte, "utf-8-sig" if octets.startswith(codecs.BOM_UTF8) else "utf-8"
    except UnicodeDecodeError as erreur:
        if _MULTIOCTET_UTF8.search(octets) or octets.startswith(codecs.BOM_UTF8):
            raise _erreur_encodage(fichier, octets, erreur.start, "UTF-8") from None
    try:
        return octets.decode("cp1252"), "cp1252"
    except UnicodeDecodeError as erreur:
        raise _erreur_encodage(fichier, octets, erreur.start, "cp1252 (Windows)") from None


def lire_texte(fichier: str | Path) -> str:
    """Texte d'un fichier lu avec ``decoder`` (le message nomme le fichier par son seul nom)."""
    fichier = Path(fichier)
    return decoder(fichier.read_bytes(), fichier.name)


def _erreur_encodage(fichier: str, octets: bytes, position: int, encodage: str) -> ErreurDonnees:
    ligne = octets.count(b"\n", 0, position) + 1
    colonne = position - (octets.rfind(b"\n", 0, position) + 1) + 1
    return ErreurDonnees(
        f"{fichier}, ligne {ligne}, octet {colonne} (0x{octets[position]:02X}) : caractère invalide en "
        f"{encodage}. Le fichier mélange des encodages. Réenregistrez-le en « CSV UTF-8 » depuis Excel ou "
        "LibreOffice, puis vérifiez les accents de cette ligne."
    )


def caracteres_interdits(texte: str) -> list[tuple[int, int, str]]:
    """(ligne, colonne, point de code) de chaque caractère de contrôle interdit, dans l'ordre."""
    trouves = []
    for correspondance in _INTERDITS.finditer(texte):
        debut = correspondance.start()
        ligne = texte.count("\n", 0, debut) + 1
        colonne = debut - (texte.rfind("\n", 0, debut) + 1) + 1
        trouves.append((ligne, colonne, f"U+{ord(correspondance[0]):04X}"))
    return trouves


def _message_interdits(fichier: str, trouves: list[tuple[int, int, str]]) -> str:
    lignes = [
        f"  {fichier}, ligne {ligne}, caractère {colonne} : caractère de contrôle {code} interdit."
        for ligne, colonne, code in trouves[:INTERDITS_AFFICHES_MAX]
    ]
    if len(trouves) > INTERDITS_AFFICHES_MAX:
        lignes.append(f"  … et {len(trouves) - INTERDITS_AFFICHES_MAX} autres.")
    return (
        f"{fichier} : {nombre_de(len(trouves), 'caractère de contrôle invisible', 'caractères de contrôle invisibles')} "
        "(NUL, retour arrière, "
        "inversion du sens du texte…). Supprimez-les : ils viennent d'un copier-coller ou d'un export "
        "abîmé.\n" + "\n".join(lignes)
    )


# --------------------------------------------------------------------------- CSV


def separateur_csv(texte: str) -> str:
    """Le séparateur d'un CSV d'après sa première ligne non vide : ``;``, ``,`` ou tabulation."""
    premiere = next((ligne for ligne in texte.splitlines() if ligne.strip()), "")
    return max((";", ",", "\t"), key=premiere.count)


class Enregistrement(NamedTuple):
    """Un enregistrement CSV : lignes physiques de début et de fin (comptées depuis 1), champs.

    Un tuple nommé plutôt qu'une dataclass : il y en a un par ligne lue (200 000 et plus), et sa
    construction coûte trois fois moins."""

    debut: int
    fin: int
    champs: list[str]


class Enregistrements(Sequence[Enregistrement]):
    """Les enregistrements d'une table rangés en colonnes (lignes de début, de fin, champs) : un
    CSV de 200 000 lignes n'en fabrique pas 200 000 objets ; ``[i]`` en rend un."""

    __slots__ = ("champs", "debuts", "fins")

    def __init__(self, debuts: list[int], fins: list[int], champs: list[list[str]]):
        self.debuts, self.fins, self.champs = debuts, fins, champs

    @classmethod
    def depuis(cls, enregistrements: Sequence[Enregistrement]) -> Enregistrements:
        """Depuis une liste d'``Enregistrement`` (feuille de classeur)."""
        if isinstance(enregistrements, Enregistrements):
            return enregistrements
        return cls(
            [e.debut for e in enregistrements],
            [e.fin for e in enregistrements],
            [e.champs for e in enregistrements],
        )

    def __len__(self) -> int:
        return len(self.debuts)

    @overload
    def __getitem__(self, rang: int) -> Enregistrement: ...

    @overload
    def __getitem__(self, rang: slice) -> Enregistrements: ...

    def __getitem__(self, rang):
        if isinstance(rang, slice):
            return Enregistrements(self.debuts[rang], self.fins[rang], self.champs[rang])
        return Enregistrement(self.debuts[rang], self.fins[rang], self.champs[rang])


def decouper_csv(texte: str, fichier: str, separateur: str | None = None) -> tuple[str, Enregistrements]:
    """Découpe un CSV en enregistrements non vides, avec leurs lignes physiques.

    Parameters
    ----------
    texte : str
        Contenu décodé.
    fichier : str
        Nom affiché dans les messages.
    separateur : str, optional
        Séparateur ; deviné sur la première ligne non vide s'il manque.

    Returns
    -------
    tuple
        Le séparateur et les enregistrements (ceux dont tous les champs sont vides sont omis).

    Raises
    ------
    ErreurDonnees
        Guillemet ouvert et jamais fermé (la ligne où il s'ouvre est dite).
    """
    separateur = separateur or separateur_csv(texte)
    try:
        return separateur, _enregistrements(texte, separateur, strict=True)
    except _GuillemetNonFerme as erreur:
        raise ErreurDonnees(
            f"{fichier}, ligne {erreur.ligne} : un guillemet (\") ouvre un champ qui n'est jamais fermé ; "
            "toutes les lignes suivantes seraient lues comme un seul texte. Fermez le guillemet dans cette "
            "ligne, ou retirez-le."
        ) from None
    except csv.Error:
        # Guillemet mal placé (« "ab"c ») : lu comme Excel le lit, sans arrêter.
        return separateur, _enregistrements(texte, separateur, strict=False)


class _GuillemetNonFerme(Exception):
    def __init__(self, ligne: int):
        super().__init__(ligne)
        self.ligne = ligne


def _enregistrements(texte: str, separateur: str, strict: bool) -> Enregistrements:
    lecteur = csv.reader(io.StringIO(texte, newline=""), delimiter=separateur, quotechar='"', strict=strict)
    try:
        lignes = list(lecteur)
    except csv.Error as erreur:
        if "unexpected end of data" in str(erreur):
            raise _GuillemetNonFerme(_debut_du_dernier_enregistrement(texte, separateur)) from None
        raise
    if lecteur.line_num == len(lignes):
        # Le cas courant : un enregistrement par ligne physique, numérotées sans boucle.
        gardes = [rang for rang, champs in enumerate(lignes) if "".join(champs).strip()]
        if len(gardes) == len(lignes):
            debuts = list(range(1, len(lignes) + 1))
            return Enregistrements(debuts, debuts, lignes)
        debuts = [rang + 1 for rang in gardes]
        return Enregistrements(debuts, debuts, [lignes[rang] for rang in gardes])
    return _enregistrements_numerotes(texte, separateur, strict)


def _enregistrements_numerotes(texte: str, separateur: str, strict: bool) -> Enregistrements:
    """Chaque enregistrement avec ses lignes physiques de début et de fin (textes sur plusieurs lignes)."""
    lecteur = csv.reader(io.StringIO(texte, newline=""), delimiter=separateur, quotechar='"', strict=strict)
    debuts, fins, gardes = [], [], []
    fin_precedente = 0
    for champs in lecteur:
        debut, fin_precedente = fin_precedente + 1, lecteur.line_num
        if "".join(champs).strip():
            debuts.append(debut)
            fins.append(fin_precedente)
            gardes.append(champs)
    return Enregistrements(debuts, fins, gardes)


def _debut_du_dernier_enregistrement(texte: str, separateur: str) -> int:
    """La ligne où s'ouvre l'enregistrement que le guillemet non fermé laisse inachevé."""
    lecteur = csv.reader(io.StringIO(texte, newline=""), delimiter=separateur, quotechar='"', strict=True)
    fin_precedente = 0
    try:
        for _ in lecteur:
            fin_precedente = lecteur.line_num
    except csv.Error:
        pass
    return fin_precedente + 1


def cle_colonne(nom: object) -> str:
    """Nom de colonne comparable : sans casse, sans accents, espaces et tirets en ``_``."""
    texte = unicodedata.normalize("NFKD", str(nom).replace("\ufeff", "")).encode("ascii", "ignore").decode()
    return re.sub(r"[\s\-]+", "_", texte.strip().lower())


@dataclass
class TableBrute:
    """Une table lue, toutes valeurs en texte.

    Attributes
    ----------
    table : str
        Nom de la table (``actions``, ``lieux``…).
    fichier : str
        Nom affiché (``seances.csv``, ``activite_2023.xlsx, feuille seances``).
    donnees : pandas.DataFrame
        Une ligne par enregistrement ; colonnes aux noms du contrat quand l'en-tête les
        reconnaît, sinon tels qu'écrits ; index = ligne physique de début − 2 (l'en-tête en
        ligne 1 donne 0 pour la première ligne de données).
    en_tetes : dict
        Nom du contrat → en-tête tel que l'utilisateur l'a écrit (« ID Action »).
    ligne_en_tete : int
        Ligne de l'en-tête.
    lignes_douteuses : set of int
        Index des lignes au nombre de champs faux : aucune de leurs valeurs n'est citée.
    separateur : str
        Séparateur lu (CSV) ; vide pour une feuille de classeur.
    """

    table: str
    fichier: str
    donnees: pd.DataFrame
    en_tetes: dict[str, str] = field(default_factory=dict)
    ligne_en_tete: int = 1
    lignes_douteuses: set[int] = field(default_factory=set)
    separateur: str = ""
    encodage: str = "utf-8"
    fin_de_ligne: str = "\n"

    def nom_colonne(self, colonne: str | None) -> str | None:
        """La colonne comme l'utilisateur l'a écrite (le nom du contrat si elle manque)."""
        if colonne is None:
            return None
        return self.en_tetes.get(colonne, colonne)


EN_TETE_MAX = 10  # lignes parcourues pour trouver un en-tête placé sous un titre


def table_depuis_enregistrements(
    enregistrements: Sequence[Enregistrement] | Enregistrements,
    table: str,
    fichier: str,
    colonnes: Sequence[str],
    requises: Iterable[str],
    problemes: list[dict],
    *,
    texte_libre: Iterable[str] = (),
    privees: Iterable[str] = (),
    separateur: str = "",
) -> TableBrute:
    """Table de textes depuis des enregistrements numérotés (CSV ou feuille de classeur).

    L'en-tête est le premier enregistrement ; ses noms sont comparés à ``colonnes`` sans casse ni
    accents. Un enregistrement au nombre de champs faux est une erreur à sa ligne (des champs
    vides en trop sont tolérés : Excel en ajoute), et ses valeurs ne sont plus jamais citées ; un
    enregistrement qui s'étend sur plusieurs lignes hors d'une colonne ``texte_libre`` aussi.

    Raises
    ------
    ErreurDonnees
        Aucune ligne, en-tête sous une ligne de titre, colonne en double.
    """
    if not enregistrements:
        raise ErreurDonnees(
            f"{fichier} : aucune ligne (ni en-tête). Exportez la table {table} avec sa ligne d'en-tête."
        )
    attendues = {cle_colonne(nom): nom for nom in colonnes}
    requises = set(requises)
    en_tete = enregistrements[0]
    noms = [attendues.get(cle_colonne(nom), str(nom).strip().replace("\ufeff", "")) for nom in en_tete.champs]
    if not requises <= set(noms):
        for candidat in enregistrements[1:EN_TETE_MAX]:
            reconnues = {attendues.get(cle_colonne(c)) for c in candidat.champs}
            if len(requises & reconnues) >= max(2, len(requises) // 2):
                raise ErreurDonnees(
                    f"{fichier} : l'en-tête semble être en ligne {candidat.debut}, pas en ligne {en_tete.debut}. "
                    "Supprimez les lignes de titre au-dessus des noms de colonnes."
                )
    doubles = sorted({n for n in noms if n and noms.count(n) > 1})
    if doubles:
        raise ErreurDonnees(
            f"{fichier}, ligne {en_tete.debut} : {accord(len(doubles), 'colonne en double', 'colonnes en double')} : "
            f"{', '.join(doubles)}. Gardez une seule "
            "colonne de chaque nom."
        )
    en_tetes = {
        nom: str(brut).strip().replace("\ufeff", "") for nom, brut in zip(noms, en_tete.champs, strict=True)
    }
    largeur = len(noms)
    libres = {i for i, nom in enumerate(noms) if nom in set(texte_libre)}
    index_prives = {i for i, nom in enumerate(noms) if nom in set(privees)}
    corps = Enregistrements.depuis(enregistrements)[1:]
    numeros, valeurs = corps.debuts, list(corps.champs)
    douteuses = set()
    a_verifier = [
        rang
        for rang, (champs, debut, fin) in enumerate(zip(corps.champs, corps.debuts, corps.fins, strict=True))
        if len(champs) != largeur or debut != fin
    ]
    for rang in a_verifier:
        enregistrement = corps[rang]
        message = _champs_en_nombre_faux(enregistrement.champs, largeur)
        if message is None:
            message = _plusieurs_lignes(enregistrement, noms, libres, index_prives, separateur)
        if message is not None:
            problemes.append(probleme(table, fichier, enregistrement.debut, None, "", "erreur", *message))
            douteuses.add(enregistrement.debut - 2)
        if len(enregistrement.champs) != largeur:
            valeurs[rang] = (enregistrement.champs + [""] * largeur)[:largeur]
    index = pd.Index(numeros, dtype="int64") - 2
    donnees = pd.DataFrame(valeurs, columns=noms, index=index, dtype=object) if valeurs else None
    if donnees is None:
        donnees = pd.DataFrame(columns=noms, index=pd.Index([], dtype="int64"), dtype=object)
    return TableBrute(
        table, fichier, donnees.fillna("").astype(str), en_tetes, en_tete.debut, douteuses, separateur
    )


def _champs_en_nombre_faux(champs: list[str], largeur: int) -> tuple[str, str] | None:
    if len(champs) > largeur and any(c.strip() for c in champs[largeur:]):
        return (
            f"{len(champs)} champs au lieu de {largeur} : un séparateur de trop, ou une valeur décalée.",
            "Vérifiez cette ligne : un « ; » ou une « , » dans un texte doit être entre guillemets.",
        )
    if len(champs) < largeur:
        return (
            f"{len(champs)} champs au lieu de {largeur} : des valeurs manquent en fin de ligne.",
            "Complétez la ligne ou vérifiez qu'elle n'a pas été coupée en deux.",
        )
    return None


def _plusieurs_lignes(
    enregistrement: Enregistrement, noms, libres: set[int], prives: set[int], separateur: str
) -> tuple[str, str] | None:
    """Un enregistrement sur plusieurs lignes : permis dans un texte libre qui n'avale pas de lignes."""
    if enregistrement.fin == enregistrement.debut:
        return None
    for position, champ in enumerate(enregistrement.champs[: len(noms)]):
        if "\n" not in champ and "\r" not in champ:
            continue
        colonne = noms[position]
        avale = separateur and champ.count(separateur) >= max(1, len(noms) - 1)
        if position in libres and not avale:
            continue
        cause = (
            "qui semble contenir des lignes entières : un guillemet ouvert plus haut a dû rester sans fin"
            if avale
            else "hors d'une colonne de texte libre"
        )
        where = f"« {colonne} »" if position not in prives else "de texte libre"
        return (
            f"la ligne {enregistrement.debut} se poursuit jusqu'à la ligne {enregistrement.fin} : la colonne "
            f"{where} contient un retour à la ligne, {cause}.",
            "Vérifiez les guillemets de cette ligne ; retirez le retour à la ligne de la cellule.",
        )
    return None


# --------------------------------------------------------------------------- tables annexes


def lire_table(
    fichier: str | Path,
    colonnes: Sequence[str],
    requises: Iterable[str] = (),
    *,
    table: str = "",
    texte_libre: Iterable[str] = (),
) -> TableBrute:
    """Lit une table annexe (registre des lieux, cache du géocodage) avec les règles communes.

    Les colonnes inconnues sont gardées telles qu'écrites (un fichier que l'outil met à jour
    les garde toutes).

    Raises
    ------
    ErreurDonnees
        Fichier illisible : encodage, guillemet non fermé, caractères de contrôle, colonne
        requise absente, lignes au nombre de champs faux (toutes dites, avec leur ligne).
    """
    fichier = Path(fichier)
    texte, encodage = decoder_avec_encodage(fichier.read_bytes(), fichier.name)
    interdits = caracteres_interdits(texte)
    if interdits:
        raise ErreurDonnees(_message_interdits(fichier.name, interdits))
    if not texte.strip():
        return TableBrute(table, fichier.name, pd.DataFrame(columns=list(colonnes), dtype=object))
    separateur, enregistrements = decouper_csv(texte, fichier.name)
    problemes: list[dict] = []
    brute = table_depuis_enregistrements(
        enregistrements,
        table,
        fichier.name,
        colonnes,
        requises,
        problemes,
        texte_libre=texte_libre,
        separateur=separateur,
    )
    absentes = [nom for nom in requises if nom not in brute.donnees.columns]
    messages = [f"colonne « {nom} » absente de l'en-tête (ligne {brute.ligne_en_tete})" for nom in absentes]
    messages += [f"ligne {p['ligne']} : {p['message']} {p['correction']}" for p in problemes]
    if messages:
        raise ErreurDonnees(
            f"{fichier.name} : {nombre_de(len(messages), 'problème de structure', 'problèmes de structure')}. "
            "Corrigez le fichier (dans un "
            "tableur, enregistrez-le en CSV UTF-8) :\n  " + "\n  ".join(messages[:30])
        )
    brute.separateur = separateur
    brute.encodage = encodage
    brute.fin_de_ligne = "\r\n" if "\r\n" in texte[:4096] else "\n"
    return brute


def reecrire_table(brute: TableBrute, donnees: pd.DataFrame) -> bytes:
    """Les octets d'une table annexe mise à jour, comme l'utilisateur l'avait écrite.

    Mêmes colonnes dans le même ordre, sous leur en-tête d'origine (les colonnes nouvelles à la
    fin), mêmes lignes dans le même ordre (les nouvelles à la fin), même séparateur, même fin de
    ligne, même encodage (BOM compris) ; une valeur que l'outil n'a pas changée est réécrite
    telle quelle. Un texte qui ne s'écrit pas en cp1252 fait passer le fichier en UTF-8 avec BOM
    (Excel le lit de même) plutôt que de perdre un caractère.
    """
    colonnes = list(brute.donnees.columns) + [c for c in donnees.columns if c not in brute.donnees.columns]
    tampon = io.StringIO(newline="")
    ecrivain = csv.writer(tampon, delimiter=brute.separateur or ";", lineterminator=brute.fin_de_ligne)
    ecrivain.writerow([brute.en_tetes.get(c, c) for c in colonnes])
    ecrivain.writerows(
        donnees.reindex(columns=colonnes).fillna("").astype(str).itertuples(index=False, name=None)
    )
    texte = tampon.getvalue()
    try:
        return texte.encode(brute.encodage)
    except UnicodeEncodeError:
        return texte.encode("utf-8-sig")

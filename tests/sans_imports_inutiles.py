"""Greffon pytest chargé avant tous les autres (``-p tests.sans_imports_inutiles``, Makefile).

Comme la commande (``cli.SANS_IMPORTS_INUTILES``), les processus de la suite se passent de
rfc3987_syntax : jsonschema l'importerait par nbformat dès le chargement du greffon nbval, avant
tout ``conftest``, et compilerait ses 38 grammaires Lark (1,6 s de calcul dans chaque processus :
celui qui distribue les tests, puis chacun des quatre autres) pour un format (« iri ») qu'aucun
schéma de notebook n'emploie. hypothesis, que la commande écarte aussi, sert ici.
"""

import sys

sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

"""Publication : le lot annuel (verrou, noyaux Jupyter, notebooks du lot), les exports
(HTML, PDF, classeur), l'index et le manifeste d'une année publiée d'un coup.
"""

__all__: list[str] = []

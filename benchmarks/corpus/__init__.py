"""A corpus of generated programs with known truth (``python -m benchmarks corpus``).

``generate.py`` writes real runnable scripts whose phases it sizes, each with a truth file
beside it (the shape, the right model, the blocking lines); every program also times its
own phases and writes its true split when ``CORPUS_TRUTH`` names a file, so the split is
measured in a plain run, not assumed. ``run.py`` runs each program plain and under each
backend through the CLI and prints how often the tool was right.
"""

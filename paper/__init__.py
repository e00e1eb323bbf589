"""Tables, figures and number checks from a grid's results (``results/<grid>/<stage>/<run-id>/``).

``python -m paper.make_tables [--results DIR] [--grid NAME] [--out DIR] [--check]``.

Modules: ``collect`` (run dirs -> one row per scored prediction run, cell factors from the config
chain), ``stats`` (sfi_mos.metrics per run, aggregation over seeds, CIs, paired differences),
``tables`` (ablation, per-rate, leaderboard), ``probe`` (the high-band probe, front-end energy
share and the offline peers' reference rows), ``render`` (Markdown, LaTeX,
CSV with an environment block), ``figures`` (PNG + PDF), ``check`` (reference comparison with
CI-aware tolerances). Reference data and provenance: ``paper/data/README.md``.
"""

"""One module per rule file of ``workflow/rules/``, one ``run_<rule>`` function per rule.

``rule measure`` (``measure.smk``) runs ``workflow/scripts/measure.py``, which calls
:func:`traitrack.stages.measure.run_measure` with the rule's inputs, params and threads as
plain values; the ``traitrack`` CLI calls the same functions.
"""

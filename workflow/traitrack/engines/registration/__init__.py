"""The weights-free ``registration`` engine (CPU): label transfer by silhouette registration.

``engine`` runs the steps; each step has its own module: ``options`` (the typed options),
``orient``, ``align`` (global alignment and demons), ``fusion`` (template weights and label
fusion), ``edges`` (boundary snapping), ``local`` and ``appearance`` (small parts), ``body``
(the body fill) and ``state`` (what one target's steps share).
"""

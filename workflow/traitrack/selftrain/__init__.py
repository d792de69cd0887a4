"""Self-training from a species' unlabelled specimens (after S4M's teacher/student).

* :mod:`.pseudo`: pseudo-templates, the best-ranked targets of a propagate round (by the QC's
  ``qc_rank``) carried with their predicted masks into a second round of any engine;
* :mod:`.student`: a small segmentation network trained from random initialisation on the
  templates' masks and the teacher's pseudo-labels (:mod:`.data` prepares and augments them),
  which then predicts every target itself.

Nothing here imports torch at package import: :mod:`.pseudo` runs with the registration engine
alone, and only :mod:`.student` and :mod:`.data` need torch, MONAI and albumentations.
"""

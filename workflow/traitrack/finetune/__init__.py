"""Palindrome fine-tuning of SAM 2 (rule ``finetune``).

``data`` (the training set and the step order), ``cycle`` (the 4-frame cycle and its loss),
``weights`` (what trains, the tuned-weights file and the resumable state), ``train`` (the
loop).  Needs torch and sam2.
"""

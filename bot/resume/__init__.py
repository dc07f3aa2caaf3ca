"""Résumés: parsed to visible text, grader talk removed, matched to the role's requirements.

The match is its own report section ("Match with the role"); it never feeds interview scores.
"""

"""The interview as one typed slice: flow, state, questions and follow-ups, scoring,
manipulation checks, the evaluation report, the hiring desk and the idle jobs' parts.

Layers (import-linter checks them): `flow` on top, then `scoring`, then `questions`,
`manipulation` and `evidence`, then `state` and `report` at the bottom.
"""

"""The help desk's knowledge base: indexing, hybrid retrieval, grounded answers with citations.

`types`, `text`, `answering`, `followup` and `prompt` import nothing from the store or the
LLM client, so the support flow can use them; the rest is wired by the composition root.
"""

"""Storage: the Store protocol (api.py) and its SQLAlchemy implementation (sql.py)."""

"""The catalog's Alembic revisions, oldest first by ``down_revision``; see ``migrations``."""

"""Alembic revisions of the labels store, oldest first by their ``down_revision`` chain.

A package only so that setuptools ships the revision files; Alembic itself skips this file.
"""

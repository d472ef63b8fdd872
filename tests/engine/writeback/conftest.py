"""The write-back fixtures (``contact_fields``, ``fake_writer``) of the transforms tests."""

from __future__ import annotations

from tests.transforms.writeback.conftest import contact_fields, fake_writer

__all__ = ["contact_fields", "fake_writer"]

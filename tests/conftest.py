"""What every suite under tests/ shares (pyproject puts tests/ on sys.path): the
collection's Python importable by its Ansible name, the local AWS fixtures, and gpg with a
throwaway home (gpg_kit.py)."""

import sys
from pathlib import Path

from gpg_kit import gnupg
from moto_kit import aws, moto_endpoint

__all__ = ["aws", "gnupg", "moto_endpoint"]

# `make setup` links the checkout as .collections/ansible_collections/ragstack/aws, so the
# collection's Python is imported by the same name Ansible uses.
_COLLECTIONS_PATH = Path(__file__).resolve().parents[1] / ".collections"
if not (_COLLECTIONS_PATH / "ansible_collections" / "ragstack" / "aws").exists():
    raise RuntimeError(
        f"{_COLLECTIONS_PATH}/ansible_collections/ragstack/aws missing: run `make setup`"
    )
if str(_COLLECTIONS_PATH) not in sys.path:
    sys.path.insert(0, str(_COLLECTIONS_PATH))

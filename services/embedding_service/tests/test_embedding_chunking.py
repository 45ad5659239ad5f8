from __future__ import annotations

import itertools
import re

import pytest
from embedding_service.chunking import chunk_text

TEXT = " ".join(f"word{i:03d}" for i in range(300))  # 2399 chars, words of 7


def test_short_text_is_one_chunk():
    assert chunk_text("  hello world  ", 100, 10) == ["hello world"]


def test_blank_text_has_no_chunks():
    assert chunk_text("   ", 100, 10) == []


def test_chunks_respect_size_and_cut_at_word_boundaries():
    chunks = chunk_text(TEXT, 100, 20)
    assert len(chunks) > 20
    assert all(0 < len(c) <= 100 for c in chunks)
    assert all(re.fullmatch(r"word\d{3}( word\d{3})*", c) for c in chunks), chunks[:3]


def test_consecutive_chunks_overlap_and_cover_everything():
    chunks = chunk_text(TEXT, 100, 20)
    for left, right in itertools.pairwise(chunks):
        assert left.split()[-1] in right.split()[:4]
    covered = {w for c in chunks for w in c.split()}
    assert covered == set(TEXT.split())


def test_zero_overlap_partitions_the_text():
    chunks = chunk_text(TEXT, 100, 0)
    assert " ".join(chunks).split() == TEXT.split()


def test_deterministic():
    assert chunk_text(TEXT, 128, 32) == chunk_text(TEXT, 128, 32)


def test_text_without_spaces_is_cut_hard():
    chunks = chunk_text("x" * 250, 100, 10)
    assert [len(c) for c in chunks] == [100, 100, 70]


@pytest.mark.parametrize(("size", "overlap"), [(0, 0), (10, 10), (10, -1), (10, 20)])
def test_invalid_parameters(size, overlap):
    with pytest.raises(ValueError, match="chunk"):
        chunk_text(TEXT, size, overlap)

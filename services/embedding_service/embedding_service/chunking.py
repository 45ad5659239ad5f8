"""Character-window chunking that prefers to cut at whitespace."""

from __future__ import annotations


def _last_space(text: str, lo: int, hi: int) -> int:
    """Index of the last whitespace in text[lo:hi], or -1."""
    for i in range(hi - 1, lo - 1, -1):
        if text[i].isspace():
            return i
    return -1


def _next_word_start(text: str, pos: int, limit: int) -> int:
    """First index >= pos that starts a word, so overlaps do not begin mid-word."""
    if pos == 0 or text[pos - 1].isspace():
        return pos
    i = pos
    while i < limit and not text[i].isspace():
        i += 1
    while i < limit and text[i].isspace():
        i += 1
    return i if i < limit else pos


def chunk_text(text: str, size: int, overlap: int) -> list[str]:
    """Split text into chunks of at most `size` characters, consecutive chunks sharing
    about `overlap` characters. Deterministic, so re-ingesting unchanged text yields the
    same chunks (and chunk hashes) and nothing is re-embedded."""
    if size <= 0:
        raise ValueError("chunk size must be positive")
    if not 0 <= overlap < size:
        raise ValueError("chunk overlap must be >= 0 and smaller than the chunk size")
    text = text.strip()
    if len(text) <= size:
        return [text] if text else []
    chunks: list[str] = []
    start = 0
    while start < len(text):
        end = min(start + size, len(text))
        if end < len(text):
            # Cut at whitespace when one exists in the back half of the window.
            cut = _last_space(text, start + size // 2, end)
            if cut > start:
                end = cut
        chunk = text[start:end].strip()
        if chunk:
            chunks.append(chunk)
        if end >= len(text):
            break
        nxt = _next_word_start(text, max(end - overlap, start + 1), end)
        start = nxt if nxt > start else end
    return chunks

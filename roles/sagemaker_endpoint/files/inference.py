"""SageMaker inference handler for a sentence-transformers model (packed as code/inference.py).

The HuggingFace inference toolkit's default feature-extraction task returns every
token's hidden state, untruncated and unnormalised: long texts fail past 512 tokens
and the vectors differ from the ones the embedding service's `local` provider makes.
This handler does what sentence-transformers does for all-MiniLM-L6-v2 — truncate at
the model's max_seq_length, mean-pool under the attention mask, L2-normalise — so a
corpus embedded locally and queries embedded on the endpoint agree.

Request: {"inputs": "text" | ["text", ...]}   Response: {"embeddings": [[float, ...], ...]}
The toolkit's default input_fn/output_fn (JSON) are used.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import AutoModel, AutoTokenizer

BATCH_SIZE = 32
MAX_INPUTS = 256
DEFAULT_MAX_SEQ_LENGTH = 256


def _max_seq_length(model_dir: Path) -> int:
    config = model_dir / "sentence_bert_config.json"
    if config.is_file():
        return int(json.loads(config.read_text())["max_seq_length"])
    return DEFAULT_MAX_SEQ_LENGTH


def model_fn(model_dir: str) -> dict:
    root = Path(model_dir)
    model = AutoModel.from_pretrained(root)
    model.eval()
    return {
        "tokenizer": AutoTokenizer.from_pretrained(root),
        "model": model,
        "max_length": _max_seq_length(root),
    }


def _texts(data: object) -> list[str]:
    inputs = data.get("inputs") if isinstance(data, dict) else data
    if isinstance(inputs, str):
        inputs = [inputs]
    if not isinstance(inputs, list) or not inputs or not all(isinstance(t, str) for t in inputs):
        raise ValueError('expected {"inputs": "text"} or {"inputs": ["text", ...]}')
    if len(inputs) > MAX_INPUTS:
        raise ValueError(f"at most {MAX_INPUTS} inputs per request, got {len(inputs)}")
    return inputs


def predict_fn(data: object, model: dict) -> dict:
    texts = _texts(data)
    vectors: list[list[float]] = []
    with torch.inference_mode():
        for start in range(0, len(texts), BATCH_SIZE):
            encoded = model["tokenizer"](
                texts[start : start + BATCH_SIZE],
                padding=True,
                truncation=True,
                max_length=model["max_length"],
                return_tensors="pt",
            )
            hidden = model["model"](**encoded).last_hidden_state
            mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            vectors.extend(torch.nn.functional.normalize(pooled, p=2, dim=1).tolist())
    return {"embeddings": vectors}

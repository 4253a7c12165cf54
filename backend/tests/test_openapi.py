"""The OpenAPI document is part of the contract: clients generate their code from it. The
committed copy (`tests/openapi.json`) makes every change to it visible in review; a refactoring
leaves it byte for byte alike. After an intended API change, `make openapi` rewrites it."""

from pathlib import Path

from app.__main__ import openapi_document

SNAPSHOT = Path(__file__).parent / "openapi.json"


def test_openapi_document_matches_the_committed_snapshot() -> None:
    served = openapi_document() + "\n"
    assert served == SNAPSHOT.read_text(), (
        "The OpenAPI document changed. If that is intended, run `make openapi` and commit "
        "backend/tests/openapi.json with the change."
    )

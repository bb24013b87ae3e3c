"""Where a batch review stands between rounds: its requests (pieces), the results kept so
far, and the ids that name them; kept as JSON so any process can pick the review up."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from reviewer.core.chunking import Chunk, split_chunk
from reviewer.core.findings import Finding
from reviewer.core.policy import ChunkResult, merge

# The API's limits for one batch; a larger round is sent as several batches.
MAX_BATCH_REQUESTS = 100_000
MAX_BATCH_BYTES = 256_000_000

RequestT = TypeVar("RequestT", bound=Mapping[str, Any])


@dataclass(frozen=True)
class Piece:
    """One request of a round: a chunk (or a split of one) and how it is asked."""

    custom_id: str
    index: int
    split: tuple[int, ...]
    model: str
    max_tokens: int
    retried_larger: bool = False
    on_fallback: bool = False
    retried_error: bool = False
    requeued: bool = False
    refused: str | None = None  # the refusal that sent it to the fallback model


@dataclass
class RunState:
    """Where a batch review stands between rounds (kept as JSON)."""

    round: int = 1
    pieces: list[Piece] = field(default_factory=list)
    batches: list[str] = field(default_factory=list)
    done: dict[str, dict[str, Any]] = field(default_factory=dict)
    canceled: bool = False
    # The round's budget reservations [id, model], settled by whichever process collects it.
    reservations: list[list[str]] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> RunState:
        data = json.loads(text)
        pieces = [Piece(**{**p, "split": tuple(p["split"])}) for p in data["pieces"]]
        return cls(
            data["round"], pieces, data["batches"], data["done"], data["canceled"],
            data.get("reservations", []),
        )  # fmt: skip


def custom_id(key: str, index: int, split: tuple[int, ...] = (), round_: int = 1) -> str:
    """Stable per chunk: `KEY-c7`, a half `KEY-c7-h01`, a later round `...-r2`."""
    text = f"{key}-c{index}"
    if split:
        text += "-h" + "".join(map(str, split))
    if round_ > 1:
        text += f"-r{round_}"
    return text


def result_json(result: ChunkResult) -> dict[str, Any]:
    data = dataclasses.asdict(result)
    data["findings"] = [f.model_dump(mode="json") for f in result.findings]
    return data


def result_from_json(data: dict[str, Any]) -> ChunkResult:
    findings = tuple(Finding.model_validate(f) for f in data["findings"])
    return ChunkResult(**{**data, "findings": findings})


@dataclass(frozen=True)
class RoundStatus:
    """What the API says of the current round's batches."""

    status: str  # in_progress | canceling | ended
    total: int
    processing: int
    batch_ids: tuple[str, ...]


def piece_key(piece: Piece) -> str:
    return f"{piece.index}/{''.join(map(str, piece.split))}"


def piece_chunk(chunks: Sequence[Chunk], piece: Piece, *, model: str) -> Chunk:
    """The chunk (or the half of a half) a piece asks about."""
    chunk = next(c for c in chunks if c.index == piece.index)
    for half in piece.split:
        chunk = split_chunk(chunk, model=model)[half]
    return chunk


def split_round(requests: list[RequestT]) -> list[list[RequestT]]:
    """Cut a round into batches of at most 100,000 requests and 256 MB."""
    parts: list[list[RequestT]] = [[]]
    size = 0
    for request in requests:
        length = len(json.dumps(request)) + 2
        if parts[-1] and (len(parts[-1]) >= MAX_BATCH_REQUESTS or size + length > MAX_BATCH_BYTES):
            parts.append([])
            size = 0
        parts[-1].append(request)
        size += length
    return [p for p in parts if p]


def final_results(state: RunState, chunks: Sequence[Chunk]) -> tuple[ChunkResult, ...]:
    """Each chunk's result: its one result, or its halves' results merged."""
    results = []
    for chunk in sorted(chunks, key=lambda c: c.index):
        leaves = sorted(k for k in state.done if k.split("/")[0] == str(chunk.index))
        found = [result_from_json(state.done[k]) for k in leaves]
        if not found:
            found = [ChunkResult(chunk.index, "error", None, error="no batch result")]
        results.append(found[0] if len(found) == 1 else merge(chunk.index, found))
    return tuple(results)

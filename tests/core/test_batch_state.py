"""The batch review's state between rounds: ids, JSON, a round cut into batches, results."""

from __future__ import annotations

from typing import Any

import pytest

from reviewer.core import batch_state
from reviewer.core.batch_state import (
    Piece,
    RunState,
    custom_id,
    final_results,
    piece_key,
    result_json,
    split_round,
)
from reviewer.core.chunking import Chunk
from reviewer.core.policy import ChunkResult


def test_custom_id_names_the_chunk_its_halves_and_a_later_round() -> None:
    assert custom_id("K", 7) == "K-c7"
    assert custom_id("K", 7, (0, 1)) == "K-c7-h01"
    assert custom_id("K", 7, (1,), 3) == "K-c7-h1-r3"


def test_run_state_survives_json_with_split_pieces_and_reservations() -> None:
    piece = Piece("K-c1-h0", 1, (0,), "claude-x", 4096, retried_larger=True, refused="no")
    state = RunState(
        round=2, pieces=[piece], batches=["b1"], reservations=[["r1", "claude-x"]], canceled=True
    )
    again = RunState.from_json(state.to_json())
    assert again == state
    assert again.pieces[0].split == (0,)


def test_split_round_cuts_at_the_request_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch_state, "MAX_BATCH_REQUESTS", 2)
    requests: list[dict[str, Any]] = [{"custom_id": f"K-c{i}"} for i in range(5)]
    parts = split_round(requests)
    assert [len(p) for p in parts] == [2, 2, 1]
    assert [r for p in parts for r in p] == requests


def test_split_round_cuts_at_the_byte_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    requests: list[dict[str, Any]] = [{"custom_id": "x" * 40} for _ in range(3)]
    monkeypatch.setattr(batch_state, "MAX_BATCH_BYTES", 120)  # room for two of ~57 bytes
    assert [len(p) for p in split_round(requests)] == [2, 1]


def _chunk(index: int) -> Chunk:
    return Chunk(index=index, parts=(), estimated_input_tokens=1)


def test_final_results_merge_halves_and_name_a_missing_chunk() -> None:
    state = RunState()
    whole = Piece("K-c0", 0, (), "m", 1)
    halves = [Piece(f"K-c1-h{h}", 1, (h,), "m", 1) for h in (0, 1)]
    state.done[piece_key(whole)] = result_json(ChunkResult(0, "ok", "end_turn"))
    state.done[piece_key(halves[0])] = result_json(ChunkResult(1, "ok", "end_turn"))
    state.done[piece_key(halves[1])] = result_json(ChunkResult(1, "truncated", "max_tokens"))
    results = final_results(state, [_chunk(2), _chunk(0), _chunk(1)])
    assert [(r.index, r.status) for r in results] == [(0, "ok"), (1, "truncated"), (2, "error")]
    assert results[2].error == "no batch result"

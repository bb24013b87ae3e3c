"""Pack reviewable files into chunks that fit the model's input budget."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import accumulate

from reviewer.core.diff import FileDiff, Hunk
from reviewer.core.lines import DiffLine
from reviewer.core.render import (
    OVERLAP_CLOSE,
    OVERLAP_OPEN,
    ChunkPart,
    hunk_size,
    line_size,
    line_width,
    part_tokens,
    render_file_header,
    render_hunk_header,
)
from reviewer.core.tokens import estimate_from_size, utf8_length, weight_capacity

# Lines shown before a slice of a hunk that was cut at a line boundary, so the model sees
# what the slice continues. They are owned by the previous slice: context only here.
OVERLAP_LINES = 3


@dataclass(frozen=True)
class Chunk:
    """One request's worth of diff. `estimated_input_tokens` counts the rendered parts only
    (`prompt.prefix_tokens` counts the rest). `split` is empty for a planned chunk; each
    `split_chunk` appends 0 (first half) or 1 (second half) and keeps `index`."""

    index: int
    parts: tuple[ChunkPart, ...]
    estimated_input_tokens: int
    split: tuple[int, ...] = ()

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.path for p in self.parts))

    @property
    def label(self) -> str:
        """`3` for planned chunk 3, `3.1.0` for the first half of its second half."""
        return ".".join(str(n) for n in (self.index, *self.split))


def plan_chunks(
    files: Sequence[FileDiff],
    *,
    budget_tokens: int,
    model: str,
    context: Mapping[str, tuple[DiffLine, ...]] | None = None,
    too_long: dict[str, str] | None = None,
) -> tuple[Chunk, ...]:
    """Pack `files` (already filtered) into chunks of at most `budget_tokens` each.

    `context` maps a path to its read-only lines (core/context.py), shown with the file
    when the file fits one chunk with them; a file that does not is sent without them
    (and split as usual when it needs to be).

    A file that fits in one chunk stays whole; a larger one is cut at hunk boundaries, and a
    hunk too large at line boundaries (with `OVERLAP_LINES` lines of context before each
    slice). Files and parts are packed first-fit decreasing, which (unlike next-fit) puts
    the small files into the room the large ones leave. Parts are ordered by path within a
    chunk and chunks by their first path; the result depends only on the files' content.
    Files without hunks hold no line to review and are left out.

    A file with a line that no chunk can hold (a committed minified or generated line) is
    left out and named in `too_long` with the reason, when given; else it raises ValueError.
    """
    if budget_tokens < 1:
        raise ValueError(f"budget_tokens must be positive, not {budget_tokens}")
    items: list[tuple[int, tuple[str, int, str, str, int], ChunkPart]] = []
    for order, diff in enumerate(files):
        if not diff.hunks:
            continue
        whole = ChunkPart(diff.path, diff.status, diff.hunks, diff.old_path)
        extra = (context or {}).get(diff.path, ())
        if extra:
            with_context = replace(whole, context=extra)
            if (cost := part_tokens(with_context, model)) <= budget_tokens:
                whole = with_context
        if not whole.context:
            cost = part_tokens(whole, model)
        try:
            parts = [whole] if cost <= budget_tokens else _split_file(diff, budget_tokens, model)
        except ValueError:
            if too_long is None:
                raise
            longest = max(len(line.text) for hunk in diff.hunks for line in hunk.lines)
            too_long[diff.path] = (
                f"a line of {longest:,} characters is larger than a chunk "
                f"({budget_tokens:,} tokens): minified or generated?"
            )
            continue
        for part in parts:
            if part is not whole:
                cost = part_tokens(part, model)
                assert cost <= budget_tokens, "a split part's estimate exceeds its bound"
            key = (part.path, part.part, part.old_path or "", str(part.status), order)
            items.append((cost, key, part))

    items.sort(key=lambda item: (-item[0], item[1]))
    packer = _FirstFit(budget_tokens)
    bins: list[list[tuple[int, tuple[str, int, str, str, int], ChunkPart]]] = []
    for item in items:
        slot = packer.place(item[0])
        if slot == len(bins):
            bins.append([])
        bins[slot].append(item)

    for contents in bins:
        contents.sort(key=lambda item: item[1])
    bins.sort(key=lambda contents: contents[0][1])
    return tuple(
        Chunk(
            index=index,
            parts=tuple(item[2] for item in contents),
            estimated_input_tokens=sum(item[0] for item in contents),
        )
        for index, contents in enumerate(bins)
    )


def split_chunk(chunk: Chunk, *, model: str) -> tuple[Chunk, Chunk]:
    """Split a chunk in two halves (by parts, else by lines); ValueError if it cannot split.

    Several parts are divided between the halves; a single part is cut between its hunks,
    and a single hunk between its lines (the second half shows the lines before it as
    context, like a planned slice). The halves keep `index` and extend `split`.
    """
    # A single part's halves lose its read-only context: less to read, the same to review.
    single = replace(chunk.parts[0], context=()) if len(chunk.parts) == 1 else None
    if len(chunk.parts) >= 2:
        costs = [part_tokens(part, model) for part in chunk.parts]
        cut = _balanced_cut(costs)
        halves = (chunk.parts[:cut], chunk.parts[cut:])
    elif single is not None and len(single.hunks) >= 2:
        halves = _split_part_by_hunks(single, model)
    elif single is not None and single.hunks and len(single.hunks[0].lines) >= 2:
        halves = _split_part_by_lines(single, model)
    else:
        raise ValueError(f"chunk {chunk.label} holds a single line: it cannot be split")
    first, second = (
        Chunk(
            index=chunk.index,
            parts=parts,
            estimated_input_tokens=sum(part_tokens(p, model) for p in parts),
            split=(*chunk.split, half),
        )
        for half, parts in enumerate(halves)
    )
    return first, second


def _balanced_cut(costs: Sequence[int]) -> int:
    """Return the index in 1..len-1 that splits `costs` into the two most even sums."""
    total = sum(costs)
    best, best_gap, running = 1, None, 0
    for cut in range(1, len(costs)):
        running += costs[cut - 1]
        gap = abs(total - 2 * running)
        if best_gap is None or gap < best_gap:
            best, best_gap = cut, gap
    return best


def _split_part_by_hunks(part: ChunkPart, model: str) -> tuple[tuple[ChunkPart], tuple[ChunkPart]]:
    cut = _balanced_cut([estimate_from_size(*hunk_size(h), model) for h in part.hunks])
    numbers = ((1, 2), (2, 2)) if part.parts == 1 else ((part.part, part.parts),) * 2
    first = replace(part, hunks=part.hunks[:cut], part=numbers[0][0], parts=numbers[0][1])
    second = replace(
        part, hunks=part.hunks[cut:], overlap=(), part=numbers[1][0], parts=numbers[1][1]
    )
    return (first,), (second,)


def _split_part_by_lines(part: ChunkPart, model: str) -> tuple[tuple[ChunkPart], tuple[ChunkPart]]:
    hunk = part.hunks[0]
    cut = _balanced_cut([line_size(line) for line in hunk.lines])
    numbers = ((1, 2), (2, 2)) if part.parts == 1 else ((part.part, part.parts),) * 2
    before = part.overlap + hunk.lines.as_tuple()[:cut]
    first = replace(part, hunks=(_slice(hunk, 0, cut),), part=numbers[0][0], parts=numbers[0][1])
    second = replace(
        part,
        hunks=(_slice(hunk, cut, len(hunk.lines)),),
        overlap=before[-OVERLAP_LINES:],
        part=numbers[1][0],
        parts=numbers[1][1],
    )
    return (first,), (second,)


def _slice(hunk: Hunk, start: int, end: int) -> Hunk:
    """Return lines `start`..`end` of `hunk` as a hunk of their own, with a true header."""
    lines = hunk.lines[start:end]
    # Where the slice starts in each file: the number after the last line before it.
    next_old = hunk.old_start if hunk.old_count else hunk.old_start + 1
    next_new = hunk.new_start if hunk.new_count else hunk.new_start + 1
    for index in range(start - 1, -1, -1):
        line = hunk.lines[index]
        if line.kind != "added" and line.old_line is not None:
            next_old = line.old_line + 1
            break
    for index in range(start - 1, -1, -1):
        line = hunk.lines[index]
        if line.kind != "removed" and line.new_line is not None:
            next_new = line.new_line + 1
            break
    old_count = sum(1 for line in lines if line.kind != "added")
    new_count = sum(1 for line in lines if line.kind != "removed")
    # A range of no lines names the line before it, as in `@@ -0,0 +1,3 @@`.
    return Hunk(
        old_start=next_old if old_count else next_old - 1,
        old_count=old_count,
        new_start=next_new if new_count else next_new - 1,
        new_count=new_count,
        section=hunk.section,
        lines=lines,
    )


def _weight(size: tuple[int, int]) -> int:
    """The weight (see tokens.weight_capacity) of (bytes, newlines) of rendered text."""
    return size[0] + 3 * size[1]


def _split_file(diff: FileDiff, budget: int, model: str) -> list[ChunkPart]:
    """Cut a file too large for one chunk into parts that each fit `budget`.

    Hunks fill parts in order; a hunk too large for a part of its own is cut into line
    slices. Sizes are upper bounds of what `render_part` will produce (the `PART:` numbers
    and the gutters of a slice can only be narrower), so each part's estimate stays in budget.
    """
    # The estimate counts a text's newlines plus one as its lines: that one is reserved here.
    capacity = weight_capacity(budget, model) - 3
    total_lines = sum(len(h.lines) for h in diff.hunks)
    # Each part owns at least one line, so there are at most `total_lines` parts; the +1 is
    # the blank line that ends every part.
    most = max(2, total_lines)
    header = render_file_header(diff.path, diff.status, diff.old_path, most, most)
    header_weight = _weight((utf8_length(header) + 1, header.count("\n") + 1))

    groups: list[tuple[list[Hunk], tuple[DiffLine, ...]]] = []
    current: list[Hunk] = []
    overlap: tuple[DiffLine, ...] = ()
    used = header_weight

    def flush() -> None:
        nonlocal current, overlap, used
        if current:
            groups.append((current, overlap))
        current, overlap, used = [], (), header_weight

    for hunk in diff.hunks:
        weight = _weight(hunk_size(hunk))
        if used + weight > capacity and current and header_weight + weight <= capacity:
            flush()
        if used + weight <= capacity:
            current.append(hunk)
            used += weight
            continue
        slices, last = _line_slices(hunk, used, header_weight, capacity, fresh=not current)
        for start, end, keep, new_part in slices:
            if new_part:
                flush()
                overlap = hunk.lines.as_tuple()[start - keep : start]
            current.append(_slice(hunk, start, end))
        used = last  # the last slice's part stays open for the hunks after it
    flush()
    return [
        ChunkPart(diff.path, diff.status, tuple(hunks), diff.old_path, lines, n + 1, len(groups))
        for n, (hunks, lines) in enumerate(groups)
    ]


def _line_slices(
    hunk: Hunk, used: int, header_weight: int, capacity: int, *, fresh: bool
) -> tuple[list[tuple[int, int, int, bool]], int]:
    """Cut `hunk` into (start, end, overlap lines kept, starts a new part) slices.

    The first slice goes into the part being filled (of weight `used`; `fresh` if it holds
    nothing yet) when one line fits there; every later slice starts a part of its own, after
    up to `OVERLAP_LINES` lines of context (fewer when the budget is tight). Also returns
    the weight of the last slice's part. Raises ValueError when one line cannot fit.
    """
    width = line_width(hunk.lines)
    # Each line: its bytes, its newline, and 3 for the line itself.
    prefix = list(accumulate((line_size(line) + 4 for line in hunk.lines), initial=0))
    # A slice's `@@` numbers are at most the hunk's largest number and its line count.
    largest = max(
        hunk.old_start + hunk.old_count,
        hunk.new_start + hunk.new_count,
        len(hunk.lines),
        10**width - 1,
    )
    at_most = replace(
        hunk, old_start=largest, old_count=largest, new_start=largest, new_count=largest
    )
    hunk_header = render_hunk_header(at_most)
    hunk_header_weight = _weight((utf8_length(hunk_header), 1))
    frame = _weight((len(OVERLAP_OPEN + OVERLAP_CLOSE), 2))

    slices: list[tuple[int, int, int, bool]] = []
    start = 0
    while start < len(hunk.lines):
        new_part = start > 0
        keep = min(OVERLAP_LINES, start)
        while True:
            base = (header_weight if new_part else used) + hunk_header_weight
            if keep:
                base += frame + prefix[start] - prefix[start - keep]
            if base + prefix[start + 1] - prefix[start] <= capacity:
                break
            if keep:
                keep -= 1
            elif not new_part and not fresh:
                new_part = True
            else:
                raise ValueError(
                    "the token budget cannot hold a file header and one line of "
                    f"{len(hunk.lines)}-line hunk @@ -{hunk.old_start} +{hunk.new_start}; "
                    "raise the budget"
                )
        # The last `end` with base + weight of lines start..end within capacity.
        end = bisect_right(prefix, capacity - base + prefix[start], lo=start + 1) - 1
        slices.append((start, end, keep, new_part))
        used = base + prefix[end] - prefix[start]
        start = end
    return slices, used


class _FirstFit:
    """First-fit bin packing in O(log n) per item: a max-tree over the bins' free room."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.count = 0
        self.leaves = 1
        self.tree = [0, 0]  # tree[leaves + i] is bin i's free room; an unopened bin has 0

    def place(self, cost: int) -> int:
        """Put an item of `cost` (at most the capacity) in the first bin with room."""
        if self.tree[1] >= cost:
            node = 1
            while node < self.leaves:
                node = 2 * node if self.tree[2 * node] >= cost else 2 * node + 1
            slot = node - self.leaves
        else:
            slot = self.count
            self.count += 1
            if slot == self.leaves:
                free = self.tree[self.leaves :]
                self.leaves *= 2
                self.tree = [0] * (2 * self.leaves)
                self.tree[self.leaves : self.leaves + len(free)] = free
                for node in range(self.leaves - 1, 0, -1):
                    self.tree[node] = max(self.tree[2 * node], self.tree[2 * node + 1])
            self.tree[self.leaves + slot] = self.capacity
        node = self.leaves + slot
        self.tree[node] -= cost
        node //= 2
        while node:
            self.tree[node] = max(self.tree[2 * node], self.tree[2 * node + 1])
            node //= 2
        return slot

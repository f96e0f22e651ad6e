"""Derive the objects / organisms / dogs split of the 1000 ImageNet-1k classes from WordNet 3.0.

ImageNet names its classes by WordNet 3.0 noun synsets: ``n01440764`` is the synset at byte
offset 01440764 of WordNet's ``data.noun``. A class is

- an **organism** when ``organism.n.01`` (n00004475) is among its hypernyms (``@`` and
  instance ``@i`` pointers, followed transitively through every parent);
- a **dog** when ``dog.n.01`` (n02084071) is among them (every dog is also an organism);
- an **object** otherwise.

The table is written to ``src/misclass/data/resources/imagenet_groups.csv`` (columns
``index, wnid, group, is_dog``), which misclass ships, so users need no WordNet at run time.
Only this script needs WordNet: on Debian ``apt-get install wordnet-base`` puts its database
under ``/usr/share/wordnet``. The 1000 class ids in standard (sorted) order come from
``--classes`` (a file with one wnid per line, optionally ``wnid,name``), by default from the
installed ``imagenet-x`` package.

Usage::

    python scripts/make_imagenet_groups.py [--wordnet /usr/share/wordnet] [--check]

``--check`` compares the derived table with the shipped one and exits 1 when they differ.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

ORGANISM = "00004475"  # organism.n.01
DOG = "02084071"  # dog.n.01
HYPERNYM_POINTERS = {"@", "@i"}
OUT = Path(__file__).resolve().parents[1] / "src" / "misclass" / "data" / "resources" / "imagenet_groups.csv"


def read_hypernyms(data_noun: Path) -> dict[str, list[str]]:
    """Map each noun synset offset to the offsets of its direct hypernyms.

    A ``data.noun`` line is ``offset lex_filenum ss_type w_cnt word lex_id ... p_cnt
    [pointer_symbol offset pos source/target]... | gloss``; ``w_cnt`` is hexadecimal,
    ``p_cnt`` decimal. License header lines start with two spaces.
    """
    parents: dict[str, list[str]] = {}
    with data_noun.open(encoding="latin-1") as fh:
        for line in fh:
            if line.startswith("  "):
                continue
            fields = line.split(" | ", 1)[0].split()
            offset, w_cnt = fields[0], int(fields[3], 16)
            pos = 4 + 2 * w_cnt
            p_cnt = int(fields[pos])
            ptrs = fields[pos + 1: pos + 1 + 4 * p_cnt]
            parents[offset] = [ptrs[i + 1] for i in range(0, len(ptrs), 4)
                               if ptrs[i] in HYPERNYM_POINTERS and ptrs[i + 2] == "n"]
    return parents


def ancestors(offset: str, parents: dict[str, list[str]]) -> set[str]:
    """Every transitive hypernym of ``offset`` (not including itself)."""
    seen: set[str] = set()
    stack = list(parents.get(offset, []))
    while stack:
        p = stack.pop()
        if p not in seen:
            seen.add(p)
            stack.extend(parents.get(p, []))
    return seen


def first_lemma(data_noun: Path, offsets: set[str]) -> dict[str, str]:
    """The first word of each synset in ``offsets`` (for the printed check)."""
    out = {}
    with data_noun.open(encoding="latin-1") as fh:
        for line in fh:
            if line[:8] in offsets:
                out[line[:8]] = line.split()[4]
    return out


def default_wnids() -> list[str]:
    """The 1000 wnids in standard order, from the installed ``imagenet-x`` package."""
    from importlib import resources

    try:
        text = (resources.files("imagenet_x") / "annotations" / "imagenet_labels.txt").read_text()
    except ModuleNotFoundError:
        sys.exit("imagenet-x is not installed: pass --classes FILE (one wnid per line)")
    return [line.split(",", 1)[0].strip() for line in text.splitlines() if line.strip()]


def make_table(wnids: list[str], parents: dict[str, list[str]]) -> list[dict[str, object]]:
    """One row per class: index, wnid, group (organism / object), is_dog."""
    rows = []
    for index, wnid in enumerate(wnids):
        offset = wnid[1:]
        if not wnid.startswith("n") or offset not in parents:
            sys.exit(f"class {index}: {wnid!r} is not a WordNet 3.0 noun synset")
        up = ancestors(offset, parents) | {offset}
        is_dog = DOG in up
        group = "organism" if ORGANISM in up else "object"
        if is_dog and group != "organism":
            sys.exit(f"class {index} ({wnid}) is a dog but not an organism: WordNet is not 3.0?")
        rows.append({"index": index, "wnid": wnid, "group": group, "is_dog": int(is_dog)})
    return rows


def to_csv(rows: list[dict[str, object]]) -> str:
    """The table as CSV text with a header."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=["index", "wnid", "group", "is_dog"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    """Derive the table, print the counts and the dog check, write (or --check) it."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--wordnet", type=Path, default=Path("/usr/share/wordnet"),
                    help="folder holding WordNet 3.0's data.noun")
    ap.add_argument("--classes", type=Path, help="the 1000 wnids, one per line (wnid[,name])")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--check", action="store_true", help="compare with --out instead of writing it")
    args = ap.parse_args(argv)

    data_noun = args.wordnet / "data.noun"
    if not data_noun.exists():
        sys.exit(f"{data_noun} not found: install WordNet 3.0 (apt-get install wordnet-base)")
    if args.classes:
        wnids = [ln.split(",", 1)[0].strip() for ln in args.classes.read_text().splitlines() if ln.strip()]
    else:
        wnids = default_wnids()
    if len(wnids) != 1000 or wnids != sorted(wnids):
        sys.exit(f"expected the 1000 ImageNet-1k wnids in sorted order, got {len(wnids)}")
    parents = read_hypernyms(data_noun)
    rows = make_table(wnids, parents)
    text = to_csv(rows)

    counts = {g: sum(r["group"] == g for r in rows) for g in ("object", "organism")}
    dogs = [r["index"] for r in rows if r["is_dog"]]
    print(f"objects {counts['object']}, organisms {counts['organism']}, dogs {len(dogs)} "
          f"(indices {min(dogs)}..{max(dogs)})")
    outside = sorted(set(dogs) ^ set(range(151, 269)))
    if outside:
        names = first_lemma(data_noun, {wnids[i][1:] for i in outside})
        for i in outside:
            where = "dog in WordNet, outside 151..268" if i in dogs else "in 151..268, not a dog in WordNet"
            print(f"  class {i} {wnids[i]} {names[wnids[i][1:]]}: {where}")

    if args.check:
        same = args.out.exists() and args.out.read_text() == text
        print(f"{args.out}: {'matches' if same else 'DIFFERS from'} the derived table")
        return 0 if same else 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

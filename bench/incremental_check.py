"""Incremental digests on the real-world corpus: exact, and what they save.

    python bench/incremental_check.py [--corpus PATH] [--change remove|edit]

For every realworld feed whose XML has at least two items: digest the
document with its first item removed (``remove``, default) or with its first
item's title edited (``edit``), as if stored; then digest the real document
with the memory that left, and whole. The incremental digest must give the
same entries as the whole one for every item it cleans, and for every item it
keeps the same guid, URL and date (and a stored hash the whole digest would
give). Prints how many feeds took each path and the CPU time of both digests
(parse included: it is the same in both). Exit 1 on any difference.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from lxml import etree  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from boilerplate_audit import DEFAULT_CORPUS  # noqa: E402

from feedd import digest  # noqa: E402
from feedd.errors import ParseError  # noqa: E402

_SAFE = etree.XMLParser(resolve_entities=False, no_network=True)


def previous_version(body: bytes, change: str) -> bytes | None:
    """The document as it was before (first item removed or its title edited);
    None when it is not well-formed XML or has fewer than two items."""
    try:
        root = etree.fromstring(body, _SAFE)
    except etree.XMLSyntaxError:
        return None
    items = [
        node
        for node in root.iter()
        if isinstance(node.tag, str) and etree.QName(node).localname in ("item", "entry")
    ]
    if len(items) < 2:
        return None
    if change == "remove":
        items[0].getparent().remove(items[0])
    else:
        titles = [
            n for n in items[0] if isinstance(n.tag, str) and etree.QName(n).localname == "title"
        ]
        if not titles:
            return None
        titles[0].text = (titles[0].text or "") + " (edited)"
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


def differences(incremental: digest.Digest, whole: digest.Digest) -> list[str]:
    by_guid = {entry.guid: entry for entry in whole.entries}
    found = [f"cleaned {e.guid!r} differs" for e in incremental.entries if by_guid.get(e.guid) != e]
    for kept in incremental.kept:
        entry = by_guid.get(kept.guid)
        if entry is None or (entry.url, entry.published_at) != (kept.url, kept.published_at):
            found.append(f"kept {kept.guid!r} differs")
        elif entry.raw_hash != kept.raw_hash:
            found.append(f"kept {kept.guid!r} was not stored as the whole digest stores it")
    if len(incremental.entries) + len(incremental.kept) != len(whole.entries):
        found.append("not the same number of items")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--change", choices=("remove", "edit"), default="remove")
    args = parser.parse_args(argv)
    folder = args.corpus / "realworld"
    if not folder.is_dir():
        print(f"incremental_check: no corpus at {args.corpus} (pass --corpus or set FEEDD_CORPUS)")
        return 2
    counts = dict.fromkeys(("feeds", "incremental", "whole", "items cleaned", "items kept"), 0)
    seconds = {"whole": 0.0, "incremental": 0.0}
    failures = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "INDEX.tsv"):
        body, url = path.read_bytes(), f"https://example.org/{path.name}"
        before = previous_version(body, args.change)
        if before is None:
            continue
        try:
            stored = digest.digest(before, url, None)
        except ParseError:
            continue
        assert stored.state is not None
        memory = digest.Memory.from_state(stored.state)
        assert memory is not None
        started = time.process_time()
        whole = digest.digest(body, url, None)
        seconds["whole"] += time.process_time() - started
        started = time.process_time()
        incremental = digest.digest(body, url, None, memory)
        seconds["incremental"] += time.process_time() - started
        counts["feeds"] += 1
        if not incremental.kept:  # it cleaned the whole document
            counts["whole"] += 1
            if incremental.entries != whole.entries:
                failures.append(f"{path.name}: whole digests differ")
            continue
        counts["incremental"] += 1
        counts["items cleaned"] += len(incremental.entries)
        counts["items kept"] += len(incremental.kept)
        failures += [f"{path.name}: {d}" for d in differences(incremental, whole)]
    print(f"change: {args.change}; {counts}")
    print(
        f"digest CPU over these feeds: whole {seconds['whole']:.2f} s, "
        f"with memory {seconds['incremental']:.2f} s "
        f"({seconds['incremental'] / max(seconds['whole'], 1e-9):.0%})"
    )
    for failure in failures:
        print("DIFFERENT", failure)
    print("exact" if not failures else f"{len(failures)} differences")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

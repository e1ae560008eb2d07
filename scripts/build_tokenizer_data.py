"""Rebuild providers/data/o200k_base.tiktoken.gz (the BPE ranks of OpenAI's o200k_base
encoding, used by providers/tokenizer.py) from the MIT-licensed js-tiktoken package on npm,
so the relay never downloads tokenizer files at run time.

    npm pack js-tiktoken@1.0.21 && tar xzf js-tiktoken-1.0.21.tgz
    python scripts/build_tokenizer_data.py package/dist/ranks/o200k_base.js

The output is tiktoken's own file format: one `<base64 token> <rank>` line per token.
"""

import gzip
import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "providers" / "data" / "o200k_base.tiktoken.gz"


def ranks_from_js(source: str) -> list[tuple[str, int]]:
    """js-tiktoken stores ranks as lines of `<marker> <first rank> <base64> <base64>...`."""
    data = json.loads(source[source.index("{"):source.rindex("}") + 1])
    ranks = []
    for line in data["bpe_ranks"].split("\n"):
        if not line:
            continue
        _marker, first, *tokens = line.split(" ")
        ranks += [(token, int(first) + i) for i, token in enumerate(tokens)]
    return ranks


def main(path: str) -> None:
    ranks = ranks_from_js(Path(path).read_text())
    lines = "".join(f"{token} {rank}\n" for token, rank in sorted(ranks, key=lambda r: r[1]))
    with gzip.GzipFile(OUT, "wb", mtime=0) as out:  # mtime 0: the same input, same bytes
        out.write(lines.encode())
    print(f"{len(ranks)} ranks -> {OUT}")


if __name__ == "__main__":
    main(sys.argv[1])

"""Extraction time on hostile texts: is ``extract()`` linear in the size of its input?

    .venv/bin/python bench/bench_hostile_text.py [--sizes 25000,100000,400000]

Each input is a pattern that once made a rule's cost grow with the square of the text (runs of hyphen- or
apostrophe-joined capitalised words for the organisation patterns; thousands of amounts in one "sentence" for the
party search), and two ordinary ones. Printed: ms per 100 KB at each size, and the growth from the smallest to
the largest size per 100 KB (about 1.0 when linear; a quadratic rule shows the size ratio, 16 for 25 KB -> 400 KB).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CASES = {
    "hyphen-joined capitals": "Aaa-",
    "apostrophe-joined capitals": "Aaa'",
    "amounts, one per sentence": "$1,000 million loan from China to Kazakhstan. ",
    "amounts in one sentence": "$1,000 million loan from China to Kazakhstan, ",
    "capitalised words": "Aaa Bbb ",
    "countries": "Kazakhstan and China. ",
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="25000,100000,400000", help="input sizes in characters")
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    from newswatch.extraction import extract, warm

    warm()
    print(f"{'input':30}" + "".join(f"{f'{n // 1000} KB':>12}" for n in sizes) + f"{'growth':>9}")
    for name, unit in CASES.items():
        per_100k = []
        for n in sizes:
            text = unit * (n // len(unit))
            t0 = time.process_time()
            extract("", text)
            per_100k.append((time.process_time() - t0) * 1000 * 100_000 / len(text))
        print(f"{name:30}" + "".join(f"{ms:9.0f} ms" for ms in per_100k) + f"{per_100k[-1] / per_100k[0]:9.2f}")
    print("(ms of CPU per 100 KB of text; growth: the largest size's ms per 100 KB over the smallest's)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

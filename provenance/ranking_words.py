"""What each document ranking is called, in the words pages, reports and the command line
print. Kept apart from provenance/ranking.py (pandas, numpy, BM25) so `provenance top` can name
its ranking without importing any of them.
"""

from typing import Literal

Ranking = Literal["fused", "specific", "raw"]
RANKINGS: tuple[Ranking, ...] = ("fused", "specific", "raw")
RANKED_BY: dict[Ranking, str] = {
    "fused": "training contribution fused with word overlap",
    "specific": "training contribution (specific value)",
    "raw": "raw Shapley value",
}

"""Ad copy from a product brief: headline, title, description, CTA and a picture idea.

The stage's package is ``adseed.copy`` (it shadows the standard library's ``copy``
only under this name; inside adseed, import it absolutely). Entry points:

- :func:`adseed.copy.service.headline_and_cta` — a brief's headline and CTA for
  ``adseed generate --brief`` (offline, no workspace);
- :meth:`adseed.Workspace.write_copy` / ``adseed copy BRIEF`` — every variant,
  checked and stored in the Delta table ``copy``.
"""

from adseed.copy.base import CopyVariant, CopyWriter, build_writer, problems
from adseed.copy.brief import Brief, InvalidBrief, load_brief, parse_brief
from adseed.copy.placements import PLACEMENTS, Placement, get_placement
from adseed.copy.service import CopyRun, headline_and_cta, write_copy

__all__ = [
    "PLACEMENTS",
    "Brief",
    "CopyRun",
    "CopyVariant",
    "CopyWriter",
    "InvalidBrief",
    "Placement",
    "build_writer",
    "get_placement",
    "headline_and_cta",
    "load_brief",
    "parse_brief",
    "problems",
    "write_copy",
]

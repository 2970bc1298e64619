"""docs/relational.md shows every analytics query of sql/analytics/ exactly as the file holds it."""

from __future__ import annotations

import re

from prism_local.analytics import ANALYTICS_DIR, analytics_queries
from prism_local.config import REPO_ROOT

DOC = REPO_ROOT / "docs" / "relational.md"

#: A query in the doc: its file's path in backticks on a line of its own, then the file's text in a sql block.
NAMED_BLOCK = re.compile(r"^`sql/analytics/(?P<name>[a-z0-9_]+)\.sql`:\n\n```sql\n(?P<sql>.*?)^```$", re.M | re.S)


def documented_queries() -> dict[str, str]:
    text = DOC.read_text(encoding="utf-8")
    blocks: dict[str, str] = {}
    for match in NAMED_BLOCK.finditer(text):
        assert match["name"] not in blocks, f"{match['name']}.sql is shown twice in {DOC.name}"
        blocks[match["name"]] = match["sql"]
    return blocks


def test_the_doc_shows_every_analytics_file_and_no_other() -> None:
    files = analytics_queries()

    assert set(files) == {"revenue_per_day", "stock_by_category", "top_customers"}
    assert set(documented_queries()) == set(files), f"{DOC.name} and {ANALYTICS_DIR} name different queries"


def test_each_documented_query_is_its_file_verbatim() -> None:
    files = analytics_queries()

    for name, sql in documented_queries().items():
        assert sql == files[name], f"{DOC.name} shows another {name}.sql than sql/analytics/ holds"


def test_analytics_section_has_no_unnamed_sql_block() -> None:
    section = DOC.read_text(encoding="utf-8").split("\n## Analytics queries\n", 1)[1]

    assert section.count("```sql\n") == len(NAMED_BLOCK.findall(section)), "every sql block names its file"

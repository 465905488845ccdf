"""Sphinx extension: the book's Results page, generated from the chapters' recorded results.

Each chapter records its headline numbers, its run time and its device with
``nblib.start(...)`` / ``run.record(...)`` / ``run.finish()`` into ``_build/results/<chapter>.json``
(``$NBLIB_RESULTS_DIR`` overrides the folder). The page ``appendix/results.md`` holds one
directive::

    ```{results-page}
    ```

which this extension replaces, once every chapter has been read (and so executed), by:

1. for each chapter, a table of its headline numbers beside the published figures they are
   compared with, with the citation and the difference;
2. a table of each chapter's run time, device, torch version and settings;
3. one figure: this book's numbers against the published ones.

The directive leaves a placeholder at read time; the tables are built in ``doctree-resolved``,
which runs after all documents (chapters included) have been read, so the page always shows
the results of the chapters executed in the same build. The page is re-read on every build.
A chapter of the table of contents with no recorded results, or with smoke-mode results, is
a warning (a build with ``-W`` fails): the page never shows stale or meaningless numbers
silently.
"""
from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from nblib.results import format_value

logger = logging.getLogger(__name__)

PAGE = "appendix/results"


class results_placeholder(nodes.General, nodes.Element):
    """Stands where the results go until every chapter has run."""


class ResultsPage(SphinxDirective):
    has_content = False

    def run(self):
        return [results_placeholder()]


def results_dir(app: Sphinx) -> Path:
    env = os.environ.get("NBLIB_RESULTS_DIR")
    return Path(env) if env else Path(app.srcdir) / "_build" / "results"


def _chapters(app: Sphinx) -> list[str]:
    """Stems of the notebook chapters, in the reading order of the table of contents."""
    return [d.split("/", 1)[1] for d in _toc_order(app) if d.startswith("chapters/")]


def _toc_order(app: Sphinx) -> dict[str, int]:
    seen: list[str] = []

    def walk(doc: str) -> None:
        if doc in seen:
            return
        seen.append(doc)
        for child in app.env.toctree_includes.get(doc, []):
            walk(child)

    walk(app.config.root_doc)
    return {d: i for i, d in enumerate(seen)}


def _fmt(value, unit: str) -> str:
    return "" if value is None else format_value(value, unit)


def _table(header: list[str], rows: list[list[nodes.Node | str]], widths: list[int]) -> nodes.table:
    table = nodes.table(classes=["results-table"])
    group = nodes.tgroup(cols=len(header))
    table += group
    for w in widths:
        group += nodes.colspec(colwidth=w)
    head = nodes.thead()
    group += head
    row = nodes.row()
    for text in header:
        row += nodes.entry("", nodes.paragraph(text=text))
    head += row
    body = nodes.tbody()
    group += body
    for cells in rows:
        row = nodes.row()
        for cell in cells:
            entry = nodes.entry()
            entry += cell if isinstance(cell, nodes.Node) else nodes.paragraph(text=cell)
            row += entry
        body += row
    return table


def _figure_svg(comparisons: list[tuple[str, float, float]],
                runs: list[tuple[str, float]]) -> str:
    """Left: this book's numbers beside the published ones. Right: each chapter's run time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = max(len(comparisons), len(runs), 2)
    fig, (ax_c, ax_t) = plt.subplots(1, 2, figsize=(10, 1.4 + 0.45 * rows),
                                     gridspec_kw={"width_ratios": [3, 2]})
    names = [c[0] for c in comparisons]
    ours = [c[1] for c in comparisons]
    theirs = [c[2] for c in comparisons]
    y = range(len(names))
    ax_c.barh([i - 0.2 for i in y], ours, height=0.4, color="#0072B2", label="this book")
    ax_c.barh([i + 0.2 for i in y], theirs, height=0.4, color="#E69F00", label="published")
    for i, (a, b) in enumerate(zip(ours, theirs)):
        ax_c.text(a, i - 0.2, f" {a:.1f}", va="center", fontsize=9)
        ax_c.text(b, i + 0.2, f" {b:.1f}", va="center", fontsize=9)
    ax_c.set_yticks(list(y), names, fontsize=9)
    ax_c.set_xlim(0, 1.2 * max(ours + theirs, default=1))
    ax_c.invert_yaxis()
    ax_c.set_title("Against the published figures", fontsize=11)
    ax_c.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, fontsize=9,
                frameon=False)
    stems = [r[0] for r in runs]
    seconds = [r[1] for r in runs]
    ax_t.barh(range(len(stems)), seconds, color="#009E73")
    for i, s in enumerate(seconds):
        ax_t.text(s, i, f" {s:.0f} s", va="center", fontsize=9)
    ax_t.set_yticks(range(len(stems)), stems, fontsize=9)
    ax_t.set_xlim(0, 1.25 * max(seconds, default=1))
    ax_t.invert_yaxis()
    ax_t.set_xlabel("seconds")
    ax_t.set_title("Run time of each chapter", fontsize=11)
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    plt.close(fig)
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]  # drop the XML prolog: the SVG is inlined in HTML
    # scale to the page's column (the viewBox keeps the proportions)
    return re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r'<svg\1 width="100%"', svg, count=1)


def _section(key: str, title: str, *body: nodes.Node) -> nodes.section:
    section = nodes.section(ids=[f"results-{key}"])
    section += nodes.title(text=title)
    for node in body:
        section += node
    return section


def _name(text: str) -> nodes.paragraph:
    return nodes.paragraph("", "", nodes.literal(text=text))


def _content(app: Sphinx) -> list[nodes.Node]:
    folder = results_dir(app)
    recorded = []
    for stem in _chapters(app):
        path = folder / f"{stem}.json"
        if not path.is_file():
            logger.warning(f"Results page: no recorded results for {stem} in {path}; execute the "
                           f"chapter (make test, or make book after deleting _build/.jupyter_cache)",
                           location=PAGE)
            continue
        data = json.loads(path.read_text())
        if data.get("smoke"):
            logger.warning(f"Results page: {path} holds smoke-mode results (not meaningful); "
                           f"execute {stem} at full settings", location=PAGE)
        recorded.append((stem, data))

    compared, pairs, sources, runs, figure_runs, chapters = [], [], [], [], [], []
    for stem, data in recorded:
        results = dict(data.get("results", {}))
        run_time = results.pop("run_time", None)
        runs.append([stem, _fmt(run_time["value"], "s") if run_time else "(unfinished)",
                     data.get("device", "?"), data.get("torch", "?"),
                     "smoke" if data.get("smoke") else "full"])
        if run_time:
            figure_runs.append((stem, float(run_time["value"])))
        for name, r in results.items():
            if r.get("published") is not None:
                unit = r.get("unit", "")
                if r["source"] not in sources:
                    sources.append(r["source"])
                ref = sources.index(r["source"]) + 1
                compared.append([_name(f"{stem}: {name}"), _fmt(r["value"], unit),
                                 f"{_fmt(r['published'], unit)} [{ref}]",
                                 f"{r['value'] - r['published']:+.3g} {unit}".strip()])
                pairs.append((f"{stem}: {name}", float(r["value"]), float(r["published"])))
        if results:
            rows = [[_name(name), _fmt(r["value"], r.get("unit", ""))]
                    for name, r in results.items()]
            chapters.append(_section(stem, stem, _table(["result", "this book"], rows, [40, 20])))

    intro = nodes.paragraph(text="Each number beside the figure a paper or reference project "
                                 "reports for the same task; the chapter says where they differ "
                                 "and why.")
    table = _table(["result", "this book", "published", "difference"], compared,
                   [40, 14, 14, 14])
    cited = nodes.enumerated_list()
    for source in sources:
        cited += nodes.list_item("", nodes.paragraph(text=source))
    figure = nodes.raw("", f'<div class="results-figure">{_figure_svg(pairs, figure_runs)}</div>',
                       format="html")
    out = [_section("published", "Against the published figures", intro, table, cited, figure)]
    out.append(_section("run-times", "Run time and device of each chapter",
                        nodes.paragraph(text="Wall time of the whole chapter at the settings "
                                             "shown, as recorded by its last cell."),
                        _table(["chapter", "run time", "device", "torch", "settings"], runs,
                               [20, 12, 24, 14, 10])))
    out.append(_section("all", "Every recorded number, by chapter",
                        nodes.paragraph(text="What each chapter records and asserts; its prose "
                                             "quotes these values."),
                        *chapters))
    return out


def _resolve(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    for node in list(doctree.findall(results_placeholder)):
        node.replace_self(_content(app))


def _always_reread(app, env, added, changed, removed):
    return [PAGE] if PAGE in env.found_docs else []


def setup(app: Sphinx) -> dict:
    app.add_node(results_placeholder)
    app.add_directive("results-page", ResultsPage)
    app.connect("doctree-resolved", _resolve)
    app.connect("env-get-outdated", _always_reread)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}

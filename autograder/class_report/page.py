"""The class report's page: ``OUT/report.html``, one self-contained file.

The numbers come from :func:`autograder.class_report.stats.class_stats` and the figures from
:mod:`autograder.class_report.figures` (embedded as base64 PNG); this module lays them out (inline
CSS, no scripts, nothing fetched: it opens offline from a file). The CSV, the run info and the files
are :mod:`autograder.class_report.files`. Every text that comes
from a submission (names, messages, hints) is escaped with :func:`html.escape`. The report names
students, so it belongs in ``OUT`` only: it is never copied into feedback, Gradescope output or
anything else students see.
"""

from __future__ import annotations

import html
import re
import statistics
from typing import Any

from autograder.class_report.figures import (
    POINTS_COLOURS,
    points_alt,
    points_figure,
    time_alt,
    time_figure,
)
from autograder.class_report.stats import (
    AssignmentStats,
    ClassStats,
    summary,
)
from autograder.grading.similarity import MIN_NODES
from autograder.status import Status

__all__ = ["class_report_html"]

#: Rows shown per function in the message table (the CSV has all of them).
_MESSAGES_SHOWN = 8
#: Student names shown per similarity cluster in the HTML (the CSV has all of them).
_NAMES_SHOWN = 40


# ----------------------------------------------------------------------------------- run settings


def _img(data: str, alt: str) -> str:
    return f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{data}'>"


# ----------------------------------------------------------------------------------- HTML
_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#222;max-width:72em;
margin:1.5em auto;padding:0 1em;line-height:1.4}
h1{font-size:1.6em;margin-bottom:.1em}
h2{border-bottom:2px solid #3949ab;padding-bottom:.15em;margin-top:1.6em}
h3{margin-bottom:.3em}.sub{color:#666;margin-top:0}
.cards{display:flex;gap:.8em;flex-wrap:wrap;margin:1em 0}
.card{background:#f3f4fb;border-radius:8px;padding:.6em 1.1em;min-width:8em}
.card b{display:block;font-size:1.7em}.card.bad b{color:#c62828}.card.warn b{color:#ef6c00}
table{border-collapse:collapse;margin:.4em 0 1em;font-size:.92em}
th,td{border-bottom:1px solid #ddd;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#eef0f8}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.zero{color:#bbb}.bar{display:inline-block;height:.7em;background:#c62828;border-radius:2px;margin-right:.4em}
.hint{color:#444;font-size:.9em;min-width:28em;max-width:44em}
code{background:#f4f4f4;padding:0 .2em;border-radius:3px}
.note{background:#fff8e1;border-left:4px solid #f9a825;padding:.5em .9em;margin:.6em 0}
.ok{color:#2e7d32}.muted{color:#888}img{max-width:100%}
details summary{cursor:pointer;color:#3949ab}
"""


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(value: float | None, fmt: str = "{:.3g}") -> str:
    return "-" if value is None else fmt.format(value)


def _summary_section(stats: ClassStats) -> str:
    cards = [
        ("found", stats.found, ""),
        ("graded", stats.graded, ""),
        ("not graded (grader error)", stats.not_graded, "bad" if stats.not_graded else ""),
        ("unreadable", stats.unreadable, "warn" if stats.unreadable else ""),
    ]
    out = ["<h2>Summary</h2><div class='cards'>"]
    out += [f"<div class='card {cls}'><b>{n}</b>{_esc(label)}</div>" for label, n, cls in cards]
    out.append("</div>")
    for title, reasons in (("Unreadable", stats.unreadable_reasons), ("Not graded", stats.grader_errors)):
        if reasons:
            rows = "".join(f"<tr><td>{_esc(r)}</td><td class='n'>{c}</td></tr>" for r, c in reasons.items())
            out.append(
                f"<h3>{title}: reasons</h3><table><tr><th>reason</th><th>count</th></tr>{rows}</table>"
            )
    out.append(
        "<table><tr><th>assignment</th><th>found</th><th>graded</th><th>mean</th><th>median</th>"
        "<th>min</th><th>max</th><th>out of</th></tr>"
    )
    for a in stats.assignments:
        s = summary(a.totals)
        out.append(
            f"<tr><td>{_esc(a.assignment)}</td><td class='n'>{a.found}</td><td class='n'>{a.graded}</td>"
            + "".join(f"<td class='n'>{_num(v, '{:.2f}')}</td>" for v in (s.mean, s.median, s.min, s.max))
            + f"<td class='n'>{a.max_score:g}</td></tr>"
        )
    out.append("</table>")
    out.append(_run_table(stats.run))
    return "".join(out)


def _plain(value: Any) -> str:
    return f"{value:g}" if isinstance(value, int | float) and not isinstance(value, bool) else str(value)


def _run_table(run: dict[str, Any]) -> str:
    if not run:
        return "<p class='muted'>Run settings unknown (no run.json in the output folder).</p>"
    refs = run.get("reference_set", "?")
    seed = f"seed {run['seed']}" if run.get("seed") is not None else "seed not shown"
    limits = run.get("limits", {})
    protections = run.get("protections", {})
    rows = [
        ("reference set", f"{refs} ({seed}; inputs digest {run.get('seed_digest', '?')})"),
        ("built with", ", ".join(f"{k} {v}" for k, v in run.get("references", {}).items() if k != "built")),
        ("limits", ", ".join(f"{k.replace('_', ' ')} {_plain(v)}" for k, v in limits.items())),
        ("graded", f"{run.get('written', '?')} with {run.get('workers', '?')} worker(s)"),
    ]
    body = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in rows)
    if protections:
        detail = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in protections.items())
        names = ", ".join(_esc(k) for k in protections)
        body += (
            f"<tr><th>isolation</th><td><details><summary>{len(protections)} protections active: {names}"
            f"</summary><table>{detail}</table></details></td></tr>"
        )
    else:
        body += "<tr><th>isolation</th><td>unknown</td></tr>"
    return f"<h3>Run</h3><table>{body}</table>"


def _mistakes_section(a: AssignmentStats) -> str:
    out = [
        "<h3>Most frequent mistakes</h3><p class='sub'>Known classic mistakes recognised by the checks, "
        f"as a share of the {a.graded} graded submissions, with the hint those students received.</p>"
    ]
    rows = [(f, m) for f in a.functions for m in f.mistakes]
    if not rows:
        return out[0] + "<p class='ok'>No known mistake was detected.</p>"
    out.append(
        "<table><tr><th>function</th><th>mistake</th><th>students</th><th>% of class</th><th>hint</th></tr>"
    )
    for f, m in sorted(rows, key=lambda fm: (-fm[1].count, fm[0].function, fm[1].mistake)):
        bar = f"<span class='bar' aria-hidden='true' style='width:{min(m.percent, 100) * 1.2:.0f}px'></span>"
        out.append(
            f"<tr><td><code>{_esc(f.function)}</code></td><td><b>{_esc(m.label or m.mistake)}</b></td>"
            f"<td class='n'>{m.count}</td><td class='n'>{bar}{m.percent:.0f}%</td>"
            f"<td class='hint'>{_esc(m.hint)}</td></tr>"
        )
    out.append("</table>")
    return "".join(out)


def _messages_section(a: AssignmentStats) -> str:
    out = [
        "<h3>Most frequent messages</h3><p class='sub'>Errors, timeouts and failures that match no known "
        "mistake, normalized (numbers shown as N).</p>"
    ]
    rows = [(f, m) for f in a.functions for m in f.messages[:_MESSAGES_SHOWN]]
    if not rows:
        return out[0] + "<p class='ok'>None.</p>"
    out.append("<table><tr><th>function</th><th>message</th><th>students</th><th>% of class</th></tr>")
    for f, m in rows:
        out.append(
            f"<tr><td><code>{_esc(f.function)}</code></td><td><code>{_esc(m.message)}</code></td>"
            f"<td class='n'>{m.count}</td><td class='n'>{m.percent:.0f}%</td></tr>"
        )
    out.append("</table>")
    hidden = sum(max(0, len(f.messages) - _MESSAGES_SHOWN) for f in a.functions)
    if hidden:
        out.append(f"<p class='muted'>{hidden} rarer message(s) are in report.csv.</p>")
    return "".join(out)


def _functions_section(a: AssignmentStats) -> str:
    head = "".join(f"<th>{_esc(s.label)}</th>" for s in Status)
    out = [
        "<h3>Per function</h3><table><tr><th>function</th><th>mean points</th>"
        f"{head}<th>median rel_error of failures</th><th>threshold</th></tr>"
    ]
    for f in a.functions:
        cells = "".join(
            f"<td class='n{' zero' if not f.statuses.get(s) else ''}'"
            f"{' style=color:' + s.color if f.statuses.get(s) else ''}>{f.statuses.get(s, 0)}</td>"
            for s in Status
        )
        mean = statistics.fmean(f.points) if f.points else None
        out.append(
            f"<tr><td><code>{_esc(f.function)}</code></td><td class='n'>{_num(mean, '{:.2f}')} / "
            f"{f.max_points:g}</td>{cells}<td class='n'>{_num(f.median_failed_rel_error, '{:.1e}')}</td>"
            f"<td class='n'>{_num(f.threshold, '{:.0e}')}</td></tr>"
        )
    out.append("</table>")
    out.append(_img(points_figure(a), points_alt(a)))
    out.append(f"<p class='sub'>{POINTS_COLOURS}</p>")
    return "".join(out)


def _time_section(a: AssignmentStats) -> str:
    rows = []
    for f in a.functions:
        if f.seconds:
            s = sorted(f.seconds)
            p90 = s[min(len(s) - 1, int(0.9 * len(s)))]
            rows.append(
                f"<tr><td><code>{_esc(f.function)}</code></td><td class='n'>{statistics.median(s):.3f}</td>"
                f"<td class='n'>{p90:.3f}</td><td class='n'>{s[-1]:.3f}</td></tr>"
            )
    sub = summary(a.submission_seconds)
    table = (
        "<table><tr><th>function</th><th>median s</th><th>90th pct s</th><th>max s</th></tr>"
        + "".join(rows)
        + f"<tr><td><b>whole submission</b></td><td class='n'>{_num(sub.median, '{:.3f}')}</td><td></td>"
        f"<td class='n'>{_num(sub.max, '{:.3f}')}</td></tr></table>"
    )
    if not rows and not a.submission_seconds:
        return "<h3>Time</h3><p class='muted'>No timings recorded (results from an older grader).</p>"
    return "<h3>Time</h3>" + table + _img(time_figure(a), time_alt(a))


def _similarity_section(a: AssignmentStats) -> str:
    out = [
        "<h3>Similar submissions</h3><div class='note'>Students whose graded function is <b>identical</b> "
        "after normalizing formatting, comments, the docstring and local variable names (AST comparison). "
        f"Only functions of at least {MIN_NODES} AST nodes are compared: shorter ones (one formula, often "
        "spelled out by the notebook's hints) are identical by necessity. Code that follows the course "
        "solution closely is expected too. A cluster is a <b>lead to look at, not proof</b> of copying.</div>"
    ]
    rows = [(f, c) for f in a.functions for c in f.clusters]
    if not rows:
        return "".join(out) + "<p class='ok'>No identical functions above the size cut-off.</p>"
    out.append("<table><tr><th>function</th><th>students</th><th>size</th><th>who</th></tr>")
    for f, c in rows:
        names = ", ".join(_esc(s) for s in c.students[:_NAMES_SHOWN])
        if len(c.students) > _NAMES_SHOWN:
            names += f" <span class='muted'>and {len(c.students) - _NAMES_SHOWN} more (report.csv)</span>"
        note = " <span class='muted'>(same as the course solution)</span>" if c.same_as_solution else ""
        out.append(
            f"<tr><td><code>{_esc(f.function)}</code>{note}</td><td class='n'>{len(c.students)}</td>"
            f"<td class='n'>{c.nodes} nodes</td><td>{names}</td></tr>"
        )
    out.append("</table>")
    return "".join(out)


def class_report_html(stats: ClassStats) -> str:
    """The report as one self-contained HTML page (inline CSS, embedded PNG figures, no scripts)."""
    parts = [
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        "<title>Class report</title><style>",
        _CSS,
        "</style></head><body><h1>Class report</h1>",
        "<p class='sub'>For instructors only: it names students. Built from the batch grader's results; "
        "numbers are also in report.csv.</p>",
        _summary_section(stats),
    ]
    for a in stats.assignments:
        parts.append(f"<h2>{_esc(a.assignment)}</h2>")
        if not a.graded:
            parts.append("<p class='muted'>No graded submission.</p>")
            continue
        parts += [_mistakes_section(a), _functions_section(a), _messages_section(a)]
        parts += [_time_section(a), _similarity_section(a)]
    parts.append("</body></html>\n")
    return _with_header_scopes("".join(parts))


def _with_header_scopes(page: str) -> str:
    """Tell screen readers what each header cell heads: a ``<th>`` that starts a row of data cells is
    a row header, every other one a column header."""
    page = re.sub(r"<tr><th>([^<]*)</th><td>", r"<tr><th scope='row'>\1</th><td>", page)
    return page.replace("<th>", "<th scope='col'>")


# ----------------------------------------------------------------------------------- CSV

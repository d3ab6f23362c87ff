"""What `verify` says: one `Check` per field, and the verdict over all of them.

A check is done and passes, done and fails, a note (a difference that does not fail, such as
the exporter's package versions), or not done here (the verifier lacks the run folder or the
corpus file, or gave no ledger): a check not done is listed with what would do it, and the
verdict never claims it.

Verdicts and exit codes (`provenance verify`, docs/reliability.md "Reports and verification"):
- 0 "matches ledger X (N checks)": every check done, against the ledger, and none failed;
- 1 "N check(s) FAILED": a check failed (the report, a run file or the corpus was changed);
- 3 "self-consistent (...)" or "matches ledger X in N checks, K NOT checked": nothing failed,
  but less was proved; a script that publishes on exit 0 never publishes on a partial proof;
- 2 (the CLI's, before any check): bad input, one line saying what and how to fix.
"""

from __future__ import annotations

from dataclasses import dataclass

VERIFIED, FAILED, PARTIAL = 0, 1, 3  # exit codes


@dataclass(frozen=True)
class Check:
    field: str
    ok: bool
    detail: str
    fails: bool = True  # False: informational (a difference that does not fail verification)
    done: bool = True  # False: could not be checked here; detail says why and what would do it

    def __str__(self) -> str:
        if not self.done:
            return f"skip {self.field}: {self.detail}"
        mark = "ok  " if self.ok else ("FAIL" if self.fails else "note")
        return f"{mark} {self.field}: {self.detail}"


def not_done(field: str, why: str) -> Check:
    """A check that could not be done here: `why` says what is missing and how to supply it."""
    return Check(field, False, why, fails=False, done=False)


def failed(checks: list[Check]) -> list[Check]:
    return [c for c in checks if c.done and not c.ok and c.fails]


def skipped(checks: list[Check]) -> list[Check]:
    return [c for c in checks if not c.done]


@dataclass(frozen=True)
class Verdict:
    text: str
    exit_code: int  # VERIFIED, FAILED or PARTIAL


def verdict(checks: list[Check], ledger: str | None) -> Verdict:
    """The one-line conclusion over `checks`; `ledger` names the ledger compared with (its URL
    without password), None when there was none."""
    bad, missing = failed(checks), skipped(checks)
    done = len(checks) - len(missing)
    if bad:
        names = ", ".join(c.field for c in bad[:10]) + (", ..." if len(bad) > 10 else "")
        return Verdict(f"{len(bad)} check(s) FAILED: {names}", FAILED)
    unchecked = f"; NOT checked: {', '.join(c.field for c in missing)}" if missing else ""
    if ledger is None:
        return Verdict(
            f"self-consistent (hashes match the report's own content; {done} checks): its "
            f"numbers were not compared with a ledger (pass --db URL){unchecked}",
            PARTIAL,
        )
    if missing:
        return Verdict(f"matches ledger {ledger} in {done} checks{unchecked}", PARTIAL)
    return Verdict(f"matches ledger {ledger} ({done} checks)", VERIFIED)

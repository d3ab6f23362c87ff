"""Every causal LM transformers ships: exact values or the engine's own refusal, never silently
wrong (issue 16). The harness and the table live in tests/zoo.py; docs/models.md is its output.

The default suite runs order 1 for every type (the silent-wrong check); order 2 and the other
tie setting of the embeddings run with the slow tests.
"""

import pytest
import torch
import zoo

TYPES = zoo.model_types()
_SEEN: dict[str, zoo.Outcome] = {}


@pytest.fixture(autouse=True)
def _one_thread():
    """Hundreds of tiny models: threads cost more than they give (and keep the run repeatable)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("model_type", TYPES)
def test_first_order_is_exact_or_refused(model_type):
    outcome = zoo.check(model_type, orders=(1,))
    _SEEN[model_type] = outcome
    assert outcome.status != "WRONG", f"{model_type}: {outcome.detail}"


@pytest.mark.slow
@pytest.mark.parametrize("model_type", TYPES)
def test_second_order_and_other_tie_setting_are_exact_or_refused(model_type):
    outcome = zoo.check(model_type, orders=(1, 2))
    assert outcome.status != "WRONG", f"{model_type}: {outcome.detail}"
    if outcome.status != "pass":
        return
    config = zoo.shrunk_config(model_type)
    tied = getattr(config, "tie_word_embeddings", None)
    if tied is not None:
        flipped = zoo.check(model_type, orders=(1, 2), tied=not tied)
        assert flipped.status != "WRONG", f"{model_type} tied={not tied}: {flipped.detail}"


def test_table_and_docs_agree():
    """Prints the table of the types checked in this run; docs/models.md shows the same outcome
    for each (regenerate it with `.venv/bin/python tests/zoo.py --write`)."""
    if not _SEEN:
        pytest.skip("no zoo type ran in this session")
    outcomes = [_SEEN[t] for t in TYPES if t in _SEEN]
    print("\n" + zoo.markdown(outcomes))
    documented = zoo.documented()
    differ = {o.model_type: (o.status, documented.get(o.model_type)) for o in outcomes}
    differ = {t: pair for t, pair in differ.items() if pair[0] != pair[1]}
    assert not differ, f"docs/models.md is out of date (now, documented): {differ}"

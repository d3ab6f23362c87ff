"""The efficiency check a reader can follow: the named terms add up exactly, and the one-line
verdict names the term that makes up the difference."""

import pytest

from db.rankings import EfficiencyCheck
from provenance.efficiency import decomposition, verdict


def test_the_terms_add_up_and_the_verdict_names_the_largest():
    check = EfficiencyCheck(
        steps=30, values_sum=18.5, predicted_drop=4.6, realised_drop=3.7, decay_drop=0.2
    )
    nats = decomposition(check)["nats"].tolist()
    assert nats[0] + nats[1] + nats[2] == pytest.approx(nats[3])  # = first-order prediction
    assert nats[3] + nats[4] == pytest.approx(nats[5]) == 3.7  # = measured drop
    assert nats[1] == pytest.approx(4.6 - 0.2 - 18.5)  # momentum: credited but not applied yet
    line = verdict(check)
    assert "differ from the measured drop (3.7 nats) by +14.8 nats" in line
    assert "largest term is the optimizer's other terms (momentum) (-14.1 nats)" in line


def test_values_that_agree_say_so_and_unmeasured_decay_is_left_out():
    check = EfficiencyCheck(
        steps=5, values_sum=1.0, predicted_drop=1.05, realised_drop=1.1, decay_drop=None
    )
    assert verdict(check).startswith("The documents' values add up to the measured drop within 9%")
    assert len(decomposition(check)) == 4  # no optimizer or decay rows without decay
    assert check.optimizer_terms is None

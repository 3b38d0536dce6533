"""Care cadence for key customers (关怀频率).

Field guidance: contacted about every 15 days a key customer stays engaged, about every 60 days
they remember the manager, about every 120 days they leave without regret. So, by days since the
last contact: below the cadence `on_track`, then `due`, past the reminder limit `overdue`, past
the lapse limit (or never contacted) `lapsed`. The due date is the last contact plus the cadence,
or an earlier follow-up date the manager set; never contacted means due at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from crm_scoring.models.fitting import FloatArray

STATUSES = ("on_track", "due", "overdue", "lapsed")


@dataclass(frozen=True)
class Cadence:
    cadence_days: int = 15
    remind_days: int = 60
    lapse_days: int = 120


def assess(
    is_key: NDArray[np.bool_],
    days_since_contact: FloatArray,
    days_to_follow_up: FloatArray,
    cadence: Cadence,
) -> tuple[NDArray[np.object_], FloatArray]:
    """(status, due in days from as_of — negative when past) per customer; None / NaN if not key."""
    d = days_since_contact
    with np.errstate(invalid="ignore"):
        status = np.select(
            [np.isnan(d) | (d >= cadence.lapse_days), d >= cadence.remind_days, d >= cadence.cadence_days],
            ["lapsed", "overdue", "due"],
            default="on_track",
        ).astype(object)
        due_in = np.where(np.isnan(d), 0.0, cadence.cadence_days - d)
        due_in = np.fmin(due_in, days_to_follow_up)
    status[~is_key] = None
    return status, np.where(is_key, due_in, np.nan)

"""Strict, bounded pydantic field types: every schema's numbers and flags (selfhost.limits says why).

``Number`` is a finite float that is not a boolean or a string, with a magnitude inside the
envelope of `selfhost.limits`; ``Count`` the same for integers (a float such as ``8.0`` is not a
count); ``Flag`` a boolean that is not a number or a string (``1``, ``"yes"``). The catalog,
measurements, workloads and traffic-profile schemas declare their fields with these, so the
rule is one definition, not one per schema. Their models derive from `TextChecked`, which
refuses control characters in any text field.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, field_validator

from selfhost.limits import in_envelope

Number = Annotated[float, Field(strict=True, allow_inf_nan=False), AfterValidator(in_envelope)]
Positive = Annotated[Number, Field(gt=0)]
NonNegative = Annotated[Number, Field(ge=0)]
Fraction = Annotated[Number, Field(gt=0, le=1)]
Count = Annotated[int, Field(strict=True), AfterValidator(in_envelope)]
PositiveInt = Annotated[Count, Field(gt=0)]
NonNegativeInt = Annotated[Count, Field(ge=0)]
Flag = Annotated[bool, Field(strict=True)]


#: Characters no text field may hold: C0 controls but tab and line feed, DEL, C1 controls
#: (ESC sequences would recolour, move or retitle the user's terminal when the text is
#: printed), and the bidirectional overrides and isolates that make text display in an order
#: other than its characters' ("Trojan Source", CVE-2021-42574).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def check_text(value: Any) -> Any:
    """``value`` if no string in it (nested lists and mappings included) holds a `_CONTROL` character."""
    if isinstance(value, str):
        bad = _CONTROL.search(value)
        if bad:
            raise ValueError(
                f"contains the control character U+{ord(bad.group()):04X} at position {bad.start()}; "
                "text may hold letters, punctuation, tabs and line breaks only"
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key)
            check_text(item)
    elif isinstance(value, list | tuple):
        for item in value:
            check_text(item)
    return value


class TextChecked(BaseModel):
    """Base of every schema model: no field's text holds a control character (`check_text`)."""

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
        if isinstance(value, BaseModel):  # a nested model checked its own fields
            return value
        return check_text(value)

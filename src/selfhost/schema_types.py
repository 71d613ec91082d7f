"""Strict, bounded pydantic field types: every schema's numbers and flags (selfhost.limits says why).

``Number`` is a finite float that is not a boolean or a string, with a magnitude inside the
envelope of `selfhost.limits`; ``Count`` the same for integers (a float such as ``8.0`` is not a
count); ``Flag`` a boolean that is not a number or a string (``1``, ``"yes"``). The catalog,
measurements, workloads and traffic-profile schemas declare their fields with these, so the
rule is one definition, not one per schema.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from selfhost.limits import in_envelope

Number = Annotated[float, Field(strict=True, allow_inf_nan=False), AfterValidator(in_envelope)]
Positive = Annotated[Number, Field(gt=0)]
NonNegative = Annotated[Number, Field(ge=0)]
Fraction = Annotated[Number, Field(gt=0, le=1)]
Count = Annotated[int, Field(strict=True), AfterValidator(in_envelope)]
PositiveInt = Annotated[Count, Field(gt=0)]
NonNegativeInt = Annotated[Count, Field(ge=0)]
Flag = Annotated[bool, Field(strict=True)]

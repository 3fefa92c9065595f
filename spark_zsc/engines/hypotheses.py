"""How a label becomes the hypothesis the model reads.

Zero-shot accuracy lives in the hypothesis, so a label may carry a description that is read
in its place while the output keeps the short name (`billing` -> "a charge, an invoice or a
refund"). The rule for a description:

- a phrase (the usual case) goes into the template where the label would:
  "This example is {}." + "a charge, an invoice or a refund" ->
  "This example is a charge, an invoice or a refund.";
- a full sentence, one that ends with ".", "!" or "?", is the hypothesis on its own:
  "This ticket is about a refund." is read as written.

Why: a phrase reads like a label, so the template that suits the labels suits it too; a
sentence was written as a hypothesis already, and wrapping it ("This example is This ticket
is about ...") would make nonsense of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Union

SENTENCE_ENDS = (".", "!", "?")


def is_sentence(description: str) -> bool:
    return description.rstrip().endswith(SENTENCE_ENDS)


@dataclass(frozen=True)
class Hypotheses:
    """label -> hypothesis: the template filled with the label's description, or with the
    label itself where it has none; a description that is a sentence stands alone."""

    template: str
    descriptions: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, wording: Union[str, "Hypotheses"]) -> "Hypotheses":
        """A bare template string (the engines' older argument) or a Hypotheses as it is."""
        return wording if isinstance(wording, Hypotheses) else cls(wording)

    def __call__(self, label: str) -> str:
        description = self.descriptions.get(label)
        if description is None:
            return self.template.format(label)
        return description.strip() if is_sentence(description) else self.template.format(description)

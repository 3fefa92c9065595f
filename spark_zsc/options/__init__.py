"""Every option of the classifier, declared once, and checked once on the driver.

An `Option` is one option's names on each face, its type, default, choices, doc and check.
The faces are made from these declarations, never written out again:

- the `ZeroShotClassifier`'s Params, getters and setters (camelCase: `tokenBudget`);
- the SQL function's keyword arguments (snake_case: `token_budget`);
- the jobs' YAML keys (snake_case) and flags (`--token-budget`); the jobs' own options
  (input, output, ...) are declared the same way in `jobs/options.py`.

Each face checks every value with `Option.check` before Spark does any work, and the error
names the option as that face spells it.

    declaration.py   how an option is declared (`Option`), and the faces
    labels.py        labels, templates and descriptions as users give them
    table.py         the table (`OPTIONS`, `BY_KEY`) and the checks of single options
    typed.py         typed, frozen configs made from a table (`config_class`)
    fields.py        the classifier's configs as the table makes them (fields only)
    rules.py         every rule that ties classifier options together
    configs.py       the configs: the classifier's, and the groups that travel to executors
    stubs.py         the fields of the made classes written out for type checkers (`.pyi`)
"""

from .configs import ClassifierConfig, EngineOptions, ScoringOptions, StrategyOptions
from .declaration import JOB, LABELS, PARAM, SQL, Option, snake_case
from .labels import DEFAULT_TEMPLATE, parse_candidate_labels, split_labels, validate_template
from .table import (
    BY_KEY,
    DEDUPE_SCOPES,
    DEFAULT_EMBEDDING_MODEL,
    DEFAULT_MODEL,
    DEFAULT_TEMPERATURE,
    DEFAULT_THRESHOLD,
    DEVICES,
    DISTRIBUTIONS,
    OPTIONS,
    PRECISIONS,
    STRATEGIES,
    check_values,
    default_token_budget,
    on_face,
    spelled,
)

__all__ = [
    "BY_KEY",
    "DEDUPE_SCOPES",
    "DEFAULT_EMBEDDING_MODEL",
    "DEFAULT_MODEL",
    "DEFAULT_TEMPERATURE",
    "DEFAULT_TEMPLATE",
    "DEFAULT_THRESHOLD",
    "DEVICES",
    "DISTRIBUTIONS",
    "JOB",
    "LABELS",
    "OPTIONS",
    "PARAM",
    "PRECISIONS",
    "SQL",
    "STRATEGIES",
    "ClassifierConfig",
    "EngineOptions",
    "Option",
    "ScoringOptions",
    "StrategyOptions",
    "check_values",
    "default_token_budget",
    "on_face",
    "parse_candidate_labels",
    "snake_case",
    "spelled",
    "split_labels",
    "validate_template",
]

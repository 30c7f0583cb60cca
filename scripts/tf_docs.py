"""Inputs and outputs tables of a Terraform module's README, generated from its .tf files.

    python scripts/tf_docs.py terraform/modules/network [...]          # rewrite the tables
    python scripts/tf_docs.py --check terraform/modules/*              # exit 1 when one is out of date

The tables live between `<!-- BEGIN_TF_DOCS -->` and `<!-- END_TF_DOCS -->` in the module's
README.md (the terraform-docs convention; that binary is not available here, so this script and a
test keep the tables in sync).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import hcl2

BEGIN, END = "<!-- BEGIN_TF_DOCS -->", "<!-- END_TF_DOCS -->"
_OPTIONS = hcl2.SerializationOptions(strip_string_quotes=True, explicit_blocks=False)


def _blocks(module: Path, kind: str) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(module.glob("*.tf")):
        with path.open(encoding="utf-8") as handle:
            parsed = hcl2.load(handle, serialization_options=_OPTIONS)
        for block in parsed.get(kind, []):
            found.extend(block.items())
    return sorted(found)


def _expression(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text[2:-1] if text.startswith("${") and text.endswith("}") else text


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def render(module: Path) -> str:
    lines = ["## Inputs", "", "| Name | Description | Type | Default | Required |", "|---|---|---|---|:---:|"]
    for name, spec in _blocks(module, "variable"):
        required = "default" not in spec
        default = "n/a" if required else f"`{_cell(json.dumps(spec['default']))}`"
        kind = _cell(_expression(spec.get("type", "any")))
        description = _cell(spec.get("description", ""))
        lines.append(f"| `{name}` | {description} | `{kind}` | {default} | {'yes' if required else 'no'} |")
    lines += ["", "## Outputs", "", "| Name | Description |", "|---|---|"]
    lines += [f"| `{name}` | {_cell(spec.get('description', ''))} |" for name, spec in _blocks(module, "output")]
    return "\n".join(lines)


def updated_readme(module: Path) -> tuple[str, str]:
    """(current README text, README text with fresh tables)."""
    readme = module / "README.md"
    current = readme.read_text(encoding="utf-8") if readme.exists() else f"# {module.name}\n\n{BEGIN}\n{END}\n"
    match = re.search(re.escape(BEGIN) + r".*?" + re.escape(END), current, flags=re.DOTALL)
    if match is None:
        raise SystemExit(f"{readme}: no {BEGIN} ... {END} markers")
    fresh = current[: match.start()] + f"{BEGIN}\n{render(module)}\n{END}" + current[match.end() :]
    return current, fresh


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("modules", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true", help="only report READMEs whose tables are out of date")
    args = parser.parse_args()
    stale = []
    for module in args.modules:
        current, fresh = updated_readme(module)
        if current != fresh:
            stale.append(module)
            if not args.check:
                (module / "README.md").write_text(fresh, encoding="utf-8")
    if args.check and stale:
        print("out of date (run scripts/tf_docs.py on them): " + ", ".join(map(str, stale)), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`python -m ci_plugins.config.schema`: rewrite the JSON Schema and docs/configuration.md."""

import json
from pathlib import Path

from ci_plugins.config.models import SCHEMA_PATH, Config
from ci_plugins.config.schema.reference import render_reference

schema = Config.model_json_schema()
SCHEMA_PATH.write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")
print(f"wrote {SCHEMA_PATH}")
docs = Path(__file__).resolve().parents[3] / "docs"
if docs.is_dir():  # a source checkout
    (docs / "configuration.md").write_text(render_reference(schema), encoding="utf-8")
    print(f"wrote {docs / 'configuration.md'}")

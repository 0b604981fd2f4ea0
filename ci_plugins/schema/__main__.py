"""`python -m ci_plugins.schema` rewrites ci-plugins.schema.json from the config model."""

import json

from ci_plugins.config import SCHEMA_PATH, Config

SCHEMA_PATH.write_text(json.dumps(Config.model_json_schema(), indent=2) + "\n", encoding="utf-8")
print(f"wrote {SCHEMA_PATH}")

"""Tableau: the Redshift data source (.tds) filled in from the environment.

bi/tableau/online_retail_redshift.tds is a template with ${VARIABLE} placeholders, the same
variables dbt's redshift target reads (profiles/profiles.yml), so one set of settings serves
dbt and Tableau. No password is written: Tableau asks for it on connect.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from string import Template
from xml.sax.saxutils import escape

from ingestion.errors import OnlineRetailError

TDS_TEMPLATE = Path(__file__).parent / "tableau" / "online_retail_redshift.tds"
# The defaults of dbt's redshift target; host and user have none.
TDS_DEFAULTS = {
    "REDSHIFT_PORT": "5439",
    "REDSHIFT_DATABASE": "dev",
    "REDSHIFT_SCHEMA": "online_retail",
}
TDS_REQUIRED = ("REDSHIFT_HOST", "REDSHIFT_USER")


def render_tds(env: Mapping[str, str] | None = None, template: Path = TDS_TEMPLATE) -> str:
    """The data source XML with the connection settings of `env` (default: os.environ)."""
    env = os.environ if env is None else env
    missing = [name for name in TDS_REQUIRED if not env.get(name)]
    if missing:
        raise OnlineRetailError(
            "Tableau's Redshift data source needs the settings of `dbt build --target redshift`",
            setting=", ".join(missing),
        )
    settings = {**TDS_DEFAULTS, **{k: v for k, v in env.items() if k.startswith("REDSHIFT_")}}
    settings.pop("REDSHIFT_PASSWORD", None)  # never written to a file
    # Values land inside the template's single-quoted XML attributes: escape both quotes.
    escaped = {k: escape(v, {"'": "&apos;", '"': "&quot;"}) for k, v in settings.items()}
    return Template(template.read_text("utf-8")).substitute(escaped)


def write_tds(out_dir: str | Path, env: Mapping[str, str] | None = None) -> Path:
    path = Path(out_dir) / TDS_TEMPLATE.name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_tds(env), encoding="utf-8")
    return path

"""The org-unit role options, declared once for every connection type that reads the Visma Business model.

Visma Business leaves the meaning of its twelve org units (``R1``..``R12``,
``orgUnit1``..``orgUnit12`` in Business NXT) to each company, so which of them
hold departments, projects and free dimensions is a connection option. Business
NXT (``business-nxt``, ``business-nxt-group``) and Visma Business on premise
(``visma-business``) declare these same options and read them into the same
:class:`~osr_pipelines.connectors.visma_business.model.OrgUnitRoles`, so a
company's postings land in the same columns whichever way it is read. The
defaults are the model's (R1 departments, R2 projects, no free dimensions).
"""

from __future__ import annotations

from collections.abc import Mapping

from osr_pipelines.connectors.base import ConnectorError
from osr_pipelines.connectors.options import pattern
from osr_pipelines.connectors.visma_business.model import OrgUnitRoles

_ORG_UNIT = r"([1-9]|1[0-2])"
_DEFAULT = OrgUnitRoles()


def _text(unit: int | None) -> str:
    return "none" if unit is None else str(unit)


OPTIONS = (
    pattern("department_org_unit", f"{_ORG_UNIT}|none", "an org unit from 1 to 12, or 'none'",
            _text(_DEFAULT.department), invalid=("0", "13", "x", "1,2")),
    pattern("project_org_unit", f"{_ORG_UNIT}|none", "an org unit from 1 to 12, or 'none'",
            _text(_DEFAULT.project), invalid=("0", "13", "x", "1,2")),
    pattern("free_org_units", f"none|{_ORG_UNIT}(,{_ORG_UNIT}){{0,2}}",
            "up to three org units from 1 to 12, comma-separated, or 'none'",
            ",".join(map(str, _DEFAULT.free)) or "none", invalid=("0", "13", "1,2,3,4", "x", "")),
)


def _unit(options: Mapping[str, str], name: str, default: int | None) -> int | None:
    value = options.get(name, _text(default))
    return None if value == "none" else int(value)


def org_unit_roles(connection: str, options: Mapping[str, str]) -> OrgUnitRoles:
    """The connection's roles from its options; one org unit in two roles is an error naming the connection.

    Each option alone is checked by its spec when the connection is added;
    only their combination (an org unit used twice) is checked here.
    """
    try:
        return OrgUnitRoles(
            _unit(options, "department_org_unit", _DEFAULT.department),
            _unit(options, "project_org_unit", _DEFAULT.project),
            tuple(int(n) for n in options.get("free_org_units", "none").split(",") if n != "none"))
    except ValueError as exc:
        raise ConnectorError(f"options department_org_unit, project_org_unit and free_org_units: {exc}",
                             connection=connection, field="free_org_units") from None

"""The rules in force, and an admin's per-site overrides of them (kept in SQL; every
collector picks them up within seconds). Reading needs ``viewer``, changing ``admin``;
an override of every site (``*``) is changed by an admin bound to no site only (the central
guard answers 404 to a bound one), and a user bound to sites reads only the overrides of its
sites and of every site. Who changed an override last (``updated_by``) is shown to admins
only: it names a user, and the other roles have no say in the rules."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import Response

from roomwatch.collector.api.auth import Admin, Principal, Viewer
from roomwatch.collector.api.deps import DbSession
from roomwatch.collector.api.schemas import ErrorOut
from roomwatch.collector.api.workflow_schemas import RuleOut, RuleOverrideIn, RuleOverrideOut
from roomwatch.collector.db import workflow_store
from roomwatch.collector.db.models import Site
from roomwatch.collector.db.workflow_models import ALL_SITES, RuleOverrideRow
from roomwatch.collector.errors import NotFoundError
from roomwatch.collector.rules.book import effective_rules, rules_for_site
from roomwatch.collector.rules.model import Rule, apply_override

router = APIRouter(prefix="/api/rules", tags=["rules"])


def pack_of(request: Request) -> list[Rule]:
    pack: list[Rule] = request.app.state.rule_pack
    return pack


@router.get("", response_model=list[RuleOut])
def list_rules(
    session: DbSession,
    _viewer: Viewer,
    request: Request,
    site: Annotated[str | None, Query(description="Show the version in force for a site")] = None,
) -> list[RuleOut]:
    """Every rule (disabled ones too) as it applies to ``site`` (default: every site)."""
    overrides = workflow_store.list_rule_overrides(session)
    rules = rules_for_site(effective_rules(pack_of(request), overrides), site)
    wanted = {ALL_SITES, *([site] if site else [])}
    changes: dict[str, dict[str, Any]] = {}
    for row in overrides:
        if row.site_id in wanted:
            changes.setdefault(row.rule_id, {}).update(row.changes)
    return [_rule_out(rule, changes.get(rule.id)) for rule in rules]


@router.get("/overrides", response_model=list[RuleOverrideOut])
def list_overrides(session: DbSession, viewer: Viewer) -> list[RuleOverrideOut]:
    return [
        _override_out(r, viewer)
        for r in workflow_store.list_rule_overrides(session)
        if viewer.sites is None or r.site_id == ALL_SITES or r.site_id in viewer.sites
    ]


@router.put(
    "/{rule_id}/overrides/{site_id}",
    response_model=RuleOverrideOut,
    responses={404: {"model": ErrorOut}, 422: {"model": ErrorOut}},
)
def put_override(
    rule_id: str,
    site_id: str,
    body: RuleOverrideIn,
    session: DbSession,
    admin: Admin,
    request: Request,
) -> RuleOverrideOut:
    """Change a rule for one site (``*`` for every site): enable/disable it, its level,
    thresholds, ``for`` or selector. The result must still be a valid rule."""
    rule = next((r for r in pack_of(request) if r.id == rule_id), None)
    if rule is None:
        raise NotFoundError(f"rule {rule_id!r} does not exist")
    if site_id != ALL_SITES and session.get(Site, site_id) is None:
        raise NotFoundError(f"site {site_id!r} does not exist")
    changes = body.model_dump(exclude_none=True, mode="json")
    try:
        apply_override(rule, changes)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    row = workflow_store.save_rule_override(
        session, rule_id, site_id, changes, admin.username, request.app.state.clock()
    )
    return _override_out(row, admin)


@router.delete(
    "/{rule_id}/overrides/{site_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"model": ErrorOut}},
)
def delete_override(rule_id: str, site_id: str, session: DbSession, _admin: Admin) -> Response:
    workflow_store.delete_rule_override(session, rule_id, site_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _override_out(row: RuleOverrideRow, viewer: Principal) -> RuleOverrideOut:
    return RuleOverrideOut(
        rule_id=row.rule_id,
        site_id=row.site_id,
        changes=row.changes,
        updated_by=viewer.editor_shown(row.updated_by),
        updated_at=row.updated_at,
    )


def _rule_out(rule: Rule, override: dict[str, Any] | None) -> RuleOut:
    return RuleOut(
        id=rule.id,
        level=int(rule.level),
        outside_class_level=(
            None if rule.outside_class_level is None else int(rule.outside_class_level)
        ),
        title=rule.title,
        description=rule.description,
        enabled=rule.enabled,
        kind="event" if rule.is_event_rule else "metric",
        metric=rule.metric,
        compute=rule.compute,
        when=rule.when.model_dump(exclude_defaults=True) if rule.when else None,
        clear=rule.clear_condition.model_dump(exclude_defaults=True) if rule.when else None,
        for_s=rule.for_s,
        selector=rule.selector.model_dump(exclude_defaults=True),
        suppresses_dependents=rule.suppresses_dependents,
        overridden=override is not None,
        override=override,
    )

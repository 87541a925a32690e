"""What engineers do with a fault: acknowledge it, move it through its life cycle, change its
level, record remote sessions, write the maintenance log (from a prefilled draft), close it,
and follow its satisfaction survey. Every action needs ``engineer`` and is a fault event."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request

from roomwatch.collector.api.auth import Engineer, SchoolOrEngineer, Viewer
from roomwatch.collector.api.bounds import RowId
from roomwatch.collector.api.deps import DbSession
from roomwatch.collector.api.routes.dispatch import default_timezone
from roomwatch.collector.api.routes.faults import fault_detail, workflow_of
from roomwatch.collector.api.schemas import ErrorOut
from roomwatch.collector.api.workflow_schemas import (
    CloseIn,
    FaultDetailOut,
    LevelIn,
    MaintenanceLogOut,
    NoteIn,
    RemoteSessionIn,
    SurveyAnswerIn,
    SurveyOut,
    SurveySentIn,
    TransitionIn,
)
from roomwatch.collector.db import faults_store, workflow_store
from roomwatch.collector.errors import NotFoundError
from roomwatch.collector.workflow import LogEntry, logbook, surveys

router = APIRouter(prefix="/api/faults/{fault_id}", tags=["fault actions"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut},
    409: {"model": ErrorOut},
    422: {"model": ErrorOut},
}


@router.post("/acknowledge", response_model=FaultDetailOut, responses=_ERRORS)
def acknowledge(
    fault_id: RowId, body: NoteIn, session: DbSession, engineer: Engineer, request: Request
) -> FaultDetailOut:
    """The engineer has seen the fault and takes it (the SLA response clock stops)."""
    return _transition(fault_id, "acknowledged", body.note, None, session, engineer, request)


@router.post("/transition", response_model=FaultDetailOut, responses=_ERRORS)
def transition(
    fault_id: RowId, body: TransitionIn, session: DbSession, engineer: Engineer, request: Request
) -> FaultDetailOut:
    """Any allowed status change; ``resolved`` and ``closed`` need the maintenance log
    (given here, or saved before with ``PUT .../log``)."""
    return _transition(fault_id, body.to, body.note, body.log, session, engineer, request)


@router.post("/close", response_model=FaultDetailOut, responses=_ERRORS)
def close(
    fault_id: RowId, body: CloseIn, session: DbSession, engineer: Engineer, request: Request
) -> FaultDetailOut:
    """Close a resolved fault with its maintenance log."""
    return _transition(fault_id, "closed", body.note, body.log, session, engineer, request)


@router.post("/level", response_model=FaultDetailOut, responses=_ERRORS)
def change_level(
    fault_id: RowId, body: LevelIn, session: DbSession, engineer: Engineer, request: Request
) -> FaultDetailOut:
    """Reclassify an active fault (L1-L4) with the reason; its SLA clocks take the new
    level's budgets, counted from when each started."""
    fault = faults_store.get_fault(session, fault_id, lock=True)
    workflow_of(request).change_level(
        session, fault, body.level, engineer.username, request.app.state.clock(), body.note
    )
    return fault_detail(session, fault, request)


@router.post("/remote-sessions", response_model=FaultDetailOut, responses=_ERRORS)
def remote_session(
    fault_id: RowId,
    body: RemoteSessionIn,
    session: DbSession,
    engineer: Engineer,
    request: Request,
) -> FaultDetailOut:
    """An engineer worked on the fault remotely; counted for the survey rule."""
    fault = faults_store.get_fault(session, fault_id, lock=True)
    workflow_of(request).add_remote_session(
        session, fault, engineer.username, request.app.state.clock(), body.note, body.duration_min
    )
    return fault_detail(session, fault, request)


@router.get("/log/draft", responses=_ERRORS)
def log_draft(
    fault_id: RowId,
    session: DbSession,
    viewer: Viewer,
    request: Request,
    lang: Annotated[Literal["zh-CN", "en"], Query()] = "en",
) -> dict[str, Any]:
    """The maintenance-log form prefilled from the fault's evidence (or the saved log), in
    ``lang`` with times on the site's clock."""
    fault = faults_store.get_fault(session, fault_id)
    return logbook.draft(
        session, fault, viewer.display_name or viewer.username, lang, default_timezone(request)
    )


@router.get("/log", response_model=MaintenanceLogOut, responses=_ERRORS)
def get_log(fault_id: RowId, session: DbSession, _viewer: Viewer) -> MaintenanceLogOut:
    entry = workflow_store.get_log(session, fault_id)
    if entry is None:
        raise NotFoundError(f"fault {fault_id} has no maintenance log yet")
    return MaintenanceLogOut.model_validate(entry)


@router.put("/log", response_model=MaintenanceLogOut, responses=_ERRORS)
def put_log(
    fault_id: RowId, body: LogEntry, session: DbSession, engineer: Engineer, request: Request
) -> MaintenanceLogOut:
    """Save (or replace) the maintenance log of a fault."""
    fault = faults_store.get_fault(session, fault_id, lock=True)
    workflow_of(request).save_log(
        session, fault, body, engineer.username, request.app.state.clock()
    )
    entry = workflow_store.get_log(session, fault_id)
    return MaintenanceLogOut.model_validate(entry)


@router.get("/survey", response_model=SurveyOut, responses=_ERRORS)
def get_survey(fault_id: RowId, session: DbSession, _viewer: Viewer) -> SurveyOut:
    return SurveyOut.model_validate(_survey(session, fault_id))


@router.post("/survey/sent", response_model=SurveyOut, responses=_ERRORS)
def survey_sent(
    fault_id: RowId, body: SurveySentIn, session: DbSession, engineer: Engineer, request: Request
) -> SurveyOut:
    survey = _survey(session, fault_id)
    surveys.mark_sent(survey, request.app.state.clock(), engineer.username, body.channel)
    return SurveyOut.model_validate(survey)


@router.post("/survey/answer", response_model=SurveyOut, responses=_ERRORS)
def survey_answer(
    fault_id: RowId,
    body: SurveyAnswerIn,
    session: DbSession,
    engineer: SchoolOrEngineer,
    request: Request,
) -> SurveyOut:
    """The customer's score (1..5) and comment, as taken by the engineer or given by the
    school's staff themselves."""
    survey = _survey(session, fault_id)
    at = request.app.state.clock()
    surveys.record_answer(survey, at, body.score, body.comment)
    fault = faults_store.get_fault(session, fault_id)
    faults_store.add_event(
        session, fault, at, "survey_answered", {"score": body.score}, engineer.username
    )
    return SurveyOut.model_validate(survey)


def _survey(session: DbSession, fault_id: RowId) -> Any:
    faults_store.get_fault(session, fault_id)
    survey = workflow_store.get_survey(session, fault_id)
    if survey is None:
        raise NotFoundError(f"no survey is due for fault {fault_id}")
    return survey


def _transition(
    fault_id: RowId,
    to: str,
    note: str,
    log: LogEntry | None,
    session: DbSession,
    engineer: Engineer,
    request: Request,
) -> FaultDetailOut:
    fault = faults_store.get_fault(session, fault_id, lock=True)
    workflow_of(request).transition(
        session, fault, to, engineer.username, request.app.state.clock(), note, log
    )
    return fault_detail(session, fault, request)

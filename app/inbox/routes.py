"""Inbox: my tasks, my roles' queue and (for heads) the team's tasks; claim, release, assign, next."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import Select, String, and_, cast, func, or_, select
from sqlalchemy.orm import aliased, contains_eager, defer, selectinload

from app import clock
from app.extensions import db
from app.i18n import N_
from app.inbox import bp
from app.inbox.export import tasks_workbook
from app.models import ORDER_KINDS, Customer, HumanTask, Order, Partner, ProcessDefinition, ProcessInstance, Role, User
from app.policy import headed_lanes, is_partner, preload_candidates, sees_every_task, task_scope
from app.services.inputs import MAX_ID, int_arg, like_pattern
from app.services.order_search import matches_text
from app.services.workbooks import download
from app.usecases import process
from app.usecases import tasks as task_cases
from app.web import action, allowed, sla_state

TABS = ("mine", "queue", "team")
PER_PAGE = 50  # rows a page shows; «Следующие задачи» goes on from the last one (by due time, then id)
# The highest SLA escalation a task reached, short enough for a badge on a phone row.
SLA_BADGES = {"warning": N_("⚠ 75 %"), "head": N_("Руководителю"), "director": N_("Директору")}


def sla_badge(level: str | None) -> str | None:
    """The badge text of an escalation level (in the templates `_()` would read '%' as a format)."""
    if not level:
        return None
    return _(SLA_BADGES[level]) if level in SLA_BADGES else level


def _base(user: User, tab: str):
    return task_scope(user, tab, "open")


def _filtered(query, args):
    if args.get("stage"):
        query = query.where(HumanTask.stage == args["stage"])
    if args.get("kind"):
        query = query.where(Order.kind == args["kind"])
    if args.get("partner"):
        query = query.where(Order.partner_id.in_(select(Partner.id).where(Partner.code == args["partner"])))
    if args.get("overdue"):
        query = query.where(HumanTask.due_at < clock.now())
    text = (args.get("q") or "").strip()
    if text:  # a task no order started is found by its process's name or its instance's number
        instances = select(ProcessInstance.id).join(ProcessInstance.definition).where(or_(
            ProcessDefinition.name.ilike(like_pattern(text), escape="\\"),
            cast(ProcessInstance.id, String) == text.lstrip("№ ")))
        query = query.outerjoin(Customer, Order.customer_id == Customer.id).where(or_(
            and_(HumanTask.order_id.is_not(None), matches_text(text)),
            and_(HumanTask.order_id.is_(None), HumanTask.instance_id.in_(instances))))
    return query


def _count(query) -> int:
    return db.session.execute(select(func.count()).select_from(query.subquery())).scalar_one()


def colleagues(lanes: set[str]) -> dict[str, list[User]]:
    """Active users per lane, for the head's assign control."""
    users = db.session.execute(select(User).join(User.roles).where(Role.code.in_(lanes), User.active.is_(True))
                               .order_by(User.name)).scalars().unique().all()
    return {lane: [u for u in users if lane in u.role_codes] for lane in lanes}


def listed_tasks(user: User, args) -> tuple[str, Select, bool]:
    """The tab shown and its tasks' query, filtered and in order — the page and its workbook both ask here — and
    whether a filter narrows the tab's tasks (else the list holds exactly what the tab counts)."""
    tab = args.get("tab", "mine")
    if tab not in TABS:
        tab = "mine"
    base = _base(user, tab)
    query = _filtered(base, args)
    return tab, query.order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.id), query is not base


def _after(query: Select, task_id: int | None) -> Select:
    """The tasks listed after `task_id` in the list's order (no due time last, then by due time, then id): the next
    page, whatever was done or taken meanwhile. Unknown id: from the start."""
    last = db.session.get(HumanTask, task_id) if task_id else None
    if last is None:
        return query
    if last.due_at is None:
        return query.where(HumanTask.due_at.is_(None), HumanTask.id > last.id)
    return query.where(or_(HumanTask.due_at.is_(None), HumanTask.due_at > last.due_at,
                           and_(HumanTask.due_at == last.due_at, HumanTask.id > last.id)))


def _with_rows(query: Select) -> Select:
    """What each row of the list shows, loaded with its tasks (a few queries a page, not a few per row): the order
    from the scope's outer join with its customer, its visits, and the instance (without its workflow state)."""
    return query.options(contains_eager(HumanTask.order).selectinload(Order.visits),  # type: ignore[attr-defined]
                         selectinload(HumanTask.instance).options(
                             defer(ProcessInstance.state),
                             selectinload(ProcessInstance.started_by).lazyload(User.roles)))  # a name, no roles


def _open_stages_statement() -> Select:
    """The stages of the open tasks as a skip scan of the board index: each lane that has open tasks, then within
    it each next stage, one index seek apiece (a few dozen), rather than the entry of every open task (56,000 at
    100,000 orders)."""
    other = aliased(HumanTask)
    lanes = select(func.min(HumanTask.lane).label("lane")).where(HumanTask.state == "open").cte("lanes", recursive=True)
    next_lane = select(func.min(other.lane)).where(other.state == "open", other.lane > lanes.c.lane)
    lanes = lanes.union_all(select(next_lane.scalar_subquery()).where(lanes.c.lane.is_not(None)))
    first_stage = select(func.min(other.stage)).where(other.state == "open", other.lane == lanes.c.lane)
    pairs = select(lanes.c.lane, first_stage.scalar_subquery().label("stage")).where(
        lanes.c.lane.is_not(None)).cte("pairs", recursive=True)
    next_stage = select(func.min(other.stage)).where(other.state == "open", other.lane == pairs.c.lane,
                                                     other.stage > pairs.c.stage)
    pairs = pairs.union_all(select(pairs.c.lane, next_stage.scalar_subquery()).where(pairs.c.stage.is_not(None)))
    return select(pairs.c.stage).where(pairs.c.stage.is_not(None)).distinct()


# built once: building it (two recursive CTEs) and keying it for the statement cache cost more than running it
_OPEN_STAGES = _open_stages_statement()


def open_stages() -> list[str]:
    """The stages of the open tasks, sorted (the stage filter's choices)."""
    return sorted(db.session.execute(_OPEN_STAGES).scalars())


def _page(query: Select, counted: bool = False) -> tuple[list[HumanTask], int | None]:
    """The page's tasks (one more than a page: is there a next?): their ids first, sorted and cut on the tasks alone,
    then those rows with what they show (joining every order, customer and partner of a thousand queued tasks
    before the sort cost more than the rest of the page). `counted`: how many the query holds comes beside the ids
    (the sort reads them all anyway: a second statement counting them again cost as much as the page)."""
    if counted:
        found_ids = db.session.execute(query.with_only_columns(HumanTask.id, func.count().over())
                                       .limit(PER_PAGE + 1)).all()
        ids, total = [row[0] for row in found_ids], (found_ids[0][1] if found_ids else 0)
    else:
        ids, total = list(db.session.execute(query.with_only_columns(HumanTask.id).limit(PER_PAGE + 1)).scalars()), None
    rows = select(HumanTask).outerjoin(HumanTask.order).options(defer(HumanTask.data)).where(  # no form data shown
        HumanTask.id.in_(ids or [0]))
    found = {task.id: task for task in db.session.execute(_with_rows(rows)).scalars().unique()}
    return [found[task_id] for task_id in ids if task_id in found], total


@bp.get("/inbox.xlsx")
@allowed("lists.export")  # partners have no tasks: their start page is the portal
def export():
    user = current_user._get_current_object()
    tab, query, _narrowed = listed_tasks(user, request.args)
    return download(tasks_workbook(query), {"mine": "moi-zadachi", "queue": "ochered", "team": "zadachi-komandy"}[tab])


@bp.get("/inbox")
@allowed("tasks.inbox")
def index():
    user = current_user._get_current_object()
    if is_partner(user):  # partners have no tasks: their start page is the portal
        return redirect(url_for("partner.index"))
    tab, query, narrowed = listed_tasks(user, request.args)
    heads = headed_lanes(user)
    counted = [t for t in TABS if t != "team" or heads or sees_every_task(user)]
    after = int_arg(request.args, "after", 0, 0, MAX_ID, strict=False)
    whole = tab in counted and not narrowed and not after  # the page's first rows of the tab's every task
    tasks, total = _page(_after(query, after), counted=whole)
    counts = {t: total if whole and t == tab else _count(_base(user, t)) for t in counted}
    more = len(tasks) > PER_PAGE
    tasks = tasks[:PER_PAGE]
    preload_candidates([t.id for t in tasks])  # each row asks can('tasks.claim', task)
    now = clock.now()
    rows = [(t, sla_state(t.due_at, t.created_at, now)) for t in tasks]
    # their tasks wait: marked «приостановлен» (the rows' instances are loaded with them)
    suspended = {t.instance_id for t in tasks if t.instance is not None and t.instance.status == "suspended"}
    stages = open_stages()
    context = dict(tab=tab, rows=rows, counts=counts, args=request.args, stages=stages, kinds=ORDER_KINDS,
                   partners=db.session.execute(select(Partner).order_by(Partner.name)).scalars().all(),
                   heads=heads, team=colleagues(heads) if heads else {}, now=now, sla_badge=sla_badge,
                   suspended=suspended, after=after, more=more, per_page=PER_PAGE)
    if request.headers.get("HX-Request") and request.headers.get("HX-Target") == "inbox-list":
        return render_template("inbox/_list.html", **context)
    return render_template("inbox/index.html", **context)


@bp.get("/inbox/next")
@allowed("tasks.inbox")
def next_task():
    """After a task is done: offer the next one (mine first, then the queue), by due time."""
    user = current_user._get_current_object()
    for tab in ("mine", "queue"):
        task = db.session.execute(_base(user, tab).order_by(HumanTask.due_at.is_(None), HumanTask.due_at,
                                                            HumanTask.id).limit(1)).scalar_one_or_none()
        if task is not None:
            return redirect(url_for("tasks.show", task_id=task.id))
    flash(_("Все задачи выполнены — новых пока нет."), "success")
    return redirect(url_for("inbox.index"))


@bp.post("/inbox/tasks/<int:task_id>/claim")
@allowed("tasks.claim")
@action
def claim(task_id: int):
    task = task_cases.claim_task(task_id, current_user._get_current_object())
    if task.order is not None:
        flash(_("Задача «%(name)s» по заказу %(number)s взята в работу", name=task.name, number=task.order.number),
              "success")
    else:
        flash(_("Задача «%(name)s» (%(what)s) взята в работу", name=task.name,
                what=process.instance_label(task.instance)), "success")
    return redirect(request.form.get("next") or url_for("inbox.index", tab="mine"))


@bp.post("/inbox/tasks/<int:task_id>/unclaim")
@allowed("tasks.unclaim")
@action
def unclaim(task_id: int):
    task_cases.unclaim_task(task_id, current_user._get_current_object())
    flash(_("Задача возвращена в очередь"), "success")
    return redirect(request.form.get("next") or url_for("inbox.index"))


@bp.post("/inbox/tasks/<int:task_id>/assign")
@allowed("tasks.assign")
@action
def assign(task_id: int):
    task = task_cases.assign_task(task_id, request.form.get("user", ""), current_user._get_current_object())
    flash(_("Задача назначена: %(who)s", who=task.assignee.name), "success")
    return redirect(request.form.get("next") or url_for("inbox.index", tab="team"))

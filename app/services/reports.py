"""The report builder's query: a definition (source, columns, filters, grouping, aggregate) checked against a
whitelist of sources and columns, then run as one SELECT built from the whitelist's own expressions — nothing the
user sends reaches the SQL but bound values and whitelisted words (a period, the zone).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Callable

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, func

from app.errors import ValidationError
from app.extensions import db
from app.services import date_buckets
from app.services.calendar import company_tz
from app.services.periods import parse_day, start_of
from app.services.report_sources import COUNT, DATE, DATETIME, NUMBER, PERIOD, SOURCES, TEXT, Source

BUCKET_LABELS = {"day": _l("по дням"), "week": _l("по неделям"), "month": _l("по месяцам"),
                 "quarter": _l("по кварталам"), "year": _l("по годам")}
OPERATORS = {"equals": (TEXT, NUMBER, DATE), "in": (TEXT,), "between": (DATE, DATETIME), "contains": (TEXT,)}
AGGREGATES = ("count", "sum", "avg", "min", "max")
MAX_FILTERS = 3
MAX_GROUPS = 2
ROW_LIMIT = 10_000  # rows a report may hold; the page shows the first PAGE_ROWS
PAGE_ROWS = 500


@dataclass(frozen=True)
class Filter:
    field: str
    op: str
    value: str = ""
    value_to: str = ""  # the end of a "between"


@dataclass(frozen=True)
class Definition:
    source: str
    columns: tuple[str, ...] = ()
    filters: tuple[Filter, ...] = ()
    group_by: tuple[str, ...] = ()
    aggregate: str = "count"
    measure: str = ""  # the numeric column of sum / avg / min / max
    buckets: tuple[str, ...] = ()  # per group: the period a date is grouped by ("month" …), "" for its own value

    def bucket(self, index: int) -> str:
        return self.buckets[index] if index < len(self.buckets) else ""

    def to_json(self) -> dict:
        """The stored form; a group by period is {"field": …, "bucket": …}, any other group its field's name."""
        groups = [{"field": name, "bucket": self.bucket(i)} if self.bucket(i) else name
                  for i, name in enumerate(self.group_by)]
        return {"source": self.source, "columns": list(self.columns),
                "filters": [{"field": f.field, "op": f.op, "value": f.value, "value_to": f.value_to}
                            for f in self.filters],
                "group_by": groups, "aggregate": self.aggregate, "measure": self.measure}


@dataclass
class Result:
    headers: list[str]
    types: list[str]
    rows: list[list[Any]]
    grouped: bool
    truncated: bool = False  # more rows matched than ROW_LIMIT
    chart: dict = field(default_factory=dict)  # categories and series for ECharts, grouped reports only


def parse(raw: dict) -> Definition:
    """A definition from JSON or a form, checked against the whitelist; ValidationError names each bad field."""
    if not isinstance(raw, dict):
        raise ValidationError(str(_l("Описание отчёта должно быть объектом")), {"definition": "object"})
    errors: dict[str, str] = {}
    source_code = str(raw.get("source") or "")
    source = SOURCES.get(source_code)
    if source is None:
        raise ValidationError(str(_l("Неизвестный источник «%(name)s»", name=source_code[:60])),
                              {"source": str(_l("Выберите источник из списка"))})

    def known(name: Any, where: str, types: tuple[str, ...] | None = None) -> str:
        name = str(name or "")
        found = source.fields.get(name)
        if found is None or (types and found.type not in types):
            errors[where] = str(_l("Нет такого поля «%(name)s» в источнике «%(source)s»", name=name[:60],
                                   source=source.label))
        return name

    columns = tuple(known(name, f"columns[{i}]") for i, name in enumerate(_list(raw.get("columns"))))
    group_by, buckets = _groups(raw.get("group_by"), source, known, errors)
    if len(group_by) > MAX_GROUPS:
        errors["group_by"] = str(_l("Группировать можно не больше чем по двум полям"))
    aggregate = str(raw.get("aggregate") or "count")
    measure = str(raw.get("measure") or "")
    if aggregate not in AGGREGATES:
        errors["aggregate"] = str(_l("Неизвестная функция «%(name)s»", name=aggregate[:20]))
    elif aggregate != "count":
        known(measure, "measure", (NUMBER,))
    filters = []
    raw_filters = _list(raw.get("filters"))
    if len(raw_filters) > MAX_FILTERS * 4:
        raise ValidationError(str(_l("Слишком много условий")), {"filters": "too_many"})
    for index, item in enumerate(raw_filters):
        if not isinstance(item, dict):
            errors[f"filters[{index}]"] = str(_l("Условие должно быть объектом"))
            continue
        name = known(item.get("field"), f"filters[{index}].field")
        op = str(item.get("op") or "")
        value, value_to = str(item.get("value") or "").strip(), str(item.get("value_to") or "").strip()
        found = source.fields.get(name)
        if found is not None and found.type not in OPERATORS.get(op, ()):
            errors[f"filters[{index}].op"] = str(_l("Условие «%(op)s» не подходит к полю «%(field)s»",
                                                    op=op[:20], field=found.label))
        elif found is not None:
            problem = _check_value(found.type, op, value, value_to)
            if problem:
                errors[f"filters[{index}].value"] = problem
        filters.append(Filter(name, op, value, value_to))
    if not columns and not group_by:
        errors["columns"] = str(_l("Выберите хотя бы одно поле или группировку"))
    if errors:
        raise ValidationError(str(_l("Отчёт описан с ошибками")), errors)
    return Definition(source_code, columns, tuple(filters), group_by, aggregate,
                      measure if aggregate != "count" else "", buckets if any(buckets) else ())


def _groups(raw: Any, source: Source, known: Callable[..., str], errors: dict[str, str]
            ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The grouping fields and the period each date among them is grouped by ("" for none)."""
    names, buckets = [], []
    for index, item in enumerate(_list(raw)):
        where = f"group_by[{index}]"
        if isinstance(item, dict):
            name, bucket = known(item.get("field"), where), str(item.get("bucket") or "")
        else:
            name, bucket = known(item, where), ""
        found = source.fields.get(name)
        if bucket and bucket not in date_buckets.BUCKETS:
            errors[f"{where}.bucket"] = str(_l("Неизвестный период «%(name)s»: выберите дни, недели, месяцы, "
                                               "кварталы или годы", name=bucket[:20]))
        elif bucket and found is not None and found.type not in (DATE, DATETIME):
            errors[f"{where}.bucket"] = str(_l("По периодам группируют только даты, а «%(field)s» — не дата",
                                               field=found.label))
        names.append(name)
        buckets.append(bucket)
    return tuple(names), tuple(buckets)


def _list(value: Any) -> list:
    if value is None or value == "":
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _day(value: str) -> date | None:
    """A filter's date, or None for empty; ValueError when it is not one (periods.parse_day)."""
    return parse_day(value) if value else None


def _check_value(kind: str, op: str, value: str, value_to: str) -> str | None:
    if op == "between":
        try:
            start, end = _day(value), _day(value_to)
        except ValueError:
            return str(_l("Даты — в виде ГГГГ-ММ-ДД"))
        if start is None and end is None:
            return str(_l("Укажите хотя бы одну границу периода"))
        if start and end and start > end:
            return str(_l("Начало периода позже его конца"))
        return None
    if not value:
        return str(_l("Укажите значение"))
    if kind == NUMBER:
        try:
            float(value.replace(",", "."))
        except ValueError:
            return str(_l("Нужно число"))
    if kind == DATE:
        try:
            _day(value)
        except ValueError:
            return str(_l("Даты — в виде ГГГГ-ММ-ДД"))
    return None


def _condition(source: Source, item: Filter):
    found = source.fields[item.field]
    column, kind = found.expression(), found.type
    if item.op == "between":
        bounds = []
        if item.value:
            start = date.fromisoformat(item.value)
            bounds.append(column >= (start_of(start) if kind == DATETIME else start))
        if item.value_to:
            end = date.fromisoformat(item.value_to)
            bounds.append(column < start_of(end + timedelta(days=1)) if kind == DATETIME else column <= end)
        return and_(*bounds)
    if item.op == "in":
        return column.in_([found.code(part.strip()) for part in item.value.split(",") if part.strip()])
    if item.op == "contains":
        escaped = item.value.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return func.lower(column).like(f"%{escaped}%", escape="\\")
    if kind == NUMBER:
        return column == float(item.value.replace(",", "."))
    if kind == DATE:
        return column == date.fromisoformat(item.value)
    return column == found.code(item.value)


def run(definition: Definition, limit: int = ROW_LIMIT) -> Result:
    """The report's rows: the chosen columns, or one row per group with its aggregate."""
    source = SOURCES[definition.source]
    query = source.query().where(*[_condition(source, item) for item in definition.filters])
    if definition.group_by:
        groups = [_group(source, query, name, definition.bucket(i)) for i, name in enumerate(definition.group_by)]
        value = func.count() if definition.aggregate == "count" else getattr(func, definition.aggregate)(
            source.fields[definition.measure].expression())
        query = query.add_columns(*groups, value).group_by(*groups).order_by(*groups)
        headers = [group_label(definition, i) for i in range(len(definition.group_by))]
        headers.append(aggregate_label(definition))
        types = [PERIOD if definition.bucket(i) else source.fields[name].type
                 for i, name in enumerate(definition.group_by)]
        types.append(COUNT if definition.aggregate == "count" else NUMBER)
    else:
        query = query.add_columns(*[source.fields[name].expression() for name in definition.columns]).order_by(
            source.recorded())
        headers = [str(source.fields[name].label) for name in definition.columns]
        types = [source.fields[name].type for name in definition.columns]
    rows = [list(row) for row in db.session.execute(query.limit(limit + 1))]
    result = Result(headers, types, rows[:limit], bool(definition.group_by), truncated=len(rows) > limit)
    shown = [source.fields[name] for name in (definition.group_by or definition.columns)]
    for row in result.rows:
        for index, found in enumerate(shown):
            bucket = definition.bucket(index) if result.grouped else ""
            row[index] = (date_buckets.label(date_buckets.first_day(row[index]), bucket) if bucket
                          else found.shown(row[index]))
        for index, kind in enumerate(types):
            if kind == DATETIME and row[index] is not None:
                row[index] = row[index].astimezone(company_tz()).replace(tzinfo=None)
            elif kind == NUMBER and row[index] is not None:
                row[index] = round(float(row[index]), 2)
    if result.grouped:
        result.chart = _chart(result)
    return result


def _group(source: Source, query: Select, name: str, bucket: str) -> Any:
    """A grouping's SQL: the field itself, or the first day of its period in the company's zone."""
    found = source.fields[name]
    column = found.expression()
    if not bucket:
        return column
    moments = date_buckets.span(query, column) if date_buckets.needs_span(found.type) else (None, None)
    return date_buckets.expression(column, found.type, bucket, company_tz(), moments)


def group_label(definition: Definition, index: int) -> str:
    """A grouping's column header: the field, and its period when it has one («Внесён, по месяцам»)."""
    name = str(SOURCES[definition.source].fields[definition.group_by[index]].label)
    bucket = definition.bucket(index)
    return f"{name}, {BUCKET_LABELS[bucket]}" if bucket else name


def aggregate_label(definition: Definition) -> str:
    if definition.aggregate == "count":
        return str(_l("Количество"))
    names = {"sum": _l("Итого"), "avg": _l("Среднее"), "min": _l("Минимум"), "max": _l("Максимум")}
    measure = SOURCES[definition.source].fields[definition.measure].label
    return f"{names[definition.aggregate]}: {measure}"


def _chart(result: Result) -> dict:
    """Bars per first group; with a second group, one series per its value."""
    def text(value: Any) -> str:
        if isinstance(value, datetime):  # a moment grouped as it is: each its own bar, on the company's clock
            return value.astimezone(company_tz()).strftime("%d.%m.%Y %H:%M:%S")
        return "—" if value is None else value.strftime("%d.%m.%Y") if isinstance(value, date) else str(value)

    if len(result.headers) == 2:  # the rows are the groups already: a bar each
        return {"categories": [text(row[0]) for row in result.rows],
                "series": [{"name": result.headers[-1], "data": [row[-1] for row in result.rows]}]}
    categories = list(dict.fromkeys(text(row[0]) for row in result.rows))
    series: dict[str, dict[str, Any]] = {}
    for row in result.rows:
        series.setdefault(text(row[1]), {})[text(row[0])] = row[-1]
    return {"categories": categories, "series": [{"name": name, "data": [values.get(c, 0) for c in categories]}
                                                 for name, values in series.items()]}


# -- schedules ------------------------------------------------------------------------------------------------

SEND_AT = time(7, 0)  # scheduled reports go out at 07:00 company time, before the working day


def next_run(schedule: str, after: datetime) -> datetime | None:
    """The first sending moment of `schedule` strictly after `after`: daily, on Mondays, or on the 1st."""
    if schedule not in ("daily", "weekly", "monthly"):
        return None
    local = after.astimezone(company_tz())
    day = local.date()
    while True:
        moment = datetime.combine(day, SEND_AT, company_tz())
        fits = (schedule == "daily" or (schedule == "weekly" and day.weekday() == 0)
                or (schedule == "monthly" and day.day == 1))
        if fits and moment > local:
            return moment
        day += timedelta(days=1)

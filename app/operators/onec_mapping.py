"""The 1C mapping: which entity sets and property names our counterparty, contract, order and payments use.

The mapping (entity set and property names) differs between 1C configurations (БП, УТ, КА, УНФ), so it is
configuration: DEFAULT_MAPPING below, with a JSON file named by ONEC_MAPPING merged over it (objects are
merged key by key, lists and values replaced). A property mapped to null is not sent. Keys:

  counterparty.entity        entity set of counterparties (Catalog_Контрагенты)
  counterparty.fields        name → Description, full_name → НаименованиеПолное, comment → Комментарий
                             (carries the marker and the phone/e-mail), phone, email (null by default: the
                             standard configurations keep them in the КонтактнаяИнформация section)
  counterparty.match_by      how a counterparty is found when we hold no key: "marker" (the comment contains
                             "[Bespoke клиент <id>]", default) or "name" (Description equals the name)
  counterparty.defaults      properties sent as they are (e.g. {"ЮрФизЛицо": "ФизЛицо"})
  contract.entity            Catalog_ДоговорыКонтрагентов
  contract.fields            owner → Owner_Key (УТ 11: Контрагент_Key), name → Description, number → Номер,
                             date → Дата, comment → Комментарий; found again by owner + number
  contract.defaults          e.g. {"Организация_Key": "…", "ВидДоговора": "СПокупателем"}
  order.entity               Document_ЗаказКлиента
  order.fields               date → Date, number (null: 1C numbers the document), counterparty →
                             Контрагент_Key, contract → Договор_Key, amount → СуммаДокумента, comment →
                             Комментарий ("[Bespoke <number>] …", by which the document is found again)
  order.rows                 the tabular section: section → Товары, line → LineNumber, content → Содержание,
                             quantity → Количество, price → Цена, amount → Сумма
  order.component_rows       true: after the row for the ordered item (quantity 1, the order's price) come the
                             order's components (their quantity, no price) — the rows add up to the price
  order.post                 true: post the document (…/Post) when created, changed or not yet posted
  order.defaults, order.row_defaults   e.g. Организация_Key, Валюта_Key / Номенклатура_Key of a service item
  payments.sources           list of {entity, method, match, field}: match "text" — `field` contains the order
                             number (НазначениеПлатежа of Document_ПоступлениеБезналичныхДенежныхСредств,
                             Основание of Document_ПриходныйКассовыйОрдер); match "order" — `field` (e.g.
                             ЗаказКлиента_Key) is the key of our customer order document
  payments.fields            number → Number, date → Date, amount → СуммаДокумента
  payments.posted_only       true: only posted, unmarked documents count as money received
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

from flask import current_app

from app.operators.registry import OperatorError

DEFAULT_MAPPING: dict = {
    "counterparty": {
        "entity": "Catalog_Контрагенты",
        "fields": {"name": "Description", "full_name": "НаименованиеПолное", "comment": "Комментарий",
                   "phone": None, "email": None},
        "match_by": "marker",
        "defaults": {},
    },
    "contract": {
        "entity": "Catalog_ДоговорыКонтрагентов",
        "fields": {"owner": "Owner_Key", "name": "Description", "number": "Номер", "date": "Дата",
                   "comment": "Комментарий"},
        "defaults": {},
    },
    "order": {
        "entity": "Document_ЗаказКлиента",
        "fields": {"date": "Date", "number": None, "counterparty": "Контрагент_Key", "contract": "Договор_Key",
                   "amount": "СуммаДокумента", "comment": "Комментарий"},
        "rows": {"section": "Товары", "line": "LineNumber", "content": "Содержание", "quantity": "Количество",
                 "price": "Цена", "amount": "Сумма"},
        "component_rows": True,
        "post": True,
        "defaults": {},
        "row_defaults": {},
    },
    "payments": {
        "sources": [
            {"entity": "Document_ПоступлениеБезналичныхДенежныхСредств", "method": "cashless", "match": "text",
             "field": "НазначениеПлатежа"},
            {"entity": "Document_ПриходныйКассовыйОрдер", "method": "cash", "match": "text", "field": "Основание"},
        ],
        "fields": {"number": "Number", "date": "Date", "amount": "СуммаДокумента"},
        "posted_only": True,
    },
}


def load_mapping() -> dict:
    """DEFAULT_MAPPING with the ONEC_MAPPING file merged over it; a broken file is a permanent error."""
    mapping = copy.deepcopy(DEFAULT_MAPPING)
    path = current_app.config.get("ONEC_MAPPING")
    if path:
        try:
            override = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise OperatorError(f"1С: файл сопоставления ONEC_MAPPING ({path}) не прочитан: {exc}",
                                permanent=True) from None
        if not isinstance(override, dict):
            raise OperatorError(f"1С: в файле ONEC_MAPPING ({path}) ожидается объект JSON", permanent=True)
        _merge(mapping, override)
    return mapping


def _merge(base: dict, override: dict) -> None:
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def mapped(fields: dict, values: dict) -> dict:
    """Our values under 1C's property names; unmapped (null) properties and missing values are left out."""
    return {fields[name]: value for name, value in values.items() if fields.get(name) and value is not None}

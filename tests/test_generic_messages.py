"""Messages to any process: by instance id, by correlation values, to the one instance waiting; the refusals."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import Order, ProcessInstance
from tests.support.diagrams import deploy_diagram, instance, start

MESSAGE = "/messages/shipment_arrived"


def _two_shipments(api, first: str = "S-1", second: str = "S-2") -> tuple[int, int]:
    deploy_diagram(api, "msg_shipment.bpmn")
    return (start(api, "msg_shipment", {"shipment": first})["id"],
            start(api, "msg_shipment", {"shipment": second})["id"])


def test_a_message_reaches_the_instance_its_correlation_names_and_then_the_one_its_id_names(api):
    first, second = _two_shipments(api)
    sent = api.post(MESSAGE, {"correlation": {"shipment": "S-2"}, "payload": {"shipment": "S-2", "count": 5}},
                    as_="analyst")
    assert sent.status_code == 202, sent.get_json()
    body = sent.get_json()
    assert (body["instance_id"], body["order_number"], body["status"]) == (second, None, "completed")
    assert instance(api, second)["data"]["received"] == 5
    assert instance(api, first)["status"] == "running"

    sent = api.post(MESSAGE, {"instance_id": first, "payload": {"shipment": "S-1", "count": 3}}, as_="analyst")
    assert sent.status_code == 202, sent.get_json()
    done = instance(api, first)
    assert done["status"] == "completed" and done["data"]["received"] == 3
    assert done["data"]["arrival"] == {"shipment": "S-1", "count": 3}


def test_the_payloads_own_correlation_values_pick_the_instance(api):
    first, second = _two_shipments(api)
    sent = api.post(MESSAGE, {"payload": {"shipment": "S-1", "count": 2}}, as_="analyst")
    assert sent.status_code == 202, sent.get_json()
    assert sent.get_json()["instance_id"] == first
    assert instance(api, first)["status"] == "completed" and instance(api, second)["status"] == "running"


def test_several_waiting_with_the_same_values_must_be_named_and_a_correlation_reaches_them_all(api):
    first, second = _two_shipments(api, "S-7", "S-7")
    refused = api.post(MESSAGE, {"payload": {"shipment": "S-7", "count": 1}}, as_="analyst")
    assert refused.status_code == 409
    assert "instance_id" in refused.get_json()["message"] and refused.get_json()["instance_ids"] == [first, second]
    assert instance(api, first)["status"] == instance(api, second)["status"] == "running"
    sent = api.post(MESSAGE, {"correlation": {"shipment": "S-7"}, "payload": {"shipment": "S-7", "count": 1}},
                    as_="analyst")
    assert sent.status_code == 202 and sent.get_json()["instance_ids"] == [first, second]
    assert instance(api, first)["status"] == instance(api, second)["status"] == "completed"


def test_a_payload_without_the_correlation_key_is_a_422_naming_it_and_the_instance_still_waits(api):
    first, _second = _two_shipments(api)
    for body in ({"payload": {"count": 4}}, {"instance_id": first, "payload": {"count": 4}}):
        refused = api.post(MESSAGE, body, as_="analyst")
        assert refused.status_code == 422, refused.get_json()
        assert "payload.shipment" in refused.get_json()["fields"] and "shipment" in refused.get_json()["message"]
    unknown = api.post(MESSAGE, {"correlation": {"parcel": "S-1"}, "payload": {"shipment": "S-1"}}, as_="analyst")
    assert unknown.status_code == 422 and "correlation.parcel" in unknown.get_json()["fields"]
    assert instance(api, first)["status"] == "running"
    sent = api.post(MESSAGE, {"instance_id": first, "payload": {"shipment": "S-1", "count": 4}}, as_="analyst")
    assert sent.status_code == 202


def test_nobody_waiting_an_unknown_instance_and_a_mismatch_are_404_or_409(api):
    deploy_diagram(api, "msg_shipment.bpmn")
    nobody = api.post(MESSAGE, {"payload": {"shipment": "S-1", "count": 1}}, as_="analyst")
    assert nobody.status_code == 404 and "shipment_arrived" in nobody.get_json()["message"]
    assert api.post(MESSAGE, {"instance_id": 999999, "payload": {}}, as_="analyst").status_code == 404

    first = start(api, "msg_shipment", {"shipment": "S-1"})["id"]
    other = api.post(MESSAGE, {"correlation": {"shipment": "S-9"}, "payload": {"shipment": "S-9"}}, as_="analyst")
    assert other.status_code == 404 and "S-9" in other.get_json()["message"]
    wrong = api.post(MESSAGE, {"instance_id": first, "payload": {"shipment": "S-9", "count": 1}}, as_="analyst")
    assert wrong.status_code == 409 and "S-1" in wrong.get_json()["message"]
    named_wrong = api.post(MESSAGE, {"instance_id": first, "correlation": {"shipment": "S-9"},
                                     "payload": {"shipment": "S-9", "count": 1}}, as_="analyst")
    assert named_wrong.status_code == 409
    unknown = api.post("/messages/no_such_message", {"instance_id": first, "payload": {}}, as_="analyst")
    assert unknown.status_code == 409 and unknown.get_json()["waiting"] == ["shipment_arrived"]

    api.post(MESSAGE, {"instance_id": first, "payload": {"shipment": "S-1", "count": 1}}, as_="analyst")
    again = api.post(MESSAGE, {"instance_id": first, "payload": {"shipment": "S-1", "count": 1}}, as_="analyst")
    assert again.status_code == 409 and again.get_json()["status"] == "completed"


def test_who_may_send_a_message_to_a_process_no_order_started(api):
    deploy_diagram(api, "msg_shipment.bpmn")
    first = start(api, "msg_shipment", {"shipment": "S-1"}, as_="admin")["id"]
    refused = api.post(MESSAGE, {"instance_id": first, "payload": {"shipment": "S-1", "count": 1}}, as_="sales")
    assert refused.status_code == 403 and "shipment_arrived" in refused.get_json()["message"]
    # Nobody the sales role may message waits: the instance stays where it is.
    assert api.post(MESSAGE, {"payload": {"shipment": "S-1", "count": 1}}, as_="sales").status_code == 404
    assert instance(api, first)["status"] == "running"
    sent = api.post(MESSAGE, {"instance_id": first, "payload": {"shipment": "S-1", "count": 1}}, as_="analyst")
    assert sent.status_code == 202  # analysts may start any process, so they may talk to it


def test_a_payload_without_what_the_message_needs_is_a_422_naming_it_never_a_500(api):
    """The instance holds no correlation value yet (its first message): SpiffWorkflow itself would read the
    payload with the correlation expression and fail half-way through the step."""
    deploy_diagram(api, "msg_supplier_reply.bpmn")
    waiting = start(api, "msg_supplier_reply", {})["id"]
    for payload, key in (({"price": 10}, "request"), ({"request": {}, "price": 10}, "number")):
        refused = api.post("/messages/supplier_reply", {"payload": payload}, as_="analyst")
        assert refused.status_code == 422, refused.get_json()
        assert f"payload.{key}" in refused.get_json()["fields"] and "request_no" in refused.get_json()["message"]
    no_price = api.post("/messages/supplier_reply", {"instance_id": waiting, "payload": {"request": {"number": "R-1"}}},
                        as_="analyst")
    assert no_price.status_code == 422 and "price" in no_price.get_json()["message"], no_price.get_json()
    assert instance(api, waiting)["status"] == "running"
    sent = api.post("/messages/supplier_reply", {"payload": {"request": {"number": "R-1"}, "price": 10}}, as_="analyst")
    assert sent.status_code == 202 and sent.get_json()["instance_id"] == waiting
    assert instance(api, waiting)["data"]["price"] == 10


def test_an_orders_process_is_reached_only_by_its_number_or_id(api):
    number = api.create_order()
    stray = api.post("/messages/cancel", {"payload": {"reason": "Заказчик передумал"}}, as_="sales")
    assert stray.status_code == 404  # the one order waiting for «cancel» is not found by the name alone
    assert api.order(number)["status"] == "active"
    assert api.post("/messages/payment_received", {"payload": {}}, as_="sales").status_code == 403
    with api.app.app_context():
        instance_id = db.session.execute(select(ProcessInstance.id).join(Order).where(Order.number == number)
                                         ).scalar_one()
    sent = api.post("/messages/cancel", {"instance_id": instance_id, "payload": {"reason": "Заказчик передумал"}},
                    as_="sales")
    assert sent.status_code == 202, sent.get_json()
    assert (sent.get_json()["order_number"], sent.get_json()["status"]) == (number, "cancelled")


def test_a_start_without_the_data_a_correlation_reads_is_a_422_naming_the_element_and_nothing_starts(api):
    """SpiffWorkflow evaluates a catch event's process-variable correlation unguarded as the event is reached."""
    deploy_diagram(api, "msg_shipment.bpmn")
    refused = api.post("/processes/msg_shipment/instances", {"data": {}}, as_="analyst")
    assert refused.status_code == 422, refused.get_json()
    assert "shipment" in refused.get_json()["message"] and refused.get_json()["error"] == "script_error"
    assert api.get("/instances?process_id=msg_shipment").get_json()["count"] == 0

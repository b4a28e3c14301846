"""Our task specs: the asynchronous service task, and the parser/serializer wiring."""
from __future__ import annotations

from uuid import UUID

from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import ServiceTaskParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.serializer.task_spec import ServiceTaskConverter
from SpiffWorkflow.spiff.specs.defaults import ServiceTask

CALL_KEY = "service_call"


class AsyncServiceTask(ServiceTask):
    """Evaluates its parameters, records the call and stays STARTED until a worker completes it."""

    def _execute(self, my_task):
        params = {name: value["value"] for name, value in self.evaluate_params(my_task).items()}
        my_task.internal_data[CALL_KEY] = {
            "operator": self.operation_name,
            "params": params,
            "retries": self.retries,
            "backoff_base": self.retry_backoff_base,
            "outboxed": False,
        }
        return None


class BespokeParser(SpiffBpmnParser):
    OVERRIDE_PARSER_CLASSES = {
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        full_tag("serviceTask"): (ServiceTaskParser, AsyncServiceTask),
    }


class VersionedWorkflowConverter(BpmnWorkflowConverter):
    """Serializes a workflow without its spec; the spec objects are supplied on load."""

    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct):
        spec, subprocess_specs = dct.pop("spec"), dct.pop("subprocess_specs")
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)

        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def make_serializer() -> BpmnWorkflowSerializer:
    config = dict(SPIFF_CONFIG)
    config.pop(ServiceTask, None)
    config[AsyncServiceTask] = ServiceTaskConverter
    config[BpmnWorkflow] = VersionedWorkflowConverter
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))

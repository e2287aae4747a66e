"""Test diagrams for the court boundaries (engine/court/boundaries.py): the engine tests' objection made a review
(caseType 执异, its ruling barred to whoever worked on the related case), started by a message or filed by a clerk."""
from __future__ import annotations

import re

from testpaths import ENGINE_BPMN

OBJECTION = (ENGINE_BPMN / "objection.bpmn").read_bytes()
RULE_FORM = {"rule.schema.json": (ENGINE_BPMN / "rule.schema.json").read_bytes()}   # the ruling's form
REVIEW = OBJECTION.replace(
    b'<bpmn:process id="objection" name="Engine test objection" isExecutable="true">',
    b'<bpmn:process id="review" name="Engine test review" isExecutable="true"><bpmn:extensionElements>'
    b'<spiffworkflow:properties><spiffworkflow:property name="caseType" value="' + "执异".encode() + b'"/>'
    b'</spiffworkflow:properties></bpmn:extensionElements>').replace(
    b'<spiffworkflow:property name="formJsonSchemaFilename" value="rule.schema.json"/>',
    b'<spiffworkflow:property name="formJsonSchemaFilename" value="rule.schema.json"/>'
    b'<spiffworkflow:property name="excludeCompletersOf" value="related:*"/>').replace(b'name="objection_filed"', b'name="review_filed"')
# the same review filed by a clerk (a none start event) rather than by a message
FILED_REVIEW = re.sub(rb'<bpmn:startEvent id="filed">.*?</bpmn:startEvent>', b'<bpmn:startEvent id="filed"/>',
                      REVIEW.replace(b'id="review" name="Engine test review"',
                                     b'id="filed_review" name="Engine test filed review"'), flags=re.S)
# the higher court's review (执复) of a lower court's case, started by a message or filed by a clerk
HIGHER_REVIEW = REVIEW.replace("执异".encode(), "执复".encode()) \
    .replace(b'id="review" name="Engine test review"', b'id="higher_review" name="Engine test higher review"') \
    .replace(b'name="review_filed"', b'name="higher_review_filed"')
FILED_HIGHER_REVIEW = FILED_REVIEW.replace("执异".encode(), "执复".encode()).replace(
    b'id="filed_review" name="Engine test filed review"',
    b'id="filed_higher_review" name="Engine test filed higher review"')

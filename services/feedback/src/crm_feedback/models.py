"""Every ORM model of the service, imported so that the metadata knows all tables."""

from crm_feedback.complaints.models import Complaint, ComplaintHistory
from crm_feedback.readmodel.models import CustomerRef, MergedRecord
from crm_feedback.service_records.models import ServiceRecord
from crm_feedback.sla.models import SlaPolicy
from crm_feedback.suggestions.models import Suggestion
from crm_feedback.surveys.models import Survey, SurveyInvitation, SurveyResponse, SurveyVersion

__all__ = [
    "Complaint",
    "ComplaintHistory",
    "CustomerRef",
    "MergedRecord",
    "ServiceRecord",
    "SlaPolicy",
    "Suggestion",
    "Survey",
    "SurveyInvitation",
    "SurveyResponse",
    "SurveyVersion",
]

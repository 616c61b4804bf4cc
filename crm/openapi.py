"""The OpenAPI 3.1 description of the JSON API, served at /api/schema/.

Written by hand: the API is small. The query parameters come from the table the view validates
with (calls.forms.QUEUE_API_PARAMS), and a schemathesis run in the tests checks what the
endpoint answers against this description, so the two cannot drift apart.
"""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from calls.forms import QUEUE_API_PARAMS
from crm.api import api_view

QUEUE_LEAD = {
    "type": "object",
    "required": [
        "id",
        "name",
        "email",
        "priority",
        "reason",
        "factors",
        "draft_message",
        "recommended_channel",
        "zone",
        "days_since_last_contact",
        "risk_score",
        "owner",
        "owner_recently_changed",
    ],
    "properties": {
        "id": {"type": "integer"},
        "hubspot_id": {"type": ["string", "null"]},
        "name": {"type": "string"},
        "email": {"type": "string"},
        "phone": {"type": ["string", "null"], "description": "E.164, only when it can be dialled"},
        "priority": {"type": "integer", "minimum": 1, "maximum": 10},
        "score": {
            "type": "integer",
            "minimum": 0,
            "maximum": 100,
            "description": "finer order within a priority",
        },
        "reason": {
            "type": "string",
            "example": "URGENT: RED zone · 14 days no contact · owner changed 2 days ago",
        },
        "factors": {"type": "array", "items": {"type": "string"}},
        "draft_message": {"type": ["string", "null"], "description": "null when no channel may be used"},
        "draft_source": {"type": ["string", "null"], "enum": ["ai", "template", None]},
        "recommended_channel": {
            "type": ["string", "null"],
            "enum": ["PHONE", "WHATSAPP", "EMAIL", "SMS", None],
        },
        "channel_reason": {"type": "string"},
        "zone": {"type": ["string", "null"], "enum": ["RED", "ORANGE", "YELLOW", "GREEN", "PURPLE", None]},
        "days_since_last_contact": {"type": ["integer", "null"], "description": "null: never contacted"},
        "risk_score": {"type": ["integer", "null"], "minimum": 0, "maximum": 100},
        "owner": {
            "type": ["object", "null"],
            "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
        },
        "owner_recently_changed": {"type": "boolean"},
    },
}

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string"},
        "fields": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
    },
}

SCHEMA = {
    "openapi": "3.1.0",
    "info": {"title": "Lead CRM API", "version": "1.0.0"},
    "components": {
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "description": "manage.py create_api_token USER"},
            "session": {"type": "apiKey", "in": "cookie", "name": "sessionid"},
        },
        "schemas": {"QueueLead": QUEUE_LEAD, "Error": ERROR},
    },
    "security": [{"bearer": []}, {"session": []}],
    "paths": {
        "/api/leads/needing-action": {
            "get": {
                "summary": "The call queue: leads needing action, highest priority first",
                "description": "Scoped like the queue page: a setter gets their own leads only.",
                "parameters": [param.openapi() for param in QUEUE_API_PARAMS],
                "responses": {
                    "200": {
                        "description": "The queue",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["count", "duration_ms", "leads"],
                                    "properties": {
                                        "count": {"type": "integer"},
                                        "duration_ms": {"type": "integer"},
                                        "leads": {
                                            "type": "array",
                                            "items": {"$ref": "#/components/schemas/QueueLead"},
                                        },
                                    },
                                }
                            }
                        },
                    },
                    "400": {
                        "description": "Invalid parameters",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                    },
                    "404": {
                        "description": "An owner id this user may not see",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                    },
                    "401": {
                        "description": "Not authenticated",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                    },
                },
            }
        }
    },
}


@require_GET
@api_view
def schema(request: HttpRequest) -> JsonResponse:
    return JsonResponse(SCHEMA)

"""api.api_error: how a refusal by the API server, or by a webhook behind it, reaches the user."""

import json

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.api import api_error
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.client import Response

ISTIO = ('admission webhook "validation.istio.io" denied the request: configuration is invalid: '
         'wildcard host * is not allowed for virtual services bound to the mesh gateway')


def _response(status, body):
    return Response(status, json.dumps(body).encode(), {"content-type": "application/json"})


def test_istios_refusal_names_the_object_and_quotes_istio():
    err = api_error(_response(400, {"kind": "Status", "status": "Failure", "message": ISTIO, "code": 400}),
                    "creating VirtualService shop/reviews")
    assert err.msg == ("creating VirtualService shop/reviews: Istio's validation (webhook validation.istio.io) "
                       "refused it: configuration is invalid: wildcard host * is not allowed for virtual services "
                       "bound to the mesh gateway")
    assert (err.status, err.reason) == (400, "AdmissionDenied")


def test_another_webhooks_refusal_is_not_attributed_to_istio():
    message = 'admission webhook "policy.example.com" denied the request: no labels'
    err = api_error(_response(400, {"message": message}), "updating DestinationRule a/b")
    assert err.msg == "updating DestinationRule a/b: the admission webhook (webhook policy.example.com) refused it: no labels"


def test_an_unreachable_webhook_stays_a_server_error():
    message = 'Internal error occurred: failed calling webhook "validation.istio.io": connection refused'
    err = api_error(_response(500, {"message": message, "reason": "InternalError"}), "creating VirtualService a/b")
    assert err.msg == "creating VirtualService a/b: %s (HTTP 500, InternalError)" % message
    assert err.reason == "InternalError"

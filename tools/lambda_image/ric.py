"""Starts awslambdaric for the stand-in image, with one change: an error body without ``requestId``.

awslambdaric 4.x (like Lambda's own python3.12 runtime) answers an unhandled exception with
``{errorMessage, errorType, requestId, stackTrace}``. ``sam local start-lambda`` recognises an error only
when the body's keys are among ``errorMessage/errorType/stackTrace/cause`` or number exactly three
(``LambdaOutputParser.is_lambda_error_response``), so with four keys it answers without
``FunctionError`` and a Step Functions task that called it succeeds with the error as its output:
no Retry, no Catch. Leaving out ``requestId`` (a random ID, also in the logs) makes the failure a
failure again; ``sam local invoke`` prints the same body otherwise.
"""

import sys

from awslambdaric import __main__ as ric
from awslambdaric import bootstrap

_make_error = bootstrap.make_error


def make_error(*args, **kwargs):
    body = _make_error(*args, **kwargs)
    body.pop("requestId", None)
    return body


bootstrap.make_error = make_error

if __name__ == "__main__":
    ric.main(sys.argv)

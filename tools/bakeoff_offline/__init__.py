"""Run the Bakeoff stack on one machine, with no AWS account, no Docker and no network.

The same ``statemachine/evaluation.asl.json`` executes in moto's Step Functions interpreter; its
``lambda:invoke`` tasks reach a local Lambda Invoke API that runs the real handlers in-process (the
contract ``sam local start-lambda`` serves with Docker); S3 is moto's. Only the model endpoint is
outside: any Bedrock-Converse-compatible server.

``moto_tuning`` holds every change the stack makes to moto's behaviour, each with what it measured;
none changes what the definition or the handlers do, and on a moto version they were not checked
with the stack runs on plain moto (slower, same results).
"""

"""What runs inside the containers: one module per stage, each `python -m pipeline.stages.<name> --spec FILE`.

Stages read their spec (JSON written by the composer), their inputs, and write their outputs plus a completion
marker. They never import the composer.
"""

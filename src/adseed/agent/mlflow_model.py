"""Models-from-code entry for MLflow: ``mlflow.pyfunc.log_model(python_model=<this file>)``.

MLflow recommends logging a ResponsesAgent from code rather than pickling an instance:
the logged model is this file plus its ``model_config`` (``home``, optional ``token``,
``agent_chat``), and ``AdAgent.load_context`` opens the workspace when MLflow loads it.
"""

import mlflow

from adseed.agent.responses_agent import AdAgent

mlflow.models.set_model(AdAgent())

"""intentloop operator: kopf handlers wiring the domain core to Kubernetes."""

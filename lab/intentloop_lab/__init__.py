"""The embedded default: local control plane and a lab network of real devices."""

"""Device I/O: one DeviceAdapter protocol, NETCONF and gNMI implementations, transactions."""

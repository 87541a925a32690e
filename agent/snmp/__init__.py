"""The agent's SNMP side: ``client`` (pysnmp requests), ``profile`` (device profiles as
YAML data, ``ProfileRegistry``), ``readings`` (raw values -> metrics, counter rates) and
``poller`` (``SnmpPoller``: every device, concurrently, one ``DeviceSample`` each)."""
